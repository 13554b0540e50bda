"""The audit log: query entries, verify the hash chain (admins on the lake)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from access import Action, AuditKind, Decision
from access.schemas import AuditEntryPublic, AuditVerifyPublic
from api.authz import LAKE, AccessDep, require
from api.params import MAX_INT

router = APIRouter(prefix="/audit", tags=["audit"], dependencies=[require(Action.ADMIN, LAKE)])


@router.get("")
def query_audit(
    access: AccessDep,
    actor: str | None = None,
    kind: Annotated[str | None, Query(description="decision, query, policy_change, access_request, token_use")]
    = None,
    resource: Annotated[str | None, Query(description="A resource key; entries on it and below it.")] = None,
    decision: Annotated[str | None, Query(pattern="^(allow|deny)$")] = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    after_seq: Annotated[int | None, Query(ge=0, le=MAX_INT, description="Entries after this one (paging).")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    oldest_first: bool = False,
) -> list[AuditEntryPublic]:
    """Audit entries matching every filter, newest first."""
    entries = access.audit.query(actor=actor, kind=AuditKind.parse(kind) if kind else None, resource=resource,
                                 decision=Decision(decision) if decision else None, since=since, until=until,
                                 after_seq=after_seq, limit=limit, newest_first=not oldest_first)
    return [AuditEntryPublic.of(e) for e in entries]


@router.get("/verify")
async def verify_audit(
    access: AccessDep,
    expected_head: Annotated[str | None, Query(pattern="^[0-9a-f]{64}$",
                                               description="A head hash noted earlier.")] = None,
) -> AuditVerifyPublic:
    """Walk the hash chain; ``ok`` is false if any entry was edited, removed or reordered."""
    result = await run_in_threadpool(lambda: access.audit.verify(expected_head=expected_head))
    return AuditVerifyPublic.of(result)
