"""Differences between two versions of a view, and which ones break readers.

Removing, renaming or retyping a column, changing a column's PII tag, or
changing the grain breaks readers; adding a column, editing docs, changing
the materialization, or changing the SQL without changing the output does not.
The SQL change is summarized clause by clause (filters, grouping, joins,
inputs, column expressions) on the compiled trees, with a unified diff of the
SQL as written.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

from lake.errors import SchemaChange
from lake.schemadiff import ColumnRules, diff_columns
from views.columns import ViewColumn
from views.versions import VersionRecord

#: One difference between two versions (kinds: added, removed, renamed,
#: retyped, pii, grain, materialization, docs): the contracts' change type.
Change = SchemaChange


@dataclass(frozen=True)
class VersionDiff:
    """What changes from one version to another."""

    view: str
    from_version: int
    to_version: int
    changes: tuple[Change, ...]
    sql_summary: tuple[str, ...]
    sql_diff: str

    @property
    def breaking(self) -> bool:
        return any(c.breaking for c in self.changes)

    @property
    def empty(self) -> bool:
        return not self.changes and not self.sql_summary

    def as_dict(self) -> dict[str, Any]:
        return {"view": self.view, "from_version": self.from_version, "to_version": self.to_version,
                "breaking": self.breaking, "changes": [c.as_dict() for c in self.changes],
                "sql_summary": list(self.sql_summary), "sql_diff": self.sql_diff}


def _column_changed(o: ViewColumn, n: ViewColumn) -> Iterator[Change]:
    name = o.name
    if o.sql_type != n.sql_type:
        yield Change("retyped", name, f"column {name!r} type changed from {o.sql_type} to {n.sql_type}", True)
    if o.pii != n.pii:
        state = "now derives from PII" if n.pii else "no longer derives from PII"
        yield Change("pii", name, f"column {name!r} {state} (masking changes)", True)
    if o.description != n.description:
        yield Change("docs", name, f"column {name!r} description changed", False)


#: A view's rules for the shared diff (``lake.schemadiff``): a removed and an
#: added column of the same type computed from the same sources read as a rename.
_VIEW_COLUMNS: ColumnRules[ViewColumn] = ColumnRules(
    name=lambda c: c.name,
    is_rename=lambda o, _i, n, _j: bool(o.sql_type == n.sql_type and o.sources and o.sources == n.sources),
    removed=lambda c: Change("removed", c.name, f"column {c.name!r} removed", True),
    renamed=lambda o, n: Change("renamed", o.name, f"column {o.name!r} renamed to {n.name!r}", True),
    added=lambda c: Change("added", c.name, f"column {c.name!r} added ({c.sql_type or 'type unknown'})", False),
    changed=_column_changed,
)


def _column_changes(old: VersionRecord, new: VersionRecord) -> list[Change]:
    return diff_columns(old.columns, new.columns, _VIEW_COLUMNS)


def _clause(tree: exp.Expr, key: str) -> str:
    if not isinstance(tree, exp.Select):
        return ""
    node = tree.args.get(key)
    if node is None:
        return ""
    if isinstance(node, list):
        return "; ".join(n.sql(dialect="spark") for n in node)
    return str(node.sql(dialect="spark"))


def _projections(tree: exp.Expr) -> dict[str, str]:
    return {p.alias_or_name: (p.this if isinstance(p, exp.Alias) else p).sql(dialect="spark")
            for p in tree.selects} if isinstance(tree, exp.Query) else {}


def summarize_sql(old: VersionRecord, new: VersionRecord) -> list[str]:
    """Clause-level sentences about how the compiled SQL changed."""
    if old.compiled_sql == new.compiled_sql:
        return []
    out: list[str] = []
    before = {d.name: d for d in old.dependencies}
    after = {d.name: d for d in new.dependencies}
    for name in sorted(after.keys() - before.keys()):
        out.append(f"now reads {after[name]}")
    for name in sorted(before.keys() - after.keys()):
        out.append(f"no longer reads {name}")
    for name in sorted(before.keys() & after.keys()):
        if before[name] != after[name]:
            out.append(f"reads {name} as {after[name]} instead of {before[name]}")
    a = sqlglot.parse_one(old.compiled_sql, read="spark")
    b = sqlglot.parse_one(new.compiled_sql, read="spark")
    labels = {"where": "filter (WHERE)", "group": "grouping (GROUP BY)", "having": "HAVING", "joins": "joins",
              "order": "ORDER BY", "limit": "LIMIT", "distinct": "DISTINCT", "with_": "CTEs (WITH)"}
    for key, label in labels.items():
        x, y = _clause(a, key), _clause(b, key)
        if x != y:
            if not x:
                out.append(f"{label} added: {y}")
            elif not y:
                out.append(f"{label} removed: {x}")
            else:
                out.append(f"{label} changed from {x} to {y}")
    pa_, pb = _projections(a), _projections(b)
    for name in sorted(pb.keys() - pa_.keys()):
        out.append(f"column {name!r} added: {pb[name]}")
    for name in sorted(pa_.keys() - pb.keys()):
        out.append(f"column {name!r} removed")
    for name in sorted(pa_.keys() & pb.keys()):
        if pa_[name] != pb[name]:
            out.append(f"column {name!r} computed as {pb[name]} instead of {pa_[name]}")
    if type(a) is not type(b):
        out.append(f"query changed from {type(a).__name__.upper()} to {type(b).__name__.upper()}")
    if not out:
        out.append("SQL rewritten with the same clauses and columns")
    return out


def diff_versions(old: VersionRecord, new: VersionRecord) -> VersionDiff:
    """Compare two versions of the same view (``old`` before ``new``)."""
    changes = _column_changes(old, new)
    if old.grain != new.grain:
        changes.append(Change("grain", None, f"grain changed from {old.grain.describe()} to {new.grain.describe()}",
                              True))
    if old.materialization != new.materialization:
        changes.append(Change("materialization", None, f"materialization changed from {old.materialization} "
                                                       f"to {new.materialization}", False))
    if (old.owner, old.description, old.tags) != (new.owner, new.description, new.tags):
        changes.append(Change("docs", None, "owner, description or tags changed", False))
    sql_diff = "".join(difflib.unified_diff(
        old.sql.strip().splitlines(keepends=True), new.sql.strip().splitlines(keepends=True),
        fromfile=f"{old.view} v{old.version}", tofile=f"{new.view} v{new.version}", n=2,
    ))
    if sql_diff and not sql_diff.endswith("\n"):
        sql_diff += "\n"
    return VersionDiff(old.view, old.version, new.version, tuple(changes), tuple(summarize_sql(old, new)), sql_diff)
