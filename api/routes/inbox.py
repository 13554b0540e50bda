"""Your metric notices (the in-app inbox), your notification channels, and the outbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.authz import BASELINE
from api.deps import PrincipalDep
from api.params import Id
from api.routes.metrics import MetricsDep
from api.schemas import error_responses
from lake.errors import AccessDenied
from metrics_catalog.schemas import (
    ChannelCreate,
    ChannelPublic,
    DeliveryPublic,
    NoticePublic,
)

router = APIRouter(prefix="/inbox", tags=["inbox"], dependencies=[BASELINE])


@router.get("")
def list_notices(metrics: MetricsDep, principal: PrincipalDep,
                 unread: Annotated[bool, Query(description="Only unread notices")] = False,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[NoticePublic]:
    return [NoticePublic.of(n) for n in metrics.inbox.list(principal.name, unread_only=unread, limit=limit)]


@router.post("/read-all")
def read_all(metrics: MetricsDep, principal: PrincipalDep) -> dict[str, int]:
    return {"marked": metrics.inbox.mark_all_read(principal.name)}


@router.get("/channels")
def list_channels(metrics: MetricsDep, principal: PrincipalDep) -> list[ChannelPublic]:
    return [ChannelPublic.of(c) for c in metrics.channels.list(principal.name)]


@router.post("/channels", status_code=201, responses=error_responses(409, 422))
def add_channel(body: ChannelCreate, metrics: MetricsDep, principal: PrincipalDep) -> ChannelPublic:
    """Also send your notices to a webhook (signed; the secret is in this answer only) or an email address."""
    return ChannelPublic.of(metrics.channels.add(principal.name, body.kind, body.target))


@router.delete("/channels/{channel_id}", status_code=204, response_class=Response, responses=error_responses(404))
def remove_channel(channel_id: Id, metrics: MetricsDep, principal: PrincipalDep) -> None:
    metrics.channels.remove(principal.name, channel_id)


@router.post("/outbox/deliver", responses=error_responses(403))
def deliver_outbox(metrics: MetricsDep, principal: PrincipalDep) -> DeliveryPublic:
    """Send pending webhooks and email now (admins)."""
    if not principal.is_admin:
        raise AccessDenied(principal.name, "deliver", "the metric outbox", "needs the admin role")
    report = metrics.outbox.deliver()
    return DeliveryPublic(sent=report.sent, failed=[{"id": i, "error": e} for i, e in report.failed])


@router.post("/{notice_id}/read", responses=error_responses(404))
def read_notice(notice_id: Id, metrics: MetricsDep, principal: PrincipalDep) -> NoticePublic:
    return NoticePublic.of(metrics.inbox.mark_read(principal.name, notice_id))
