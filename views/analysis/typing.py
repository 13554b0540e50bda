"""Output types of view columns, inferred the way Spark's analyzer types them.

sqlglot annotates types for many dialects; for Spark some of its guesses differ
from Spark's analyzer (``year()`` is ``int`` in Spark, ``1.5`` is
``decimal(2,1)``, decimal arithmetic widens precision by Spark's rules). This
module types an expression only where it applies Spark's rules exactly and
answers ``None`` (unknown) elsewhere; compilation then takes the type from
Spark's analyzer. So wherever both have an answer they agree, which the
compile step checks for every version.

Rules follow Spark 4 (``DecimalPrecision``, ``TypeCoercion``, aggregate and
datetime function result types) with ``spark.sql.decimalOperations.allowPrecisionLoss``
at its default (true).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from views.types import (
    FRACTIONAL,
    INTEGRAL,
    INTEGRAL_DECIMAL_DIGITS,
    MAX_PRECISION,
    decimal,
    decimal_parts,
    from_sqlglot,
)

ColumnTyper = Callable[[exp.Column], str | None]

_NUMERIC_ORDER = ("tinyint", "smallint", "int", "bigint", "float", "double")
_MIN_ADJUSTED_SCALE = 6

_BOOLEAN = (
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ, exp.And, exp.Or,
    exp.Not, exp.In, exp.Between, exp.Like, exp.ILike, exp.Is, exp.Exists, exp.RegexpLike, exp.Boolean,
)
_STRING_OF_STRING = (exp.Upper, exp.Lower, exp.Initcap)
_STRING = (exp.ConcatWs, exp.MD5, exp.SHA2, exp.RegexpExtract, exp.TimeToStr)
_INT_RESULT = (
    exp.Year, exp.Month, exp.Day, exp.DayOfMonth, exp.DayOfWeek, exp.DayOfYear, exp.Quarter, exp.WeekOfYear,
    exp.Hour, exp.Minute, exp.Length, exp.DateDiff,
)
_DOUBLE_RESULT = (exp.Stddev, exp.StddevPop, exp.StddevSamp, exp.Variance, exp.VariancePop, exp.Sqrt, exp.Ln,
                  exp.Exp, exp.Pow, exp.MonthsBetween)
_SAME_AS_ARG = (exp.Min, exp.Max, exp.First, exp.Last, exp.AnyValue, exp.Abs, exp.Neg, exp.Paren)


def _adjust(precision: int, scale: int) -> str:
    """Spark's ``DecimalType.adjustPrecisionScale`` (precision loss allowed)."""
    if precision <= MAX_PRECISION:
        return decimal(precision, scale)
    int_digits = precision - scale
    min_scale = min(scale, _MIN_ADJUSTED_SCALE)
    return decimal(MAX_PRECISION, max(MAX_PRECISION - int_digits, min_scale))


def _bounded(precision: int, scale: int) -> str:
    """Spark's ``DecimalType.bounded``."""
    return decimal(min(precision, MAX_PRECISION), min(scale, MAX_PRECISION))


def _as_decimal(name: str) -> tuple[int, int] | None:
    if name in INTEGRAL_DECIMAL_DIGITS:
        return INTEGRAL_DECIMAL_DIGITS[name], 0
    return decimal_parts(name)


def wider(a: str | None, b: str | None) -> str | None:
    """The common type Spark coerces two branch types to (CASE, COALESCE, UNION); None if unsure."""
    if a is None or b is None:
        return None
    if a == "void":
        return b
    if b == "void" or a == b:
        return a
    if a in _NUMERIC_ORDER and b in _NUMERIC_ORDER:
        return max(a, b, key=_NUMERIC_ORDER.index)
    da, db = decimal_parts(a), decimal_parts(b)
    if da or db:
        if a in FRACTIONAL or b in FRACTIONAL:
            return "double"
        pa_, pb = _as_decimal(a), _as_decimal(b)
        if pa_ is None or pb is None:
            return None
        scale = max(pa_[1], pb[1])
        rng = max(pa_[0] - pa_[1], pb[0] - pb[1])
        return _bounded(rng + scale, scale)
    if {a, b} == {"date", "timestamp"}:
        return "timestamp"
    return None


