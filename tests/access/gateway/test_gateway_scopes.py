"""The column proof (``access.gateway.scopes``) passes only what the full analysis passes.

``check_columns`` skips sqlglot's analysis when :func:`columns_pass` proves a
query's columns pass; a proof that passed a query the analysis refuses would
change the gateway's answer. Every query of the adversarial corpus and the
tricky cases below is checked both ways, without Spark: parse, bind, then the
proof and the analysis (``analyze_columns``) over the same references.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlglot import exp

from access.gateway.bind import bind_tables
from access.gateway.check import RefColumns, analyze_columns
from access.gateway.errors import QueryRefused
from access.gateway.parse import parse_query
from access.gateway.scopes import columns_pass
from lake.errors import LakegateError

from gateway_cases import load_cases

#: The analyst of ``gateway_world``: each table's columns, and the ones denied.
TABLES: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "ads.conversions": (("conversion_id", "country", "revenue", "email", "converted_at"), frozenset({"revenue"})),
    "ads.campaigns": (("campaign_id", "name", "revenue", "budget", "internal_notes", "owner_email"),
                      frozenset({"internal_notes"})),
}

#: Shapes the proof must cover (the gateway's benchmark shapes among them).
COVERED = [
    "SELECT * FROM ads.conversions",
    "SELECT country, count(*) AS n FROM ads.conversions WHERE converted_at >= '2024-01-01' GROUP BY country",
    "SELECT c.conversion_id, k.name, c.email FROM ads.conversions c JOIN ads.campaigns k "
    "ON c.conversion_id = k.campaign_id WHERE k.name LIKE 'spring%' ORDER BY c.conversion_id LIMIT 100",
    "WITH w AS (SELECT country, count(*) AS s FROM ads.conversions GROUP BY country) "
    "SELECT k.name, w.s FROM w JOIN ads.campaigns k ON w.country = k.name ORDER BY w.s DESC LIMIT 10",
    "SELECT name FROM ads.campaigns WHERE campaign_id IN (SELECT conversion_id FROM ads.conversions "
    "WHERE country = 'DE') AND EXISTS (SELECT 1 FROM ads.conversions WHERE email IS NOT NULL)",
    "SELECT country, conversion_id, rank() OVER (PARTITION BY country ORDER BY conversion_id DESC) AS r "
    "FROM ads.conversions",
    "SELECT country FROM ads.conversions UNION SELECT name FROM ads.campaigns",
    "SELECT (SELECT max(conversion_id) FROM ads.conversions) AS longest, count(*) FROM ads.campaigns",
    "SELECT country, count(*) AS n FROM ads.conversions GROUP BY 1 ORDER BY n DESC",
    "SELECT k.name FROM ads.campaigns k WHERE EXISTS "
    "(SELECT 1 FROM ads.conversions c WHERE c.conversion_id = k.campaign_id)",
    "SELECT name FROM ads.campaigns WHERE campaign_id IN (SELECT conversion_id FROM ads.conversions WHERE country = name)",
    "WITH a AS (SELECT conversion_id FROM ads.conversions), b AS (SELECT * FROM a) SELECT * FROM b",
    "SELECT country FROM ads.conversions UNION SELECT name FROM ads.campaigns ORDER BY country LIMIT 3",
]

#: Cases where a resolution detail decides; most must go to the analysis.
TRICKY = [
    # A correlated name sqlglot qualifies with the outer alias, which an inner source shadows.
    "SELECT *, (SELECT lower(email) FROM (SELECT n.country AS t FROM ads.conversions AS n) AS conversions) AS a "
    "FROM ads.conversions",
    "SELECT conversion_id AS revenue FROM ads.conversions ORDER BY revenue",
    "SELECT country FROM ads.conversions GROUP BY country HAVING count(*) > 1",
    "SELECT c.country FROM ads.conversions c JOIN ads.campaigns k ON c.conversion_id = k.campaign_id ORDER BY country",
    "SELECT x.* FROM (SELECT conversion_id, count(*) FROM ads.conversions GROUP BY conversion_id) x WHERE x._col_1 > 1",
    "SELECT revenue FROM (SELECT * FROM ads.conversions) t",
    "SELECT t.revenue FROM ads.campaigns t",
    "SELECT revenue FROM ads.conversions c JOIN ads.campaigns k ON true",
    "SELECT country FROM ads.conversions ORDER BY 2",
    "SELECT country FROM ads.conversions GROUP BY 0",
    "SELECT a.country FROM (SELECT country FROM ads.conversions) a, (SELECT country FROM ads.conversions) b",
    "SELECT country FROM (SELECT country FROM ads.conversions) a, (SELECT country FROM ads.conversions) b",
    "SELECT name FROM ads.campaigns k WHERE 1 IN "
    "(SELECT 1 FROM (SELECT conversion_id FROM ads.conversions WHERE conversion_id = campaign_id) d)",
    "SELECT country AS c2 FROM ads.conversions GROUP BY country ORDER BY country",
    "SELECT conversion_id + 1 AS a, a * 2 FROM ads.conversions",
    "SELECT email.x FROM ads.conversions",
    "SELECT conversions.email FROM ads.conversions JOIN ads.campaigns AS conversions ON true",
    "WITH conversions AS (SELECT 1 AS revenue) SELECT revenue FROM conversions",
    "SELECT Country, `COUNTRY`, c.`Email` FROM ads.conversions AS C",
    "SELECT country /* sqlglot.meta case_sensitive */ FROM ads.conversions",
    "SELECT d.name FROM (SELECT name FROM ads.campaigns) d WHERE d.name IN "
    "(SELECT country FROM ads.conversions d2 WHERE d2.country = d.name)",
    "SELECT name FROM ads.campaigns WHERE campaign_id IN "
    "(SELECT conversion_id FROM ads.conversions UNION SELECT campaign_id FROM ads.campaigns WHERE name = country)",
    "SELECT country FROM ads.conversions c WHERE EXISTS (SELECT 1 FROM ads.campaigns c WHERE c.country = 'DE')",
    "SELECT * FROM ads.conversions c JOIN ads.campaigns k USING (revenue)",
    "SELECT count(*) FROM ads.conversions HAVING country = 'DE'",
    "SELECT country, count(*) FROM ads.conversions GROUP BY ALL",
]


def _denied(subject: str, index: int, column: str) -> Exception:
    return LakegateError(f"{subject} {index} {column}")


def _prepared(sql: str) -> tuple[exp.Expr, list[exp.Table], list[RefColumns]] | None:
    """The bound tree and its references as the analyst sees them; ``None`` if the query stops earlier."""
    try:
        tree = parse_query(sql)
        binding = bind_tables(tree)
    except QueryRefused:
        return None
    refs: list[RefColumns] = []
    for ref in binding.refs:
        if ref.name not in TABLES:
            return None
        columns, denied = TABLES[ref.name]
        names = ref.column_aliases or columns
        if len(names) != len(columns):
            return None
        refs.append(RefColumns(table=ref.name,
                               visible=tuple(o for c, o in zip(columns, names, strict=True) if c not in denied),
                               denied={o: c for c, o in zip(columns, names, strict=True) if c in denied}))
    return tree, [r.node for r in binding.refs], refs


def _proof(prepared: tuple[exp.Expr, list[exp.Table], list[RefColumns]]) -> bool:
    tree, nodes, refs = prepared
    return columns_pass(tree, nodes, [r.visible for r in refs], [r.denied for r in refs])


def _analysis_passes(prepared: tuple[exp.Expr, list[exp.Table], list[RefColumns]]) -> bool:
    tree, nodes, refs = prepared
    try:
        analyze_columns(tree, nodes, refs, lambda index, column, _node: _denied("analyst", index, column))
    except LakegateError:
        return False
    return True


_CORPUS = [c.sql for c in load_cases(Path(__file__).parent / "fixtures" / "adversarial.sql") if c.subject == "analyst"]


@pytest.mark.parametrize("sql", [*_CORPUS, *COVERED, *TRICKY])
def test_the_proof_passes_only_what_the_analysis_passes(sql: str) -> None:
    prepared = _prepared(sql)
    if prepared is None:
        return  # refused or denied before columns are checked
    if _proof(prepared):
        assert _analysis_passes(prepared), sql


@pytest.mark.parametrize("sql", COVERED)
def test_common_shapes_are_proven_without_the_analysis(sql: str) -> None:
    prepared = _prepared(sql)
    assert prepared is not None
    assert _proof(prepared), sql
    assert _analysis_passes(prepared)


@pytest.mark.parametrize("sql", [
    TRICKY[0],  # the analysis refuses what Spark would resolve; the proof must not pass it
    "SELECT revenue FROM (SELECT * FROM ads.conversions) t",
    "SELECT country FROM ads.conversions ORDER BY 2",
    "SELECT revenue FROM ads.conversions c JOIN ads.campaigns k ON true",
])
def test_what_the_analysis_refuses_is_not_proven(sql: str) -> None:
    prepared = _prepared(sql)
    assert prepared is not None
    assert not _analysis_passes(prepared)
    assert not _proof(prepared)


def test_the_proof_leaves_the_tree_as_it_was() -> None:
    prepared = _prepared(COVERED[3])
    assert prepared is not None
    before = prepared[0].sql(dialect="spark")
    assert _proof(prepared)
    assert prepared[0].sql(dialect="spark") == before
