"""Ingestion: a producer's batch becomes one Delta commit, or nothing.

Steps: claim the idempotency key, read the batch, validate it against the
contract, encrypt PII columns, commit one Delta transaction (append,
overwrite or upsert), record the commit. With ``on_error=quarantine`` the
good rows are committed and the rejected rows, with their reasons, go to the
dataset's quarantine table.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from lake.catalog import Catalog
from lake.catalog.models import Commit, utcnow
from lake.contracts import Contract
from lake.crypto import encrypt_array
from lake.datasets import DatasetInfo, DatasetRegistry
from lake.enums import ParsableEnum
from lake.errors import Conflict, ContractViolation, InvalidInput, Violation
from lake.formats import BatchFormat, Source, read_batch
from lake.tables import CommitInfo, DeltaTableIO
from lake.validation import ValidationResult, validate

STALE_CLAIM = dt.timedelta(minutes=15)


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


class Ingestor:
    """Lands batches in datasets; see the module docstring."""

    def __init__(self, catalog: Catalog, registry: DatasetRegistry) -> None:
        self.catalog = catalog
        self.registry = registry

    def _previous(self, info: DatasetInfo, row: Commit, *, replayed: bool = True) -> IngestResult:
        return IngestResult(
            dataset=info.name, commit_id=row.id, mode=WriteMode(row.operation), table_version=row.table_version,
            rows=row.rows, rejected_rows=row.rejected_rows, replayed=replayed,
        )

    def _claim(self, info: DatasetInfo, key: str | None, mode: WriteMode, actor: str, reason: str,
               source: str) -> tuple[int, IngestResult | None]:
        """Insert a pending commit row; with a key already committed, return its result."""
        for _ in range(3):
            try:
                with self.catalog.session() as s:
                    if key is not None:
                        prev = s.scalars(
                            select(Commit).where(Commit.dataset_id == info.id, Commit.idempotency_key == key)
                        ).one_or_none()
                        if prev is not None:
                            if prev.status == "committed":
                                return prev.id, self._previous(info, prev)
                            found = self.registry.table(info).find_idempotency_key(key)
                            if found is not None:  # committed to Delta, catalog not yet updated
                                prev.status, prev.table_version = "committed", found
                                return prev.id, self._previous(info, prev)
                            created = prev.created_at if prev.created_at.tzinfo else prev.created_at.replace(tzinfo=dt.UTC)
                            if utcnow() - created < STALE_CLAIM:
                                raise Conflict(
                                    f"a batch with idempotency key {key!r} is being committed to {info.name}; retry later"
                                )
                            prev.created_at, prev.actor, prev.operation = utcnow(), actor, mode.value
                            return prev.id, None
                    row = Commit(dataset_id=info.id, idempotency_key=key, status="pending", operation=mode.value,
                                 contract_version=info.contract_version, actor=actor, reason=reason, source=source)
                    s.add(row)
                    s.flush()
                    return row.id, None
            except IntegrityError:
                continue  # a concurrent retry claimed the key first: read its state
        raise Conflict(f"could not claim idempotency key {key!r} for {info.name}")

    def _release(self, commit_id: int) -> None:
        with self.catalog.session() as s:
            row = s.get(Commit, commit_id)
            if row is not None and row.status == "pending":
                s.delete(row)

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
            Conflict: the same key is being committed right now.
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

        commit_id, previous = self._claim(info, idempotency_key, mode, actor, reason, source_name)
        if previous is not None:
            return previous
        try:
            return self._land(info, contract, commit_id, source, fmt, actor, mode, on_error, idempotency_key, reason)
        except BaseException:
            self._release(commit_id)
            raise

    def _land(self, info: DatasetInfo, contract: Contract, commit_id: int, source: Source, fmt: BatchFormat,
              actor: str, mode: WriteMode, on_error: OnError, key: str | None, reason: str) -> IngestResult:
        raw = read_batch(source, fmt, contract=contract)
        table = self.registry.table(info)
        existing = None
        if mode is WriteMode.APPEND and contract.primary_key and raw.num_rows:
            existing = table.read(columns=list(contract.primary_key))
        result = validate(raw, contract, existing_keys=existing)
        if result.batch_errors:
            raise ContractViolation(info.name, result.batch_errors + result.violations)
        if result.violations and on_error is OnError.REJECT:
            raise ContractViolation(info.name, result.violations)

        data_key = self.registry.data_key(info)
        good = result.good_rows()
        commit = CommitInfo(actor=actor, reason=reason, idempotency_key=key,
                            extra={"commit_id": str(commit_id), "contract_version": str(info.contract_version)})
        version: int | None = None
        if good.num_rows or mode is WriteMode.OVERWRITE:
            stored = _align(encrypt_pii(good, contract, data_key), table)
            if mode is WriteMode.APPEND:
                version = table.append(stored, commit)
            elif mode is WriteMode.OVERWRITE:
                version = table.overwrite(stored, commit)
            else:
                version = table.upsert(stored, contract.primary_key, commit)

        q_version = None
        if result.bad_count:
            q_table = self.registry.table(info, quarantine=True)
            q_version = q_table.append(quarantine_rows(result, contract, data_key, commit_id), commit)

        with self.catalog.session() as s:
            row = s.get_one(Commit, commit_id)
            row.status = "committed"
            row.table_version = version
            row.rows = good.num_rows
            row.rejected_rows = result.bad_count
        return IngestResult(
            dataset=info.name, commit_id=commit_id, mode=mode, table_version=version, rows=good.num_rows,
            rejected_rows=result.bad_count, quarantine_version=q_version, violations=tuple(result.violations),
        )

    def commits(self, dataset: str, *, limit: int = 100) -> list[dict[str, Any]]:
        """Committed batches of the dataset's current major version, newest first."""
        info = self.registry.get(dataset)
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
