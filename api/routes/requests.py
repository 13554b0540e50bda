"""Access requests: ask for a resource, decide, see your own and those you may decide."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query

from access import Action, Resource
from access.requests import RequestStatus
from access.schemas import RequestCreate, RequestDecision, RequestPublic
from api.authz import BASELINE, AccessDep, known
from api.deps import PrincipalDep, deliver_after
from api.params import Id
from api.schemas import error_responses
from lake.errors import AccessDenied

router = APIRouter(prefix="/access/requests", tags=["access requests"], dependencies=[BASELINE])


@router.post("", status_code=201, responses=error_responses(403, 404, 422))
def create_request(body: RequestCreate, access: AccessDep, principal: PrincipalDep,
                   background: BackgroundTasks) -> RequestPublic:
    """Ask for access to a resource (you must be able to discover it)."""
    target = Resource.parse(body.resource)
    subject = known(access, principal)
    access.require(subject, Action.DISCOVER, target)
    info = access.requests.create(subject, target, columns=body.columns, reason=body.reason,
                                  duration=dt.timedelta(days=body.duration_days), action=Action.parse(body.action))
    deliver_after(background, access.notifier)  # the owners' notices
    return RequestPublic.of(info)


@router.get("")
def list_requests(access: AccessDep, principal: PrincipalDep,
                  status: Annotated[str | None, Query(description="pending, approved, rejected or cancelled")] = None,
                  mine: Annotated[bool, Query(description="Only your own requests.")] = False,
                  ) -> list[RequestPublic]:
    """Your own requests and those you may decide."""
    subject = known(access, principal)
    wanted = RequestStatus.parse(status) if status else None
    out = []
    for r in access.requests.list(status=wanted, requester=subject if mine else None):
        if r.requester == subject or (not mine and access.requests.can_decide(subject, r)):
            out.append(RequestPublic.of(r))
    return out


@router.get("/{request_id}", responses=error_responses(403, 404))
def get_request(request_id: Id, access: AccessDep, principal: PrincipalDep) -> RequestPublic:
    subject = known(access, principal)
    info = access.requests.get(request_id)
    if info.requester != subject and not access.requests.can_decide(subject, info):
        raise AccessDenied(subject, "see", f"access request {request_id}", "only its requester and deciders may")
    return RequestPublic.of(info)


@router.post("/{request_id}/approve", responses=error_responses(403, 404, 409))
def approve_request(request_id: Id, body: RequestDecision, access: AccessDep, principal: PrincipalDep,
                    background: BackgroundTasks) -> RequestPublic:
    """Approve: the requester gets expiring grants (owner, or approve/grant on the resource); with
    ``reveal_pii`` also ``decrypt`` masks on the PII columns it covers, expiring with them (admin on those)."""
    subject = known(access, principal)
    duration = dt.timedelta(days=body.duration_days) if body.duration_days else None
    info = access.requests.approve(request_id, subject, note=body.note, duration=duration, reveal_pii=body.reveal_pii)
    deliver_after(background, access.notifier)
    return RequestPublic.of(info)


@router.post("/{request_id}/reject", responses=error_responses(403, 404, 409))
def reject_request(request_id: Id, body: RequestDecision, access: AccessDep, principal: PrincipalDep,
                   background: BackgroundTasks) -> RequestPublic:
    subject = known(access, principal)
    info = access.requests.reject(request_id, subject, note=body.note)
    deliver_after(background, access.notifier)
    return RequestPublic.of(info)


@router.post("/{request_id}/cancel", responses=error_responses(403, 404, 409))
def cancel_request(request_id: Id, access: AccessDep, principal: PrincipalDep,
                   background: BackgroundTasks) -> RequestPublic:
    subject = known(access, principal)
    info = access.requests.cancel(request_id, subject)
    deliver_after(background, access.notifier)
    return RequestPublic.of(info)