def _literal(node: exp.Literal) -> str | None:
    if node.is_string:
        return "string"
    text = node.name
    if any(c in text for c in "eE"):
        return "double"
    if "." not in text:
        try:
            value = int(text)
        except ValueError:
            return None
        if -(2**31) <= value < 2**31:
            return "int"
        if -(2**63) <= value < 2**63:
            return "bigint"
        return _bounded(len(text.lstrip("-")), 0)
    whole, _, frac = text.lstrip("-").partition(".")
    unscaled = (whole + frac).lstrip("0")
    precision = max(len(unscaled), 1)
    scale = len(frac)
    return _bounded(max(precision, scale), scale)


def _literal_decimal(node: exp.Expr) -> tuple[int, int] | None:
    """An integer literal beside a decimal takes the fewest digits that hold it
    (Spark's ``DecimalType.fromLiteral``)."""
    negative = isinstance(node, exp.Neg)
    literal = node.this if negative else node
    if isinstance(literal, exp.Literal) and not literal.is_string and literal.name.lstrip("-").isdigit():
        return max(len(literal.name.lstrip("-").lstrip("0")), 1), 0
    return None


def _arithmetic(node: exp.Binary, a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return None
    if isinstance(node, exp.IntDiv):
        return "bigint" if (a in INTEGRAL or b in INTEGRAL) and (a in INTEGRAL and b in INTEGRAL) else None
    numeric_a = a in _NUMERIC_ORDER or decimal_parts(a) is not None
    numeric_b = b in _NUMERIC_ORDER or decimal_parts(b) is not None
    if not (numeric_a and numeric_b):
        return None
    if isinstance(node, exp.Div) and a in INTEGRAL + FRACTIONAL and b in INTEGRAL + FRACTIONAL:
        return "double"
    if a in FRACTIONAL or b in FRACTIONAL:
        if isinstance(node, exp.Div) or "double" in (a, b) or decimal_parts(a) or decimal_parts(b):
            return "double"
        return "float"
    if a in INTEGRAL and b in INTEGRAL:
        return max(a, b, key=_NUMERIC_ORDER.index)
    da, db = _literal_decimal(node.left) or _as_decimal(a), _literal_decimal(node.right) or _as_decimal(b)
    if da is None or db is None:
        return None
    (p1, s1), (p2, s2) = da, db
    if isinstance(node, (exp.Add, exp.Sub)):
        scale = max(s1, s2)
        return _adjust(max(p1 - s1, p2 - s2) + scale + 1, scale)
    if isinstance(node, exp.Mul):
        return _adjust(p1 + p2 + 1, s1 + s2)
    if isinstance(node, exp.Div):
        scale = max(_MIN_ADJUSTED_SCALE, s1 + p2 + 1)
        return _adjust(p1 - s1 + s2 + scale, scale)
    if isinstance(node, exp.Mod):
        scale = max(s1, s2)
        return _adjust(min(p1 - s1, p2 - s2) + scale, scale)
    return None


def _round(node: exp.Round, arg: str | None) -> str | None:
    if arg is None:
        return None
    places = node.args.get("decimals")
    if places is None:
        target = 0
    elif isinstance(places, exp.Literal) and not places.is_string:
        target = int(places.name)
    elif isinstance(places, exp.Neg) and isinstance(places.this, exp.Literal):
        target = -int(places.this.name)
    else:
        return None
    parts = decimal_parts(arg)
    if parts is None:
        return arg if arg in _NUMERIC_ORDER else None
    p, s = parts
    integral = p - s + 1
    if target < 0:
        return _bounded(max(integral, -target + 1), 0)
    new_scale = min(s, target)
    return _bounded(integral + new_scale, new_scale)


def _floor_ceil(arg: str | None) -> str | None:
    if arg is None:
        return None
    parts = decimal_parts(arg)
    if parts:
        return _bounded(parts[0] - parts[1] + 1, 0)
    return "bigint" if arg in _NUMERIC_ORDER else None


def _sum(arg: str | None) -> str | None:
    if arg in INTEGRAL:
        return "bigint"
    if arg in FRACTIONAL:
        return "double"
    parts = decimal_parts(arg)
    return _bounded(parts[0] + 10, parts[1]) if parts else None


def _avg(arg: str | None) -> str | None:
    if arg in INTEGRAL or arg in FRACTIONAL:
        return "double"
    parts = decimal_parts(arg)
    return _bounded(parts[0] + 4, parts[1] + 4) if parts else None


def _all_args(node: exp.Expr) -> list[exp.Expr]:
    out: list[exp.Expr] = []
    this = node.args.get("this")
    if isinstance(this, exp.Expr):
        out.append(this)
    out.extend(e for e in node.args.get("expressions") or [] if isinstance(e, exp.Expr))
    return out


def infer(node: exp.Expr, column_type: ColumnTyper) -> str | None:
    """The Spark type of ``node``, or None when it cannot be told for sure.

    Args:
        node: An expression of a qualified query.
        column_type: Types a column reference (from the catalog or an inner query).
    """

    def t(child: exp.Expr | None) -> str | None:
        return infer(child, column_type) if child is not None else None

    if isinstance(node, exp.Alias):
        return t(node.this)
    if isinstance(node, exp.Column):
        return column_type(node)
    if isinstance(node, exp.Literal):
        return _literal(node)
    if isinstance(node, exp.Null):
        return "void"
    if isinstance(node, _BOOLEAN):
        return "boolean"
    if isinstance(node, (exp.Cast, exp.TryCast)):
        to = node.args.get("to")
        if isinstance(to, exp.DataType) and to.this in (exp.DataType.Type.VARCHAR, exp.DataType.Type.CHAR) \
                and to.expressions:
            return None  # char/varchar(n) carry length semantics in Spark
        return from_sqlglot(to) if isinstance(to, exp.DataType) else None
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.IntDiv)):
        return _arithmetic(node, t(node.left), t(node.right))
    if isinstance(node, _SAME_AS_ARG):
        return t(node.this)
    if isinstance(node, (exp.Count, exp.CountIf, exp.ApproxDistinct)):
        return "bigint"
    if isinstance(node, exp.Sum):
        return _sum(t(node.this))
    if isinstance(node, exp.Avg):
        return _avg(t(node.this))
    if isinstance(node, _DOUBLE_RESULT):
        return "double"
    if isinstance(node, exp.Window):
        return t(node.this)
    if isinstance(node, (exp.RowNumber, exp.Rank, exp.DenseRank, exp.Ntile)):
        return "int"
    if isinstance(node, (exp.PercentRank, exp.CumeDist)):
        return "double"
    if isinstance(node, (exp.Lag, exp.Lead)):
        return t(node.this) if node.args.get("default") is None else None
    if isinstance(node, exp.Round):
        return _round(node, t(node.this))
    if isinstance(node, (exp.Floor, exp.Ceil)):
        return _floor_ceil(t(node.this)) if node.args.get("decimals") is None else None
    if isinstance(node, (exp.Coalesce, exp.Greatest, exp.Least)):
        result: str | None = "void"
        for arg in _all_args(node):
            result = wider(result, t(arg))
        return result
    if isinstance(node, exp.If):
        return wider(t(node.args.get("true")), t(node.args.get("false")) or "void")
    if isinstance(node, exp.Case):
        result = t(node.args.get("default")) or "void"
        for branch in node.args.get("ifs") or []:
            result = wider(result, t(branch.args.get("true")))
        return result
    if isinstance(node, exp.Nullif):
        return t(node.this)
    if isinstance(node, _STRING_OF_STRING):
        return "string" if t(node.this) == "string" else None
    if isinstance(node, (exp.Concat, exp.DPipe)):
        args = [node.left, node.right] if isinstance(node, exp.DPipe) else _all_args(node)
        return "string" if args and all(t(a) == "string" for a in args) else None
    if isinstance(node, (exp.Substring, exp.Trim, exp.Pad, exp.Replace, exp.RegexpReplace)):
        return "string" if t(node.this) == "string" else None
    if isinstance(node, _STRING):
        return "string"
    if isinstance(node, _INT_RESULT):
        return "int"
    if isinstance(node, (exp.TsOrDsToDate, exp.CurrentDate, exp.LastDay, exp.DateTrunc)):
        return "date"
    if isinstance(node, exp.TsOrDsAdd):
        return "date" if t(node.this) == "date" else None
    if isinstance(node, (exp.TimestampTrunc, exp.CurrentTimestamp)):
        return "timestamp"
    if isinstance(node, exp.StrToUnix):
        return "bigint"
    return None
