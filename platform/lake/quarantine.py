"""The quarantine of a dataset: rows ingestion rejected, why, and replaying them.

With ``on_error=quarantine`` ingestion commits a batch's good rows and
appends its rejected rows to the dataset's quarantine table, a Delta table
beside the dataset's own (``v<major>_quarantine``, :data:`lake.ingest.QUARANTINE_SCHEMA`):
the row as received (PII values encrypted apart), its batch's commit, its row
number in the batch, and the rules it broke (``column: rule; ...``).

A **replay** checks the quarantined rows again against the dataset's current
contract (after the producer fixed the contract, or the rules changed) and
lands those that now pass in one commit, like a batch appended under the
table's write lock, its primary keys checked against the table; the others
stay quarantined. The rows landed are recorded in the catalog
(:class:`~lake.catalog.models.QuarantineReplay`) with the replay's commit and
count as replayed only once that commit is committed: a replay that dies
before its Delta commit is undone with its records (see
:meth:`lake.ingest.Ingestor.settle`), one that dies after it is recorded from
the Delta log, so a row lands once, and nothing already in the table or the
quarantine is changed or lost.

Who may read the quarantine and replay it is the access layer's rule
(``access.producers``); this module does what it is asked.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import insert, select

from lake.catalog.models import Commit, QuarantineReplay, utcnow
from lake.contracts import Contract
from lake.crypto import decrypt_array
from lake.datasets import DatasetInfo
from lake.ingest import Ingestor, WriteMode, _align, encrypt_pii
from lake.tables import CommitInfo
from lake.validation import ValidationResult, mark_existing_keys, validate

#: The source recorded on a replay's commit.
REPLAY_SOURCE = "quarantine replay"
#: Rows shown by default; a page never reads more than it shows.
DEFAULT_LIMIT = 200


@dataclass(frozen=True)
class RowReason:
    """One rule a quarantined row broke: the column (``None`` for the whole row) and the rule."""

    column: str | None
    rule: str

    def as_dict(self) -> dict[str, Any]:
        return {"column": self.column, "rule": self.rule}


def split_reasons(text: str) -> tuple[RowReason, ...]:
    """A quarantined row's reasons (``"country: value not in allowed set [...]; amount: ..."``) one by one."""
    out = []
    for part in (p.strip() for p in (text or "").split("; ")):
        if not part:
            continue
        column, sep, rule = part.partition(": ")
        out.append(RowReason(column, rule) if sep else RowReason(None, part))
    return tuple(out)


@dataclass(frozen=True)
class QuarantinedRow:
    """A row waiting in quarantine.

    Attributes:
        commit_id: The commit of the batch it came with.
        row_number: Its place in that batch (1-based).
        reasons: The rules it broke when it arrived.
        values: Its values as received, PII columns left out.
        pii_columns: PII columns it has a value for (kept encrypted, never shown).
        quarantined_at: When it arrived.
    """

    commit_id: int
    row_number: int
    reasons: tuple[RowReason, ...]
    values: dict[str, Any]
    pii_columns: tuple[str, ...]
    quarantined_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {"commit_id": self.commit_id, "row_number": self.row_number,
                "reasons": [r.as_dict() for r in self.reasons], "values": self.values,
                "pii_columns": list(self.pii_columns), "quarantined_at": self.quarantined_at.isoformat()}


@dataclass(frozen=True)
class QuarantineListing:
    """The rows waiting in a dataset's quarantine (the oldest first, up to a limit)."""

    dataset: str
    major: int
    waiting: int
    replayed: int
    rows: tuple[QuarantinedRow, ...]

    @property
    def truncated(self) -> bool:
        return self.waiting > len(self.rows)


@dataclass(frozen=True)
class TrendPoint:
    """Rows quarantined on one day (UTC) for breaking one rule."""

    day: dt.date
    column: str | None
    rule: str
    rows: int


