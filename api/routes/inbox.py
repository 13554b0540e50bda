"""Your notices (the in-app inbox), where they go (preferences, channels), and the outbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.authz import BASELINE
from api.deps import NotifierDep, PrincipalDep
from api.params import Id
from api.schemas import error_responses
from lake.errors import AccessDenied
from metrics_catalog.schemas import (
    ChannelCreate,
    ChannelPublic,
    DeliveryPublic,
    NoticePublic,
    PreferencesPublic,
    PreferencesUpdate,
)

router = APIRouter(prefix="/inbox", tags=["inbox"], dependencies=[BASELINE])


@router.get("")
def list_notices(notifier: NotifierDep, principal: PrincipalDep,
                 unread: Annotated[bool, Query(description="Only unread notices")] = False,
                 open_only: Annotated[bool, Query(alias="open", description="Only notices still waiting "
                                                  "(not done)")] = False,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[NoticePublic]:
    return [NoticePublic.of(n) for n in notifier.inbox.list(principal.name, unread_only=unread,
                                                            open_only=open_only, limit=limit)]


@router.post("/read-all")
def read_all(notifier: NotifierDep, principal: PrincipalDep) -> dict[str, int]:
    return {"marked": notifier.inbox.mark_all_read(principal.name)}


@router.get("/preferences")
def get_preferences(notifier: NotifierDep, principal: PrincipalDep) -> PreferencesPublic:
    """Where each kind of your notices goes: the inbox, your email channels, your webhooks."""
    return PreferencesPublic.of(notifier.preferences.get(principal.name))


@router.put("/preferences", responses=error_responses(422))
def set_preferences(body: PreferencesUpdate, notifier: NotifierDep, principal: PrincipalDep) -> PreferencesPublic:
    """Choose the deliveries of some kinds (others keep theirs); ``reset`` kinds go back to the default."""
    return PreferencesPublic.of(notifier.preferences.set(principal.name, body.deliveries, reset=body.reset))


@router.get("/channels")
def list_channels(notifier: NotifierDep, principal: PrincipalDep) -> list[ChannelPublic]:
    return [ChannelPublic.of(c) for c in notifier.channels.list(principal.name)]


@router.post("/channels", status_code=201, responses=error_responses(409, 422))
def add_channel(body: ChannelCreate, notifier: NotifierDep, principal: PrincipalDep) -> ChannelPublic:
    """Also send your notices to a webhook (signed; the secret is in this answer only) or an email address."""
    return ChannelPublic.of(notifier.channels.add(principal.name, body.kind, body.target))


@router.delete("/channels/{channel_id}", status_code=204, response_class=Response, responses=error_responses(404))
def remove_channel(channel_id: Id, notifier: NotifierDep, principal: PrincipalDep) -> None:
    notifier.channels.remove(principal.name, channel_id)


@router.post("/outbox/deliver", responses=error_responses(403))
def deliver_outbox(notifier: NotifierDep, principal: PrincipalDep) -> DeliveryPublic:
    """Send pending webhooks and email now (admins)."""
    if not principal.is_admin:
        raise AccessDenied(principal.name, "deliver", "the notification outbox", "needs the admin role")
    report = notifier.outbox.deliver()
    return DeliveryPublic(sent=report.sent, failed=[{"id": i, "error": e} for i, e in report.failed])


@router.post("/{notice_id}/read", responses=error_responses(404))
def read_notice(notice_id: Id, notifier: NotifierDep, principal: PrincipalDep) -> NoticePublic:
    return NoticePublic.of(notifier.inbox.mark_read(principal.name, notice_id))
