"""Check every column reference of a query against what the caller may see.

The governed subqueries that :mod:`access.gateway.rewrite` puts in place of
the tables hold only permitted columns, so Spark could never read a denied
column. This check makes the answer explicit: a query that *names* a denied
column (in the select list, ``WHERE``, ``JOIN ... ON``/``USING``, ``GROUP BY``,
``HAVING``, ``ORDER BY``, a window, a subquery) is refused with
:class:`~lake.errors.AccessDenied` naming the column, instead of being run
with the column silently missing or resolved to another table's column.

Most queries are decided on the tree itself: :mod:`access.gateway.scopes`
proves, without copying or qualifying it, that every column passes. Where
that proof is unsure, the full analysis decides. It runs on a copy of the
query where each catalog table is a plain table whose schema is its permitted columns; sqlglot qualifies the copy (expanding
``*`` to those columns, as Spark will), and each column is then resolved the
way Spark resolves it against the *full* tables: innermost scope first, then
the enclosing ones for correlated subqueries, and select-list aliases first in
``ORDER BY``. A column that resolves to a denied column is denied; one that
resolves nowhere is unknown; one that is ambiguous between a permitted
column and a denied one is denied too.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.schema import MappingSchema

from access.gateway.errors import QueryRefused, UnknownColumn
from access.gateway.parse import DIALECT
from access.gateway.parse import nodes as tree_nodes
from access.gateway.scopes import columns_pass

_REF_META = "lg_ref"
_SCHEMA_NAME = re.compile(r"__lg_t(\d+)")
_UNKNOWN_COLUMN = re.compile(r"^Unknown column: (.+)$")
_COL_META = "lg_col"


@dataclass(frozen=True)
class RefColumns:
    """What one catalog reference exposes to the query.

    Attributes:
        table: The catalog name, for messages.
        visible: Column names the query may use (after ``AS t(a, b)`` renames).
        denied: Column names the caller may not read, mapped to their contract names.
    """

    table: str
    visible: tuple[str, ...]
    denied: dict[str, str]


#: Raised for a denied column: (reference index, contract column name, position).
DenyColumn = Callable[[int, str, exp.Expr], Exception]


def _schema_name(index: int) -> str:
    return f"__lg_t{index}"


#: Schemas kept for reuse (sqlglot normalizes every name when one is built), and how often one
#: is reused before it is built again (its lookup caches grow with the aliases queries use).
SCHEMAS_MAX = 256
SCHEMA_USES = 1000


@dataclass
class _Kept:
    schema: MappingSchema
    uses: int = 1


_schemas: dict[tuple[tuple[str, ...], ...], _Kept] = {}
_schemas_lock = threading.Lock()


def _schema(refs: list[RefColumns]) -> MappingSchema:
    """The analysis schema: each reference a table ``__lg_t<i>`` of its visible columns."""
    key = tuple(ref.visible for ref in refs)
    kept = _schemas.get(key)
    if kept is not None and kept.uses < SCHEMA_USES:
        kept.uses += 1
        return kept.schema
    schema = MappingSchema({_schema_name(i): dict.fromkeys(visible, "string") for i, visible in enumerate(key)},
                           dialect=DIALECT)
    with _schemas_lock:
        if len(_schemas) >= SCHEMAS_MAX:
            _schemas.clear()
        _schemas[key] = _Kept(schema)
    return schema


def _position(node: exp.Expr) -> tuple[int | None, int | None]:
    for n in node.walk():
        if n.meta.get("line") is not None:
            return n.meta.get("line"), n.meta.get("col")
    return None, None


class _Checker:
    def __init__(self, refs: list[RefColumns], deny: DenyColumn) -> None:
        self.refs = refs
        self.deny = deny

    def ref_of(self, source: object) -> int | None:
        if isinstance(source, exp.Table) and not source.args.get("db"):
            match = _SCHEMA_NAME.fullmatch(source.name)
            if match is not None and int(match.group(1)) < len(self.refs):
                return int(match.group(1))
        return None

    @staticmethod
    def outputs(source: Scope) -> set[str] | None:
        """Output names of a derived source; ``None`` when any name may come out."""
        expression = source.expression
        if isinstance(expression, exp.Query):
            names = {n.lower() for n in expression.named_selects}
            if "*" in names or not names:
                return None
            alias = expression.parent.args.get("alias") if expression.parent is not None else None
            if isinstance(alias, exp.TableAlias) and alias.columns:
                return {str(c.name).lower() for c in alias.columns}
            return names
        return None  # UDTFs, LATERAL VIEW, VALUES: their alias lists name their columns

    def check_source(self, source: object, name: str, column: exp.Column) -> bool:
        """Whether ``source`` provides ``name``; raises if that is a denied column."""
        index = self.ref_of(source)
        if index is not None:
            ref = self.refs[index]
            if name in ref.denied:
                raise self.deny(index, ref.denied[name], column)
            return name in ref.visible
        if isinstance(source, Scope):
            outputs = self.outputs(source)
            return outputs is None or name in outputs
        return True

    def check_qualified(self, scope: Scope, column: exp.Column) -> None:
        name, table = column.name.lower(), column.table.lower()
        written_bare = column.meta.get(_COL_META) == "unqualified"
        level: Scope | None = scope
        while level is not None:
            source = _source(level, table)
            if source is not None:
                if not self.check_source(source, name, column):
                    index = self.ref_of(source)
                    line, col = _position(column)
                    label = self.refs[index].table if index is not None else table
                    raise UnknownColumn(column.name, table=label, line=line, col=col)
                if written_bare:
                    self.check_ambiguous(level, source, name, column)
                return
            if written_bare:
                # sqlglot bound a bare name to an outer query; against the full
                # tables Spark would first look here, where it may be denied.
                self.check_ambiguous(level, None, name, column)
            level = level.parent
        line, col = _position(column)
        raise UnknownColumn(f"{column.table}.{column.name}", line=line, col=col)

    def check_ambiguous(self, scope: Scope, chosen: object, name: str, column: exp.Column) -> None:
        for source in scope.sources.values():
            if source is chosen:
                continue
            index = self.ref_of(source)
            if index is not None and name in self.refs[index].denied:
                raise self.deny(index, self.refs[index].denied[name], column)

    def check_unqualified(self, scope: Scope, column: exp.Column) -> None:
        name = column.name.lower()
        if _is_lambda_variable(column, name):
            return
        clause = _clause(scope, column)
        aliases = _select_aliases(scope, column, clause)
        if clause is exp.Order and name in aliases:
            return  # ORDER BY prefers the select list
        level: Scope | None = scope
        while level is not None:
            found = False
            for source in level.sources.values():
                if self.check_source(source, name, column):
                    found = True
            if found:
                return
            level = level.parent
        if name in aliases:
            return  # a lateral column alias, or an alias in GROUP BY / HAVING
        line, col = _position(column)
        raise UnknownColumn(column.name, line=line, col=col)

    def check_using(self, tree: exp.Expr) -> None:
        for join in tree_nodes(tree):
            if not isinstance(join, exp.Join):
                continue
            names = [str(i.name).lower() for i in join.args.get("using") or ()]
            if not names:
                continue
            select = join.parent
            sources: list[exp.Expr] = [join.this]
            if isinstance(select, exp.Select):
                from_ = select.args.get("from_")
                if from_ is not None:
                    sources.append(from_.this)
                sources.extend(j.this for j in select.args.get("joins") or ())
            for source in sources:
                index = self.ref_of(source)
                if index is None:
                    continue
                for name in names:
                    if name in self.refs[index].denied:
                        raise self.deny(index, self.refs[index].denied[name], join)


def _source(scope: Scope, table: str) -> object | None:
    for alias, source in scope.sources.items():
        if alias.lower() == table:
            return source
    return None


def _clause(scope: Scope, column: exp.Column) -> type[exp.Expr] | None:
    """The clause of ``scope``'s query that holds ``column``: a projection (Select), Group, Having, Order..."""
    node: exp.Expr | None = column
    while node is not None and node.parent is not None and node.parent is not scope.expression:
        node = node.parent
    if node is None or node.parent is None:
        return None
    if node.arg_key == "expressions":
        return exp.Select
    return type(node)


