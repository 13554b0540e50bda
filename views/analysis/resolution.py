"""Columns resolved directly, for the queries views usually are.

sqlglot's ``qualify`` handles every construct of every dialect; most views are
one SELECT (with CTEs) over named tables, joined ``ON`` conditions, columns
written ``alias.column`` or bare but found in exactly one input. For those,
:func:`resolve` finds each column's input in one look at the parsed tree,
without rewriting it, and answers exactly as ``qualify`` would have (names
lower case as Spark compares them; a bare column in the one input that has
it). Anything else — stars, subqueries, set operations, ``USING``, positional
or alias references, ``ORDER BY``, names that qualify would resolve by rules
not modeled here, or any doubt at all — raises :class:`Unsupported`, and the
analysis takes sqlglot's way. So this is a shortcut, never a second set of
rules: wherever it answers, the answer is sqlglot's.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from sqlglot import exp

from views.analysis.census import Census
from views.analysis.lineage import ScopeLike
from views.analysis.references import Inputs


class Unsupported(Exception):
    """The query needs sqlglot's qualify (the reason is the message)."""


#: SELECT clauses the direct resolution handles; any other one set needs qualify.
_CLAUSES = frozenset({"expressions", "from_", "joins", "where", "group", "having", "qualify", "distinct", "limit",
                      "offset", "with_"})
_JOIN_ARGS = frozenset({"this", "on", "side", "kind"})
_JOIN_KINDS = frozenset({"", "INNER", "OUTER", "CROSS"})
_TABLE_ARGS = frozenset({"this", "db", "alias"})


@dataclass(eq=False)
class SelectScope:
    """One SELECT (a CTE or the outer query) resolved directly.

    It has the attributes of sqlglot's ``Scope`` that the lineage walker reads.
    """

    expression: exp.Select
    sources: dict[str, exp.Table | SelectScope] = field(default_factory=dict)
    columns: list[exp.Column] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    parent: None = None
    subquery_scopes: tuple[()] = ()
    set_operation_scopes: tuple[()] = ()


@dataclass
class Resolution:
    """The scopes of a query (CTEs in order, the outer query last) and the input of each column."""

    scopes: list[SelectScope]
    columns: dict[int, tuple[str, str]]  # id of a column node -> (alias of its input, its name)

    def table_of(self, column: exp.Column) -> str:
        """The alias of the input ``column`` reads."""
        return self.columns[id(column)][0]

    def name_of(self, column: exp.Column) -> str:
        """The column's name as Spark compares it (lower case)."""
        return self.columns[id(column)][1]

    def outputs(self, scope: ScopeLike) -> list[str]:
        """The output names of a scope, lower case."""
        assert isinstance(scope, SelectScope)
        return scope.outputs


def _set(value: object) -> bool:
    return value is not None and value is not False and value != [] and value != ""


def _alias(node: exp.Expr) -> str | None:
    """A table or CTE alias without column names; Unsupported otherwise."""
    alias = node.args.get("alias")
    if alias is None:
        return None
    if not isinstance(alias, exp.TableAlias) or alias.args.get("columns") or not isinstance(alias.this,
                                                                                             exp.Identifier):
        raise Unsupported("an alias with column names")
    return alias.this.name.lower()


def _source_columns(source: exp.Table | SelectScope, inputs: Inputs) -> Collection[str]:
    if isinstance(source, SelectScope):
        return source.outputs
    found = inputs.of_table(source)
    if found is None:
        raise Unsupported("a table that names no input")
    return found[1].names


