"""Reading producer batches: Parquet, Arrow IPC stream, CSV and JSON Lines.

Every reader returns an Arrow table or raises :class:`MalformedBatch` naming
the dataset, the format and, where the format has lines, the line. JSON
Lines nested deeper than :data:`lake.nesting.MAX_NESTING_DEPTH` are refused
before Arrow parses them; Parquet and Arrow IPC batches whose schema nests
deeper are refused before a row is read.
"""

from __future__ import annotations

import enum
import json
import re
from pathlib import Path
from typing import BinaryIO, TypeAlias

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from lake.contracts import Contract
from lake.errors import InvalidInput, MalformedBatch
from lake.nesting import MAX_NESTING_DEPTH, jsonl_depth_error, schema_depth_error


class BatchFormat(enum.StrEnum):
    PARQUET = "parquet"
    ARROW = "arrow"
    CSV = "csv"
    JSONL = "jsonl"

    @classmethod
    def parse(cls, text: str) -> BatchFormat:
        key = text.strip().lower().lstrip(".")
        aliases = {
            "pq": "parquet", "application/vnd.apache.parquet": "parquet", "application/x-parquet": "parquet",
            "ipc": "arrow", "arrows": "arrow", "application/vnd.apache.arrow.stream": "arrow",
            "text/csv": "csv", "ndjson": "jsonl", "json": "jsonl", "application/x-ndjson": "jsonl",
            "application/jsonl": "jsonl", "application/json-lines": "jsonl",
        }
        key = aliases.get(key, key)
        try:
            return cls(key)
        except ValueError:
            allowed = ", ".join(m.value for m in cls)
            raise InvalidInput(f"unknown batch format {text!r}; expected one of: {allowed}") from None

    @classmethod
    def from_path(cls, path: str | Path) -> BatchFormat:
        return cls.parse(Path(path).suffix or "?")


Source: TypeAlias = bytes | str | Path | BinaryIO | pa.Table

_ROW_RE = re.compile(r"[Rr]ow #?(\d+)")


def _buffer(source: Source) -> pa.NativeFile | str:
    if isinstance(source, bytes):
        return pa.BufferReader(source)
    if isinstance(source, (str, Path)):
        return str(source)
    return pa.PythonFile(source, mode="r")


def _check_depth(schema: pa.Schema, dataset: str, fmt: str) -> None:
    column = schema_depth_error(schema)
    if column is not None:
        raise MalformedBatch(f"column {column!r} is nested more than {MAX_NESTING_DEPTH} levels deep",
                             dataset=dataset, fmt=fmt)


def _read_parquet(source: Source, dataset: str) -> pa.Table:
    try:
        with pq.ParquetFile(_buffer(source)) as file:
            _check_depth(file.schema_arrow, dataset, "parquet")
            return file.read()
    except (pa.ArrowInvalid, OSError) as exc:
        if "too deeply nested" in str(exc):  # deeper than Arrow's own limit
            raise MalformedBatch(f"the schema is nested more than {MAX_NESTING_DEPTH} levels deep",
                                 dataset=dataset, fmt="parquet") from exc
        raise MalformedBatch(f"not a complete Parquet file ({exc})", dataset=dataset, fmt="parquet") from exc


def _read_arrow(source: Source, dataset: str) -> pa.Table:
    try:
        with pa.ipc.open_stream(_buffer(source)) as reader:
            _check_depth(reader.schema, dataset, "arrow")
            return reader.read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise MalformedBatch(f"not a complete Arrow IPC stream ({exc})", dataset=dataset, fmt="arrow") from exc


def _read_csv(source: Source, dataset: str, contract: Contract) -> pa.Table:
    # Every column is read as text and cast against the contract afterwards, so a
    # bad value becomes a contract violation naming its column and rows.
    bad: list[pacsv.InvalidRow] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad.append(row)
        return "error"

    def read(use_threads: bool) -> pa.Table:
        return pacsv.read_csv(
            _buffer(source),
            read_options=pacsv.ReadOptions(block_size=1 << 24, use_threads=use_threads),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={c.name: pa.string() for c in contract.columns},
                strings_can_be_null=True,
                null_values=[""],
            ),
        )

    if not isinstance(source, (bytes, str, Path)):
        source = source.read()
    try:
        return read(True)
    except (pa.ArrowInvalid, OSError) as first:
        error: Exception = first
    # Multithreaded parsing does not track line numbers: parse again in one
    # thread (only on this error path) to say which line is broken.
    bad.clear()
    try:
        read(False)
    except (pa.ArrowInvalid, OSError) as single:
        error = single
    if bad and bad[0].number is not None:
        row = bad[0]
        raise MalformedBatch(
            f"expected {row.expected_columns} fields, found {row.actual_columns}: {row.text[:80]!r}",
            dataset=dataset, fmt="csv", line=row.number,
        ) from error
    m = _ROW_RE.search(str(error))
    raise MalformedBatch(str(error), dataset=dataset, fmt="csv", line=int(m.group(1)) if m else None) from error


def _jsonl_bad_line(data: bytes) -> tuple[int, str] | None:
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            return number, exc.msg
        if not isinstance(value, dict):
            return number, "each line must hold one JSON object"
    return None


def _read_jsonl(source: Source, dataset: str) -> pa.Table:
    raw = source if isinstance(source, bytes) else (
        Path(source).read_bytes() if isinstance(source, (str, Path)) else source.read()
    )
    if not raw.strip():
        return pa.table({})
    # Arrow's reader recurses per level and overflows the C stack on deep
    # input (the process dies), so depth is bounded before it sees a byte.
    too_deep = jsonl_depth_error(raw)
    if too_deep is not None:
        raise MalformedBatch(too_deep.message, dataset=dataset, fmt="jsonl", line=too_deep.line)
    try:
        return pajson.read_json(pa.BufferReader(raw), read_options=pajson.ReadOptions(block_size=1 << 24))
    except pa.ArrowInvalid as exc:
        found = _jsonl_bad_line(raw)
        if found:
            line, reason = found
            raise MalformedBatch(reason, dataset=dataset, fmt="jsonl", line=line) from exc
        # Valid JSON that Arrow cannot type (a column that changes type between
        # lines): read the lines as Python objects; the contract cast reports rows.
        rows = [json.loads(line) for line in raw.splitlines() if line.strip()]
        keys = list(dict.fromkeys(k for r in rows for k in r))
        return pa.table({k: pa.array([_as_text(r.get(k)) for r in rows], type=pa.string()) for k in keys})


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value)


def read_batch(source: Source, fmt: BatchFormat | str, *, contract: Contract) -> pa.Table:
    """Read a producer batch into an Arrow table (not yet checked against the contract).

    Args:
        source: Bytes, a file path, a binary file object, or an Arrow table
            (already read; ``fmt`` is then ignored).
        fmt: The batch format.
        contract: The dataset's contract (CSV reads its columns as text).

    Raises:
        MalformedBatch: the bytes are not a valid file of that format.
    """
    if isinstance(source, pa.Table):
        return source
    fmt = BatchFormat.parse(fmt) if isinstance(fmt, str) else fmt
    dataset = contract.dataset
    if fmt is BatchFormat.PARQUET:
        return _read_parquet(source, dataset)
    if fmt is BatchFormat.ARROW:
        return _read_arrow(source, dataset)
    if fmt is BatchFormat.CSV:
        return _read_csv(source, dataset, contract)
    return _read_jsonl(source, dataset)
