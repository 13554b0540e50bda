"""The audit log: append-only, every entry chained to the one before by SHA-256.

Each entry's ``hash`` is ``sha256(prev_hash + "\\n" + body)``, where ``body`` is
the canonical JSON of its time, kind, actor, action, resource, decision and
detail; the order of entries is carried by these links (``seq`` only numbers
them). The newest link is also kept in
``audit_head``. :meth:`AuditLog.verify` walks the chain and reports an edited
entry (its hash no longer matches its content), a removed one (a gap in the
sequence, or a chain shorter than the head says), and reordered ones (an
entry chained to a predecessor other than the one before it).

Appends lock the head row first (``UPDATE audit_head``: a row lock on
PostgreSQL, the write lock on SQLite), so two writers never fork the chain;
the unique ``seq`` and ``hash`` columns back that up, and a writer that loses
a race anyway retries.

An attacker who can rewrite the whole database can rebuild a consistent
chain; keep the head hash (``lakegate audit verify`` prints it) somewhere
else and pass it as ``expected_head`` to detect that.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from access.models import AuditEntryRow, AuditHead
from lake.catalog import Catalog
from lake.enums import ParsableEnum

GENESIS_HASH = "0" * 64
_RETRIES = 8
_VERIFY_BATCH = 2000


class AuditKind(ParsableEnum, label="audit entry kind"):
    DECISION = "decision"  # an allow or deny answer of require()
    QUERY = "query"  # a gateway query
    POLICY_CHANGE = "policy_change"  # a grant, membership, mask, row filter or role changed
    ACCESS_REQUEST = "access_request"  # a request was made, approved, rejected or cancelled
    TOKEN_USE = "token_use"  # an API token authenticated a caller
    FAILURE = "failure"  # a request failed with an internal error
    REFUSAL = "refusal"  # a request refused by a bound (concurrency, queue, sign-in attempts)


class Decision(enum.StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    NONE = ""


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: dt.datetime
    kind: AuditKind
    actor: str
    action: str
    resource: str
    decision: Decision
    detail: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditProblem:
    """One place where the chain does not verify."""

    seq: int
    kind: str  # edited, removed, reordered
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "kind": self.kind, "message": self.message}


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    problems: tuple[AuditProblem, ...] = field(default=())


def canonical(value: Mapping[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _body(ts_us: int, kind: str, actor: str, action: str, resource: str, decision: str, detail: str) -> str:
    return canonical({"ts_us": ts_us, "kind": kind, "actor": actor, "action": action, "resource": resource,
                      "decision": decision, "detail": detail})


def chain_hash(prev_hash: str, body: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def _row_hash(row: AuditEntryRow) -> str:
    return chain_hash(row.prev_hash, _body(row.ts_us, row.kind, row.actor, row.action, row.resource, row.decision,
                                           row.detail))


def _entry(row: AuditEntryRow) -> AuditEntry:
    return AuditEntry(
        seq=row.seq, at=dt.datetime.fromtimestamp(row.ts_us / 1e6, dt.UTC), kind=AuditKind(row.kind),
        actor=row.actor, action=row.action, resource=row.resource, decision=Decision(row.decision),
        detail=json.loads(row.detail), prev_hash=row.prev_hash, hash=row.hash,
    )


class AuditLog:
    """The tamper-evident audit log in the catalog."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def append(self, s: Session, kind: AuditKind, *, actor: str, action: str = "", resource: str = "",
               decision: Decision | str = Decision.NONE, detail: Mapping[str, Any] | None = None) -> AuditEntry:
        """Append an entry inside the caller's transaction (it commits with the caller's change)."""
        kind = AuditKind(kind)
        decision = Decision(decision)
        text = canonical(dict(detail or {}))
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq))  # take the lock
        head = s.scalars(select(AuditHead).where(AuditHead.id == 1)).one()
        seq = head.seq + 1
        ts_us = time.time_ns() // 1000
        digest = chain_hash(head.hash, _body(ts_us, kind.value, actor, action, resource, decision.value, text))
        row = AuditEntryRow(seq=seq, ts_us=ts_us, kind=kind.value, actor=actor, action=action, resource=resource,
                            decision=decision.value, detail=text, prev_hash=head.hash, hash=digest)
        s.add(row)
        s.flush()
        head.seq, head.hash = seq, digest
        s.flush()
        return _entry(row)

    def record(self, kind: AuditKind, *, actor: str, action: str = "", resource: str = "",
               decision: Decision | str = Decision.NONE, detail: Mapping[str, Any] | None = None) -> AuditEntry:
        """Append an entry in its own transaction (for gateway queries, decisions, token use).

        Args:
            kind: What happened.
            actor: Who did it (the subject).
            action: The action asked for, e.g. ``read``.
            resource: The resource key, e.g. ``dataset:ads.conversions``.
            decision: ``allow``, ``deny`` or empty.
            detail: JSON-serializable facts (the SQL, row count, reason...). Never put keys or tokens here.
        """
        for attempt in range(_RETRIES):
            try:
                with self.catalog.session() as s:
                    return self.append(s, kind, actor=actor, action=action, resource=resource,
                                       decision=decision, detail=detail)
            except (IntegrityError, OperationalError):
                if attempt == _RETRIES - 1:
                    raise
                time.sleep(0.005 * (attempt + 1))
        raise AssertionError("unreachable")

    def query(self, *, actor: str | None = None, kind: AuditKind | None = None, resource: str | None = None,
              decision: Decision | None = None, since: dt.datetime | None = None, until: dt.datetime | None = None,
              after_seq: int | None = None, before_seq: int | None = None, limit: int = 100,
              newest_first: bool = True) -> list[AuditEntry]:
        """Entries matching every given filter; ``resource`` matches the key and everything under it."""
        q = select(AuditEntryRow)
        if actor:
            q = q.where(AuditEntryRow.actor == actor)
        if kind:
            q = q.where(AuditEntryRow.kind == AuditKind(kind).value)
        if resource:
            q = q.where((AuditEntryRow.resource == resource) | AuditEntryRow.resource.startswith(resource + ".",
                                                                                                 autoescape=True))
        if decision:
            q = q.where(AuditEntryRow.decision == Decision(decision).value)
        if since:
            q = q.where(AuditEntryRow.ts_us >= int(since.timestamp() * 1e6))
        if until:
            q = q.where(AuditEntryRow.ts_us < int(until.timestamp() * 1e6))
        if after_seq is not None:
            q = q.where(AuditEntryRow.seq > after_seq)
        if before_seq is not None:
            q = q.where(AuditEntryRow.seq < before_seq)
        q = q.order_by(AuditEntryRow.seq.desc() if newest_first else AuditEntryRow.seq).limit(limit)
        with self.catalog.session() as s:
            return [_entry(r) for r in s.scalars(q)]

    def head(self) -> tuple[int, str]:
        """The newest sequence number and hash."""
        with self.catalog.session() as s:
            head = s.scalars(select(AuditHead).where(AuditHead.id == 1)).one()
            return head.seq, head.hash

    def _rows(self) -> Iterator[AuditEntryRow]:
        last = None
        while True:
            q = select(AuditEntryRow).order_by(AuditEntryRow.seq).limit(_VERIFY_BATCH)
            if last is not None:
                q = q.where(AuditEntryRow.seq > last)
            with self.catalog.session() as s:
                rows = list(s.scalars(q))
            if not rows:
                return
            yield from rows
            last = rows[-1].seq

    def _seq_of(self, digest: str) -> int | None:
        with self.catalog.session() as s:
            return s.scalars(select(AuditEntryRow.seq).where(AuditEntryRow.hash == digest)).one_or_none()

    def verify(self, *, expected_head: str | None = None) -> VerifyResult:
        """Walk the chain from the first entry and report every place it breaks.

        Args:
            expected_head: A head hash noted earlier outside the database; the
                chain must still contain it.
        """
        problems: list[AuditProblem] = []
        prev_hash, prev_seq, count = GENESIS_HASH, 0, 0
        for row in self._rows():
            count += 1
            if row.seq != prev_seq + 1:
                problems.append(AuditProblem(row.seq, "removed",
                                             f"entries {prev_seq + 1}..{row.seq - 1} are missing before entry {row.seq}"))
            if _row_hash(row) != row.hash:
                problems.append(AuditProblem(row.seq, "edited",
                                             f"entry {row.seq} does not match its hash: its content was changed"))
            elif row.prev_hash != prev_hash:
                origin = self._seq_of(row.prev_hash) if row.prev_hash != GENESIS_HASH else 0
                if origin is not None:
                    problems.append(AuditProblem(row.seq, "reordered",
                                                 f"entry {row.seq} was written after entry {origin}, "
                                                 f"not after entry {prev_seq}: entries were reordered"))
                elif row.seq == prev_seq + 1:
                    problems.append(AuditProblem(row.seq, "removed",
                                                 f"entry {row.seq} follows an entry that is no longer in the log "
                                                 "(removed, or changed and rehashed)"))
            prev_hash, prev_seq = row.hash, row.seq
        head_seq, head_hash = self.head()
        if (head_seq, head_hash) != (prev_seq, prev_hash):
            if head_seq > prev_seq:
                problems.append(AuditProblem(prev_seq + 1, "removed",
                                             f"the log ends at entry {prev_seq} but its head says {head_seq}"))
            else:
                problems.append(AuditProblem(head_seq, "edited",
                                             f"the head (entry {head_seq}) does not match the last entry {prev_seq}"))
        if expected_head is not None and expected_head != GENESIS_HASH and self._seq_of(expected_head) is None:
            problems.append(AuditProblem(prev_seq, "removed",
                                         f"the expected head {expected_head[:12]}… is no longer in the log"))
        problems.sort(key=lambda p: p.seq)
        return VerifyResult(not problems, count, head_seq, head_hash, tuple(dict.fromkeys(problems)))