def _select_aliases(scope: Scope, column: exp.Column, clause: type[exp.Expr] | None) -> set[str]:
    """Select-list aliases ``column`` may refer to where it stands."""
    query = scope.expression
    if isinstance(query, exp.SetOperation):
        return {n.lower() for n in query.named_selects} if clause is exp.Order else set()
    if not isinstance(query, exp.Select):
        return set()
    projections = query.expressions
    if clause is exp.Select:
        holder = next((i for i, p in enumerate(projections) if column is p or _contains(p, column)), None)
        earlier = projections[:holder] if holder is not None else []
        return {p.alias.lower() for p in earlier if isinstance(p, exp.Alias) and p.alias}
    if clause in (exp.Group, exp.Having, exp.Order):
        return {p.alias_or_name.lower() for p in projections if p.alias_or_name}
    return set()


def _contains(root: exp.Expr, node: exp.Expr) -> bool:
    parent: exp.Expr | None = node
    while parent is not None:
        if parent is root:
            return True
        parent = parent.parent
    return False


def _is_lambda_variable(column: exp.Column, name: str) -> bool:
    node: exp.Expr | None = column.parent
    while node is not None:
        if isinstance(node, exp.Lambda) and name in {str(v.name).lower() for v in node.expressions}:
            return True
        node = node.parent
    return False


