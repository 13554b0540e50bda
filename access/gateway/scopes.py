"""A fast proof that a query's columns pass the column check, on the parsed tree as it is.

:func:`access.gateway.check.check_columns` decides with sqlglot's ``qualify``
on a copy of the query: general, and about twice the cost of parsing. Most
queries use a small part of SQL, where the outcome of that analysis can be
told from the tree directly. :func:`columns_pass` builds the scopes of the
query the way sqlglot does (a scope per SELECT and set operation; CTEs, derived
tables and subqueries as child scopes; each scope's sources by alias) and
resolves every column the way the analysis would resolve it:

- ``t.c``: the innermost scope that has a source ``t`` (its tables, derived
  tables and visible CTEs); that source must provide ``c``, and ``c`` must not
  be a denied column of it;
- ``c``: exactly one table or derived table of its own scope provides it and
  none of that scope's tables denies it, or none of its own scope's sources
  provides it and an enclosing scope's does (a correlated reference), no
  scope on the way denying it.

``*`` and ``t.*`` expand as sqlglot expands them (a derived table's columns are
its expanded select list, unnamed expressions ``_col_<i>``). The proof is
only ever a pass: anything else — a denied, unknown or ambiguous name, a name
only a select-list alias provides, ``USING``, positional ``GROUP BY 1``,
lambdas, struct fields, ``LATERAL VIEW``, semi joins, column alias lists,
recursive CTEs, ``sqlglot.meta`` comments — is :class:`Unsure`, and the full
analysis decides, with its own answer and message. So the proof can only make
the check faster, never change what it answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import cast

from sqlglot import exp
from sqlglot.expressions.core import SQLGLOT_META

_QUERIES = (exp.Select, exp.SetOperation)

#: Select clauses the proof follows; any other clause with a value makes it unsure.
_SELECT_ARGS = frozenset({"with_", "expressions", "distinct", "from_", "joins", "where", "group", "having",
                          "windows", "order", "limit", "offset"})
_SET_OPERATION_ARGS = frozenset({"with_", "this", "expression", "distinct", "order", "limit", "offset"})
_JOIN_ARGS = frozenset({"this", "on", "side", "kind"})
_JOIN_KINDS = frozenset({"", "INNER", "OUTER", "CROSS"})
_TABLE_ARGS = frozenset({"this", "alias"})
_SUBQUERY_ARGS = frozenset({"this", "alias"})
_CTE_ARGS = frozenset({"this", "alias"})
_COLUMN_ARGS = frozenset({"this", "table"})
#: Nodes whose meaning for column resolution the proof does not model.
_UNSURE_NODES = (exp.Lambda, exp.Dot, exp.Table, exp.Lateral, exp.Unnest, exp.Values, exp.Aliases,
                 exp.TableColumn, exp.Pivot, exp.With, exp.CTE, exp.From, exp.Join)


#: What :meth:`_Prover._walk` does with a node, by its class (0: nothing but walk on).
_COLUMN, _QUERY, _SUBQUERY, _STAR, _GROUP, _UNSURE = 1, 2, 3, 4, 5, 6
_kinds: dict[type[exp.Expr], int] = {}


def _kind(cls: type[exp.Expr]) -> int:
    if issubclass(cls, exp.Column):
        kind = _COLUMN if cls is exp.Column else _UNSURE
    elif issubclass(cls, _QUERIES):
        kind = _QUERY
    elif issubclass(cls, exp.Subquery):
        kind = _SUBQUERY if cls is exp.Subquery else _UNSURE
    elif issubclass(cls, _UNSURE_NODES):
        kind = _UNSURE
    elif cls is exp.Star:
        kind = _STAR
    elif cls is exp.Group:
        kind = _GROUP
    else:
        kind = 0
    _kinds[cls] = kind
    return kind


class Unsure(Exception):
    """The query is outside what the proof covers: the full analysis decides."""


class _Scope:
    """A SELECT or set operation; its sources are catalog references (their index) or child scopes."""

    __slots__ = ("_outputs", "columns", "ctes", "expression", "left", "ordering", "parent", "positions", "sources")

    def __init__(self, expression: exp.Expr, parent: _Scope | None, ctes: dict[str, _Scope]) -> None:
        self.expression = expression
        self.parent = parent
        self.ctes = ctes  # visible CTEs by (generated) name
        self.sources: dict[str, int | _Scope] = {}  # FROM and JOIN sources by alias, in order
        self.columns: list[exp.Column] = []
        self.ordering: set[int] = set()  # ids of the columns in the SELECT's own ORDER BY
        self.positions: list[int] = []  # GROUP BY 1, ORDER BY 2: the positions named
        self.left: _Scope | None = None  # a set operation's first operand
        self._outputs: list[str] | None = None


def _unsure_args(node: exp.Expr, allowed: frozenset[str]) -> bool:
    """Whether ``node`` has a value for an argument outside ``allowed``."""
    args = node.args
    if args.keys() <= allowed:
        return False
    return any(k not in allowed and v is not None and v is not False and not (isinstance(v, list) and not v)
               for k, v in args.items())


def _has_meta_comment(node: exp.Expr) -> bool:
    comments = node.comments
    return comments is not None and any(SQLGLOT_META in c for c in comments)


class _Prover:
    def __init__(self, ref_nodes: Sequence[exp.Table], visible: Sequence[tuple[str, ...]],
                 denied: Sequence[Iterable[str]]) -> None:
        self.ref_index = {id(node): i for i, node in enumerate(ref_nodes)}
        self.visible = [frozenset(v) for v in visible]
        self.visible_lists = [list(v) for v in visible]
        self.denied = [frozenset(d) for d in denied]
        self.scopes: list[_Scope] = []

    # -- building the scopes -------------------------------------------------------------------

    def build(self, expression: exp.Expr, parent: _Scope | None, ctes: dict[str, _Scope]) -> _Scope:
        if _has_meta_comment(expression):
            raise Unsure
        scope = _Scope(expression, parent, ctes)
        self.scopes.append(scope)
        with_ = expression.args.get("with_")
        if with_ is not None:
            scope.ctes = self._ctes(with_, scope, ctes)
        if isinstance(expression, exp.Select):
            self._select(scope)
        elif isinstance(expression, exp.SetOperation):
            self._set_operation(scope)
        else:
            raise Unsure
        return scope

    def _ctes(self, with_: exp.Expr, scope: _Scope, ctes: dict[str, _Scope]) -> dict[str, _Scope]:
        if not isinstance(with_, exp.With) or _unsure_args(with_, frozenset({"expressions"})) \
                or _has_meta_comment(with_):
            raise Unsure
        visible = dict(ctes)
        for cte in with_.expressions:
            alias = cte.args.get("alias")
            if (not isinstance(cte, exp.CTE) or _unsure_args(cte, _CTE_ARGS) or _has_meta_comment(cte)
                    or not isinstance(alias, exp.TableAlias) or alias.args.get("columns") or not alias.name
                    or not isinstance(cte.this, _QUERIES)):
                raise Unsure
            self._walk_plain(alias)
            # A CTE's body sees the CTEs before it; its scope's parent is the query holding the WITH.
            visible[alias.name.lower()] = self.build(cte.this, scope, dict(visible))
        return visible

    def _set_operation(self, scope: _Scope) -> None:
        node = scope.expression
        if _unsure_args(node, _SET_OPERATION_ARGS):
            raise Unsure
        for key in ("this", "expression"):
            branch = node.args.get(key)
            if not isinstance(branch, _QUERIES) or (branch.args.get("with_") is not None):
                raise Unsure  # parenthesized operands, VALUES, a WITH on an inner operand
            child = self.build(branch, scope, scope.ctes)
            if key == "this":
                scope.left = child
        order = node.args.get("order")
        if order is not None:
            if _positions(order):
                raise Unsure
            self._walk(scope, order)
        before = len(scope.columns)
        for key in ("limit", "offset"):
            value = node.args.get(key)
            if value is not None:
                self._walk(scope, value)
        if len(scope.columns) != before:
            raise Unsure  # only ORDER BY resolves names against the output

    def _select(self, scope: _Scope) -> None:
        node = scope.expression
        if _unsure_args(node, _SELECT_ARGS):
            raise Unsure
        distinct = node.args.get("distinct")
        if distinct is not None and (distinct.args.get("on") is not None or _has_meta_comment(distinct)):
            raise Unsure
        from_ = node.args.get("from_")
        if from_ is not None:
            if not isinstance(from_, exp.From) or _unsure_args(from_, frozenset({"this"})) \
                    or _has_meta_comment(from_):
                raise Unsure
            self._source(scope, from_.this)
        for join in node.args.get("joins") or ():
            if (_unsure_args(join, _JOIN_ARGS) or _has_meta_comment(join)
                    or str(join.args.get("kind") or "").upper() not in _JOIN_KINDS):
                raise Unsure
            self._source(scope, join.this)
        for join in node.args.get("joins") or ():
            on = join.args.get("on")
            if on is not None:
                self._walk(scope, on)
        for projection in node.expressions:
            self._projection(scope, projection)
        for key in ("where", "group", "having", "windows", "limit", "offset"):
            value = node.args.get(key)
            if isinstance(value, list):
                for item in value:
                    self._walk(scope, item)
            elif value is not None:
                self._walk(scope, value)
        order = node.args.get("order")
        if order is not None:
            before = len(scope.columns)
            self._walk(scope, order)
            scope.ordering.update(id(c) for c in scope.columns[before:])
        for key in ("group", "order"):
            clause = node.args.get(key)
            if clause is not None:
                scope.positions.extend(_positions(clause))

    def _source(self, scope: _Scope, node: exp.Expr) -> None:
        index = self.ref_index.get(id(node))
        if index is not None:
            # The analysis sees a catalog table as a plain table of its permitted columns, named by
            # its alias; nothing else of the reference (time travel, sample) takes part.
            alias = node.args.get("alias")
            name = alias.name if isinstance(alias, exp.TableAlias) and alias.name else node.name
            self._add_source(scope, name, index)
            return
        if _has_meta_comment(node):
            raise Unsure
        alias = node.args.get("alias")
        if alias is not None:
            if not isinstance(alias, exp.TableAlias) or alias.args.get("columns"):
                raise Unsure
            self._walk_plain(alias)
        if isinstance(node, exp.Table):
            cte = scope.ctes.get(node.name.lower()) if isinstance(node.this, exp.Identifier) else None
            if cte is None or _unsure_args(node, _TABLE_ARGS):
                raise Unsure
            self._walk_plain(node.this)
            self._add_source(scope, node.alias_or_name, cte)
            return
        if isinstance(node, exp.Subquery) and isinstance(node.this, _QUERIES) and alias is not None \
                and alias.name and not _unsure_args(node, _SUBQUERY_ARGS):
            self._add_source(scope, alias.name, self.build(node.this, scope, scope.ctes))
            return
        raise Unsure

    @staticmethod
    def _add_source(scope: _Scope, name: str, source: int | _Scope) -> None:
        key = name.lower()
        if not key or key in scope.sources or key.startswith("__lg_"):
            raise Unsure
        scope.sources[key] = source

    def _projection(self, scope: _Scope, projection: exp.Expr) -> None:
        if isinstance(projection, exp.Star):
            if _unsure_args(projection, frozenset()) or _has_meta_comment(projection):
                raise Unsure
            return
        if isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
            star = projection.this
            if (_unsure_args(star, frozenset()) or _has_meta_comment(star) or _has_meta_comment(projection)
                    or projection.args.get("db") is not None or projection.table.lower() not in scope.sources):
                raise Unsure
            self._walk_plain(projection.args["table"])
            return
        self._walk(scope, projection)

    def _walk_plain(self, node: exp.Expr) -> None:
        """Nodes that hold no column (identifiers, aliases): only comments matter."""
        stack = [node]
        while stack:
            item = stack.pop()
            if _has_meta_comment(item):
                raise Unsure
            for value in item.args.values():
                if isinstance(value, exp.Expr):
                    stack.append(value)
                elif isinstance(value, list):
                    stack.extend(v for v in value if isinstance(v, exp.Expr))

    def _walk(self, scope: _Scope, node: exp.Expr) -> None:
        """Collect the columns of ``scope`` under ``node``; nested queries become child scopes."""
        stack = [node]
        pop, push = stack.pop, stack.append
        columns = scope.columns
        kinds = _kinds
        while stack:
            item = pop()
            if item.comments is not None and _has_meta_comment(item):
                raise Unsure
            cls = item.__class__
            kind = kinds[cls] if cls in kinds else _kind(cls)
            if kind:
                if kind is _COLUMN:
                    if isinstance(item.this, exp.Star) or _unsure_args(item, _COLUMN_ARGS):
                        raise Unsure
                    columns.append(cast(exp.Column, item))
                elif kind is _QUERY:
                    self.build(item, scope, scope.ctes)
                    continue
                elif kind is _SUBQUERY:
                    if _unsure_args(item, _SUBQUERY_ARGS) or item.args.get("alias") is not None:
                        raise Unsure
                elif kind is _STAR:
                    if _unsure_args(item, frozenset()):
                        raise Unsure
                elif kind is _GROUP:
                    if item.args.get("all"):
                        raise Unsure
                else:
                    raise Unsure
            for value in item.args.values():
                if isinstance(value, exp.Expr):
                    push(value)
                elif isinstance(value, list):
                    for v in value:
                        if isinstance(v, exp.Expr):
                            push(v)

    # -- outputs -------------------------------------------------------------------------------

    def source_columns(self, source: int | _Scope) -> list[str]:
        if isinstance(source, int):
            return self.visible_lists[source]
        return self.outputs(source)

    def outputs(self, scope: _Scope) -> list[str]:
        """The names a derived table or CTE gives its columns, as the analysis names them."""
        if scope._outputs is not None:
            return scope._outputs
        node = scope.expression
        if scope.left is not None:
            names = self.outputs(scope.left)
        else:
            names = []
            for projection in node.expressions:
                if isinstance(projection, exp.Star):
                    sources: Iterable[int | _Scope] = scope.sources.values()
                elif isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
                    sources = (scope.sources[projection.table.lower()],)
                else:
                    names.append(projection.output_name.lower() or f"_col_{len(names)}")
                    continue
                for source in sources:
                    columns = self.source_columns(source)
                    if not columns or len(columns) != len(set(columns)):
                        raise Unsure  # the analysis leaves such a star unexpanded
                    names.extend(columns)
        scope._outputs = names
        return names

    def provides(self, source: int | _Scope, name: str) -> bool:
        if isinstance(source, int):
            return name in self.visible[source]
        return name in self.outputs(source)

    def denies(self, scope: _Scope, name: str) -> bool:
        return any(isinstance(s, int) and name in self.denied[s] for s in scope.sources.values())

    # -- columns -------------------------------------------------------------------------------

    def check(self) -> None:
        for scope in self.scopes:
            for source in scope.sources.values():
                if not isinstance(source, int):
                    self.outputs(source)
            if scope.positions:
                # The analysis puts the named projection in place of the position (refusing one out
                # of range); a projection that is a bare subquery it cannot place.
                count = len(self.outputs(scope))
                if any(not 1 <= p <= count for p in scope.positions) or any(
                        isinstance(p, exp.Subquery) for p in scope.expression.expressions):
                    raise Unsure
            for column in scope.columns:
                args = column.args
                this, table = args.get("this"), args.get("table")
                name = this.this if this.__class__ is exp.Identifier else column.name
                if not name:
                    continue
                qualifier = table.this if table.__class__ is exp.Identifier else column.table
                if qualifier:
                    self._qualified(scope, qualifier.lower(), name.lower())
                else:
                    self._unqualified(scope, name.lower(), id(column) in scope.ordering)

    def _qualified(self, scope: _Scope, table: str, name: str) -> None:
        level: _Scope | None = scope
        while level is not None:
            source: int | _Scope | None = level.sources.get(table)
            if source is None:
                if any(self.provides(s, table) for s in level.sources.values()):
                    raise Unsure  # the analysis would read ``table.name`` as a struct field
                source = level.ctes.get(table)
            if source is not None:
                if isinstance(source, int) and name in self.denied[source]:
                    raise Unsure
                if not self.provides(source, name):
                    raise Unsure
                return
            level = level.parent
        raise Unsure

    def _unqualified(self, scope: _Scope, name: str, ordering: bool) -> None:
        if isinstance(scope.expression, exp.SetOperation):
            # Only ORDER BY, LIMIT and OFFSET of a set operation hold columns: its output names.
            if name not in self.outputs(scope):
                raise Unsure
            return
        if self.denies(scope, name):
            raise Unsure
        found = sum(1 for s in scope.sources.values() if self.provides(s, name))
        if found == 1:
            return
        if found > 1:
            raise Unsure  # ambiguous
        if ordering and name in self.outputs(scope):
            return  # ORDER BY names the select list first (no source provides the name here)
        # A correlated reference. The analysis may qualify it with the alias of the one source
        # that provides it further out; it then resolves that alias from here outwards, so a
        # source of the same name on the way would capture it.
        passed = [scope]
        level = scope.parent
        while level is not None:
            if self.denies(level, name):
                raise Unsure
            providers = [alias for alias, s in level.sources.items() if self.provides(s, name)]
            if len(providers) == 1:
                if any(providers[0] in inner.sources for inner in passed):
                    raise Unsure
                return
            if providers:
                raise Unsure
            passed.append(level)
            level = level.parent
        raise Unsure


def _positions(clause: exp.Expr) -> list[int]:
    """The output positions a GROUP BY or ORDER BY names (``GROUP BY 1``)."""
    items = clause.expressions
    if isinstance(clause, exp.Order):
        items = [o.this for o in items]
    return [int(i.this) for i in items if isinstance(i, exp.Literal) and i.is_int]


#: Per (visible, denied) names: whether they are lower case, distinct and disjoint (what the
#: proof assumes of them, as the analysis's schema would make them).
_checked_names: dict[tuple[tuple[str, ...], frozenset[str]], bool] = {}


def _plain_names(visible: tuple[str, ...], denied: frozenset[str]) -> bool:
    key = (visible, denied)
    known = _checked_names.get(key)
    if known is None:
        shown = frozenset(visible)
        known = (len(shown) == len(visible) and not shown & denied
                 and all(n == n.lower() for n in (*visible, *denied)))
        if len(_checked_names) >= 1024:
            _checked_names.clear()
        _checked_names[key] = known
    return known


def columns_pass(tree: exp.Expr, ref_nodes: Sequence[exp.Table], visible: Sequence[tuple[str, ...]],
                 denied: Sequence[Iterable[str]]) -> bool:
    """Whether every column of ``tree`` provably passes the column check.

    Args:
        tree: The bound query (CTEs renamed); not changed.
        ref_nodes: Its catalog ``Table`` nodes.
        visible: Per reference, the column names the query may use.
        denied: Per reference, the column names it may not.

    Returns:
        ``True`` when the full analysis would find nothing to refuse; ``False`` when
        only the full analysis can tell (it may still pass).
    """
    if not isinstance(tree, _QUERIES):
        return False
    for names, hidden in zip(visible, denied, strict=True):
        if not _plain_names(names, frozenset(hidden)):
            return False
    prover = _Prover(ref_nodes, visible, denied)
    try:
        prover.build(tree, None, {})
        prover.check()
    except (Unsure, RecursionError):
        return False
    return True


__all__ = ["Unsure", "columns_pass"]
