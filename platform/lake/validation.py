"""Checking a batch against its contract, vectorised with ``pyarrow.compute``.

:func:`validate` conforms a raw batch to the contract's logical schema and
finds every row that breaks a rule: a value of the wrong type, a null in a
required column, a value outside the allowed set or range, a duplicate
primary key (in the batch, or already in the table for an append). Columns
missing from the batch or not in the contract break the whole batch.

Row numbers count from 1 over the batch's data rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, ParamSpec, TypeVar, overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lake.contracts import Column, Contract, to_array, to_scalar, type_name
from lake.errors import Violation

SAMPLE_ROWS = 5
_ROW = "__lakegate_row"
#: Rows a uniqueness check offsets at a time (bounds its temporary memory).
_CHUNK_ROWS = 1 << 20
#: A key spanning at most this many values per row is checked with a bitmap instead of a sort.
_BITMAP_SPAN_PER_ROW = 4
#: From this many rows, a batch's columns are checked on several threads (Arrow's kernels and
#: numpy release the GIL); a smaller batch is checked on the caller's thread.
_PARALLEL_ROWS = 1 << 16

_T = TypeVar("_T")
_P = ParamSpec("_P")


class _Reasons(Sequence[str]):
    """Per-row text of the rules a row breaks, built only for the rows asked for, from
    each broken rule's sorted row indices (no per-row work while validating)."""

    def __init__(self, n: int, broken: list[tuple[str, np.ndarray]]) -> None:
        self._n = n
        self._broken = broken

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._n))]
        i = range(self._n)[index]  # bounds and negative indices as a list has them
        return "; ".join(short for short, rows in self._broken
                         if (at := int(np.searchsorted(rows, i))) < rows.size and rows[at] == i)


@dataclass
class ValidationResult:
    """A batch conformed to the contract, with what is wrong with it.

    Attributes:
        table: Every row of the batch, cast to the contract's logical schema
            (a value that could not be cast is null here and its row is bad).
        bad: Per-row flag: the row breaks at least one rule.
        reasons: Per-row text of the rules it breaks ("" for good rows), built on access.
        violations: One entry per rule broken, with counts and samples.
        batch_errors: Violations of the whole batch (missing/unknown columns);
            no row of such a batch can be committed.
        raw: The batch as received, for quarantining rejected rows.
    """

    table: pa.Table
    bad: np.ndarray
    reasons: Sequence[str]
    violations: list[Violation]
    batch_errors: list[Violation]
    raw: pa.Table

    @property
    def ok(self) -> bool:
        return not self.violations and not self.batch_errors

    @property
    def bad_count(self) -> int:
        return int(np.count_nonzero(self.bad)) if self.violations else 0

    def good_rows(self) -> pa.Table:
        return self.table.filter(pa.array(~self.bad)) if self.bad.any() else self.table

    def bad_rows(self) -> tuple[pa.Table, np.ndarray]:
        idx = np.flatnonzero(self.bad)
        return self.raw.take(pa.array(idx)), idx


_Finding = tuple[str | None, str, np.ndarray, "pa.Array | pa.ChunkedArray | None"]


class _Findings:
    """The rules one column breaks, noted where the column is checked (perhaps on a worker
    thread) and added to the :class:`_Collector` in the contract's column order."""

    def __init__(self) -> None:
        self.items: list[_Finding] = []

    def add(self, column: str | None, reason: str, mask: np.ndarray,
            values: pa.Array | pa.ChunkedArray | None) -> None:
        self.items.append((column, reason, mask, values))


class _Collector:
    def __init__(self, n: int) -> None:
        self.n = n
        self.bad = np.zeros(n, dtype=bool)
        self.broken: list[tuple[str, np.ndarray]] = []  # (reason, sorted row indices) per broken rule
        self.violations: list[Violation] = []

    def add_all(self, findings: _Findings) -> None:
        for finding in findings.items:
            self.add(*finding)

    def add(self, column: str | None, reason: str, mask: np.ndarray,
            values: pa.Array | pa.ChunkedArray | None) -> None:
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return
        self.bad |= mask
        self.broken.append((f"{column}: {reason}" if column else reason, idx))
        first = idx[:SAMPLE_ROWS]
        samples: tuple[Any, ...] = ()
        if values is not None:
            samples = tuple(_sample(values[int(i)].as_py()) for i in first)
        self.violations.append(
            Violation(column, reason, int(idx.size), tuple(int(i) + 1 for i in first), samples)
        )

    def result(self, table: pa.Table, batch_errors: list[Violation], raw: pa.Table) -> ValidationResult:
        return ValidationResult(table, self.bad, _Reasons(self.n, self.broken), self.violations, batch_errors, raw)


