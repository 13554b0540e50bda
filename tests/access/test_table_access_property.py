"""table_access against a cell-by-cell evaluation straight from the policy lines.

Random grants, denies, mask rules and row filters for a user and its roles are
replayed into the policy state (the same path as the change log). For every
row of a small table and every column returned, some single principal of the
user must reveal that cell at least as much (its grant covers the column, no
deny hides it, its row filters hold for the row, its mask rules show as much);
and a column an unfiltered grant shows is never dropped.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from access import AccessControl, Resource
from access.masks import Mask, MaskKind, Reveal
from access.state import PolicyState
from lake.service import Lake

T = Resource.table("d.t")
COLUMNS = [("id", False), ("country", False), ("amount", False), ("email", True), ("phone", True)]
PII = dict(COLUMNS)
ROWS = [(1, "DE", 5, "a", "1"), (2, "FR", 50, "b", "2"), (3, "US", 20, None, "3"), (4, "JP", 0, "d", None)]
LINKS = [("u", "r0"), ("u", "r1"), ("r1", "r2")]
CLOSURE = ["u", "r0", "r1", "r2"]
ABOVE = [Resource.lake(), Resource.domain_("d"), T]
COLS = [Resource.column_of(T, c) for c, _ in COLUMNS]
FILTERS = ["country = 'DE'", "country IN ('DE', 'FR')", "amount > 10", "NOT country = 'JP'", "region = 'EU'"]
MASKS = [Mask(MaskKind.NULL), Mask(MaskKind.REDACT), Mask(MaskKind.HASH), Mask(MaskKind.DECRYPT),
         Mask(MaskKind.PARTIAL, 1), Mask(MaskKind.PARTIAL, 3)]

grant = st.tuples(st.sampled_from(CLOSURE), st.sampled_from(ABOVE + COLS), st.sampled_from(["read", "read", "admin"]),
                  st.sampled_from(["allow", "allow", "allow", "deny"]))
mask_rule = st.tuples(st.sampled_from(CLOSURE), st.sampled_from(ABOVE + COLS), st.sampled_from(MASKS))
filter_rule = st.tuples(st.sampled_from(CLOSURE), st.sampled_from(ABOVE), st.sampled_from(FILTERS))


def rows_where(predicate: str | None) -> set[int]:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (id INTEGER, country TEXT, amount INTEGER, email TEXT, phone TEXT)")
    db.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", ROWS)
    if predicate is None:
        return {r[0] for r in db.execute("SELECT id FROM t")}
    try:
        where = sqlglot.transpile(predicate, read="spark", write="sqlite")[0]
        return {r[0] for r in db.execute("SELECT id FROM t WHERE " + where)}
    except sqlite3.OperationalError:  # a column the table lacks: no rows
        return set()


def lineage(col: str) -> list[str]:
    return [r.key for r in Resource.column_of(T, col).lineage()]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(grants=st.lists(grant, max_size=8), masks=st.lists(mask_rule, max_size=6),
       filters=st.lists(filter_rule, max_size=4))
def test_table_access_never_reveals_more_than_one_principal(
        lake: Lake, grants: list[Any], masks: list[Any], filters: list[Any]) -> None:
    ac = AccessControl(lake, sync_users=False, refresh_seconds=3600)
    state = PolicyState()
    for member, role in LINKS:
        state.apply("add", "membership", {"member": member, "role": role})
    for sub, res, act, eft in grants:
        state.apply("add", "grant", {"subject": sub, "resource": res.key, "action": act, "effect": eft})
    mask_of: dict[tuple[str, str], Mask] = {}
    for sub, res, mask in masks:
        state.apply("add", "mask", {"subject": sub, "resource": res.key, "kind": mask.kind.value,
                                    "keep_last": mask.keep_last})
        mask_of[(sub, res.key)] = mask
    filters_of: dict[str, dict[str, str]] = {}
    for sub, res, pred in filters:
        state.apply("add", "row_filter", {"subject": sub, "resource": res.key, "predicate": pred})
        filters_of.setdefault(sub, {})[res.key] = pred
    ac._state = state

    result = ac.table_access("u", T, COLUMNS)

    live = {(s, r.key, a, e) for s, r, a, e in grants}
    denied = {c for c, _ in COLUMNS if any((p, k, a, "deny") in live for p in CLOSURE for k in lineage(c)
                                           for a in ("read", "admin"))}

    def covers(p: str, c: str) -> bool:
        return any((p, k, a, "allow") in live for k in lineage(c) for a in ("read", "admin"))

    def reveal(p: str, c: str) -> Reveal:
        keys = lineage(c)
        rule = mask_of.get((p, keys[0]))
        if rule is None and PII[c]:
            rule = next((mask_of[(p, k)] for k in keys[1:] if (p, k) in mask_of), None)
        return Reveal.of(rule, pii=PII[c])

    def rows_of(p: str) -> set[int]:
        out = rows_where(None)
        for pred in filters_of.get(p, {}).values():
            out &= rows_where(pred)
        return out

    shown_rows = rows_where(result.row_filter) if result.allowed else set()
    for col in result.columns:
        assert col.name not in denied
        if PII[col.name]:
            assert col.mask is not None  # ciphertext is never "clear"
        shown = Reveal.of(col.mask, pii=PII[col.name])
        for row in shown_rows:
            assert any(covers(p, col.name) and row in rows_of(p) and shown.reveals_at_most(reveal(p, col.name))
                       for p in CLOSURE), (row, col, result.reason)
    returned = {c.name for c in result.columns}
    for c, _ in COLUMNS:
        if c not in denied and any(covers(p, c) and not filters_of.get(p) for p in CLOSURE):
            assert c in returned, (c, result)
    if not result.allowed:
        assert result.columns == () and result.row_filter is None
