"""One pass over a parsed view: what ordering, checking and resolving it need of its tree.

Planning reads the tables of every definition to order them; analysis then
refuses forbidden statements, resolves the tables and, for the queries views
usually are, the columns (:mod:`views.analysis.resolution`). Each of those
used to walk the whole tree; :class:`Census` walks it once and keeps what they
look for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

#: Statement and clause kinds a view may never contain (anywhere in the tree).
FORBIDDEN: tuple[type[exp.Expr], ...] = (exp.DDL, exp.DML, exp.Command, exp.Set, exp.Use, exp.Cache,
                                         exp.Uncache, exp.Describe, exp.Pragma, exp.Transaction,
                                         exp.Commit, exp.Rollback, exp.Into)

#: Nodes that change which names a column can see, beyond tables, CTEs and aliases: the direct
#: resolution leaves queries holding them to sqlglot's qualify.
_SCOPING: tuple[type[exp.Expr], ...] = (
    exp.Subquery, exp.SetOperation, exp.Lateral, exp.Unnest, exp.Pivot, exp.Values, exp.Lambda, exp.Dot,
    exp.Placeholder, exp.Parameter, exp.Hint, exp.UDTF,
)

#: Parents an identifier may have in a query the direct resolution handles (elsewhere, e.g. in a
#: struct type, a named window or a lambda, normalizing it could change what it means).
_NAMING_PARENTS = (exp.Column, exp.Table, exp.TableAlias, exp.Alias)

_TABLE, _COLUMN, _CTE, _SELECT, _IDENTIFIER, _STAR, _ALIAS, _FORBIDDEN, _SCOPE, _OTHER = range(10)
_KINDS: dict[type, int] = {}


#: The first matching class names a node's kind; the order settles nodes of two (forbidden first).
_ORDER: tuple[tuple[type[exp.Expr] | tuple[type[exp.Expr], ...], int], ...] = (
    (FORBIDDEN, _FORBIDDEN), (exp.Table, _TABLE), (exp.Column, _COLUMN), (exp.CTE, _CTE),
    (exp.Select, _SELECT), (exp.Identifier, _IDENTIFIER), (exp.Star, _STAR), (exp.Alias, _ALIAS),
    (_SCOPING, _SCOPE),
)


def _kind(cls: type) -> int:
    kind = _KINDS.get(cls)
    if kind is None:
        kind = next((k for classes, k in _ORDER if issubclass(cls, classes)), _OTHER)
        _KINDS[cls] = kind
    return kind


@dataclass
class Census:
    """What one walk of a query's tree found.

    Attributes:
        tables: Every table node, in the order ``root.find_all(exp.Table)`` yields
            them (breadth first), which fixes the order of a view's dependencies.
        cte_names: The names of every CTE, lower case.
        forbidden: Whether a node of :data:`FORBIDDEN` appears.
        columns: The column nodes of each SELECT (by ``id``), nested ones excluded.
        unsupported: Why the direct resolution does not apply, or None if it may.
    """

    tables: list[exp.Table] = field(default_factory=list)
    cte_names: set[str] = field(default_factory=set)
    forbidden: bool = False
    columns: dict[int, list[exp.Column]] = field(default_factory=dict)
    unsupported: str | None = None

    @classmethod
    def of(cls, root: exp.Expr) -> Census:
        census = cls()
        tables: list[exp.Table] = []
        columns: list[exp.Column] = []
        unsupported: str | None = None
        kinds = _KINDS
        # Depth first, children in order (pushed reversed): nodes of one depth come in the order
        # of their paths from the root, as breadth first; tables are then sorted by depth.
        stack: list[exp.Expr] = [root]
        while stack:
            node = stack.pop()
            kind = kinds.get(type(node))
            if kind is None:
                kind = _kind(type(node))
            if kind == _OTHER:
                pass
            elif kind == _COLUMN:
                assert isinstance(node, exp.Column)
                columns.append(node)
                qualifier = node.args.get("table")
                if unsupported is None and (
                        not isinstance(node.this, exp.Identifier)
                        or (qualifier is not None and not isinstance(qualifier, exp.Identifier))
                        or any(value for key, value in node.args.items() if key not in ("this", "table"))):
                    unsupported = "a column with more than two parts, or alias.*"
            elif kind == _IDENTIFIER:
                if unsupported is None and not isinstance(node.parent, _NAMING_PARENTS):
                    unsupported = f"a name inside {type(node.parent).__name__}"
            elif kind == _TABLE:
                assert isinstance(node, exp.Table)
                tables.append(node)
            elif kind == _SELECT:
                if unsupported is None and node is not root and not (
                    isinstance(node.parent, exp.CTE) and node.parent.parent is not None
                    and node.parent.parent.parent is root
                ):
                    unsupported = "a nested query"
            elif kind == _CTE:
                assert isinstance(node, exp.CTE)
                census.cte_names.add(node.alias_or_name.lower())
            elif kind == _STAR:
                if unsupported is None and not isinstance(node.parent, exp.Count):
                    unsupported = "a star"
            elif kind == _ALIAS:
                if unsupported is None and not isinstance(node.parent, exp.Select):
                    unsupported = "an alias that is not an output column"
            elif kind == _SCOPE:
                if unsupported is None:
                    unsupported = type(node).__name__
            else:
                census.forbidden = True
            for value in reversed(node.args.values()):
                if isinstance(value, exp.Expr):
                    stack.append(value)
                elif isinstance(value, list):
                    for item in reversed(value):
                        if isinstance(item, exp.Expr):
                            stack.append(item)
        if len(tables) > 1:
            tables.sort(key=_depth)
        census.tables = tables
        for column in columns:
            select = column.parent
            while select is not None and not isinstance(select, exp.Select):
                select = select.parent
            if select is not None:
                census.columns.setdefault(id(select), []).append(column)
        census.unsupported = unsupported
        return census


def _depth(node: exp.Expr) -> int:
    depth = 0
    parent = node.parent
    while parent is not None:
        depth += 1
        parent = parent.parent
    return depth