def _scope(select: exp.Select, census: Census, inputs: Inputs, ctes: dict[str, SelectScope],
           resolved: dict[int, tuple[str, str]]) -> SelectScope:
    """Resolve one SELECT that sees the CTEs ``ctes`` (by name); its columns go to ``resolved``."""
    for key, value in select.args.items():
        if key not in _CLAUSES and _set(value):
            raise Unsupported(f"the {key} clause")
    distinct = select.args.get("distinct")
    if distinct is not None and distinct.args.get("on") is not None:
        raise Unsupported("DISTINCT ON")
    group = select.args.get("group")
    if group is not None:
        if any(_set(v) for k, v in group.args.items() if k != "expressions"):
            raise Unsupported("ROLLUP, CUBE, GROUPING SETS or GROUP BY ALL")
        if any(isinstance(g, exp.Literal) for g in group.expressions):
            raise Unsupported("GROUP BY position")
    scope = SelectScope(select)
    from_ = select.args.get("from_")
    if from_ is None:
        raise Unsupported("no FROM")
    nodes = [from_.this]
    for join in select.args.get("joins") or []:
        if any(k not in _JOIN_ARGS and _set(v) for k, v in join.args.items()) \
                or (join.kind or "") not in _JOIN_KINDS:
            raise Unsupported("USING, NATURAL, SEMI or ANTI joins")
        nodes.append(join.this)
    for node in nodes:
        if not isinstance(node, exp.Table) or not isinstance(node.this, exp.Identifier) \
                or any(k not in _TABLE_ARGS and _set(v) for k, v in node.args.items()):
            raise Unsupported("a source that is not a named table")
        source: exp.Table | SelectScope
        if node.args.get("db") is not None:
            source = node
            _source_columns(node, inputs)
        else:
            cte = ctes.get(node.name.lower())
            if cte is None:
                raise Unsupported("a table that is no CTE before it")
            source = cte
        alias = _alias(node) or node.name.lower()
        if not alias or alias in scope.sources:
            raise Unsupported("two sources under one name")
        if alias in ctes and ctes[alias] is not source:
            raise Unsupported("a source named like a CTE it sees")
        scope.sources[alias] = source
    aliases: set[str] = set()
    for projection in select.expressions:
        if isinstance(projection, exp.Alias):
            name = projection.alias.lower()
            aliases.add(name)
        elif isinstance(projection, exp.Column):
            name = projection.name.lower()
        else:
            raise Unsupported("an output column without a name")
        if not name:
            raise Unsupported("an output column without a name")
        scope.outputs.append(name)
    available = {alias: _source_columns(source, inputs) for alias, source in scope.sources.items()}
    scope.columns = census.columns.get(id(select), [])
    for column in scope.columns:
        name = column.this.this.lower()  # the census let through only Identifier parts
        qualifier = column.args.get("table")
        table = qualifier.this.lower() if qualifier is not None else ""
        if table:
            if name not in available.get(table, ()):
                raise Unsupported("a column its table does not have")
        else:
            if name in aliases:
                raise Unsupported("a name that may refer to an output column")
            having = [alias for alias, names in available.items() if name in names]
            if len(having) != 1:
                raise Unsupported("a column in no input or in several")
            table = having[0]
        resolved[id(column)] = (table, name)
    return scope


def resolve(root: exp.Query, census: Census, inputs: Inputs, sql: str) -> Resolution:
    """Resolve every column of ``root`` (tables already resolved) as sqlglot's qualify would.

    Args:
        root: The view's query, its tables resolved (:func:`~views.analysis.references.resolve_tables`).
        census: ``root``'s census.
        inputs: Its resolved inputs.
        sql: The SQL it was parsed from.

    Raises:
        Unsupported: The query holds something only qualify resolves.
    """
    if census.unsupported is not None:
        raise Unsupported(census.unsupported)
    if "sqlglot.meta" in sql:
        raise Unsupported("sqlglot meta comments")
    if not isinstance(root, exp.Select):
        raise Unsupported("not a SELECT")
    resolved: dict[int, tuple[str, str]] = {}
    scopes: list[SelectScope] = []
    ctes: dict[str, SelectScope] = {}
    with_ = root.args.get("with_")
    if with_ is not None:
        if any(_set(v) for k, v in with_.args.items() if k != "expressions"):
            raise Unsupported("WITH RECURSIVE")
        for cte in with_.expressions:
            if any(_set(v) for k, v in cte.args.items() if k not in ("this", "alias")):
                raise Unsupported("CTE options")
            name = _alias(cte)
            if not name or name in ctes or not isinstance(cte.this, exp.Select):
                raise Unsupported("a CTE that is not one named SELECT")
            scope = _scope(cte.this, census, inputs, dict(ctes), resolved)
            scopes.append(scope)
            ctes[name] = scope
    scopes.append(_scope(root, census, inputs, ctes, resolved))
    return Resolution(scopes, resolved)