def _sample(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return value[:16].hex()
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _mask(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean numpy mask from an Arrow boolean array; null counts as False."""
    filled = pc.fill_null(arr, False)
    if isinstance(filled, pa.ChunkedArray):
        filled = filled.combine_chunks()
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool)


def _cast(arr: pa.Array, target: pa.DataType) -> pa.Array:
    """Safe cast; text without a zone is read as UTC for zoned timestamps."""
    try:
        return pc.cast(arr, target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if not (pa.types.is_string(arr.type) and pa.types.is_timestamp(target) and target.tz):
            raise
    naive = pc.cast(arr, pa.timestamp(target.unit), safe=True)
    return pc.cast(naive, target, safe=True)


def _cast_failures(values: pa.Array, target: pa.DataType) -> np.ndarray:
    """Which non-null values do not cast to ``target`` (error path only)."""
    out = np.zeros(len(values), dtype=bool)
    for i, v in enumerate(values.to_pylist()):
        if v is None:
            continue
        try:
            _cast(pa.array([v], type=values.type), target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, InvalidOperation, ValueError):
            out[i] = True
    return out


def _cast_column(
    values: pa.ChunkedArray | pa.Array, col: Column, out: _Findings
) -> tuple[pa.Array | pa.ChunkedArray, np.ndarray | None]:
    """The column cast to the contract type, and which rows failed the cast."""
    if values.type == col.type:
        return values, None  # the common case: no copy
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), type=col.type), None
    source = arr
    if pa.types.is_string(arr.type) and pa.types.is_boolean(col.type):
        lowered = pc.utf8_lower(arr)
        truthy = pc.is_in(lowered, value_set=pa.array(["true", "t", "1", "yes"]))
        falsy = pc.is_in(lowered, value_set=pa.array(["false", "f", "0", "no"]))
        bad = _mask(pc.and_(pc.is_valid(arr), pc.invert(pc.or_(truthy, falsy))))
        out.add(col.name, f"not a valid {type_name(col.type)}", bad, arr)
        return pc.if_else(pc.is_null(arr), pa.scalar(None, pa.bool_()), truthy), bad
    try:
        return _cast(source, col.type), None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        pass
    bad = _cast_failures(arr, col.type)
    if not bad.any():  # the type pair cannot be cast at all
        bad = _mask(pc.is_valid(arr))
    out.add(col.name, f"not a valid {type_name(col.type)} (got {type_name(arr.type)})", bad, arr)
    cleaned = pc.if_else(pa.array(bad), pa.scalar(None, arr.type), arr)
    try:
        return _cast(cleaned, col.type), bad
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        # Values that cast one by one but not together (mixed zoned and naive text).
        values = [
            None if v is None or b else _cast(pa.array([v], type=arr.type), col.type)[0].as_py()
            for v, b in zip(arr.to_pylist(), bad, strict=True)
        ]
        return pa.array(values, type=col.type), bad


def _any(arr: pa.Array | pa.ChunkedArray) -> bool:
    return bool(pc.any(arr).as_py())


def _check_values(
    arr: pa.Array | pa.ChunkedArray, col: Column, out: _Findings, cast_bad: np.ndarray | None
) -> None:
    # Each rule computes an Arrow boolean; only a rule that fires pays for a numpy mask.
    if not col.nullable and arr.null_count:
        nulls = _mask(pc.is_null(arr))
        if cast_bad is not None:
            nulls &= ~cast_bad  # already reported as not castable
        out.add(col.name, "null in a required column", nulls, None)
    if col.allowed is not None:
        allowed = to_array(list(col.allowed), col.type)
        outside = pc.invert(pc.is_in(arr, value_set=allowed, skip_nulls=True))
        if _any(outside):
            out.add(col.name, f"value not in allowed set {list(col.allowed)}", _mask(outside), arr)
    if col.min is None and col.max is None:
        return
    # One pass finds the column's extremes; a bound they respect needs no per-row comparison.
    bounds = pc.min_max(arr)
    if col.min is not None:
        low = to_scalar(col.min, col.type)
        if pc.less(bounds["min"], low).as_py():
            out.add(col.name, f"value below minimum {col.min}", _mask(pc.less(arr, low)), arr)
    if col.max is not None:
        high = to_scalar(col.max, col.type)
        if pc.greater(bounds["max"], high).as_py():
            out.add(col.name, f"value above maximum {col.max}", _mask(pc.greater(arr, high)), arr)


def _conform(values: pa.ChunkedArray, col: Column) -> tuple[pa.Array | pa.ChunkedArray, _Findings]:
    """One column of a batch cast to its contract type, and the rules its values break."""
    found = _Findings()
    arr, cast_bad = _cast_column(values, col, found)
    _check_values(arr, col, found, cast_bad)
    return arr, found


class _Inline(Executor):
    """Runs each job at once on the caller's thread (a small batch is not worth a thread)."""

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        future: Future[_T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - result() re-raises it, as for a worker thread
            future.set_exception(exc)
        return future


def _executor(rows: int, jobs: int) -> Executor:
    workers = min(pa.cpu_count(), jobs)
    return ThreadPoolExecutor(workers, thread_name_prefix="lakegate-validate") \
        if rows >= _PARALLEL_ROWS and workers > 1 else _Inline()


def _unique_fast(col: pa.ChunkedArray) -> bool:
    """Prove a numeric or temporal key unique without hashing; False means "look closer".

    An integer key whose values span at most a few times the row count is
    marked in a bitmap (one byte per value of the span, offsets computed a
    million rows at a time): it is unique when as many slots are marked as there
    are rows. Other keys are sorted (numpy's SIMD sort is far faster than hashing).
    """
    t = col.type
    if col.null_count or not (pa.types.is_integer(t) or pa.types.is_temporal(t)):
        return False
    chunks = [c.to_numpy(zero_copy_only=False) for c in col.chunks if len(c)]  # no copy: no nulls
    n = sum(len(c) for c in chunks)
    if n < 2:
        return True
    if pa.types.is_integer(t):
        lo, hi = min(int(c.min()) for c in chunks), max(int(c.max()) for c in chunks)
        span = hi - lo + 1
        if span < n:
            return False  # more rows than values: a duplicate for certain
        if span <= _BITMAP_SPAN_PER_ROW * n:
            seen = np.zeros(span, dtype=bool)
            for chunk in chunks:
                for start in range(0, len(chunk), _CHUNK_ROWS):
                    part = chunk[start:start + _CHUNK_ROWS]
                    seen[part - lo if lo else part] = True
            return int(np.count_nonzero(seen)) == n
    ordered = np.sort(np.concatenate(chunks) if len(chunks) > 1 else chunks[0])
    return not bool((ordered[1:] == ordered[:-1]).any())


def _duplicate_keys(table: pa.Table, keys: list[str]) -> np.ndarray:
    if len(keys) == 1 and _unique_fast(table.column(keys[0])):
        return np.zeros(table.num_rows, dtype=bool)
    indexed = table.select(keys).append_column(_ROW, pa.array(np.arange(table.num_rows)))
    counts = indexed.group_by(keys).aggregate([(_ROW, "count")])
    dupes = counts.filter(pc.greater(counts[f"{_ROW}_count"], 1))
    mask = np.zeros(table.num_rows, dtype=bool)
    if dupes.num_rows:
        hit = indexed.join(dupes.select(keys), keys=keys, join_type="inner")
        mask[hit[_ROW].to_numpy()] = True
    return mask


def _existing_keys(table: pa.Table, keys: list[str], existing: pa.Table) -> np.ndarray:
    mask = np.zeros(table.num_rows, dtype=bool)
    if existing.num_rows == 0 or table.num_rows == 0:
        return mask
    indexed = table.select(keys).append_column(_ROW, pa.array(np.arange(table.num_rows)))
    existing = existing.select(keys).cast(table.select(keys).schema)
    hit = indexed.join(existing, keys=keys, join_type="left semi")
    mask[hit[_ROW].to_numpy()] = True
    return mask


def validate(raw: pa.Table, contract: Contract) -> ValidationResult:
    """Check a batch against a contract (keys already in the table: :func:`mark_existing_keys`).

    Args:
        raw: The batch as read (any column types; CSV arrives as text).
        contract: The dataset's current contract.

    Returns:
        The conformed batch and every broken rule.
    """
    n = raw.num_rows
    out = _Collector(n)
    batch_errors: list[Violation] = []
    expected = contract.column_names
    unknown = [c for c in raw.column_names if c not in expected]
    for name in unknown:
        values = raw.column(name)
        present = np.flatnonzero(_mask(pc.is_valid(values)))
        first = present[:SAMPLE_ROWS]
        batch_errors.append(Violation(
            name, "column is not in the contract", int(present.size) or n,
            tuple(int(i) + 1 for i in first), tuple(_sample(values[int(i)].as_py()) for i in first),
        ))
    seen = set(raw.column_names)
    dupes = sorted({c for c in raw.column_names if raw.column_names.count(c) > 1})
    for name in dupes:
        batch_errors.append(Violation(name, "column appears more than once in the batch", n))

    for col in contract.columns:
        if col.name not in seen and not col.nullable:
            batch_errors.append(Violation(col.name, "required column is missing from the batch", n,
                                          tuple(range(1, min(n, SAMPLE_ROWS) + 1))))
    checked = [col for col in contract.columns if col.name in seen and col.name not in dupes]
    keys = list(contract.primary_key)
    # Columns are checked independently (and the key's uniqueness as soon as its columns are
    # cast); what they break is collected in the contract's column order, then the key's.
    with _executor(n, len(checked) + 1) as pool:
        conformed = {col.name: pool.submit(_conform, raw.column(col.name), col) for col in checked}
        duplicates: Future[np.ndarray] | None = None
        if keys and n and not batch_errors:
            key_table = pa.table({k: conformed[k].result()[0] for k in keys})
            duplicates = pool.submit(_duplicate_keys, key_table, keys)
        columns: list[pa.Array | pa.ChunkedArray] = []
        for col in contract.columns:
            if col.name not in conformed:  # missing or given twice: a batch error
                columns.append(pa.nulls(n, type=col.type))
                continue
            arr, found = conformed[col.name].result()
            out.add_all(found)
            columns.append(arr)
        table = pa.Table.from_arrays(columns, schema=contract.arrow_schema()) if n or columns \
            else contract.arrow_schema().empty_table()
        if duplicates is not None:
            out.add(", ".join(keys), "duplicate primary key in the batch", duplicates.result(),
                    table.column(keys[0]))
    return out.result(table, batch_errors, raw)


EXISTING_KEY = "primary key already in the table (use upsert to update rows)"


def mark_existing_keys(result: ValidationResult, contract: Contract, existing: pa.Table) -> ValidationResult:
    """The result with every row whose primary key is in ``existing`` marked bad.

    Args:
        result: A batch checked by :func:`validate`.
        contract: Its contract (with a primary key).
        existing: Primary-key columns of rows already in the table (only those
            that may match the batch are needed).
    """
    keys = list(contract.primary_key)
    if not keys or result.batch_errors or not result.table.num_rows:
        return result
    mask = _existing_keys(result.table, keys, existing)
    if not mask.any():
        return result
    assert isinstance(result.reasons, _Reasons)  # validate() builds them
    out = _Collector(result.table.num_rows)
    out.bad, out.violations, out.broken = result.bad.copy(), list(result.violations), list(result.reasons._broken)
    out.add(", ".join(keys), EXISTING_KEY, mask, result.table.column(keys[0]))
    return out.result(result.table, result.batch_errors, result.raw)
