"""Resolve the tables a view reads against the catalog snapshot.

Each ``domain.name`` (or pinned ``domain.`name@vN```) becomes a quoted,
canonical table node; CTE names stay as they are; anything else (bare names,
three-part names, file paths, table functions, unknown names) is refused with
its position.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from sqlglot import exp

from views.analysis.census import Census
from views.analysis.context import Context
from views.names import Ref, ref_of_table
from views.sources import Snapshot, Source


@dataclass(frozen=True)
class Inputs:
    """The resolved inputs of a query, in order of first reference.

    Attributes:
        sources: Each input by its reference.
        tables: Each table node of the query that names an input (by ``id``), with it.
    """

    sources: dict[Ref, Source]
    tables: dict[int, tuple[exp.Table, Ref, Source]] = field(default_factory=dict, compare=False, repr=False)

    def of_table(self, table: exp.Table) -> tuple[Ref, Source] | None:
        """The reference and input a table node of the query names (None for a CTE)."""
        kept = self.tables.get(id(table))
        if kept is not None and kept[0] is table:
            return kept[1], kept[2]
        ref = ref_of_table(table)
        source = self.sources.get(ref) if ref is not None else None
        return (ref, source) if ref is not None and source is not None else None

    def schema(self) -> dict[str, dict[str, dict[str, str]]]:
        """A sqlglot mapping schema: domain -> table identifier -> column -> type."""
        out: dict[str, dict[str, dict[str, str]]] = {}
        for ref, source in self.sources.items():
            out.setdefault(ref.domain, {})[ref.table_identifier] = {
                c.name: c.sql_type or "UNKNOWN" for c in source.columns
            }
        return out


def _unknown(ctx: Context, ref: Ref, snapshot: Snapshot, node: exp.Table) -> None:
    name = ref.qualified
    if ref.pin is not None and (name in snapshot.datasets or snapshot.is_view(name)):
        if name in snapshot.datasets:
            majors = ", ".join(f"v{m}" for m in sorted(snapshot.datasets[name]))
            ctx.fail(f"dataset {name} has no major version {ref.pin} (it has {majors})", kind="unknown_table",
                     node=node)
        versions = sorted(snapshot.views[name].versions)
        ctx.fail(f"view {name} has no version {ref.pin} (it has v1 to v{versions[-1]})", kind="unknown_table",
                 node=node)
    close = difflib.get_close_matches(name, snapshot.names(), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    ctx.fail(f"no dataset or view named {name}{hint}", kind="unknown_table", node=node)


def resolve_tables(ctx: Context, root: exp.Query, snapshot: Snapshot, census: Census | None = None) -> Inputs:
    """Resolve and rewrite every table reference of ``root`` in place.

    Args:
        ctx: The view being analyzed.
        root: Its query.
        snapshot: Datasets and views to resolve names against.
        census: ``root``'s census, taken before any change to it (taken here if not given).

    Raises:
        ViewCompileError: kind ``unknown_table`` for a name that is not a dataset or
            view (or a malformed one), ``statement`` for table functions, ``cycle``
            for a view reading itself.
    """
    census = census or Census.of(root)
    ctes = census.cte_names
    sources: dict[Ref, Source] = {}
    tables: dict[int, tuple[exp.Table, Ref, Source]] = {}
    for node in census.tables:
        if not isinstance(node.this, exp.Identifier):
            ctx.fail("table functions cannot be read by a view; read datasets and views by name",
                     kind="statement", node=node)
        try:
            ref = ref_of_table(node)
        except ValueError as exc:
            ctx.fail(str(exc), kind="unknown_table", node=node)
        if ref is None:
            if node.name.lower() in ctes:
                continue
            ctx.fail(f"table {node.name!r} must be named as domain.name (a dataset or a view)",
                     kind="unknown_table", node=node)
        if ref.qualified == ctx.view:
            ctx.fail(f"{ctx.view} cannot read itself", kind="cycle", node=node)
        if ref not in sources:
            try:
                source = snapshot.resolve(ref)
            except ValueError as exc:
                ctx.fail(str(exc), kind="unknown_table", node=node)
            if source is None:
                _unknown(ctx, ref, snapshot, node)
            assert source is not None
            sources[ref] = source
        tables[id(node)] = (node, ref, sources[ref])
        _canonical(node, ref)
    return Inputs(sources, tables)


def _canonical(node: exp.Table, ref: Ref) -> None:
    node.set("this", exp.to_identifier(ref.table_identifier, quoted=True))
    node.set("db", exp.to_identifier(ref.domain, quoted=True))
    node.set("catalog", None)
    if ref.pin is not None and not node.alias:
        node.set("alias", exp.TableAlias(this=exp.to_identifier(ref.name)))


def rewrite_tables(census: Census) -> None:
    """Rewrite the table references of a query whose tables :func:`resolve_tables` accepted
    (e.g. parsed again from the same SQL) as it did, without the catalog."""
    for node in census.tables:
        ref = ref_of_table(node)
        if ref is not None:
            _canonical(node, ref)