def _analysis_copy(tree: exp.Expr, nodes: Iterable[exp.Table]) -> exp.Expr:
    """A copy of ``tree`` with each catalog table (``nodes``) as a plain ``__lg_t<i>`` table.

    Columns are marked (in ``meta``) as written with or without a table, so the
    check still knows after sqlglot qualified them.
    """
    for column in tree_nodes(tree):
        if isinstance(column, exp.Column):
            column.meta[_COL_META] = "qualified" if column.table else "unqualified"
    for position, node in enumerate(nodes):
        node.meta[_REF_META] = position
    copy = tree.copy()
    for table in tree_nodes(copy):
        if not isinstance(table, exp.Table):
            continue
        index = table.meta.get(_REF_META)
        if not isinstance(index, int):
            continue
        alias = table.args.get("alias")
        alias_name = alias.name if isinstance(alias, exp.TableAlias) and alias.name else table.name
        plain = exp.Table(this=exp.to_identifier(_schema_name(index)),
                          alias=exp.TableAlias(this=exp.to_identifier(alias_name)))
        plain.meta[_REF_META] = index
        table.replace(plain)
    return copy


def check_columns(tree: exp.Expr, nodes: list[exp.Table], refs: list[RefColumns], deny: DenyColumn) -> None:
    """Refuse a query that names a denied or unknown column.

    Args:
        tree: The bound query (CTEs renamed); only marks in node ``meta`` are added.
        nodes: Its catalog ``Table`` nodes, in the order of ``refs``.
        refs: What each reference exposes.
        deny: Builds the error for a denied column.

    Raises:
        AccessDenied: (from ``deny``) a denied column is named.
        UnknownColumn: a column no source provides.
        QueryRefused: the query cannot be analyzed.
    """
    if columns_pass(tree, nodes, [r.visible for r in refs], [r.denied for r in refs]):
        return  # proven on the tree itself (access.gateway.scopes); the analysis would pass it too
    analyze_columns(tree, nodes, refs, deny)


def analyze_columns(tree: exp.Expr, nodes: list[exp.Table], refs: list[RefColumns], deny: DenyColumn) -> None:
    """:func:`check_columns` by the full analysis alone (sqlglot qualifies a copy of the query).

    Same arguments and errors as :func:`check_columns`, which calls it when
    :func:`access.gateway.scopes.columns_pass` cannot prove the query passes.
    """
    analysis = _analysis_copy(tree, nodes)
    checker = _Checker(refs, deny)
    checker.check_using(analysis)
    try:
        schema = _schema(refs)
        qualified = qualify(analysis, schema=schema, dialect=DIALECT, validate_qualify_columns=False,
                            quote_identifiers=False, identify=False)
        scopes = traverse_scope(qualified)
    except OptimizeError as exc:
        unknown = _UNKNOWN_COLUMN.match(str(exc))
        if unknown is not None:
            name = unknown.group(1).strip("`\"").lower()
            for index, ref in enumerate(refs):
                if name in ref.denied:
                    raise deny(index, ref.denied[name], analysis) from None
            raise UnknownColumn(unknown.group(1)) from None
        raise QueryRefused(f"cannot analyze the query: {exc}") from None
    except (SqlglotError, RecursionError, KeyError, ValueError, AttributeError, TypeError) as exc:
        raise QueryRefused(f"cannot analyze the query ({type(exc).__name__})") from None
    for scope in scopes:
        for column in scope.find_all(exp.Column):
            if not column.name or isinstance(column.this, exp.Star) or column.arg_key == "except_":
                continue
            try:
                if column.table:
                    checker.check_qualified(scope, column)
                else:
                    checker.check_unqualified(scope, column)
            except UnknownColumn:
                # A name that is a denied column of a table the query reads (through a
                # subquery or CTE whose * left it out) is reported as denied.
                name = column.name.lower()
                for index, ref in enumerate(refs):
                    if name in ref.denied:
                        raise deny(index, ref.denied[name], column) from None
                raise
