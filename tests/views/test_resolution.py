"""The direct resolution of columns answers as sqlglot's qualify does, where it answers.

Every case of ``fixtures/resolution.sql`` (and of ``fixtures/analyze_ok.sql``) is
analyzed both ways, each from its own parse; the analyses must be equal, compiled
SQL included. Cases marked ``path: direct`` must take the shortcut.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from demo.definitions import VIEWS_DIR as DEMO_VIEWS
from lake.service import Lake
from lake.settings import Settings
from views.analysis import Analysis, Parsed, _qualified, _resolved, analyze
from views.analysis.census import FORBIDDEN, Census
from views.analysis.context import Context
from views.analysis.references import resolve_tables
from views.analysis.resolution import Unsupported
from views.analysis.statement import parse_query
from views.deferred import Deferred
from views.definition import ViewDefinition
from views.files import load_directory
from views.registry import apply, plan
from views.sources import Snapshot

from view_cases import SqlCase, load_cases, register_demo

CASES = load_cases("resolution.sql")
ALL = CASES + load_cases("analyze_ok.sql")
VIEW = "analytics.subject"


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """The demo datasets and three views the cases read (one catalog for the module: analysis only reads it)."""
    lake = Lake(Settings(home=tmp_path_factory.mktemp("resolution")))
    try:
        register_demo(lake)
        apply(lake, [
            ViewDefinition("analytics.base", "SELECT country, COUNT(*) AS n FROM playback.events GROUP BY country"),
            ViewDefinition("analytics.pii_base", "SELECT subscriber_id, email FROM subscriptions.subscribers"),
            ViewDefinition("analytics.plays", CASES[0].sql),
        ], actor="alice", spark_check=False)
        return Snapshot.load(lake)
    finally:
        lake.close()


def _summary(analysis: Analysis) -> tuple[Any, ...]:
    return analysis.columns, analysis.dependencies, analysis.grain, analysis.compiled_sql


def _both(sql: str, snapshot: Snapshot) -> tuple[tuple[Any, ...] | None, tuple[Any, ...]]:
    """The analysis through the direct resolution (None if it does not apply) and through qualify."""

    def run(how: Callable[..., Analysis], direct: bool) -> Analysis:
        definition = ViewDefinition(VIEW, sql)
        ctx = Context(VIEW, sql)
        parsed = Parsed.of(sql)
        root = parse_query(ctx, parsed)
        assert parsed.census is not None
        inputs = resolve_tables(ctx, root, snapshot, parsed.census)
        return how(definition, ctx, root, inputs, parsed.census) if direct else how(definition, ctx, root, inputs)

    try:
        direct: tuple[Any, ...] | None = _summary(run(_resolved, True))
    except Unsupported:
        direct = None
    return direct, _summary(run(_qualified, False))


def test_fixture_marks_every_case() -> None:
    assert len(CASES) >= 100
    assert {c.one("path") for c in CASES} == {"direct", "qualify"}


@pytest.mark.parametrize("case", ALL, ids=repr)
def test_direct_resolution_answers_as_qualify(case: SqlCase, snapshot: Snapshot) -> None:
    direct, qualified = _both(case.sql, snapshot)
    if case.one("path") == "direct":
        assert direct is not None, "the direct resolution should handle this query"
    elif case.one("path") == "qualify":
        assert direct is None, "this query should be left to qualify"
    if direct is not None:
        assert direct == qualified
    analysis = analyze(ViewDefinition(VIEW, case.sql), snapshot)
    assert _summary(analysis) == qualified


def test_demo_views_take_the_direct_resolution(demo_lake: Lake) -> None:
    definitions = load_directory(DEMO_VIEWS)
    planned = plan(demo_lake, definitions, spark_check=False)
    snapshot = Snapshot.load(demo_lake)
    for item in planned.items:  # dependency order: each view's inputs are planned before it
        direct, qualified = _both(item.record.sql, snapshot)
        assert direct is not None and direct == qualified, item.name
        snapshot.add_version(item.record)


@pytest.mark.parametrize("case", ALL + load_cases("analyze_errors.sql"), ids=repr)
def test_census_sees_what_a_walk_of_the_tree_sees(case: SqlCase) -> None:
    parsed = Parsed.of(case.sql)
    if parsed.census is None:
        return
    root = next(s for s in parsed.statements if s is not None)
    assert parsed.census.tables == list(root.find_all(exp.Table))  # breadth-first, as dependencies are ordered
    assert parsed.census.cte_names == {c.alias_or_name.lower() for c in root.find_all(exp.CTE)}
    assert parsed.census.forbidden == any(isinstance(n, FORBIDDEN) for n in root.walk())


def test_census_of_a_nested_query() -> None:
    root = sqlglot.parse_one("SELECT a.x FROM d.t a WHERE a.y IN (SELECT b.y FROM d.u b)", read="spark")
    census = Census.of(root)
    assert [t.name for t in census.tables] == ["t", "u"]
    assert census.unsupported == "Subquery"
    inner = root.find(exp.Subquery)
    assert inner is not None
    assert [c.sql() for c in census.columns[id(inner.this)]] == ["b.y"]


def test_compiled_sql_is_written_when_first_read_and_stored(demo_lake: Lake) -> None:
    definitions = load_directory(DEMO_VIEWS)
    planned = plan(demo_lake, definitions, spark_check=False)
    record = planned.items[0].record
    kept = record.__dict__["_compiled_sql_text"]
    assert isinstance(kept, Deferred)  # planning did not write it
    text = record.compiled_sql
    assert record.__dict__["_compiled_sql_text"] == text and "`" in text
    again = pickle.loads(pickle.dumps(record))
    assert again == record and again.compiled_sql == text
    applied = apply(demo_lake, definitions, actor="alice", spark_check=False)
    stored = Snapshot.load(demo_lake).record(record.view)
    assert stored.compiled_sql == applied.item(record.view).record.compiled_sql == text


def test_deferred_writes_once() -> None:
    calls: list[int] = []

    def produce() -> str:
        calls.append(1)
        return "SELECT 1"

    deferred = Deferred(produce)
    assert calls == []
    assert deferred.get() == deferred.get() == "SELECT 1"
    assert calls == [1]
    assert pickle.loads(pickle.dumps(deferred)).get() == "SELECT 1"
