"""Column lineage, output types and PII rules, scope by scope.

Every query scope (CTE, derived table, union branch, subquery, the outer query)
gets the facts of each of its output columns: the input columns it is
computed from, how (identity, row-wise transformation, aggregation), its type
(:mod:`views.analysis.typing`), whether it derives from PII and whether it is
a PII ciphertext passed through unchanged.

PII columns are stored as AES-GCM ciphertext with a random nonce, so equal
plaintexts have different ciphertexts. A view may pass such a column through
(select it, possibly under ``any_value``/``first``/``last``), count it, or test
it with ``IS [NOT] NULL``; comparing, joining, grouping, sorting or computing
on it would silently give wrong answers and is refused with its position.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlglot import exp

from views.analysis.context import Context
from views.analysis.references import Inputs
from views.analysis.typing import infer, wider
from views.columns import ColumnSource, EncryptedWith, Transformation

_PASS_THROUGH_AGGS = (exp.AnyValue, exp.First, exp.Last)


@dataclass(frozen=True)
class Facts:
    """What is known of one column of a scope."""

    sql_type: str | None
    sources: frozenset[ColumnSource] = frozenset()
    origins: frozenset[ColumnSource] = frozenset()
    pii: bool = False
    encrypted_with: EncryptedWith | None = None
    transformation: Transformation = Transformation.TRANSFORMATION


UNKNOWN = Facts(None)


def _compose(outer: Transformation, inner: list[Transformation]) -> Transformation:
    if Transformation.AGGREGATION in inner or outer is Transformation.AGGREGATION:
        return Transformation.AGGREGATION
    if outer is Transformation.IDENTITY and all(t is Transformation.IDENTITY for t in inner):
        return Transformation.IDENTITY
    return Transformation.TRANSFORMATION


class Naming(Protocol):
    """How the walker reads names: on a tree sqlglot qualified, or through a direct resolution."""

    def table_of(self, column: exp.Column) -> str:
        """The source alias a column reads ('' if none)."""

    def name_of(self, column: exp.Column) -> str:
        """A column's name as Spark compares it."""

    def outputs(self, scope: ScopeLike) -> list[str]:
        """The output names of a SELECT scope."""


class ScopeLike(Protocol):
    """What the walker reads of a scope: sqlglot's ``Scope`` or a directly resolved one."""

    @property
    def expression(self) -> exp.Expr: ...

    @property
    def sources(self) -> Mapping[str, Any]: ...

    @property
    def columns(self) -> Sequence[exp.Column]: ...

    @property
    def parent(self) -> Any: ...

    @property
    def subquery_scopes(self) -> Sequence[Any]: ...

    @property
    def set_operation_scopes(self) -> Sequence[Any]: ...


class Qualified:
    """Names of a tree sqlglot's qualify rewrote: columns carry their table, names are normalized."""

    def table_of(self, column: exp.Column) -> str:
        return column.table

    def name_of(self, column: exp.Column) -> str:
        return column.name

    def outputs(self, scope: ScopeLike) -> list[str]:
        select = scope.expression
        assert isinstance(select, exp.Select)
        return [p.alias_or_name for p in select.expressions]


QUALIFIED = Qualified()


