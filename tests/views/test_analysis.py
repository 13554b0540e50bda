"""Analysis with sqlglot, driven by the SQL cases in ``fixtures/analyze_*.sql``."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lake.service import Lake
from views.analysis import Parsed, analyze
from views.analysis.references import Inputs
from views.definition import Materialization, ViewDefinition
from views.errors import ViewCompileError
from views.models import View, ViewVersion
from views.registry import create_version
from views.sources import Snapshot
from views.versions import VersionRecord

from view_cases import SqlCase, load_cases

OK = load_cases("analyze_ok.sql")
ERRORS = load_cases("analyze_errors.sql")
VIEW = "analytics.subject"


def test_fixture_files_have_cases() -> None:
    assert len(OK) >= 10 and len(ERRORS) >= 15


@pytest.fixture
def snapshot(demo_lake: Lake) -> Snapshot:
    return Snapshot.load(demo_lake)


@pytest.mark.parametrize("case", OK, ids=repr)
def test_accepted_sql(case: SqlCase, snapshot: Snapshot) -> None:
    analysis = analyze(ViewDefinition(VIEW, case.sql), snapshot)
    expected_columns = [part.split() for part in re.split(r",\s*(?![^()]*\))", case.one("columns") or "")
                        if part.strip()]
    assert [(c.name, c.sql_type) for c in analysis.columns] == [(p[0], p[1]) for p in expected_columns]
    assert [c.name for c in analysis.columns if c.pii] == [p[0] for p in expected_columns if "pii" in p[2:]]
    for line in case.directives.get("lineage", []):
        column, sources = line.split("<-")
        got = sorted(str(s) for s in analysis.column(column.strip()).sources)  # type: ignore[union-attr]
        assert got == sorted(s.strip() for s in sources.split(","))
    for pair in (case.one("transformation") or "").split(","):
        if pair.strip():
            column, how = pair.split()
            assert analysis.column(column).transformation.value == how  # type: ignore[union-attr]
    if case.one("grain"):
        assert analysis.grain.describe() == case.one("grain")
    if case.one("reads"):
        assert [str(d) for d in analysis.dependencies] == case.one("reads").split(", ")  # type: ignore[union-attr]
    if case.one("encrypted"):
        column, source, logical = case.one("encrypted").split()  # type: ignore[union-attr]
        enc = analysis.column(column).encrypted_with  # type: ignore[union-attr]
        assert enc is not None and f"{enc.dataset}.{enc.column}" == source and enc.logical_type == logical


@pytest.mark.parametrize("case", ERRORS, ids=repr)
def test_refused_sql_says_where(case: SqlCase, snapshot: Snapshot) -> None:
    kind, position = (case.one("error") or "").split()
    line, column = (int(x) for x in position.split(":"))
    with pytest.raises(ViewCompileError) as caught:
        analyze(ViewDefinition(VIEW, case.sql), snapshot)
    err = caught.value
    assert (err.kind, err.line, err.column) == (kind, line, column), err.message
    assert f"line {line}, column {column}" in err.message
    if case.one("message"):
        assert case.one("message") in err.message


def analyze_version(name: str, sql: str, snapshot: Snapshot) -> VersionRecord:
    analysis = analyze(ViewDefinition(name, sql), snapshot)
    return VersionRecord(view=name, version=snapshot.next_version(name), sql=sql, compiled_sql=analysis.compiled_sql,
                         materialization=Materialization.TABLE, owner="alice", description="", tags=(),
                         columns=analysis.columns, dependencies=analysis.dependencies, grain=analysis.grain,
                         major=False, spark_checked=False)


def _tree(root: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("case", [c for c in ERRORS if c.name in {
    "syntax_error", "unknown_column", "insert_is_dml", "several_statements", "self_reference"}], ids=repr)
def test_refused_sql_changes_nothing(case: SqlCase, demo_lake: Lake) -> None:
    lake_root = Path(demo_lake.store.root)
    before = _tree(lake_root)
    with pytest.raises(ViewCompileError):
        create_version(demo_lake, ViewDefinition(VIEW, case.sql), actor="alice", spark_check=False)
    with demo_lake.catalog.session() as s:
        assert s.scalar(select(func.count()).select_from(View)) == 0
        assert s.scalar(select(func.count()).select_from(ViewVersion)) == 0
    assert _tree(lake_root) == before
    assert not (lake_root / "views").exists()
    assert os.listdir(lake_root)  # the datasets are still there


def test_positions_are_file_lines(demo_lake: Lake) -> None:
    from views.files import parse_view_file

    text = "/*\nview: analytics.x\nowner: me\n*/\n\nSELECT c.country,\n       c.nope AS n\nFROM ads.conversions c\n"
    with pytest.raises(ViewCompileError) as caught:
        analyze(parse_view_file(text, file="x.sql"), Snapshot.load(demo_lake))
    assert (caught.value.line, caught.value.column, caught.value.file) == (7, 8, "x.sql")
    assert caught.value.message.startswith("x.sql (analytics.x) at line 7, column 8:")


def test_compiled_sql_is_qualified_and_reparses(snapshot: Snapshot) -> None:
    import sqlglot

    analysis = analyze(ViewDefinition(VIEW, "SELECT * FROM ads.conversions WHERE revenue > 10"), snapshot)
    assert "`conversions`.`revenue` > 10" in analysis.compiled_sql
    assert "*" not in analysis.compiled_sql
    again = sqlglot.parse_one(analysis.compiled_sql, read="spark")
    assert len(again.selects) == 7


def test_pii_union_of_two_keys_is_refused(snapshot: Snapshot) -> None:
    sql = "SELECT email AS e FROM subscriptions.subscribers UNION ALL SELECT full_name AS e FROM subscriptions.subscribers"
    with pytest.raises(ViewCompileError, match="mix PII ciphertexts") as caught:
        analyze(ViewDefinition(VIEW, sql), snapshot)
    assert caught.value.kind == "pii"


@pytest.mark.parametrize("case", OK[:4] + [c for c in ERRORS if c.name in {"syntax_error", "several_statements"}],
                         ids=repr)
def test_a_definition_parsed_once_analyzes_as_one_parsed_here(case: SqlCase, snapshot: Snapshot) -> None:
    """Planning parses each definition once (to order them) and hands the trees to the analysis."""
    definition = ViewDefinition(VIEW, case.sql)

    def outcome(**kwargs: object) -> object:
        try:
            a = analyze(definition, snapshot, **kwargs)  # type: ignore[arg-type]
        except ViewCompileError as exc:
            return (exc.kind, exc.line, exc.column, exc.message)
        return (a.compiled_sql, a.columns, a.dependencies, a.grain)

    assert outcome(parsed=Parsed.of(case.sql)) == outcome()


def test_views_reading_the_same_inputs_share_one_schema(snapshot: Snapshot) -> None:
    from views.analysis import _schema
    from views.analysis.context import Context
    from views.analysis.references import resolve_tables
    from views.analysis.statement import parse_query

    def inputs(sql: str) -> Inputs:
        ctx = Context(VIEW, sql)
        return resolve_tables(ctx, parse_query(ctx), snapshot)

    first = _schema(inputs("SELECT c.country FROM ads.conversions c"))
    assert _schema(inputs("SELECT revenue FROM ads.conversions WHERE country = 'DE'")) is first
    assert _schema(inputs("SELECT * FROM playback.events")) is not first
    snapshot.add_version(analyze_version("ads.summary", "SELECT country FROM ads.conversions", snapshot))
    one = _schema(inputs("SELECT country FROM ads.summary"))
    snapshot.add_version(analyze_version("ads.summary", "SELECT country, revenue FROM ads.conversions", snapshot))
    assert _schema(inputs("SELECT country FROM ads.summary")) is not one  # other columns: another schema
