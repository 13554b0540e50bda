"""Row filters: Spark SQL predicates, validated and combined as sqlglot trees.

A row filter is one boolean expression over the unqualified columns of the
table it is applied to, e.g. ``country IN ('DE', 'FR')``. Anything that could
reach other data or run code is refused: subqueries, qualified column names,
aggregate and window functions, functions sqlglot does not know (Spark's
``reflect``/``java_method`` among them), parameters, lambdas, ``*``. Only the
node types in :data:`ALLOWED_NODES` may appear.

Filters are stored in their normal form (sqlglot's Spark SQL with quoted,
lower-case identifiers and no comments), so equal filters compare equal as text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from access.errors import InvalidRowFilter

MAX_FILTER_CHARS = 4000

_NODE_NAMES = (
    # structure and values
    "Column", "Identifier", "Literal", "Boolean", "Null", "Paren", "Tuple", "DataType", "DataTypeParam",
    "Interval", "Var",
    # logic and comparisons
    "And", "Or", "Xor", "Not", "EQ", "NEQ", "GT", "GTE", "LT", "LTE", "NullSafeEQ", "NullSafeNEQ", "Is",
    "In", "Between", "Like", "ILike", "RegexpLike", "Escape",
    # arithmetic
    "Add", "Sub", "Mul", "Div", "IntDiv", "Mod", "Neg", "DPipe", "BitwiseAnd", "BitwiseOr",
    # conditionals and casts
    "Case", "If", "Coalesce", "Nvl2", "Cast", "TryCast", "Greatest", "Least",
    # deterministic scalar functions
    "Lower", "Upper", "Initcap", "Trim", "Substring", "Length", "Concat", "ConcatWs", "Replace", "Left", "Right",
    "StartsWith", "EndsWith", "Contains", "Abs", "Round", "Floor", "Ceil",
    "CurrentDate", "CurrentTimestamp", "Year", "Month", "Day", "Quarter", "DayOfWeek", "DateAdd", "DateSub",
    "DateDiff", "DateTrunc", "TimestampTrunc", "TsOrDsToDate", "StrToDate", "Date", "TsOrDsAdd", "AddMonths",
)
#: The sqlglot node types a row filter may contain.
ALLOWED_NODES: frozenset[type[exp.Expr]] = frozenset(
    t for t in (getattr(exp, n, None) for n in _NODE_NAMES) if isinstance(t, type)
)
_ROOTS = (exp.Predicate, exp.Connector, exp.Not, exp.Boolean, exp.Column, exp.Xor)


def _refuse(text: str, reason: str) -> InvalidRowFilter:
    return InvalidRowFilter(text, reason)


def _check_node(text: str, node: exp.Expr) -> None:
    if isinstance(node, exp.Column):
        if node.table or node.args.get("db") or node.args.get("catalog"):
            raise _refuse(text, f"column {node.sql('spark')} is qualified; name columns of the table alone")
        if isinstance(node.this, exp.Star):
            raise _refuse(text, "'*' is not a predicate")
        return
    if type(node) not in ALLOWED_NODES:
        if isinstance(node, (exp.Select, exp.Subquery, exp.Exists, exp.Query)):
            raise _refuse(text, "subqueries are not allowed; a filter sees only the table's own columns")
        if isinstance(node, exp.AggFunc):
            raise _refuse(text, f"aggregate function {node.sql('spark')} is not allowed in a row filter")
        if isinstance(node, exp.Window):
            raise _refuse(text, "window functions are not allowed in a row filter")
        if isinstance(node, exp.Anonymous):
            raise _refuse(text, f"function {node.name!r} is not allowed in a row filter")
        if isinstance(node, exp.Func):
            raise _refuse(text, f"function {node.sql_name()!r} is not allowed in a row filter")
        raise _refuse(text, f"{type(node).__name__} expressions are not allowed in a row filter")


def parse_predicate(text: str) -> exp.Expr:
    """Parse and check a row filter; return its sqlglot tree.

    Raises:
        InvalidRowFilter: what is wrong with ``text``.
    """
    if not isinstance(text, str) or not text.strip():
        raise _refuse(str(text), "a row filter is a non-empty SQL predicate, e.g. country IN ('DE', 'FR')")
    if len(text) > MAX_FILTER_CHARS:
        raise _refuse(text[:80] + "…", f"longer than {MAX_FILTER_CHARS} characters")
    try:
        tree = sqlglot.parse_one(text, read="spark", into=exp.Condition)
    except SqlglotError as exc:
        raise _refuse(text, f"not one Spark SQL predicate ({str(exc).splitlines()[0]})") from None
    root = tree.unnest() if isinstance(tree, exp.Paren) else tree
    if not isinstance(root, _ROOTS):
        raise _refuse(text, f"{root.sql('spark')} is not a condition (compare columns, e.g. country = 'DE')")
    for node in tree.walk():
        _check_node(text, node)
    for col in tree.find_all(exp.Column):
        col.this.set("this", col.name.lower())
    return tree


def render(tree: exp.Expr) -> str:
    return tree.sql(dialect="spark", identify=True, comments=False)


@lru_cache(maxsize=4096)
def normalize(text: str) -> str:
    """The normal form of a valid row filter (raises :class:`InvalidRowFilter` otherwise)."""
    return render(parse_predicate(text))


@lru_cache(maxsize=4096)
def columns_of(text: str) -> frozenset[str]:
    """The (lower-case) column names a filter reads."""
    return frozenset(c.name.lower() for c in parse_predicate(text).find_all(exp.Column))


def all_of(filters: Iterable[str]) -> str | None:
    """One normalized predicate true where every filter is; ``None`` for no filters."""
    parts = sorted({normalize(f) for f in filters})
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return render(exp.and_(*(parse_predicate(p) for p in parts), wrap=True))


def any_of(filters: Sequence[str]) -> str:
    """One normalized predicate true where some filter is."""
    parts = sorted({normalize(f) for f in filters})
    if not parts:
        raise ValueError("any_of needs at least one filter")
    if len(parts) == 1:
        return parts[0]
    return render(exp.or_(*(parse_predicate(p) for p in parts), wrap=True))