@dataclass
class _Walker:
    ctx: Context
    inputs: Inputs
    naming: Naming
    outputs: dict[int, list[tuple[str, Facts]]] = field(default_factory=dict)
    _by_name: dict[int, dict[str, Facts]] = field(default_factory=dict)
    _table_facts: dict[tuple[int, str], Facts] = field(default_factory=dict)

    # -- columns ---------------------------------------------------------------

    def _scope_columns(self, scope: ScopeLike) -> dict[str, Facts]:
        found = self._by_name.get(id(scope))
        if found is None:
            found = self._by_name[id(scope)] = dict(self.outputs.get(id(scope), []))
        return found

    def _source_names(self, source: exp.Table | ScopeLike) -> list[str]:
        if not isinstance(source, exp.Table):
            return [name for name, _ in self.outputs.get(id(source), [])]
        found = self.inputs.of_table(source)
        return [c.name for c in found[1].columns] if found else []

    def _column_of_table(self, table: exp.Table, name: str) -> Facts:
        key = (id(table), name)
        facts = self._table_facts.get(key)
        if facts is None:
            found = self.inputs.of_table(table)
            col = found[1].column(name) if found else None
            if found is None or col is None:
                facts = UNKNOWN
            else:
                facts = Facts(col.sql_type, frozenset({found[1].column_source(col.name)}), frozenset(col.origins),
                              col.pii, col.encrypted_with, Transformation.IDENTITY)
            self._table_facts[key] = facts
        return facts

    def _lookup(self, scope: ScopeLike, column: exp.Column) -> Facts:
        table = self.naming.table_of(column)
        walk: ScopeLike | None = scope
        while walk is not None:
            source = walk.sources.get(table)
            if isinstance(source, exp.Table):
                return self._column_of_table(source, self.naming.name_of(column))
            if source is not None:
                return self._scope_columns(source).get(self.naming.name_of(column), UNKNOWN)
            walk = walk.parent
        return UNKNOWN

    def check_resolved(self, scope: ScopeLike) -> None:
        """Refuse columns that no input of the scope has, or that several have."""
        for column in scope.columns:
            table = self.naming.table_of(column)
            if table and any(table in s.sources for s in _chain(scope)):
                continue
            name = self.naming.name_of(column)
            having = [alias for alias, src in scope.sources.items() if name in self._source_names(src)]
            if table:
                self.ctx.fail(f"{table!r} is not a table or alias of this query (column {name!r})",
                              kind="unknown_column", node=column)
            if len(having) > 1:
                self.ctx.fail(f"column {name!r} is ambiguous: it is in {', '.join(sorted(having))}; "
                              "qualify it (alias.column)", kind="ambiguous_column", node=column)
            known = sorted({n for src in scope.sources.values() for n in self._source_names(src)})
            close = difflib.get_close_matches(name, known, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            self.ctx.fail(f"column {name!r} is not in any table this query reads{hint}",
                          kind="unknown_column", node=column)

    # -- PII ------------------------------------------------------------------

    def _check_pii_use(self, scope: ScopeLike, column: exp.Column, facts: Facts) -> None:
        if facts.encrypted_with is None:
            return
        node: exp.Expr = column
        parent = node.parent
        while isinstance(parent, exp.Paren):
            node, parent = parent, parent.parent
        select = scope.expression
        if isinstance(parent, _PASS_THROUGH_AGGS):
            node, parent = parent, parent.parent
        if isinstance(parent, exp.Alias):
            node, parent = parent, parent.parent
        if parent is select and isinstance(select, exp.Select) and any(node is e for e in select.expressions):
            return
        if isinstance(parent, exp.Count) and not isinstance(node, exp.Distinct) and node is column:
            return
        if isinstance(parent, exp.Is) and isinstance(parent.expression, exp.Null):
            return
        enc = facts.encrypted_with
        self.ctx.fail(
            f"column {self.naming.name_of(column)!r} holds PII ({enc.dataset}.{enc.column}) stored encrypted with a random "
            "nonce, so equal values differ; a view may only select it unchanged, count it or test it with "
            "IS [NOT] NULL", kind="pii", node=column)

    # -- scopes ---------------------------------------------------------------

    def _projection(self, scope: ScopeLike, projection: exp.Expr) -> Facts:
        expr = projection.this if isinstance(projection, exp.Alias) else projection
        inner_scopes = {id(s.expression): s for s in scope.subquery_scopes}
        columns: list[Facts] = []
        aggregates = False
        stack = [expr]
        while stack:  # every node of the expression, subqueries not entered
            node = stack.pop()
            if not isinstance(node, exp.Subquery):
                for value in node.args.values():
                    if isinstance(value, exp.Expr):
                        stack.append(value)
                    elif isinstance(value, list):
                        stack.extend(v for v in value if isinstance(v, exp.Expr))
            if isinstance(node, exp.Column):
                columns.append(self._lookup(scope, node))
            elif isinstance(node, exp.Subquery):
                inner = inner_scopes.get(id(node.this))
                outs = self.outputs.get(id(inner), []) if inner else []
                if outs:
                    columns.append(outs[0][1])
            elif isinstance(node, exp.AggFunc):
                aggregates = True
        bare = expr
        level = Transformation.TRANSFORMATION
        if isinstance(bare, _PASS_THROUGH_AGGS) and isinstance(bare.this, exp.Column):
            bare, level = bare.this, Transformation.IDENTITY
        elif isinstance(bare, exp.Column):
            level = Transformation.IDENTITY
        if level is not Transformation.IDENTITY and aggregates:
            level = Transformation.AGGREGATION
        identity = isinstance(bare, exp.Column)
        sql_type = infer(expr, lambda c: self._lookup(scope, c).sql_type)
        encrypted = columns[0].encrypted_with if identity and len(columns) == 1 else None
        if encrypted is not None:
            sql_type = "binary"
        return Facts(
            sql_type=sql_type,
            sources=frozenset().union(*(f.sources for f in columns)),
            origins=frozenset().union(*(f.origins for f in columns)),
            pii=any(f.pii for f in columns),
            encrypted_with=encrypted,
            transformation=_compose(level, [f.transformation for f in columns]),
        )

    def _select(self, scope: ScopeLike) -> list[tuple[str, Facts]]:
        select = scope.expression
        assert isinstance(select, exp.Select)
        for column in scope.columns:
            self._check_pii_use(scope, column, self._lookup(scope, column))
        return list(zip(self.naming.outputs(scope), [self._projection(scope, p) for p in select.expressions],
                        strict=True))

    def _set_operation(self, scope: ScopeLike) -> list[tuple[str, Facts]]:
        branches = [self.outputs.get(id(s), []) for s in scope.set_operation_scopes]
        if not branches or not branches[0]:
            return []
        merged: list[tuple[str, Facts]] = []
        for i, (name, first) in enumerate(branches[0]):
            facts = first
            for branch in branches[1:]:
                if i >= len(branch):
                    self.ctx.fail("the queries of a UNION, INTERSECT or EXCEPT select different numbers of columns",
                                  kind="statement", node=scope.expression)
                other = branch[i][1]
                enc_a, enc_b = facts.encrypted_with, other.encrypted_with
                if enc_a != enc_b and ((enc_a and enc_b) or (enc_a and other.sources) or (enc_b and facts.sources)):
                    self.ctx.fail(
                        f"column {name!r} would mix PII ciphertexts under different keys or with plain values "
                        f"({enc_a or 'plain'} and {enc_b or 'plain'}); a PII column may come from one dataset "
                        "column only", kind="pii", node=scope.expression)
                facts = Facts(
                    sql_type=wider(facts.sql_type, other.sql_type),
                    sources=facts.sources | other.sources,
                    origins=facts.origins | other.origins,
                    pii=facts.pii or other.pii,
                    encrypted_with=enc_a or enc_b,
                    transformation=_compose(facts.transformation, [other.transformation]),
                )
            merged.append((name, facts))
        return merged

    def run(self, scopes: Iterable[ScopeLike]) -> list[tuple[str, Facts]]:
        last: list[tuple[str, Facts]] = []
        for scope in scopes:
            if isinstance(scope.expression, exp.Select):
                self.check_resolved(scope)
                facts = self._select(scope)
            elif isinstance(scope.expression, exp.SetOperation):
                facts = self._set_operation(scope)
            else:
                facts = []
            self.outputs[id(scope)] = facts
            last = facts
        return last


def _chain(scope: ScopeLike) -> list[ScopeLike]:
    out = []
    walk: ScopeLike | None = scope
    while walk is not None:
        out.append(walk)
        walk = walk.parent
    return out


def column_facts(ctx: Context, scopes: Iterable[ScopeLike], inputs: Inputs,
                 naming: Naming = QUALIFIED) -> list[tuple[str, Facts]]:
    """Facts of the outer query's output columns, in order.

    Args:
        ctx: The view being analyzed.
        scopes: The query's scopes, inner ones first (sqlglot's ``traverse_scope``
            of a qualified tree, or a direct :class:`~views.analysis.resolution.Resolution`'s).
        inputs: The resolved inputs.
        naming: How to read column and output names of those scopes.

    Raises:
        ViewCompileError: Unknown or ambiguous columns, PII misuse.
    """
    return _Walker(ctx, inputs, naming).run(scopes)
