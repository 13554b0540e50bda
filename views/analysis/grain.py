"""The grain of a view: what one of its rows stands for.

A grouped query has one row per group key (its output names where projected);
``SELECT DISTINCT`` one row per distinct output row; otherwise one row per row
(or combination of rows) of the tables it reads. Changing the grain breaks
readers even when the columns stay the same.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, build_scope

from views.columns import Grain, GrainKind
from views.names import ref_of_table


def _select_grain(select: exp.Select, scope: Scope | None) -> Grain:
    group = select.args.get("group")
    if group is not None or any(
        isinstance(n, exp.AggFunc) and not isinstance(n.parent, exp.Window)
        for p in select.expressions for n in p.walk(prune=lambda n: isinstance(n, (exp.Subquery, exp.Window)))
    ):
        keys = []
        # Group keys are named by the projection that outputs them, if any (only grouped selects need the text).
        projections = {p.this.sql(dialect="spark") if isinstance(p, exp.Alias) else p.sql(dialect="spark"):
                       p.alias_or_name for p in select.expressions} if group is not None else {}
        for g in (group.expressions if group is not None else []):
            text = g.sql(dialect="spark")
            keys.append(projections.get(text, text))
        for kind in ("rollup", "cube", "grouping_sets"):
            if group is not None and group.args.get(kind):
                keys.append(kind)
        return Grain(GrainKind.GROUP, tuple(sorted(keys)))
    if select.args.get("distinct") is not None:
        return Grain(GrainKind.DISTINCT, tuple(sorted(p.alias_or_name for p in select.expressions)))
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
            inner = scope.sources.get(node.alias_or_name) if scope else None
            if isinstance(inner, Scope):
                tables.append(_grain_of(inner.expression, inner).describe())
                continue
            tables.append(node.name)
        elif isinstance(node, exp.Subquery):
            tables.append(_grain_of(node.this, None).describe())
        else:
            tables.append(node.sql(dialect="spark"))
    return Grain(GrainKind.ROWS, tuple(tables))


def _grain_of(query: exp.Expr, scope: Scope | None) -> Grain:
    if isinstance(query, exp.SetOperation):
        parts = [_grain_of(query.left, None).describe(), _grain_of(query.right, None).describe()]
        return Grain(GrainKind.UNION, tuple(parts))
    if isinstance(query, exp.Select):
        return _select_grain(query, scope)
    return Grain(GrainKind.ROWS, (query.sql(dialect="spark"),))


def grain(root: exp.Query) -> Grain:
    """The grain of a qualified query."""
    return _grain_of(root, build_scope(root))
