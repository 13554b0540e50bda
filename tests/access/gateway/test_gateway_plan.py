"""The gateway's planning steps without Spark: parse, bind, check, rewrite, verify, limits,
results. Real catalog (SQLite), real AccessControl."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import hmac
import math
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from access.audit import AuditKind
from access.gateway import (
    CatalogLookup,
    DatasetResolver,
    Gateway,
    GatewayLimits,
    QueryRefused,
    QueryResult,
    UnknownColumn,
    plan_query,
    rewrite,
)
from access.gateway.bind import bind_tables
from access.gateway.masks_sql import ColumnSpec, Params, TableKeys, hmac_pads, masked_value, stored_column
from access.gateway.parse import MAX_SQL_CHARS, parse_query
from access.gateway.rewrite import check_rendered, verify_rewritten
from access.masks import Mask, MaskKind
from access.policy import AccessControl, ColumnAccess, TableAccess
from access.resources import Action, Resource
from lake.errors import AccessDenied, InvalidInput
from lake.service import Lake
from lake.settings import Settings

from factories import contract_doc


@pytest.fixture
def gated(lake: Lake) -> tuple[Gateway, AccessControl]:
    lake.register(contract_doc("ads.conversions"), actor="admin")
    lake.register(contract_doc("hr.salaries"), actor="admin")
    lake.users.create("alice")
    access = AccessControl(lake)
    conv = Resource.table("ads.conversions")
    access.grant("alice", Action.READ, conv)
    access.deny("alice", Action.READ, Resource.column_of(conv, "revenue"))
    access.set_mask("alice", Resource.column_of(conv, "email"), Mask(MaskKind.HASH))
    access.set_row_filter("alice", conv, "country = 'DE'")
    return Gateway(lake, access, limits=GatewayLimits(catalog_cache_seconds=0)), access


# -- parse ------------------------------------------------------------------------------------


def test_parse_accepts_queries_and_set_operations() -> None:
    assert isinstance(parse_query("SELECT 1"), exp.Select)
    assert isinstance(parse_query("SELECT 1 UNION ALL SELECT 2"), exp.Union)
    assert isinstance(parse_query("WITH a AS (SELECT 1 AS x) SELECT x FROM a"), exp.Select)
    assert isinstance(parse_query("(SELECT 1)"), exp.Subquery)


@pytest.mark.parametrize(("sql", "reason"), [
    ("", "empty"),
    ("   \n  ", "empty"),
    (";", "empty"),
    ("SELECT 1; SELECT 2", "one statement at a time"),
    ("DROP TABLE ads.conversions", "not DROP"),
    ("TRUNCATE TABLE ads.conversions", "not TRUNCATE TABLE"),
    ("SELECT '${env:HOME}'", "variable references"),
    ("SELECT :k", "parameter markers"),
    ("SELECT /*+ BROADCAST(t) */ 1", "hints"),
    ("SELECT reflect('a', 'b')", "reflect()"),
])
def test_parse_refuses(sql: str, reason: str) -> None:
    with pytest.raises(QueryRefused, match=reason.replace("(", r"\(").replace(")", r"\)").replace("$", r"\$")):
        parse_query(sql)


def test_parse_refuses_too_long_and_too_deep_sql() -> None:
    with pytest.raises(QueryRefused, match="longer than"):
        parse_query("SELECT " + "1 + " * (MAX_SQL_CHARS // 4) + "1")
    with pytest.raises(QueryRefused):
        parse_query("SELECT " + "(" * 5000 + "1" + ")" * 5000)


def test_syntax_errors_say_where() -> None:
    with pytest.raises(QueryRefused) as caught:
        parse_query("SELECT *\nFROM ads.conversions WHERE (")
    assert caught.value.line == 2
    assert "syntax error" in caught.value.message
    assert "<class" not in caught.value.message


def test_syntax_errors_name_the_token_by_its_text_and_point_at_its_first_character() -> None:
    with pytest.raises(QueryRefused) as caught:
        parse_query("SELECT FROM WHERE")
    assert caught.value.reason == "syntax error: Expected table name but got 'WHERE'"
    assert (caught.value.line, caught.value.col) == (1, 13)  # where WHERE starts, as view errors count
    assert "Token" not in caught.value.message and caught.value.message.endswith("(line 1, column 13)")


# -- bind -----------------------------------------------------------------------------------


def test_bind_renames_ctes_and_lists_catalog_references_in_order() -> None:
    tree = parse_query(
        "WITH ads AS (SELECT 1 AS x), c AS (SELECT * FROM ads.conversions) "
        "SELECT * FROM c, ads, `HR`.Salaries AS s WHERE x IN (SELECT 1 FROM c)"
    )
    binding = bind_tables(tree)
    assert [(r.name, r.alias) for r in binding.refs] == [("ads.conversions", "conversions"), ("hr.salaries", "s")]
    assert sorted(binding.cte_names.values()) == ["ads", "c"]
    names = {t.name for t in tree.find_all(exp.Table)}
    assert names == {"__lg_cte_0", "__lg_cte_1", "conversions", "Salaries"}


def test_recursive_cte_sees_itself_and_plain_cte_does_not() -> None:
    recursive = bind_tables(parse_query(
        "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r"))
    assert recursive.refs == []
    plain = bind_tables(parse_query("WITH r AS (SELECT * FROM r) SELECT * FROM r"))
    assert [r.name for r in plain.refs] == ["r"]


# -- plan -----------------------------------------------------------------------------------


def test_plan_rewrites_into_a_governed_subquery(gated: tuple[Gateway, AccessControl]) -> None:
    gateway, access = gated
    planned = gateway.plan("alice", "SELECT * FROM ads.conversions c WHERE c.conversion_id > 1")
    text = planned.rewritten
    assert "`revenue`" not in text
    assert "WHERE `__lg_raw`.`country` = 'DE'" in text
    assert "TRY_AES_DECRYPT(`__lg_raw`.`email`, :lg_k0, 'GCM')" in text
    assert ") AS `c` WHERE `c`.`conversion_id` > 1" in text
    assert [s.table.name for s in planned.sources] == ["ads.conversions"]
    assert planned.tables == ("ads.conversions",)
    use = planned.uses[0]
    assert use.columns == ("conversion_id", "country", "email", "converted_at")
    assert use.masked == {"email": "hash"} and use.row_filter
    # Keys travel as parameters, never in the text or the repr.
    data_key = gateway.lake.datasets.data_key(gateway.lake.dataset("ads.conversions"))
    hash_key = access.hash_key(Resource.table("ads.conversions"))
    inner, outer = hmac_pads(hash_key)
    assert set(planned.params.values()) == {data_key, inner, outer}
    for secret in (data_key, hash_key, inner, outer):
        for form in (secret.hex(), secret.hex().upper(), base64.b64encode(secret).decode()):
            assert form not in text
            assert form not in repr(planned)


def test_a_governed_select_filled_from_its_template_is_the_one_built_as_a_tree(
        gated: tuple[Gateway, AccessControl]) -> None:
    gateway, _ = gated
    sql = ("SELECT a.email, b.c FROM ads.conversions a JOIN ads.conversions AS b(i, c, r, e, t) "
           "ON a.conversion_id = b.i")
    rewrite._templates.clear()
    built = gateway.plan("alice", sql, query_id="0" * 32)  # built as trees, templates kept
    assert len(rewrite._templates) == 2  # the column aliases of b make a second one
    filled = gateway.plan("alice", sql, query_id="0" * 32)
    assert filled.rewritten == built.rewritten
    assert filled.params == built.params  # the same keys, bound under the same names
    assert [s.name for s in filled.sources] == [s.name for s in built.sources]
    other = gateway.plan("alice", sql, query_id="1" * 32)  # another query: other names, filled in
    assert other.rewritten == built.rewritten.replace("__lg_src_000000000000", "__lg_src_111111111111")


def test_a_template_is_never_used_for_other_access(gated: tuple[Gateway, AccessControl]) -> None:
    gateway, access = gated
    sql = "SELECT email FROM ads.conversions"
    hashed = gateway.plan("alice", sql).rewritten
    assert "SHA2" in hashed
    access.set_mask("alice", Resource.column_of(Resource.table("ads.conversions"), "email"), Mask(MaskKind.REDACT))
    redacted = gateway.plan("alice", sql).rewritten
    assert "SHA2" not in redacted and "'***'" in redacted
    access.remove_row_filter("alice", Resource.table("ads.conversions"))
    assert "'DE'" not in gateway.plan("alice", sql).rewritten


def test_a_sampled_table_samples_the_governed_subquery_built_once(gated: tuple[Gateway, AccessControl]) -> None:
    gateway, _ = gated
    rewrite._templates.clear()
    sql = "SELECT country FROM ads.conversions TABLESAMPLE (10 PERCENT)"
    first = gateway.plan("alice", sql, query_id="0" * 32).rewritten
    assert "TABLESAMPLE (10 PERCENT)" in first and "`__lg_raw` TABLESAMPLE" not in first
    assert len(rewrite._templates) == 1  # the governed SELECT is the same with or without a sample
    assert gateway.plan("alice", sql, query_id="0" * 32).rewritten == first  # filled from the template


def test_unknown_and_denied_tables_get_the_same_answer(gated: tuple[Gateway, AccessControl]) -> None:
    gateway, _ = gated
    messages = []
    for name in ("hr.salaries", "hr.nonexistent"):
        with pytest.raises(AccessDenied) as caught:
            gateway.plan("alice", f"SELECT * FROM {name}")
        messages.append(caught.value.message.replace(name, "<table>"))
        assert caught.value.details()["resource"] == f"table {name}"
    assert messages[0] == messages[1]


def test_denials_and_refusals_are_audited_with_the_truth(gated: tuple[Gateway, AccessControl]) -> None:
    gateway, access = gated
    for sql in ("SELECT * FROM hr.salaries", "SELECT * FROM hr.nonexistent", "SELECT revenue FROM ads.conversions",
                "DROP TABLE ads.conversions"):
        with pytest.raises((AccessDenied, QueryRefused)):
            gateway.plan("alice", sql)
    entries = list(reversed(access.audit.query(kind=AuditKind.QUERY, limit=10)))
    assert [(e.resource, e.decision.value) for e in entries] == [
        ("dataset:hr.salaries", "deny"),
        ("dataset:hr.nonexistent", "deny"),
        ("dataset:ads.conversions.revenue", "deny"),
        ("", "deny"),
    ]
    assert [e.detail.get("exists") for e in entries[:3]] == [True, False, True]
    assert entries[3].detail["outcome"] == "query_refused"
    assert entries[0].detail["sql_sha256"] == hashlib.sha256(b"SELECT * FROM hr.salaries").hexdigest()


def test_unknown_columns_say_where(gated: tuple[Gateway, AccessControl]) -> None:
    gateway, _ = gated
    with pytest.raises(UnknownColumn) as caught:
        gateway.plan("alice", "SELECT conversion_id,\n  bonus FROM ads.conversions")
    assert caught.value.column == "bonus" and caught.value.line == 2


class _Policy:
    """A decision point that answers with a fixed TableAccess (to test fail-closed paths)."""

    def __init__(self, access: TableAccess) -> None:
        self.access = access

    def table_access(self, subject: str, table: Resource, columns: Sequence[tuple[str, bool]]) -> TableAccess:
        return self.access

    def hash_key(self, table: Resource) -> bytes:
        return b"k" * 32


def test_a_row_filter_that_cannot_apply_denies_the_table(lake: Lake) -> None:
    lake.register(contract_doc("ads.conversions"), actor="admin")
    lookup = CatalogLookup([DatasetResolver(lake)])
    columns = (ColumnAccess("conversion_id", None),)
    for bad in ("no_such_column = 1", "conversion_id IN (SELECT 1)", "reflect('a', 'b') = 1"):
        policy = _Policy(TableAccess(Resource.table("ads.conversions"), True, columns, bad, "test"))
        with pytest.raises(AccessDenied, match="row filter"):
            plan_query("alice", "SELECT * FROM ads.conversions", lookup=lookup, policy=policy)


def test_a_row_filter_over_pii_compares_clear_values(lake: Lake) -> None:
    lake.register(contract_doc("ads.conversions"), actor="admin")
    lookup = CatalogLookup([DatasetResolver(lake)])
    access = TableAccess(Resource.table("ads.conversions"), True, (ColumnAccess("conversion_id", None),),
                         "`email` LIKE '%@corp.example'", "test")
    planned = plan_query("alice", "SELECT * FROM ads.conversions", lookup=lookup, policy=_Policy(access))
    assert "WHERE CAST(TRY_AES_DECRYPT(`__lg_raw`.`email`, :lg_k0, 'GCM') AS STRING) LIKE" in planned.rewritten
    assert "`email`" not in planned.rewritten.split("WHERE")[0]


# -- masks ----------------------------------------------------------------------------------


def test_hmac_pads_give_hmac_sha256() -> None:
    for key in (b"", b"k" * 32, b"long" * 40):
        inner, outer = hmac_pads(key)
        message = b"ann@example.com"
        manual = hashlib.sha256(outer + hashlib.sha256(inner + message).digest()).hexdigest()
        assert manual == hmac.new(key, message, hashlib.sha256).hexdigest()


def test_a_pii_column_without_a_mask_is_redacted_never_raw() -> None:
    params = Params()
    keys = TableKeys({"ads.conversions": params.add(b"d" * 32)}, params.add(b"i"), params.add(b"o"))
    column = ColumnSpec("email", pa.string(), pii=True, key="ads.conversions")
    stored = stored_column("r", "email")
    shown = masked_value(column, None, stored, keys).sql("spark")
    assert shown == "CASE WHEN `r`.`email` IS NULL THEN CAST(NULL AS STRING) ELSE '***' END"
    for kind in MaskKind:
        expression = masked_value(column, Mask(kind), stored, keys)
        assert expression != stored, kind
    clear = masked_value(ColumnSpec("n", pa.int64()), Mask(MaskKind.DECRYPT), stored_column("r", "n"), keys)
    assert clear.sql("spark") == "`r`.`n`"
    # A PII column stored in clear (a view's derived column) is masked but never decrypted.
    derived = ColumnSpec("has_email", pa.bool_(), pii=True)
    assert masked_value(derived, Mask(MaskKind.DECRYPT), stored_column("r", "has_email"), keys).sql("spark") \
        == "`r`.`has_email`"
    assert "'***'" in masked_value(derived, None, stored_column("r", "has_email"), keys).sql("spark")


# -- verification -----------------------------------------------------------------------------


@pytest.mark.parametrize("sql", [
    "SELECT * FROM `__lg_src_1`",
    "SELECT * FROM hr.salaries",
    "SELECT * FROM spark_catalog.`__lg_src_0`",
    "SELECT * FROM `__lg_src_0` WHERE x = :other",
    "SELECT reflect('a', 'b') FROM `__lg_src_0`",
    "SELECT try_aes_decrypt(x, 'guess', 'GCM') FROM `__lg_src_0`",
    "SELECT * FROM `__lg_src_0` WHERE EXISTS (SELECT 1 FROM range(3))",
])
def test_verification_rejects_anything_but_generated_sources(sql: str) -> None:
    tree = sqlglot.parse_one(sql, read="spark")
    with pytest.raises(QueryRefused, match="could not rewrite"):
        verify_rewritten(tree, ["__lg_src_0"], frozenset({"lg_k0"}))


def test_verification_accepts_the_gateways_own_decryption() -> None:
    tree = sqlglot.parse_one("SELECT try_aes_decrypt(x, :lg_k0, 'GCM') FROM `__lg_src_0`", read="spark")
    verify_rewritten(tree, ["__lg_src_0"], frozenset({"lg_k0"}))


def test_rendered_sql_with_a_variable_reference_is_refused() -> None:
    with pytest.raises(QueryRefused):
        check_rendered("SELECT '${env:HOME}' FROM `__lg_src_0`")


# -- limits and results ---------------------------------------------------------------------------


def test_limits_apply_defaults_and_refuse_values_above_the_maximum() -> None:
    limits = GatewayLimits(default_rows=10, max_rows=100, default_timeout_seconds=5, max_timeout_seconds=60)
    assert limits.rows(None) == 10 and limits.rows(100) == 100
    assert limits.timeout(None) == 5 and limits.timeout(1.5) == 1.5
    for bad_rows in (0, 101, -1, True):
        with pytest.raises(InvalidInput, match="max_rows"):
            limits.rows(bad_rows)
    for bad_time in (0, 61, -1.0):
        with pytest.raises(InvalidInput, match="timeout_seconds"):
            limits.timeout(bad_time)
    assert GatewayLimits(default_rows=10, max_rows=5).rows(None) == 5


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEGATE_GATEWAY_MAX_ROWS", "77")
    limits = Settings().gateway
    assert limits.max_rows == 77
    assert limits.rows(None) == 77


def test_results_as_json_and_arrow_ipc() -> None:
    table = pa.table({
        "d": pa.array([decimal.Decimal("1.50"), None], pa.decimal128(12, 2)),
        "f": pa.array([math.nan, -math.inf]),
        "t": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), None], pa.timestamp("us", tz="UTC")),
        "b": pa.array([b"\x00\xff", None], pa.binary()),
        "l": pa.array([[1, 2], []], pa.list_(pa.int64())),
    })
    result = QueryResult("q1", table, truncated=True, row_cap=2, elapsed_ms=1.0, tables=("ads.x",))
    body: dict[str, Any] = result.to_json()
    assert body["rows"] == [["1.50", "NaN", "2024-01-02T03:04:05+00:00", "AP8=", [1, 2]],
                            [None, "-Infinity", None, None, []]]
    assert body["columns"][0] == {"name": "d", "type": "decimal(12,2)"}
    reader = pa.ipc.open_stream(result.to_ipc())
    back = reader.read_all()
    assert back.drop_columns(["f"]).equals(table.drop_columns(["f"]).replace_schema_metadata(back.schema.metadata))
    assert math.isnan(back.column("f")[0].as_py()) and back.column("f")[1].as_py() == -math.inf
    assert back.schema.metadata[b"lakegate.truncated"] == b"true"
    assert back.schema.metadata[b"lakegate.query_id"] == b"q1"


def test_the_readme_example_plans(gated: tuple[Gateway, AccessControl]) -> None:
    """The README's example, up to running on Spark (the run tests cover that)."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[3] / "access" / "gateway" / "README.md").read_text()
    example = re.search(r"```python\n(.+?)\n```", readme, flags=re.S)
    assert example
    planning = "\n".join(line for line in example.group(1).splitlines() if "gateway.query" not in line
                         and not line.startswith("result."))
    gateway, access = gated
    gateway.lake.users.create("analyst")
    access.grant("analyst", Action.READ, Resource.table("ads.conversions"))
    namespace: dict[str, Any] = {"lake": gateway.lake, "access": access}
    exec(compile(planning, "README.md", "exec"), namespace)  # noqa: S102 - the README's example runs as written
    assert "GROUP BY" in namespace["planned"].rewritten


# -- resilience: sampling after the row filter, functions Spark needs parenthesized ------------


def test_tablesample_samples_the_rows_the_caller_may_see(gated: tuple[Gateway, AccessControl]) -> None:
    gateway, _ = gated
    planned = gateway.plan("alice", "SELECT count(*) FROM ads.conversions TABLESAMPLE (50 ROWS) AS c")
    rewritten = planned.rewritten
    where = rewritten.index("WHERE")
    sample = rewritten.index("TABLESAMPLE (50 ROWS)")
    assert where < sample < rewritten.index("AS `c`"), rewritten
    # The stored rows are never sampled directly.
    assert "`__lg_raw` TABLESAMPLE" not in rewritten


def test_current_catalog_is_rendered_as_a_call(gated: tuple[Gateway, AccessControl]) -> None:
    gateway, _ = gated
    planned = gateway.plan("alice", "SELECT current_catalog() AS c, conversion_id FROM ads.conversions")
    assert "CURRENT_CATALOG()" in planned.rewritten.upper(), planned.rewritten
