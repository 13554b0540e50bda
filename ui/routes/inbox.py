"""Inboxes: proposals waiting for me (with their decisions), access requests
waiting for me (approve, reject), my own requests, my notifications, and where
they go (preferences per kind, e-mail and webhook channels)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from starlette.datastructures import FormData

from access import Action
from api.params import Id
from lake.notify import Delivery, NoticeKind
from ui import decisions, services
from ui.inbox import waiting_for
from ui.routing import Me, Posted, UiRoute, form_outcome
from ui.sessions import UiSessionInfo
from ui.templating import UI_PREFIX, render

router = APIRouter(prefix=f"{UI_PREFIX}/inbox", route_class=UiRoute, include_in_schema=False)

DONE = {
    "approved": "The request is approved; the requester has access now.",
    "rejected": "The request is rejected.",
    "cancelled": "Your request is cancelled.",
    "read": "Marked as read.",
    "approve": "Your approval is recorded.",
    "request_changes": "Changes were requested from the authors.",
    "reject": "The proposal was rejected.",
    "start_review": "The review has started; approvers of this stage may decide now.",
    "comment": "Your comment was added.",
    "preferences": "Your notification preferences are saved.",
    "channel": "The channel is added.",
    "channel_removed": "The channel is removed.",
}
DURATIONS = (7, 30, 90, 180)


def inbox_page(request: Request, me: UiSessionInfo, *, flash: str = "", flash_tone: str = "ok",
               status_code: int = 200) -> Response:
    waiting = waiting_for(request, me, notices=50, settings=True)
    control = services.access(request)
    # only a read request can show PII in clear (the approve form's checkbox)
    pii = {r.id: [c.column for c in decisions.pii_columns(control, r)] if r.action is Action.READ else []
           for r in waiting.requests}
    return render(request, "inbox.html", {"waiting": waiting, "pii": pii, "durations": DURATIONS,
                                          "kinds": [k.value for k in NoticeKind],
                                          "deliveries": [d.value for d in Delivery],
                                          "flash": flash, "flash_tone": flash_tone},
                  status_code=status_code, section="inbox")


@router.get("")
def inbox(request: Request, me: Me, done: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """Everything waiting for the signed-in person."""
    return inbox_page(request, me, flash=DONE.get(done or "", ""))


async def _act(request: Request, me: UiSessionInfo, done: str, call: Callable[[], object], anchor: str) -> Response:
    return await form_outcome(call, done=f"{UI_PREFIX}/inbox?done={done}#{anchor}", refused=lambda message, status:
                              inbox_page(request, me, flash=message, flash_tone="bad", status_code=status))


@router.post("/requests/{request_id}/approve")
async def approve_request(
    request: Request, me: Posted, request_id: Id,
    note: Annotated[str, Form(max_length=2000)] = "",
    duration_days: Annotated[int | None, Form(ge=1, le=366)] = None,
    reveal_pii: Annotated[bool, Form()] = False,
) -> Response:
    """Approve an access request (optionally showing its PII columns in clear until the grants expire:
    one transaction, see :meth:`access.requests.AccessRequests.approve`)."""
    control = services.access(request)
    duration = dt.timedelta(days=duration_days) if duration_days else None
    return await _act(request, me, "approved", lambda: control.requests.approve(
        request_id, me.user, note=note, duration=duration, reveal_pii=reveal_pii), "requests")


@router.post("/requests/{request_id}/reject")
async def reject_request(request: Request, me: Posted, request_id: Id,
                         note: Annotated[str, Form(max_length=2000)] = "") -> Response:
    control = services.access(request)
    return await _act(request, me, "rejected",
                      lambda: control.requests.reject(request_id, me.user, note=note), "requests")


@router.post("/requests/{request_id}/cancel")
async def cancel_request(request: Request, me: Posted, request_id: Id) -> Response:
    control = services.access(request)
    return await _act(request, me, "cancelled", lambda: control.requests.cancel(request_id, me.user), "mine")


@router.post("/notices/{notice_id}/read")
async def read_notice(request: Request, me: Posted, notice_id: Id) -> Response:
    inbox_ = services.notifier(request).inbox
    return await _act(request, me, "read", lambda: inbox_.mark_read(me.user, notice_id), "notices")


@router.post("/notices/read-all")
async def read_all(request: Request, me: Posted) -> Response:
    inbox_ = services.notifier(request).inbox
    return await _act(request, me, "read", lambda: inbox_.mark_all_read(me.user), "notices")


def _choices(form: FormData) -> dict[str, list[str]]:
    """``<kind>=<delivery>`` checkboxes as kind to deliveries: every kind is on the form, so one
    with no box ticked goes nowhere."""
    out: dict[str, list[str]] = {k.value: [] for k in NoticeKind}
    for key, value in form.multi_items():
        if key in out and isinstance(value, str):
            out[key].append(value)
    return out


@router.post("/preferences")
async def save_preferences(request: Request, me: Posted) -> Response:
    """Which kinds of notice go to the inbox, to e-mail and to webhooks (the same rule as the API)."""
    choices = _choices(await request.form())
    prefs = services.notifier(request).preferences
    return await _act(request, me, "preferences", lambda: prefs.set(me.user, choices), "settings")


@router.post("/channels")
async def add_channel(request: Request, me: Posted, kind: Annotated[str, Form(max_length=15)],
                      target: Annotated[str, Form(max_length=2000)]) -> Response:
    channels = services.notifier(request).channels
    return await _act(request, me, "channel", lambda: channels.add(me.user, kind, target), "settings")


@router.post("/channels/{channel_id}/remove")
async def remove_channel(request: Request, me: Posted, channel_id: Id) -> Response:
    channels = services.notifier(request).channels
    return await _act(request, me, "channel_removed", lambda: channels.remove(me.user, channel_id), "settings")
