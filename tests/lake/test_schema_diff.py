"""Contracts and views share one schema-diff algorithm (``lake.schemadiff``) and
still give the answers their own algorithms gave.

The oracles below are the two algorithms as they were before they were merged,
kept verbatim; random pairs of schemas must get the same changes, in the same
order, from the shared one.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from lake.contracts import _WIDENINGS, Column, Contract, diff_contracts, type_name
from lake.errors import SchemaChange
from lake.schemadiff import ColumnRules, diff_columns
from views.columns import ColumnSource, SourceKind, ViewColumn
from views.diff import _column_changes

# -- oracles: the algorithms before the merge ----------------------------------------------


def contracts_oracle(old: Contract, new: Contract) -> list[SchemaChange]:
    changes: list[SchemaChange] = []
    old_cols = {c.name: c for c in old.columns}
    new_cols = {c.name: c for c in new.columns}
    dropped = [n for n in old_cols if n not in new_cols]
    added = [n for n in new_cols if n not in old_cols]
    renames: dict[str, str] = {}
    for d in dropped:
        for a in added:
            if a in renames.values():
                continue
            if old_cols[d].type == new_cols[a].type and old.column_names.index(d) == new.column_names.index(a):
                renames[d] = a
                break
    for d in dropped:
        if d in renames:
            changes.append(SchemaChange("renamed", d, f"column {d!r} renamed to {renames[d]!r}", True))
        else:
            changes.append(SchemaChange("dropped", d, f"column {d!r} dropped", True))
    for a in added:
        if a in renames.values():
            continue
        col = new_cols[a]
        if col.nullable:
            changes.append(SchemaChange("added", a, f"nullable column {a!r} added", False))
        else:
            changes.append(SchemaChange("added", a, f"required column {a!r} added (existing rows have no value)", True))
    for name, oc in old_cols.items():
        nc = new_cols.get(name)
        if nc is None:
            continue
        if oc.type != nc.type:
            def widens(a: pa.DataType, b: pa.DataType) -> bool:
                if pa.types.is_decimal(a) and pa.types.is_decimal(b):
                    return b.scale >= a.scale and b.precision - b.scale >= a.precision - a.scale
                return (type_name(a), type_name(b)) in _WIDENINGS

            kind = "widened" if widens(oc.type, nc.type) else "narrowed" if widens(nc.type, oc.type) else "changed"
            changes.append(SchemaChange(
                "retyped", name, f"column {name!r} type {kind} from {type_name(oc.type)} to {type_name(nc.type)}", True))
        if oc.nullable and not nc.nullable:
            changes.append(SchemaChange("required", name, f"column {name!r} made required", True))
        elif not oc.nullable and nc.nullable:
            changes.append(SchemaChange("relaxed", name, f"column {name!r} made nullable", False))
        if oc.pii != nc.pii:
            changes.append(SchemaChange("pii", name, f"column {name!r} PII tag changed (storage format changes)", True))
        if (oc.allowed, oc.min, oc.max) != (nc.allowed, nc.min, nc.max):
            changes.append(SchemaChange("constraint", name, f"column {name!r} allowed values or range changed", False))
        if (oc.description, oc.tags) != (nc.description, nc.tags):
            changes.append(SchemaChange("docs", name, f"column {name!r} description or tags changed", False))
    if old.primary_key != new.primary_key:
        changes.append(SchemaChange(
            "primary_key", None, f"primary key changed from {list(old.primary_key)} to {list(new.primary_key)}", True))
    if old.partition_by != new.partition_by:
        changes.append(SchemaChange(
            "partition", None, f"partitioning changed from {list(old.partition_by)} to {list(new.partition_by)}", True))
    if (old.owner, old.description, old.tags) != (new.owner, new.description, new.tags):
        changes.append(SchemaChange("docs", None, "dataset owner, description or tags changed", False))
    return changes


def views_oracle(old: Any, new: Any) -> list[SchemaChange]:
    changes: list[SchemaChange] = []
    old_cols = {c.name: c for c in old.columns}
    new_cols = {c.name: c for c in new.columns}
    removed = [n for n in old_cols if n not in new_cols]
    added = [n for n in new_cols if n not in old_cols]
    renames: dict[str, str] = {}
    for r in removed:
        for a in added:
            if a in renames.values():
                continue
            o, n = old_cols[r], new_cols[a]
            if o.sql_type == n.sql_type and o.sources and o.sources == n.sources:
                renames[r] = a
                break
    for r in removed:
        if r in renames:
            changes.append(SchemaChange("renamed", r, f"column {r!r} renamed to {renames[r]!r}", True))
        else:
            changes.append(SchemaChange("removed", r, f"column {r!r} removed", True))
    for a in added:
        if a not in renames.values():
            changes.append(SchemaChange("added", a, f"column {a!r} added ({new_cols[a].sql_type or 'type unknown'})",
                                        False))
    for name, o in old_cols.items():
        found = new_cols.get(name)
        if found is None:
            continue
        n = found
        if o.sql_type != n.sql_type:
            changes.append(SchemaChange("retyped", name,
                                        f"column {name!r} type changed from {o.sql_type} to {n.sql_type}", True))
        if o.pii != n.pii:
            state = "now derives from PII" if n.pii else "no longer derives from PII"
            changes.append(SchemaChange("pii", name, f"column {name!r} {state} (masking changes)", True))
        if o.description != n.description:
            changes.append(SchemaChange("docs", name, f"column {name!r} description changed", False))
    return changes


# -- random schemas: few names and types, so that renames, drops and retypes are common ----

NAMES = ["a", "b", "c", "d", "e", "f"]
TYPES = [pa.int32(), pa.int64(), pa.float64(), pa.string()]
SMALL = st.sampled_from([None, 0, 5])


@st.composite
def contracts(draw: st.DrawFn) -> Contract:
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=6))
    columns = tuple(Column(
        name, draw(st.sampled_from(TYPES)), nullable=draw(st.booleans()), description=draw(st.sampled_from(["", "x"])),
        pii=draw(st.booleans()), allowed=draw(st.sampled_from([None, (1, 2)])), min=draw(SMALL), max=draw(SMALL),
        tags=draw(st.sampled_from([(), ("t",)]))) for name in names)
    key = tuple(draw(st.lists(st.sampled_from(names), unique=True, max_size=2))) if names else ()
    return Contract("sales", "orders", columns, owner=draw(st.sampled_from(["", "o"])), primary_key=key,
                    partition_by=tuple(draw(st.lists(st.sampled_from(names), unique=True, max_size=1))) if names else (),
                    tags=draw(st.sampled_from([(), ("t",)])))


SOURCES = [(), (ColumnSource(SourceKind.DATASET, "sales.orders", 1, "a"),),
           (ColumnSource(SourceKind.VIEW, "sales.daily", 2, "b"),)]


@st.composite
def view_columns(draw: st.DrawFn) -> SimpleNamespace:
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=6))
    return SimpleNamespace(columns=tuple(ViewColumn(
        name, draw(st.sampled_from([None, "bigint", "string"])), pii=draw(st.booleans()),
        sources=draw(st.sampled_from(SOURCES)), description=draw(st.sampled_from(["", "x"]))) for name in names))


@settings(max_examples=400, deadline=None)
@given(contracts(), contracts())
def test_contracts_get_the_changes_they_always_got(old: Contract, new: Contract) -> None:
    assert diff_contracts(old, new) == contracts_oracle(old, new)


@settings(max_examples=400, deadline=None)
@given(view_columns(), view_columns())
def test_views_get_the_changes_they_always_got(old: SimpleNamespace, new: SimpleNamespace) -> None:
    assert _column_changes(old, new) == views_oracle(old, new)  # type: ignore[arg-type]


def test_the_shared_algorithm_pairs_each_added_column_once() -> None:
    """Two dropped columns that would both read as a rename of one added column: the first takes it."""
    rules: ColumnRules[tuple[str, str]] = ColumnRules(
        name=lambda c: c[0], is_rename=lambda o, _i, n, _j: o[1] == n[1],
        removed=lambda c: SchemaChange("removed", c[0], "", True),
        renamed=lambda o, n: SchemaChange("renamed", o[0], n[0], True),
        added=lambda c: SchemaChange("added", c[0], "", False),
        changed=lambda o, n: [SchemaChange("retyped", o[0], "", True)] if o[1] != n[1] else [])
    changes = diff_columns([("x", "int"), ("y", "int"), ("k", "int")], [("k", "str"), ("z", "int")], rules)
    assert [(c.kind, c.column, c.detail) for c in changes] == [
        ("renamed", "x", "z"), ("removed", "y", ""), ("retyped", "k", "")]
