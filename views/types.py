"""Column types of views: Spark SQL type names, sqlglot types and Arrow types.

A view column's type is named as Spark names it (``DataType.simpleString()``):
``int``, ``bigint``, ``decimal(16,6)``, ``timestamp``... Views output primitive
types only; each maps to one Arrow type, which is how the column is stored in
its Delta table and described to the rest of Lakegate.
"""

from __future__ import annotations

import re

import pyarrow as pa
from sqlglot import exp

_DECIMAL = re.compile(r"decimal\((\d+),(\d+)\)")

_TO_ARROW: dict[str, pa.DataType] = {
    "boolean": pa.bool_(),
    "tinyint": pa.int8(),
    "smallint": pa.int16(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "string": pa.string(),
    "binary": pa.binary(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "timestamp_ntz": pa.timestamp("us"),
}

INTEGRAL = ("tinyint", "smallint", "int", "bigint")
FRACTIONAL = ("float", "double")
#: Digits of an integral type when Spark widens it to a decimal.
INTEGRAL_DECIMAL_DIGITS = {"tinyint": 3, "smallint": 5, "int": 10, "bigint": 20}
MAX_PRECISION = 38


def decimal(precision: int, scale: int) -> str:
    return f"decimal({precision},{scale})"


def decimal_parts(name: str | None) -> tuple[int, int] | None:
    """``(precision, scale)`` of a decimal type name, None for other types."""
    if name is None:
        return None
    m = _DECIMAL.fullmatch(name)
    return (int(m.group(1)), int(m.group(2))) if m else None


def is_known(name: str | None) -> bool:
    return name is not None and (name in _TO_ARROW or decimal_parts(name) is not None)


def normalize(name: str) -> str | None:
    """Canonical spelling of a Spark type name; None when it is not a primitive type views store."""
    text = name.strip().lower().replace(" ", "")
    aliases = {"integer": "int", "long": "bigint", "short": "smallint", "byte": "tinyint", "bool": "boolean",
               "real": "float", "decimal": "decimal(10,0)", "timestamp_ltz": "timestamp"}
    text = aliases.get(text, text)
    return text if is_known(text) else None


def to_arrow(name: str) -> pa.DataType:
    """The Arrow type of a Spark type name.

    Raises:
        ValueError: The name is not a primitive type views store.
    """
    if name in _TO_ARROW:
        return _TO_ARROW[name]
    parts = decimal_parts(name)
    if parts:
        return pa.decimal128(*parts)
    raise ValueError(f"type {name!r} cannot be stored in a view (only primitive types)")


def from_arrow(dtype: pa.DataType) -> str:
    """The Spark type name of an Arrow type (as Spark reads a Delta column of that type).

    Raises:
        ValueError: Arrow types without a primitive Spark equivalent.
    """
    if pa.types.is_decimal(dtype):
        return decimal(dtype.precision, dtype.scale)
    if pa.types.is_timestamp(dtype):
        return "timestamp" if dtype.tz else "timestamp_ntz"
    if pa.types.is_large_string(dtype):
        return "string"
    if pa.types.is_large_binary(dtype):
        return "binary"
    for name, arrow in _TO_ARROW.items():
        if arrow == dtype:
            return name
    raise ValueError(f"Arrow type {dtype} has no primitive Spark type")


def from_sqlglot(dtype: exp.DataType | None) -> str | None:
    """The Spark type name of a sqlglot type; None when unknown or not primitive."""
    if dtype is None or dtype.is_type(exp.DataType.Type.UNKNOWN):
        return None
    return normalize(dtype.sql(dialect="spark"))


def to_sqlglot(name: str) -> exp.DataType:
    return exp.DataType.build(name, dialect="spark")


def from_spark(data_type: object) -> str | None:
    """The type name of a pyspark ``DataType``; None for types views cannot store
    (``void``, arrays, maps, structs, intervals)."""
    simple = getattr(data_type, "simpleString", None)
    if simple is None:
        return None
    return normalize(str(simple()))
