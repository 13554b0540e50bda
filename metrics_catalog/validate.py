"""Checking a definition against its source's schema with sqlglot.

The expression must be one aggregate over the source's columns (every column
inside an aggregate function, no subquery, no window, no nested aggregate)
that gives a number; filters are row predicates without aggregates;
dimensions and the time dimension are columns of the source; PII columns are
refused everywhere, since their stored values are ciphertext. Every error is
an :class:`~metrics_catalog.errors.InvalidMetric` naming the field and, for
SQL, the line and column.
"""

from __future__ import annotations

import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from lake.sqlsyntax import syntax_problem
from metrics_catalog.definition import RESERVED_COLUMNS, MetricDefinition
from metrics_catalog.errors import InvalidMetric
from metrics_catalog.sources import Source, SourceColumn
from views import types as spark_types

DIALECT = "spark"
_SOURCE_ALIAS = "src"


def _position(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    line = before.count("\n") + 1
    column = offset - (before.rfind("\n") + 1) + 1
    return line, column


def _node_position(text: str, node: exp.Expr) -> tuple[int | None, int | None]:
    meta = node.this.meta if isinstance(node, exp.Column) and isinstance(node.this, exp.Expression) else node.meta
    start = meta.get("start")
    if isinstance(start, int):
        return _position(text, start)
    return meta.get("line"), meta.get("col")


def parse_sql(metric: str, field: str, text: str) -> exp.Expr:
    """Parse one SQL expression (not a statement), with errors pointing into ``text``."""
    if not text or not text.strip():
        raise InvalidMetric(metric, field, "is empty")
    try:
        trees = [t for t in sqlglot.parse(text, dialect=DIALECT) if t is not None]
    except ParseError as exc:
        problem = syntax_problem(exc)
        raise InvalidMetric(metric, field, f"not valid SQL: {problem.reason}", text=text, line=problem.line,
                            column=problem.col) from None
    except SqlglotError as exc:
        raise InvalidMetric(metric, field, f"not valid SQL: {exc}") from None
    if len(trees) != 1:
        raise InvalidMetric(metric, field, "must be one SQL expression, not several statements")
    tree = trees[0]
    if isinstance(tree, (exp.Query, exp.DDL, exp.DML, exp.Command)) or tree.find(exp.Query) is not None:
        node = tree if isinstance(tree, exp.Query) else tree.find(exp.Query)
        assert node is not None
        line, col = _node_position(text, node)
        raise InvalidMetric(metric, field, "must be an expression over the view's columns; statements and "
                            "subqueries are not allowed", text=text, line=line, column=col)
    return tree


def _check_columns(metric: str, field: str, text: str, tree: exp.Expr, source: Source) -> None:
    for col in tree.find_all(exp.Column):
        line, column = _node_position(text, col)
        if col.table:
            raise InvalidMetric(metric, field, f"column {col.sql(DIALECT)} must not name a table; write the "
                                f"column of {source.name} alone", text=text, line=line, column=column)
        found = source.column(col.name)
        if found is None:
            known = ", ".join(c.name for c in source.columns)
            raise InvalidMetric(metric, field, f"unknown column {col.name!r} in {source.pinned}; its columns are: "
                                f"{known}", text=text, line=line, column=column)
        if found.pii:
            raise InvalidMetric(metric, field, f"column {found.name!r} is PII (stored encrypted); metrics may not "
                                "aggregate, filter or group by PII columns", text=text, line=line, column=column)


def _check_no_window(metric: str, field: str, text: str, tree: exp.Expr) -> None:
    window = tree.find(exp.Window)
    if window is not None:
        line, col = _node_position(text, window)
        raise InvalidMetric(metric, field, "window functions are not allowed", text=text, line=line, column=col)


def _spark_type(dtype: pa.DataType) -> str:
    """The Spark type name the view layer gives an Arrow type (``string`` for anything unusual)."""
    try:
        return spark_types.from_arrow(dtype)
    except ValueError:
        return "string"


def _annotated_type(tree: exp.Expr, source: Source) -> exp.DataType | None:
    schema: dict[str, object] = {_SOURCE_ALIAS: {c.name: _spark_type(c.type) for c in source.columns}}
    select = exp.select(exp.alias_(tree.copy(), "v")).from_(_SOURCE_ALIAS)
    try:
        typed = annotate_types(qualify(select, schema=schema, dialect=DIALECT, validate_qualify_columns=False),
                               schema=schema, dialect=DIALECT)
    except SqlglotError:
        return None
    node = typed.selects[0]
    return node.type if isinstance(node.type, exp.DataType) else None


def check_expression(metric: str, text: str, source: Source) -> exp.Expr:
    """The parsed aggregate expression, or :class:`InvalidMetric`."""
    field = "expression"
    tree = parse_sql(metric, field, text)
    _check_no_window(metric, field, text, tree)
    aggregates = list(tree.find_all(exp.AggFunc))
    if not aggregates:
        raise InvalidMetric(metric, field, "must aggregate the view's rows (e.g. SUM(x), COUNT(DISTINCT id), "
                            "AVG(x)); it has no aggregate function", text=text, line=1, column=1)
    for agg in aggregates:
        inner = agg.find_ancestor(exp.AggFunc)
        if inner is not None:
            line, col = _node_position(text, agg)
            raise InvalidMetric(metric, field, "aggregate functions cannot be nested", text=text, line=line,
                                column=col)
    for col_node in tree.find_all(exp.Column):
        if col_node.find_ancestor(exp.AggFunc) is None:
            line, col = _node_position(text, col_node)
            raise InvalidMetric(metric, field, f"column {col_node.name!r} is used outside an aggregate function; "
                                "wrap it in one (SUM, MAX...) or make it a dimension", text=text, line=line,
                                column=col)
    _check_columns(metric, field, text, tree, source)
    dtype = _annotated_type(tree, source)
    if dtype is not None and dtype.this not in (exp.DataType.Type.UNKNOWN, exp.DataType.Type.NULL) and not (
        dtype.is_type(*exp.DataType.NUMERIC_TYPES)
    ):
        raise InvalidMetric(metric, field, f"must give a number, but gives {dtype.sql(DIALECT)}", text=text,
                            line=1, column=1)
    return tree


def check_filter(metric: str, index: int, text: str, source: Source) -> exp.Expr:
    """One parsed row filter, or :class:`InvalidMetric`."""
    field = f"filters[{index}]"
    tree = parse_sql(metric, field, text)
    _check_no_window(metric, field, text, tree)
    agg = tree.find(exp.AggFunc)
    if agg is not None:
        line, col = _node_position(text, agg)
        raise InvalidMetric(metric, field, "a filter applies to rows; it cannot hold an aggregate function",
                            text=text, line=line, column=col)
    _check_columns(metric, field, text, tree, source)
    dtype = _annotated_type(tree, source)
    if dtype is not None and dtype.this not in (exp.DataType.Type.UNKNOWN, exp.DataType.Type.NULL,
                                                 exp.DataType.Type.BOOLEAN):
        raise InvalidMetric(metric, field, f"must be a condition (true or false), but gives {dtype.sql(DIALECT)}",
                            text=text, line=1, column=1)
    return tree


def _named_column(metric: str, field: str, name: str, source: Source) -> SourceColumn:
    found = source.column(name)
    if found is None:
        known = ", ".join(c.name for c in source.columns)
        raise InvalidMetric(metric, field, f"unknown column {name!r} in {source.pinned}; its columns are: {known}")
    if found.pii:
        raise InvalidMetric(metric, field, f"column {found.name!r} is PII (stored encrypted); it cannot be a "
                            "dimension")
    return found


def validate(definition: MetricDefinition, source: Source) -> None:
    """Check every part of ``definition`` against ``source``.

    Raises:
        InvalidMetric: the first problem found, with its field and position.
    """
    name = definition.name
    check_expression(name, definition.expression, source)
    for i, text in enumerate(definition.filters):
        check_filter(name, i, text, source)
    seen: set[str] = set()
    for i, dim in enumerate(definition.dimensions):
        field = f"dimensions[{i}]"
        col = _named_column(name, field, dim, source)
        if col.name.lower() in RESERVED_COLUMNS:
            raise InvalidMetric(name, field, f"{col.name!r} is reserved for the output of metric values")
        if col.name.lower() in seen:
            raise InvalidMetric(name, field, f"dimension {col.name!r} is listed twice")
        seen.add(col.name.lower())
    time_col = _named_column(name, "time_dimension", definition.time_dimension, source)
    if not time_col.is_temporal:
        raise InvalidMetric(name, "time_dimension", f"column {time_col.name!r} is {time_col.type}; the time "
                            "dimension must be a date or timestamp")
    if time_col.name.lower() in seen:
        raise InvalidMetric(name, "dimensions", f"{time_col.name!r} is the time dimension; use grains instead")
    if len(set(definition.grains)) != len(definition.grains):
        raise InvalidMetric(name, "grains", "a grain is listed twice")