@dataclass(frozen=True)
class ReplayedRow:
    """A row the replay left in quarantine, with the rules it breaks under the current contract."""

    commit_id: int
    row_number: int
    reasons: tuple[RowReason, ...]


@dataclass(frozen=True)
class ReplayResult:
    """What a replay landed, and what it left.

    Attributes:
        dataset: ``domain.dataset``.
        contract_version: The contract the rows were checked against.
        checked: Rows checked (every row waiting).
        landed: Rows that pass now and were landed (or, in a dry run, would be).
        commit_id: The replay's commit (``None`` in a dry run or when nothing landed).
        table_version: The Delta version it made.
        still_failing: The rows left in quarantine, with their current reasons.
        dry_run: Nothing was written.
    """

    dataset: str
    contract_version: int
    checked: int
    landed: int
    commit_id: int | None
    table_version: int | None
    still_failing: tuple[ReplayedRow, ...] = field(default_factory=tuple)
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "contract_version": self.contract_version, "checked": self.checked,
                "landed": self.landed, "commit_id": self.commit_id, "table_version": self.table_version,
                "dry_run": self.dry_run,
                "still_failing": [{"commit_id": r.commit_id, "row_number": r.row_number,
                                   "reasons": [x.as_dict() for x in r.reasons]} for r in self.still_failing]}


_KEYS = ["commit_id", "row_number"]


def _text(value: Any, dtype: pa.DataType) -> Any:
    """A value as quarantined (JSON) back to what a batch would carry: text, or bytes for binary columns."""
    if value is None:
        return None
    if type(value) is str and not (pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype)):
        return value  # the common case, first
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        try:
            return bytes.fromhex(value) if isinstance(value, str) else None
        except ValueError:
            return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


