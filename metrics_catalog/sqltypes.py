"""Arrow types as sqlglot (Spark) types, for type checks and casts."""

from __future__ import annotations

import pyarrow as pa
from sqlglot import exp


def sqlglot_type(dtype: pa.DataType) -> str:
    """The Spark SQL spelling of an Arrow type (``STRING`` for anything unusual)."""
    t = pa.types
    if t.is_boolean(dtype):
        return "BOOLEAN"
    if t.is_int8(dtype):
        return "TINYINT"
    if t.is_int16(dtype):
        return "SMALLINT"
    if t.is_int32(dtype):
        return "INT"
    if t.is_integer(dtype):
        return "BIGINT"
    if t.is_float32(dtype):
        return "FLOAT"
    if t.is_floating(dtype):
        return "DOUBLE"
    if t.is_decimal(dtype):
        return f"DECIMAL({dtype.precision}, {dtype.scale})"
    if t.is_date(dtype):
        return "DATE"
    if t.is_timestamp(dtype):
        return "TIMESTAMP" if dtype.tz else "TIMESTAMP_NTZ"
    if t.is_binary(dtype) or t.is_large_binary(dtype):
        return "BINARY"
    return "STRING"


def data_type(dtype: pa.DataType) -> exp.DataType:
    return exp.DataType.build(sqlglot_type(dtype), dialect="spark")
