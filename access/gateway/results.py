"""Results of gateway queries: Arrow tables, JSON rows, Arrow IPC streams, CSV and Parquet files."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from lake.contracts import type_name
from lake.enums import ParsableEnum

#: Schema metadata keys of an Arrow IPC answer.
META_QUERY_ID = b"lakegate.query_id"
META_TRUNCATED = b"lakegate.truncated"
META_ROW_CAP = b"lakegate.row_cap"
META_STALE = b"lakegate.stale"


class FileFormat(ParsableEnum, label="download format"):
    """The file formats a result downloads as."""

    CSV = "csv"
    PARQUET = "parquet"

    @property
    def media_type(self) -> str:
        return "text/csv; charset=utf-8" if self is FileFormat.CSV else "application/vnd.apache.parquet"


@dataclass(frozen=True)
class QueryResult:
    """The answer to one gateway query.

    Attributes:
        query_id: Identifies the query in the audit log.
        table: The rows (at most ``row_cap``).
        truncated: Whether the query had more rows than ``row_cap``.
        row_cap: The row cap the query ran with.
        elapsed_ms: Wall time from the SQL text to the rows.
        tables: The catalog objects the query read (``domain.name``).
        stale: Views answered from an earlier version's materialization while
            their current version's is being built (``table``, ``version``,
            ``served_version``, ``materialized_at`` each).
    """

    query_id: str
    table: pa.Table
    truncated: bool
    row_cap: int
    elapsed_ms: float
    tables: tuple[str, ...]
    stale: tuple[dict[str, Any], ...] = ()

    @property
    def row_count(self) -> int:
        return int(self.table.num_rows)

    def columns(self) -> list[dict[str, str]]:
        """Name and type of each result column."""
        return [{"name": f.name, "type": _type_label(f.type)} for f in self.table.schema]

    def json_rows(self) -> list[list[Any]]:
        """The rows as lists of JSON-safe values (see :func:`json_value`)."""
        columns = [[json_value(v) for v in col.to_pylist()] for col in self.table.columns]
        return [list(row) for row in zip(*columns, strict=True)] if columns else []

    def to_json(self) -> dict[str, Any]:
        return {
            "query_id": self.query_id,
            "columns": self.columns(),
            "rows": self.json_rows(),
            "row_count": self.row_count,
            "truncated": self.truncated,
            "row_cap": self.row_cap,
            "elapsed_ms": round(self.elapsed_ms, 3),
            "tables": list(self.tables),
            "stale": [dict(s) for s in self.stale],
        }

    def to_ipc(self) -> bytes:
        """The rows as an Arrow IPC stream; query id, row cap and truncation in the schema metadata."""
        meta = dict(self.table.schema.metadata or {})
        meta.update({
            META_QUERY_ID: self.query_id.encode(),
            META_TRUNCATED: b"true" if self.truncated else b"false",
            META_ROW_CAP: str(self.row_cap).encode(),
        })
        if self.stale:
            meta[META_STALE] = json.dumps(list(self.stale), sort_keys=True).encode()
        table = self.table.replace_schema_metadata(meta)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return bytes(sink.getvalue().to_pybytes())


    def file_name(self, fmt: FileFormat) -> str:
        """``query-<first 12 of the query id>.<csv|parquet>``, the name of a download."""
        return f"query-{self.query_id[:12]}.{fmt.value}"

    def to_file(self, fmt: FileFormat) -> bytes:
        """The rows as a CSV (header line, RFC 4180 quoting, UTF-8) or Parquet file.

        The values are the ones the caller was given: masked columns are masked
        in the file exactly as in the JSON answer. In CSV, values without a plain
        text form (bytes, nested values) are written as :func:`json_value` writes them.
        """
        if fmt is FileFormat.PARQUET:
            import pyarrow.parquet as pq

            sink = pa.BufferOutputStream()
            pq.write_table(self.table.replace_schema_metadata(None), sink)
            return bytes(sink.getvalue().to_pybytes())
        import pyarrow.csv as pacsv

        sink = pa.BufferOutputStream()
        pacsv.write_csv(_csv_ready(self.table), sink)
        return bytes(sink.getvalue().to_pybytes())


def _csv_ready(table: pa.Table) -> pa.Table:
    """``table`` with the columns CSV cannot hold as they are turned into text."""
    columns = []
    for field_, column in zip(table.schema, table.columns, strict=True):
        kind = field_.type
        if pa.types.is_nested(kind) or pa.types.is_binary(kind) or pa.types.is_large_binary(kind) \
                or pa.types.is_fixed_size_binary(kind) or pa.types.is_duration(kind):
            columns.append(pa.array([_csv_text(v) for v in column.to_pylist()], pa.string()))
        else:
            columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


def _csv_text(value: Any) -> str | None:
    if value is None:
        return None
    plain = json_value(value)
    return plain if isinstance(plain, str) else json.dumps(plain)


def _type_label(dtype: pa.DataType) -> str:
    try:
        return type_name(dtype)
    except Exception:  # noqa: BLE001 - nested types have no contract spelling
        return str(dtype)


def json_value(value: Any) -> Any:
    """A JSON-safe form of an Arrow value.

    Decimals become strings (no precision is lost), dates and times ISO 8601
    strings, bytes base64 strings, and non-finite floats the strings ``NaN``,
    ``Infinity`` and ``-Infinity``.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return str(value)