class Quarantine:
    """Reading and replaying the quarantine tables of one lake.

    Args:
        ingestor: The lake's ingestor (its write lock and commit records).
    """

    def __init__(self, ingestor: Ingestor) -> None:
        self.ingestor = ingestor
        self.registry = ingestor.registry
        self.catalog = ingestor.catalog

    # -- reading -------------------------------------------------------------------------------

    def _replayed(self, info: DatasetInfo) -> pa.Table:
        """``(commit_id, row_number)`` of the rows landed by committed replays."""
        with self.catalog.session() as s:
            rows = s.execute(select(QuarantineReplay.source_commit_id, QuarantineReplay.row_number)
                             .join(Commit, Commit.id == QuarantineReplay.commit_id)
                             .where(QuarantineReplay.dataset_id == info.id, Commit.status == "committed")).all()
        return pa.table({"commit_id": pa.array([r[0] for r in rows], pa.int64()),
                         "row_number": pa.array([r[1] for r in rows], pa.int64())})

    def _waiting(self, info: DatasetInfo, columns: list[str] | None = None) -> tuple[pa.Table, int]:
        """The quarantined rows not replayed yet (oldest first), and how many were replayed."""
        table = self.registry.table(info, quarantine=True)
        if not table.exists():
            return pa.table({k: pa.array([], pa.int64()) for k in _KEYS}), 0
        wanted = None if columns is None else list(dict.fromkeys([*_KEYS, *columns]))
        rows = table.read(columns=wanted)
        replayed = self._replayed(info)
        if replayed.num_rows:
            rows = rows.join(replayed, keys=_KEYS, join_type="left anti")
        return rows.sort_by([("commit_id", "ascending"), ("row_number", "ascending")]), replayed.num_rows

    def rows(self, dataset: str, *, limit: int = DEFAULT_LIMIT) -> QuarantineListing:
        """The rows waiting in ``dataset``'s quarantine (current major), the oldest ``limit`` of them.

        PII values are never decrypted here: a row names the PII columns it has a value for.
        """
        info = self.registry.get(dataset)
        waiting, replayed = self._waiting(info, ["reasons", "record", "pii_record", "quarantined_at"])
        shown = waiting.slice(0, max(limit, 0))
        out = []
        for row in shown.to_pylist():
            values = json.loads(row["record"] or "{}")
            pii = tuple(c for c in info.contract.pii_columns) if row["pii_record"] is not None else ()
            out.append(QuarantinedRow(int(row["commit_id"]), int(row["row_number"]), split_reasons(row["reasons"]),
                                      values, pii, row["quarantined_at"]))
        return QuarantineListing(info.name, info.major, waiting.num_rows, replayed, tuple(out))

    def trend(self, dataset: str, *, days: int = 30, now: dt.datetime | None = None) -> list[TrendPoint]:
        """Rows quarantined per day (UTC) and rule over the last ``days`` days, replayed ones included
        (they broke the contract of their day), the newest day first."""
        info = self.registry.get(dataset)
        table = self.registry.table(info, quarantine=True)
        if not table.exists():
            return []
        since = (now or utcnow()) - dt.timedelta(days=days)
        data = table.read(columns=["reasons", "quarantined_at"])
        data = data.filter(pc.greater_equal(data["quarantined_at"], pa.scalar(since, data["quarantined_at"].type)))
        if not data.num_rows:
            return []
        parts = pc.split_pattern(data["reasons"], "; ").combine_chunks()
        parents = pc.list_parent_indices(parts)
        day = pc.take(pc.cast(data["quarantined_at"], pa.date32()), parents)
        counts: Counter[tuple[dt.date, str]] = Counter()
        grouped = pa.table({"day": day, "reason": pc.list_flatten(parts)}).group_by(["day", "reason"]).aggregate(
            [([], "count_all")])
        for d, reason, n in zip(grouped["day"].to_pylist(), grouped["reason"].to_pylist(),
                                grouped["count_all"].to_pylist(), strict=True):
            if reason:
                counts[(d, reason)] += int(n)
        points = []
        for (d, reason), n in counts.items():
            (rr,) = split_reasons(reason) or (RowReason(None, reason),)
            points.append(TrendPoint(d, rr.column, rr.rule, n))
        return sorted(points, key=lambda p: (-p.day.toordinal(), -p.rows, p.column or "", p.rule))

    # -- replay --------------------------------------------------------------------------------

    def _batch(self, info: DatasetInfo, waiting: pa.Table, key: bytes) -> pa.Table:
        """The waiting rows as a batch again: every column as text (bytes for binary), as a CSV batch is."""
        contract = info.contract
        secrets = (decrypt_array(waiting["pii_record"], key, pa.string()).to_pylist()
                   if contract.pii_columns else [None] * waiting.num_rows)
        records = [{**json.loads(r or "{}"), **json.loads(p or "{}")}
                   for r, p in zip(waiting["record"].to_pylist(), secrets, strict=True)]
        names = list(dict.fromkeys(k for r in records for k in r))
        columns = {}
        for name in names:
            try:
                dtype = contract.column(name).type
            except KeyError:
                dtype = pa.string()
            binary = pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype)
            columns[name] = pa.array([_text(r.get(name), dtype) for r in records],
                                     pa.binary() if binary else pa.string())
        return pa.table(columns) if columns else pa.table({})

    @staticmethod
    def _failing(result: ValidationResult, waiting: pa.Table) -> tuple[ReplayedRow, ...]:
        ids, numbers = waiting["commit_id"].to_pylist(), waiting["row_number"].to_pylist()
        batch = "; ".join(f"{v.column}: {v.reason}" if v.column else v.reason for v in result.batch_errors)
        if batch:
            return tuple(ReplayedRow(int(c), int(n), split_reasons(batch)) for c, n in zip(ids, numbers, strict=True))
        return tuple(ReplayedRow(int(ids[i]), int(numbers[i]), split_reasons(result.reasons[int(i)]))
                     for i in np.flatnonzero(result.bad))

    def replay(self, dataset: str, *, actor: str, dry_run: bool = False, reason: str = "") -> ReplayResult:
        """Land the quarantined rows that pass ``dataset``'s current contract; leave the others.

        Under the table's write lock: the waiting rows are read, checked against
        the current contract and against the primary keys already in the table,
        and those that pass are appended in one commit (source ``quarantine
        replay``) recorded with the rows it landed. Rows that still fail stay
        quarantined as they were.

        Args:
            dataset: ``domain.dataset`` (its current major version).
            actor: Who replays (recorded in the commit).
            dry_run: Only check: say what would land and what would stay.
            reason: Why (recorded in the commit).

        Raises:
            NotFound: No such dataset.
            TableBusy: Another writer held the table for too long (nothing written).
        """
        info = self.registry.get(dataset)
        contract = info.contract
        with self.ingestor.writing(info):
            waiting, _ = self._waiting(info, ["record", "pii_record"])
            if not waiting.num_rows:
                return ReplayResult(info.name, info.contract_version, 0, 0, None, None, dry_run=dry_run)
            key = self.registry.data_key(info)
            result = validate(self._batch(info, waiting, key), contract)
            if not result.batch_errors and contract.primary_key and (~result.bad).any():
                good_keys = result.table.filter(pa.array(~result.bad)).select(list(contract.primary_key))
                existing = self.registry.table(info).find_keys(good_keys)
                result = mark_existing_keys(result, contract, existing)
            failing = self._failing(result, waiting)
            landed = 0 if result.batch_errors else int(waiting.num_rows - np.count_nonzero(result.bad))
            if dry_run or not landed:
                return ReplayResult(info.name, info.contract_version, waiting.num_rows, landed, None, None,
                                    failing, dry_run)
            return self._land(info, contract, waiting, result, failing, actor, reason)

    def _land(self, info: DatasetInfo, contract: Contract, waiting: pa.Table, result: ValidationResult,
              failing: tuple[ReplayedRow, ...], actor: str, reason: str) -> ReplayResult:
        """Claim, record the rows, commit to Delta, mark committed (the lock is held)."""
        good = pa.array(~result.bad)
        stored = encrypt_pii(result.good_rows(), contract, self.registry.data_key(info))
        landed_keys = waiting.select(_KEYS).filter(good)
        why = reason or f"replay of quarantined rows against contract version {info.contract_version}"
        commit_id = self.ingestor.claim(info, None, WriteMode.APPEND, actor, why, REPLAY_SOURCE)
        try:
            with self.catalog.session() as s:  # one Core executemany: ORM objects cost ~0.4 ms a row
                s.connection().execute(insert(QuarantineReplay), [
                    {"commit_id": commit_id, "dataset_id": info.id, "source_commit_id": c, "row_number": n}
                    for c, n in zip(landed_keys["commit_id"].to_pylist(), landed_keys["row_number"].to_pylist(),
                                    strict=True)])
            table = self.registry.table(info, exclusive=True)
            commit = CommitInfo(actor=actor, reason=why, extra={
                "commit_id": str(commit_id), "contract_version": str(info.contract_version),
                "rows": str(stored.num_rows), "rejected_rows": "0", "replay": "quarantine"})
            unique = tuple(contract.primary_key) if len(contract.primary_key) == 1 else ()
            version = table.append(_align(stored, table), commit, unique=unique)
            with self.catalog.session() as s:
                row = s.get_one(Commit, commit_id)
                row.status, row.table_version, row.rows, row.rejected_rows = "committed", version, stored.num_rows, 0
        except BaseException:
            self.ingestor.settle_after_failure(info, commit_id)
            raise
        return ReplayResult(info.name, info.contract_version, waiting.num_rows, stored.num_rows, commit_id, version,
                            failing)


__all__ = ["REPLAY_SOURCE", "Quarantine", "QuarantineListing", "QuarantinedRow", "ReplayResult", "ReplayedRow",
           "RowReason", "TrendPoint", "split_reasons"]
