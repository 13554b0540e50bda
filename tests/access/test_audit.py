"""The audit log on SQLite and PostgreSQL: verify detects every tampering, and
concurrent writers never fork the chain."""

from __future__ import annotations

import itertools
import threading

import pytest
from sqlalchemy import delete, select, update

from access import AccessControl, AuditKind, Decision
from access.audit import AuditLog
from access.models import AuditEntryRow, AuditHead
from lake.service import Lake


def fill(log: AuditLog, n: int = 6) -> None:
    for i in range(n):
        log.record(AuditKind.QUERY, actor=f"user{i}", action="read", resource=f"dataset:ads.t{i}",
                   decision=Decision.ALLOW, detail={"sql": f"SELECT {i}", "rows": i})


def kinds(result: object) -> list[tuple[int, str]]:
    return [(p.seq, p.kind) for p in result.problems]  # type: ignore[attr-defined]


def test_an_untouched_log_verifies(any_ac: AccessControl) -> None:
    log = any_ac.audit
    fill(log)
    result = log.verify()
    assert result.ok and result.entries == 6 and result.head_seq == 6
    entries = log.query(limit=10, newest_first=False)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert entries[2].detail == {"sql": "SELECT 2", "rows": 2}
    assert [e.actor for e in log.query(actor="user3")] == ["user3"]
    assert len(log.query(resource="dataset:ads.t1")) == 1


def test_an_edited_entry_is_detected(any_ac: AccessControl) -> None:
    fill(any_ac.audit)
    with any_ac.lake.catalog.session() as s:
        s.execute(update(AuditEntryRow).where(AuditEntryRow.seq == 3).values(decision="deny"))
    assert kinds(any_ac.audit.verify()) == [(3, "edited")]


def test_an_edited_and_rehashed_entry_is_detected(any_ac: AccessControl) -> None:
    fill(any_ac.audit)
    from access.audit import _row_hash

    with any_ac.lake.catalog.session() as s:
        row = s.get_one(AuditEntryRow, 3)
        row.actor = "someone-else"
        s.flush()
        row.hash = _row_hash(row)
    result = any_ac.audit.verify()
    assert not result.ok and (4, "removed") in kinds(result)


def test_a_removed_entry_is_detected(any_ac: AccessControl) -> None:
    fill(any_ac.audit)
    with any_ac.lake.catalog.session() as s:
        s.execute(delete(AuditEntryRow).where(AuditEntryRow.seq == 4))
    result = any_ac.audit.verify()
    assert (5, "removed") in kinds(result) and not result.ok


def test_removed_and_renumbered_entries_are_detected(any_ac: AccessControl) -> None:
    fill(any_ac.audit)
    with any_ac.lake.catalog.session() as s:
        s.execute(delete(AuditEntryRow).where(AuditEntryRow.seq == 2))
        for seq in (3, 4, 5, 6):
            s.execute(update(AuditEntryRow).where(AuditEntryRow.seq == seq).values(seq=seq - 1))
        s.execute(update(AuditHead).values(seq=5))
    assert kinds(any_ac.audit.verify()) == [(2, "removed")]


def test_the_last_entry_removed_is_detected(any_ac: AccessControl) -> None:
    fill(any_ac.audit)
    _, head = any_ac.audit.head()
    with any_ac.lake.catalog.session() as s:
        s.execute(delete(AuditEntryRow).where(AuditEntryRow.seq == 6))
    assert kinds(any_ac.audit.verify()) == [(6, "removed")]
    # even if the head row is rewritten too, a head noted elsewhere catches it
    with any_ac.lake.catalog.session() as s:
        last = s.get_one(AuditEntryRow, 5)
        s.execute(update(AuditHead).values(seq=5, hash=last.hash))
    assert any_ac.audit.verify().ok
    assert kinds(any_ac.audit.verify(expected_head=head)) == [(5, "removed")]


def test_reordered_entries_are_detected(any_ac: AccessControl) -> None:
    fill(any_ac.audit)
    with any_ac.lake.catalog.session() as s:
        s.execute(update(AuditEntryRow).where(AuditEntryRow.seq == 2).values(seq=-2))
        s.execute(update(AuditEntryRow).where(AuditEntryRow.seq == 3).values(seq=2))
        s.execute(update(AuditEntryRow).where(AuditEntryRow.seq == -2).values(seq=3))
    result = any_ac.audit.verify()
    assert {k for _, k in kinds(result)} == {"reordered"} and {s for s, _ in kinds(result)} >= {2, 3}


def test_concurrent_writers_do_not_fork_the_chain(any_lake: Lake) -> None:
    """Two processes' worth of writers (separate engines), appending at once."""
    lakes = [any_lake, Lake(any_lake.settings)]
    logs = [AuditLog(lk.catalog) for lk in lakes]
    errors: list[Exception] = []

    def write(log: AuditLog, who: str) -> None:
        try:
            for i in range(25):
                log.record(AuditKind.DECISION, actor=who, action="read", resource="lake", detail={"i": i})
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(log, f"w{j}{k}"))
               for j, log in enumerate(logs) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lakes[1].close()
    assert errors == []
    result = logs[0].verify()
    assert result.ok and result.entries == 100 and result.head_seq == 100
    with any_lake.catalog.session() as s:
        prevs = list(s.scalars(select(AuditEntryRow.prev_hash)))
    assert len(set(prevs)) == 100  # no two entries share a predecessor: no fork


def test_policy_changes_and_their_audit_entries_commit_together(any_ac: AccessControl) -> None:
    from access import Action, Resource
    from lake.errors import NotFound

    with pytest.raises(NotFound):
        any_ac.grant("ghost", Action.READ, Resource.table("ads.x"))
    before = any_ac.audit.head()
    any_ac.create_role("auditors")
    any_ac.grant("auditors", Action.READ, Resource.table("ads.x"))
    entries = any_ac.audit.query(kind=AuditKind.POLICY_CHANGE, limit=5)
    assert [e.action for e in entries][:2] == ["add grant", "add role"]
    assert any_ac.audit.head()[0] == before[0] + 2
    assert any_ac.audit.verify().ok
