"""Ingestion: a producer's batch becomes one Delta commit, or nothing.

Steps: read the batch, validate it against the contract, encrypt PII
columns; then, holding the table's write lock (one writer per table across
every process sharing the catalog), check its primary keys against the table,
record the commit as pending, commit one Delta transaction (append, overwrite
or upsert) and record the commit. With ``on_error=quarantine`` the good rows
are committed and the rejected rows, with their reasons, go to the dataset's
quarantine table.

Crash consistency: each Delta commit carries its catalog commit id and row
counts in its commit metadata. A pending commit found by the next holder of
the lock (or on start, :meth:`Ingestor.recover`) belongs to a writer that
died: if the Delta log has it, the catalog records it; if not, its files are
removed and its idempotency key is free again at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from lake.catalog import Catalog
from lake.catalog.models import Commit, QuarantineReplay, utcnow
from lake.contracts import Contract
from lake.crypto import encrypt_array
from lake.datasets import DatasetInfo, DatasetRegistry
from lake.enums import ParsableEnum
from lake.errors import Conflict, ContractViolation, InvalidInput, LakegateError, TableBusy, Violation
from lake.formats import BatchFormat, Source, read_batch
from lake.tables import CommitInfo, DeltaTableIO
from lake.validation import ValidationResult, mark_existing_keys, validate

log = logging.getLogger(__name__)

#: How far the clocks of writers and of the store may disagree when the
#: Delta log is searched for a pending commit.
CLOCK_SKEW = dt.timedelta(hours=1)


class WriteMode(ParsableEnum, label="write mode"):
    APPEND = "append"
    OVERWRITE = "overwrite"
    UPSERT = "upsert"

    @classmethod
    def _normalize(cls, text: str) -> str:
        return text.lower()


class OnError(ParsableEnum, label="on_error"):
    REJECT = "reject"
    QUARANTINE = "quarantine"

    @classmethod
    def _normalize(cls, text: str) -> str:
        return text.lower()


@dataclass(frozen=True)
class IngestResult:
    """What an ingestion committed."""

    dataset: str
    commit_id: int
    mode: WriteMode
    table_version: int | None
    rows: int
    rejected_rows: int = 0
    quarantine_version: int | None = None
    replayed: bool = False
    violations: tuple[Violation, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "commit_id": self.commit_id,
            "mode": self.mode.value,
            "table_version": self.table_version,
            "rows": self.rows,
            "rejected_rows": self.rejected_rows,
            "quarantine_version": self.quarantine_version,
            "replayed": self.replayed,
            "violations": [v.as_dict() for v in self.violations],
        }


def encrypt_pii(table: pa.Table, contract: Contract, key: bytes) -> pa.Table:
    """The table in storage form: PII columns encrypted, storage schema."""
    if not contract.pii_columns:
        return table.cast(contract.storage_schema())
    arrays = [
        encrypt_array(table.column(c.name), key) if c.pii else table.column(c.name)
        for c in contract.columns
    ]
    return pa.Table.from_arrays(arrays, schema=contract.storage_schema())


def _json_value(v: Any) -> Any:
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, (dt.date, dt.datetime, dt.time)):
        return v.isoformat()
    return v


QUARANTINE_SCHEMA = pa.schema([
    pa.field("commit_id", pa.int64()),
    pa.field("row_number", pa.int64()),
    pa.field("reasons", pa.string()),
    pa.field("record", pa.string()),
    pa.field("pii_record", pa.binary()),
    pa.field("quarantined_at", pa.timestamp("us", tz="UTC")),
])


def quarantine_rows(result: ValidationResult, contract: Contract, key: bytes, commit_id: int) -> pa.Table:
    """Rejected rows as received, with reasons; PII values stay encrypted."""
    raw, idx = result.bad_rows()
    pii = set(contract.pii_columns)
    records, secrets_ = [], []
    for row in raw.to_pylist():
        records.append(json.dumps({k: _json_value(v) for k, v in row.items() if k not in pii}, default=str))
        secret = {k: _json_value(v) for k, v in row.items() if k in pii}
        secrets_.append(json.dumps(secret, default=str) if secret else None)
    now = utcnow()
    return pa.table(
        {
            "commit_id": pa.array([commit_id] * len(idx), pa.int64()),
            "row_number": pa.array(idx + 1, pa.int64()),
            "reasons": pa.array([result.reasons[i] for i in idx], pa.string()),
            "record": pa.array(records, pa.string()),
            "pii_record": encrypt_array(pa.array(secrets_, pa.string()), key),
            "quarantined_at": pa.array([now] * len(idx), pa.timestamp("us", tz="UTC")),
        },
        schema=QUARANTINE_SCHEMA,
    )


def _refuse(info: DatasetInfo, result: ValidationResult, on_error: OnError) -> None:
    """Raise unless the batch may be committed (rejected rows quarantined, if so asked)."""
    if result.batch_errors:
        raise ContractViolation(info.name, result.batch_errors + result.violations)
    if result.violations and on_error is OnError.REJECT:
        raise ContractViolation(info.name, result.violations)


def _align(data: pa.Table, table: DeltaTableIO) -> pa.Table:
    """Add null columns the Delta table has and the contract lacks (a partially
    applied evolution); order columns as the table does."""
    schema = table.schema()
    cols = []
    for f in schema:
        if f.name in data.column_names:
            cols.append(data.column(f.name).cast(f.type))
        else:
            cols.append(pa.nulls(data.num_rows, type=f.type))
    return pa.Table.from_arrays(cols, schema=pa.schema([pa.field(f.name, f.type, True) for f in schema]))


@dataclass(frozen=True)
class _Prepared:
    """A batch checked against its contract, before the checks against the table."""

    result: ValidationResult
    stored: pa.Table  # the good rows in storage form (PII encrypted)
    data_key: bytes


def _recorded(entry: dict[str, Any], field_name: str, metric: str) -> int:
    """A row count from a commit's Lakegate metadata, else from its Delta metrics."""
    value = entry.get(f"lakegate.{field_name}")
    if value is not None:
        return int(value)
    return int((entry.get("operationMetrics") or {}).get(metric, 0) or 0)


