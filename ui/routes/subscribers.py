"""Subscriber pages: the Redshift, EMR and SageMaker engines reading the lake.

The list shows the subscribers the person may act for; a subscriber's page
shows its roles, which tables it may read raw and why the others only
governed (the access layer's fail-closed rule, :mod:`access.subscribers.raw`),
the credentials vended to it, its exports, and for Redshift the plan from the
applied state to the wanted one. Who may see a subscriber, suspend it and
resume it is decided by :class:`~access.subscribers.Subscribers`, as for the
API: the subscriber itself, its owner or an admin may see and suspend it; only
an admin may resume it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from access import Action, Resource
from access.subscribers import Subscriber, SubscriberKind
from lake.catalog.models import utcnow
from lake.errors import AccessDenied
from ui import services
from ui.routing import Me, Posted, UiRoute, form_outcome
from ui.sessions import UiSessionInfo
from ui.templating import UI_PREFIX, render

router = APIRouter(prefix=f"{UI_PREFIX}/subscribers", route_class=UiRoute, include_in_schema=False)

CREDENTIALS_SHOWN = 20
#: Each engine as people call it.
ENGINES = {SubscriberKind.REDSHIFT.value: "Redshift", SubscriberKind.EMR.value: "EMR (Spark)",
           SubscriberKind.SAGEMAKER.value: "SageMaker"}
DONE = {"suspended": "The subscriber is suspended: its role policy is removed and its credentials stop working.",
        "resumed": "The subscriber is active again: its role policy was written anew."}


@router.get("")
def subscriber_list(request: Request, me: Me) -> Response:
    """The subscribers the signed-in person may act for (every one, for an admin)."""
    subs = services.subscribers(request)
    shown = [s for s in subs.list() if subs.registry.may_act_for(me.user, s)]
    return render(request, "subscribers.html", {"subscribers": shown, "engines": ENGINES}, section="subscribers")


def subscriber_page(request: Request, me: UiSessionInfo, name: str, *, flash: str = "", flash_tone: str = "ok",
                    status_code: int = 200) -> Response:
    subs = services.subscribers(request)
    sub = subs.registry.require_acting_for(me.user, name, "read")
    is_admin = services.access(request).can(me.user, Action.ADMIN, Resource.lake())
    plan = subs.plan_policy(name)
    redshift = applied = applied_at = None
    if sub.kind is SubscriberKind.REDSHIFT:
        # The dry run of the API without writing manifests: partitions as last applied.
        redshift = subs.redshift.plan(name, write_manifests=False)
        applied = sorted(subs.redshift.applied(name).values(), key=lambda o: (o.kind.value, o.key))
        applied_at = subs.redshift.applied_at(name)
    return render(request, "subscriber.html", {
        "sub": sub, "plan": plan, "credentials": subs.credentials(name, include_inactive=True)[:CREDENTIALS_SHOWN],
        "exports": subs.exports.list(name, limit=20), "redshift": redshift, "applied": applied,
        "applied_at": applied_at, "is_admin": is_admin, "engines": ENGINES, "now": utcnow(), "flash": flash, "flash_tone": flash_tone,
    }, status_code=status_code, section="subscribers")


@router.get("/{name}")
def subscriber(request: Request, me: Me, name: str,
               done: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """One subscriber: roles, raw and governed tables, vends, exports, Redshift plan and state."""
    return subscriber_page(request, me, name, flash=DONE.get(done or "", ""))


async def _change(request: Request, me: UiSessionInfo, name: str, done: str,
                  call: Callable[[], Subscriber]) -> Response:
    return await form_outcome(call, done=f"{UI_PREFIX}/subscribers/{name}?done={done}",
                              refused=lambda message, status: subscriber_page(
                                  request, me, name, flash=message, flash_tone="bad", status_code=status),
                              error_pages=(AccessDenied,))


@router.post("/{name}/suspend")
async def suspend(request: Request, me: Posted, name: str) -> Response:
    """Suspend the subscriber (itself, its owner or an admin, as on the API)."""
    subs = services.subscribers(request)
    return await _change(request, me, name, "suspended", lambda: subs.suspend_as(name, by=me.user))


@router.post("/{name}/resume")
async def resume(request: Request, me: Posted, name: str) -> Response:
    """Resume a suspended subscriber (admins only, as on the API)."""
    subs = services.subscribers(request)
    return await _change(request, me, name, "resumed", lambda: subs.resume_as(name, by=me.user))
