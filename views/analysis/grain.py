"""The grain of a view: what one of its rows stands for.

A grouped query has one row per group key (its output names where projected);
``SELECT DISTINCT`` one row per distinct output row; otherwise one row per row
(or combination of rows) of the tables it reads. Changing the grain breaks
readers even when the columns stay the same.

Group keys are compared and written as the qualified Spark SQL of the key.
The rules are read either on a tree sqlglot's qualify rewrote or on one
resolved directly (:mod:`views.analysis.resolution`); the direct reading only
answers where it can tell what the qualified SQL would be, and raises
:class:`~views.analysis.resolution.Unsupported` elsewhere.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, Protocol

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, build_scope

from views.analysis.resolution import Resolution, SelectScope, Unsupported
from views.columns import Grain, GrainKind
from views.names import ref_of_table


class _Spelling(Protocol):
    def key(self, node: exp.Expr) -> Hashable:
        """Equal for two expressions exactly when their qualified SQL is."""

    def text(self, node: exp.Expr) -> str:
        """The qualified SQL of an expression."""

    def outputs(self, select: exp.Select, scope: Any) -> list[str]:
        """The output names of a SELECT."""

    def cte(self, scope: Any, table: exp.Table) -> tuple[exp.Expr, Any] | None:
        """The query and scope of the CTE a table names, if it names one."""


class _Qualified:
    """A tree sqlglot qualified: its SQL is the key."""

    def key(self, node: exp.Expr) -> Hashable:
        return node.sql(dialect="spark")

    def text(self, node: exp.Expr) -> str:
        return node.sql(dialect="spark")

    def outputs(self, select: exp.Select, scope: Any) -> list[str]:
        return [p.alias_or_name for p in select.expressions]

    def cte(self, scope: Any, table: exp.Table) -> tuple[exp.Expr, Any] | None:
        inner = scope.sources.get(table.alias_or_name) if scope else None
        return (inner.expression, inner) if isinstance(inner, Scope) else None


class _Direct:
    """A tree resolved directly: a column's qualified SQL is `table`.`column`, so two columns
    spell the same exactly when they read the same column of the same input, and no other
    expression spells like a column. Other SQL is not written here."""

    def __init__(self, resolution: Resolution) -> None:
        self.resolution = resolution

    def key(self, node: exp.Expr) -> Hashable:
        if isinstance(node, exp.Column):
            table = node.args.get("table")  # a resolved column has no other parts (census)
            if node.comments or node.this.comments or (table is not None and table.comments):
                raise Unsupported("a comment in a group key or output column")  # it is part of the SQL
            return ("column", self.resolution.table_of(node), self.resolution.name_of(node))
        return ("expression", id(node))

    def text(self, node: exp.Expr) -> str:
        raise Unsupported("a group key that no output column is")

    def outputs(self, select: exp.Select, scope: Any) -> list[str]:
        assert isinstance(scope, SelectScope)
        return scope.outputs

    def cte(self, scope: Any, table: exp.Table) -> tuple[exp.Expr, Any] | None:
        inner = scope.sources.get(table.alias_or_name.lower())
        return (inner.expression, inner) if isinstance(inner, SelectScope) else None


def _select_grain(select: exp.Select, scope: Any, spelling: _Spelling) -> Grain:
    group = select.args.get("group")
    if group is not None or any(_aggregates(p) for p in select.expressions):
        keys = []
        # Group keys are named by the projection that outputs them, if any (only grouped selects need them).
        projections = {spelling.key(p.this if isinstance(p, exp.Alias) else p): name
                       for p, name in zip(select.expressions, spelling.outputs(select, scope), strict=True)
                       } if group is not None else {}
        for g in (group.expressions if group is not None else []):
            key = spelling.key(g)
            keys.append(projections[key] if key in projections else spelling.text(g))
        for kind in ("rollup", "cube", "grouping_sets"):
            if group is not None and group.args.get(kind):
                keys.append(kind)
        return Grain(GrainKind.GROUP, tuple(sorted(keys)))
    if select.args.get("distinct") is not None:
        return Grain(GrainKind.DISTINCT, tuple(sorted(spelling.outputs(select, scope))))
    tables: list[str] = []
    sources = [select.args.get("from_")] + list(select.args.get("joins") or [])
    for src in sources:
        if src is None:
            continue
        node = src.this
        if isinstance(node, exp.Table):
            ref = ref_of_table(node)
            if ref is not None:
                tables.append(str(ref))
                continue
            cte = spelling.cte(scope, node)
            if cte is not None:
                tables.append(_grain_of(cte[0], cte[1], spelling).describe())
                continue
            tables.append(node.name)
        elif isinstance(node, exp.Subquery):
            tables.append(_grain_of(node.this, None, spelling).describe())
        else:
            tables.append(node.sql(dialect="spark"))
    return Grain(GrainKind.ROWS, tuple(tables))


def _aggregates(projection: exp.Expr) -> bool:
    """Whether an aggregate (not a window function) computes the projection."""
    stack = [projection]
    while stack:
        node = stack.pop()
        if isinstance(node, exp.AggFunc) and not isinstance(node.parent, exp.Window):
            return True
        if isinstance(node, (exp.Subquery, exp.Window)):
            continue  # its own rows
        for value in node.args.values():
            if isinstance(value, exp.Expr):
                stack.append(value)
            elif isinstance(value, list):
                stack.extend(v for v in value if isinstance(v, exp.Expr))
    return False


def _grain_of(query: exp.Expr, scope: Any, spelling: _Spelling) -> Grain:
    if isinstance(query, exp.SetOperation):
        parts = [_grain_of(query.left, None, spelling).describe(), _grain_of(query.right, None, spelling).describe()]
        return Grain(GrainKind.UNION, tuple(parts))
    if isinstance(query, exp.Select):
        return _select_grain(query, scope, spelling)
    return Grain(GrainKind.ROWS, (query.sql(dialect="spark"),))


def grain(root: exp.Query) -> Grain:
    """The grain of a query sqlglot qualified."""
    return _grain_of(root, build_scope(root), _Qualified())


def resolved_grain(root: exp.Query, resolution: Resolution) -> Grain:
    """The grain of a query resolved directly, as :func:`grain` gives it once qualified.

    Raises:
        Unsupported: A group key no output column is (its qualified SQL is not written here).
    """
    return _grain_of(root, resolution.scopes[-1], _Direct(resolution))