class Ingestor:
    """Lands batches in datasets; see the module docstring.

    Args:
        catalog: The catalog database.
        registry: The dataset registry.
        lock_timeout: Seconds a batch waits for another writer of the same
            table before it is refused as busy.
    """

    def __init__(self, catalog: Catalog, registry: DatasetRegistry, *, lock_timeout: float = 120.0) -> None:
        self.catalog = catalog
        self.registry = registry
        self.lock_timeout = lock_timeout

    def _previous(self, info: DatasetInfo, row: Commit, *, replayed: bool = True) -> IngestResult:
        return IngestResult(
            dataset=info.name, commit_id=row.id, mode=WriteMode(row.operation), table_version=row.table_version,
            rows=row.rows, rejected_rows=row.rejected_rows, replayed=replayed,
        )

    def _committed(self, info: DatasetInfo, key: str) -> IngestResult | None:
        """The result of the batch that landed with ``key``, if one did."""
        with self.catalog.session() as s:
            row = s.scalars(select(Commit).where(
                Commit.dataset_id == info.id, Commit.idempotency_key == key, Commit.status == "committed",
            )).one_or_none()
            return None if row is None else self._previous(info, row)

    # -- the table's write lock and crash recovery ---------------------------------------

    @contextlib.contextmanager
    def writing(self, info: DatasetInfo, *, timeout: float | None = None) -> Iterator[None]:
        """Hold the table's write lock, with every earlier commit settled first.

        Every writer of a dataset's table (batches, vacuum, optimize) holds it,
        in any process sharing the catalog; so the holder sees no other writer
        in flight, and a ``pending`` commit it finds was left by a writer that
        died (:meth:`settle`).

        Raises:
            TableBusy: another writer held the lock for longer than ``timeout``.
        """
        wait = self.lock_timeout if timeout is None else timeout
        with self.catalog.table_lock(info.id, timeout=wait, what=info.name):
            self.settle(info)
            yield

    def settle(self, info: DatasetInfo) -> None:
        """Bring the catalog in line with the Delta log for pending commits of a dataset.

        Call it only under the table's write lock. A pending commit whose
        Delta commit is in the log (it carries the commit id) is recorded as
        committed with its version and row counts; one that never reached the
        log is undone: its files and quarantined rows are removed and its
        idempotency key freed, so a retry lands at once.
        """
        with self.catalog.session() as s:
            pending = [(r.id, r.created_at) for r in s.scalars(
                select(Commit).where(Commit.dataset_id == info.id, Commit.status == "pending"))]
        if not pending:
            return
        table = self.registry.table(info)
        oldest = min(created for _, created in pending)
        found = table.find_commits("commit_id", [str(i) for i, _ in pending], since=oldest - CLOCK_SKEW)
        for commit_id, created in pending:
            entry = found.get(str(commit_id))
            if entry is not None:
                with self.catalog.session() as s:
                    row = s.get_one(Commit, commit_id)
                    row.status, row.table_version = "committed", int(entry["version"])
                    row.rows = _recorded(entry, "rows", "num_added_rows" if row.operation != "upsert"
                                         else "num_source_rows")
                    row.rejected_rows = _recorded(entry, "rejected_rows", "")
                log.info("recorded commit %d of %s from the Delta log (version %s)",
                         commit_id, info.name, entry["version"])
            else:
                self._undo(info, commit_id, created)

    def _undo(self, info: DatasetInfo, commit_id: int, created: dt.datetime) -> None:
        """Remove every trace of a commit that never reached the Delta log."""
        table = self.registry.table(info)
        table.remove_unreferenced(created)
        quarantine = self.registry.table(info, quarantine=True)
        if quarantine.exists():
            quarantine.remove_unreferenced(created)
            if quarantine.find_commits("commit_id", [str(commit_id)], since=created - CLOCK_SKEW):
                quarantine.delete_rows("commit_id", commit_id, CommitInfo(
                    actor="lakegate", reason=f"undo quarantined rows of commit {commit_id}, which never landed"))
        with self.catalog.session() as s:
            row = s.get(Commit, commit_id)
            if row is not None and row.status == "pending":
                s.execute(delete(QuarantineReplay).where(QuarantineReplay.commit_id == commit_id))
                s.delete(row)
        log.info("undid commit %d of %s: it never reached the Delta log", commit_id, info.name)

    def recover(self) -> list[str]:
        """Settle the pending commits of every dataset whose table is not being written now.

        Run on start: a writer that died (``kill -9``, power loss) between its
        Delta commit and the catalog's update, or before its commit, leaves a
        pending commit; this records or undoes it. A table another process is
        writing is skipped (its writer, or the next one, settles it).

        Returns:
            The datasets settled.
        """
        with self.catalog.session() as s:
            ids = sorted(set(s.scalars(select(Commit.dataset_id).where(Commit.status == "pending"))))
        settled = []
        for dataset_id in ids:
            try:
                info = self.registry.get_by_id(dataset_id)
                with self.writing(info, timeout=0):
                    settled.append(info.name)
            except TableBusy:
                continue
            except LakegateError as exc:  # one broken table must not keep the lake from starting
                log.warning("could not settle the pending commits of dataset %d: %s", dataset_id, exc)
        return settled

    # -- landing a batch -------------------------------------------------------------------

    def ingest(
        self,
        dataset: str,
        source: Source,
        fmt: BatchFormat | str,
        *,
        actor: str,
        mode: WriteMode | str = WriteMode.APPEND,
        on_error: OnError | str = OnError.REJECT,
        idempotency_key: str | None = None,
        reason: str = "",
        source_name: str = "",
    ) -> IngestResult:
        """Land one batch in one Delta transaction.

        The batch is read, checked and encrypted first; then, holding the
        table's write lock, its primary keys are checked against the table,
        it is committed to Delta and the commit is recorded in the catalog.

        Args:
            dataset: ``domain.dataset`` (its current major version).
            source: The batch: bytes, a path or a binary file object.
            fmt: ``parquet``, ``arrow``, ``csv`` or ``jsonl``.
            actor: Who commits (recorded in the commit).
            mode: ``append``, ``overwrite`` or ``upsert`` (merge on the primary key).
            on_error: ``reject`` the whole batch on any violation, or
                ``quarantine`` the bad rows and commit the good ones.
            idempotency_key: A retried batch with the same key lands once.
            reason: Why (recorded in the commit).

        Raises:
            MalformedBatch: the batch cannot be read.
            ContractViolation: the batch breaks the contract (nothing committed).
            TableBusy: another writer held the table for too long (nothing committed).
            CommitConflict: another writer kept winning the Delta commit (nothing committed).
        """
        mode = WriteMode.parse(mode) if isinstance(mode, str) else mode
        on_error = OnError.parse(on_error) if isinstance(on_error, str) else on_error
        fmt = BatchFormat.parse(fmt) if isinstance(fmt, str) else fmt
        if idempotency_key is not None and not (0 < len(idempotency_key) <= 255):
            raise InvalidInput("idempotency key must be 1 to 255 characters")
        info = self.registry.get(dataset)
        contract = info.contract
        if mode is WriteMode.UPSERT and not contract.primary_key:
            raise InvalidInput(f"{dataset} has no primary key in its contract; upsert needs one")
        if idempotency_key is not None and (previous := self._committed(info, idempotency_key)) is not None:
            return previous

        prepared = self._prepare(info, contract, source, fmt, on_error)
        with self.writing(info):
            if idempotency_key is not None and (previous := self._committed(info, idempotency_key)) is not None:
                return previous
            if mode is WriteMode.APPEND and contract.primary_key:
                prepared = self._check_table_keys(info, contract, prepared, on_error)
            commit_id = self.claim(info, idempotency_key, mode, actor, reason, source_name)
            try:
                return self._commit(info, contract, commit_id, prepared, actor, mode, idempotency_key, reason)
            except BaseException:
                self.settle_after_failure(info, commit_id)
                raise

    def settle_after_failure(self, info: DatasetInfo, commit_id: int) -> None:
        """Settle ``commit_id`` after its write failed (under the write lock); never raises, since the
        write's own error matters more (the next writer settles what this could not)."""
        try:
            self.settle(info)
        except Exception:
            log.exception("could not settle commit %d of %s after a failed write", commit_id, info.name)

    def _prepare(self, info: DatasetInfo, contract: Contract, source: Source, fmt: BatchFormat,
                 on_error: OnError) -> _Prepared:
        """Read, check and encrypt the batch: everything that needs no lock."""
        raw = read_batch(source, fmt, contract=contract)
        result = validate(raw, contract)
        _refuse(info, result, on_error)
        data_key = self.registry.data_key(info)
        return _Prepared(result, encrypt_pii(result.good_rows(), contract, data_key), data_key)

    def _check_table_keys(self, info: DatasetInfo, contract: Contract, prepared: _Prepared,
                          on_error: OnError) -> _Prepared:
        """Mark rows whose primary key is already in the table (under the write lock)."""
        result = prepared.result
        keys = list(contract.primary_key)
        if not result.table.num_rows:
            return prepared
        candidates = result.table.select(keys)
        existing = self.registry.table(info).find_keys(candidates)
        if not existing.num_rows:
            return prepared
        checked = mark_existing_keys(result, contract, existing)
        _refuse(info, checked, on_error)
        keep = ~checked.bad[np.flatnonzero(~result.bad)]
        return _Prepared(checked, prepared.stored.filter(pa.array(keep)), prepared.data_key)

    def claim(self, info: DatasetInfo, key: str | None, mode: WriteMode, actor: str, reason: str,
              source: str) -> int:
        """Record the commit as pending (under the write lock, just before the Delta commit)."""
        try:
            with self.catalog.session() as s:
                row = Commit(dataset_id=info.id, idempotency_key=key, status="pending", operation=mode.value,
                             contract_version=info.contract_version, actor=actor, reason=reason, source=source)
                s.add(row)
                s.flush()
                return row.id
        except IntegrityError as exc:  # only a writer bypassing the lock can hold the key
            raise Conflict(f"a batch with idempotency key {key!r} is being committed to {info.name}; "
                           "retry in a few seconds") from exc

    def _commit(self, info: DatasetInfo, contract: Contract, commit_id: int, prepared: _Prepared, actor: str,
                mode: WriteMode, key: str | None, reason: str) -> IngestResult:
        """Quarantine, commit to Delta, record: the last two in one logical step."""
        result, good_rows = prepared.result, prepared.stored.num_rows
        table = self.registry.table(info, exclusive=True)
        commit = CommitInfo(actor=actor, reason=reason, idempotency_key=key, extra={
            "commit_id": str(commit_id), "contract_version": str(info.contract_version),
            "rows": str(good_rows), "rejected_rows": str(result.bad_count),
        })
        # Quarantined rows first: a commit that never lands has its quarantined
        # rows removed by settle(); a landed one always has them.
        q_version = None
        if result.bad_count:
            q_table = self.registry.table(info, quarantine=True, exclusive=True)
            q_version = q_table.append(quarantine_rows(result, contract, prepared.data_key, commit_id), commit)

        version: int | None = None
        # The committed rows of a one-column key are checked distinct: no dictionary pays for it.
        unique = tuple(contract.primary_key) if len(contract.primary_key) == 1 else ()
        if good_rows or mode is WriteMode.OVERWRITE:
            stored = _align(prepared.stored, table)
            if mode is WriteMode.APPEND:
                version = table.append(stored, commit, unique=unique)
            elif mode is WriteMode.OVERWRITE:
                version = table.overwrite(stored, commit, unique=unique)
            else:
                version = table.upsert(stored, contract.primary_key, commit)

        with self.catalog.session() as s:
            row = s.get_one(Commit, commit_id)
            row.status = "committed"
            row.table_version = version
            row.rows = good_rows
            row.rejected_rows = result.bad_count
        return IngestResult(
            dataset=info.name, commit_id=commit_id, mode=mode, table_version=version, rows=good_rows,
            rejected_rows=result.bad_count, quarantine_version=q_version, violations=tuple(result.violations),
        )

    def commits(self, dataset: str, *, limit: int = 100, major: int | None = None) -> list[dict[str, Any]]:
        """Committed batches of the dataset's current major version (or ``major``), newest first."""
        info = self.registry.get(dataset, major=major)
        with self.catalog.session() as s:
            rows = s.scalars(
                select(Commit)
                .where(Commit.dataset_id == info.id, Commit.status == "committed")
                .order_by(Commit.id.desc())
                .limit(limit)
            )
            return [
                {"commit_id": r.id, "table_version": r.table_version, "operation": r.operation, "rows": r.rows,
                 "rejected_rows": r.rejected_rows, "actor": r.actor, "reason": r.reason,
                 "idempotency_key": r.idempotency_key, "contract_version": r.contract_version,
                 "source": r.source, "created_at": r.created_at.isoformat()}
                for r in rows
            ]


def decrypt_pii(stored: pa.Table, contract: Contract, key: bytes) -> pa.Table:
    """Storage form back to the contract's logical types (PII in clear)."""
    from lake.crypto import decrypt_array

    cols = []
    for name in stored.column_names:
        try:
            col = contract.column(name)
        except KeyError:
            cols.append(stored.column(name))
            continue
        cols.append(decrypt_array(stored.column(name), key, col.type) if col.pii else stored.column(name))
    return pa.Table.from_arrays(cols, names=stored.column_names)


__all__ = ["IngestResult", "Ingestor", "OnError", "WriteMode", "decrypt_pii", "encrypt_pii"]
