"""Admin and audit: roles, members, grants, masks and row filters; the audit
log with its verification status. Both pages need ``admin`` on the lake.

The forms change policy through ``AccessControl.changes`` (:mod:`access.changes`)
as the signed-in person, so they follow the same rule as the API and the CLI:
whether a change is allowed is decided there, not by the page.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Form, Query, Request, Response

from access import (
    AccessControl,
    Action,
    AuditKind,
    Decision,
    Effect,
    Grant,
    Mask,
    Resource,
    RoleKind,
)
from access.changes import PolicyChanges
from api.params import MAX_INT, Id
from lake.catalog.models import utcnow
from lake.errors import AccessDenied, InvalidInput
from ui import services
from ui.routing import Me, Posted, UiRoute, form_outcome
from ui.sessions import UiSessionInfo
from ui.templating import UI_PREFIX, render

router = APIRouter(prefix=UI_PREFIX, route_class=UiRoute, include_in_schema=False)

AUDIT_PAGE = 100
GRANTS_PAGE = 50
DONE = {
    "role": "The role was created.", "member": "The member was added.", "unmember": "The member was removed.",
    "grant": "The grant was added.", "revoke": "The grant was revoked.", "mask": "The mask was set.",
    "unmask": "The mask was removed.", "filter": "The row filter was set.", "unfilter": "The row filter was removed.",
}


def _admin(request: Request, me: UiSessionInfo) -> AccessControl:
    """The access layer, if the signed-in person is an admin of the lake (the decision is audited)."""
    control = services.access(request)
    control.require(me.user, Action.ADMIN, Resource.lake())
    return control


@dataclass(frozen=True)
class GrantFilter:
    """Which grants the admin page lists: by subject, on a resource (and everything under it),
    of one action; expired ones only when asked; one page of :data:`GRANTS_PAGE`."""

    subject: str = ""
    resource: str = ""
    action: str = ""
    expired: bool = False
    page: int = 1

    @staticmethod
    def checked(value: str) -> bool:
        """Whether the "include expired" box was ticked (``1`` in a link, ``on`` from a browser)."""
        return value in ("1", "on")

    def __post_init__(self) -> None:
        for name in ("subject", "resource", "action"):
            object.__setattr__(self, name, getattr(self, name).strip())

    @classmethod
    def of(cls, query: str) -> GrantFilter:
        """The filter a query string names, as a revoke form sends it back (unknown keys ignored;
        a bad page is the first)."""
        params = {k: v[0] for k, v in parse_qs(query[:1000]).items()}
        page = params.get("page", "1")
        return cls(subject=params.get("subject", "")[:255], resource=params.get("resource", "")[:400],
                   action=params.get("action", "")[:20], expired=cls.checked(params.get("expired", "")),
                   page=int(page) if page.isdigit() and 0 < int(page) <= MAX_INT else 1)

    def query(self, **change: object) -> str:
        """This filter as a query string, with ``change`` applied (defaults left out)."""
        values: dict[str, object] = {"subject": self.subject, "resource": self.resource, "action": self.action,
                                     "expired": "1" if self.expired else "", "page": self.page, **change}
        return urlencode({k: v for k, v in values.items() if v not in ("", 1)})

    def narrowed(self) -> bool:
        return bool(self.subject or self.resource or self.action)


@dataclass(frozen=True)
class GrantPage:
    grants: list[Grant]
    total: int  # matching, on every page
    expired_hidden: int  # matching but expired, left out
    pages: int
    first: int  # position of the page's first grant (1-based)


def grant_page(control: AccessControl, f: GrantFilter) -> GrantPage:
    """The page of grants ``f`` chooses.

    Raises:
        InvalidInput: the resource or the action does not parse (the error names which).
    """
    resource = Resource.parse(f.resource) if f.resource else None
    action = Action.parse(f.action) if f.action else None
    now = utcnow()
    found = control.policies.grants(subject=f.subject or None, resource=resource, action=action, include_expired=True)
    live = [g for g in found if g.live(now)]
    shown = found if f.expired else live
    pages = max(1, math.ceil(len(shown) / GRANTS_PAGE))
    start = (f.page - 1) * GRANTS_PAGE
    return GrantPage(shown[start:start + GRANTS_PAGE], len(shown), 0 if f.expired else len(found) - len(live),
                     pages, start + 1)


def admin_page(request: Request, me: UiSessionInfo, *, grants: GrantFilter = GrantFilter(), flash: str = "",
               flash_tone: str = "ok", status_code: int = 200) -> Response:
    control = _admin(request, me)
    p = control.policies
    now = utcnow()
    try:
        listed: GrantPage | None = grant_page(control, grants)
    except InvalidInput as exc:
        listed, flash, flash_tone, status_code = None, f"Grant filter: {exc.message}", "bad", 422
    return render(request, "admin.html", {
        "roles": p.roles(), "memberships": p.memberships(), "listed": listed, "grant_filter": grants,
        "masks": p.masks(), "filters": p.row_filters(), "now": now, "actions": list(Action),
        "effects": list(Effect), "kinds": list(RoleKind), "flash": flash, "flash_tone": flash_tone,
        "version": control.version,
    }, status_code=status_code, section="admin")


@router.get("/admin")
def admin(request: Request, me: Me, done: Annotated[str | None, Query(max_length=20)] = None,
          subject: Annotated[str, Query(max_length=255)] = "",
          resource: Annotated[str, Query(max_length=400)] = "",
          action: Annotated[str, Query(max_length=20)] = "",
          expired: Annotated[str, Query(max_length=2)] = "",
          page: Annotated[int, Query(ge=1, le=MAX_INT)] = 1) -> Response:
    """Roles, members, grants (filtered by subject, resource and action; paged), masks and row filters."""
    grants = GrantFilter(subject=subject, resource=resource, action=action, expired=GrantFilter.checked(expired),
                         page=page)
    return admin_page(request, me, grants=grants, flash=DONE.get(done or "", ""))


async def _change(request: Request, me: UiSessionInfo, done: str, anchor: str,
                  change: Callable[[PolicyChanges], object], back: str = "") -> Response:
    """Make a policy change; back to the page (the grant list as it was filtered, from ``back``)."""
    grants = GrantFilter.of(back)
    query = grants.query(done=done)
    return await form_outcome(lambda: change(services.access(request).changes),
                              done=f"{UI_PREFIX}/admin?{query}#{anchor}",
                              refused=lambda message, status: admin_page(request, me, grants=grants, flash=message,
                                                                         flash_tone="bad", status_code=status),
                              error_pages=(AccessDenied,))


@router.post("/admin/roles")
async def create_role(request: Request, me: Posted, name: Annotated[str, Form(max_length=255)],
                      kind: Annotated[str, Form(max_length=10)] = "role",
                      description: Annotated[str, Form(max_length=2000)] = "") -> Response:
    return await _change(request, me, "role", "roles", lambda c: c.create_role(
        name.strip(), kind=RoleKind.parse(kind), description=description, by=me.user))


@router.post("/admin/members")
async def add_member(request: Request, me: Posted, role: Annotated[str, Form(max_length=255)],
                     member: Annotated[str, Form(max_length=255)]) -> Response:
    return await _change(request, me, "member", "roles",
                         lambda c: c.add_member(role.strip(), member.strip(), by=me.user))


@router.post("/admin/members/remove")
async def remove_member(request: Request, me: Posted, role: Annotated[str, Form(max_length=255)],
                        member: Annotated[str, Form(max_length=255)]) -> Response:
    return await _change(request, me, "unmember", "roles", lambda c: c.remove_member(role, member, by=me.user))


@router.post("/admin/grants")
async def add_grant(request: Request, me: Posted, subject: Annotated[str, Form(max_length=255)],
                    action: Annotated[str, Form(max_length=20)], resource: Annotated[str, Form(max_length=400)],
                    effect: Annotated[str, Form(max_length=10)] = "allow",
                    days: Annotated[int | None, Form(ge=1, le=3660)] = None,
                    reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    expires = utcnow() + dt.timedelta(days=days) if days else None
    return await _change(request, me, "grant", "grants", lambda c: c.grant(
        subject.strip(), Action.parse(action), Resource.parse(resource), effect=Effect.parse(effect),
        expires_at=expires, reason=reason, by=me.user))


@router.post("/admin/grants/{grant_id}/revoke")
async def revoke_grant(request: Request, me: Posted, grant_id: Id,
                       back: Annotated[str, Form(max_length=1000)] = "") -> Response:
    return await _change(request, me, "revoke", "grants", lambda c: c.revoke(grant_id, by=me.user), back)


@router.post("/admin/masks")
async def set_mask(request: Request, me: Posted, subject: Annotated[str, Form(max_length=255)],
                   resource: Annotated[str, Form(max_length=400)], mask: Annotated[str, Form(max_length=20)]
                   ) -> Response:
    return await _change(request, me, "mask", "masks", lambda c: c.set_mask(
        subject.strip(), Resource.parse(resource), Mask.parse(mask), by=me.user))


@router.post("/admin/masks/remove")
async def remove_mask(request: Request, me: Posted, subject: Annotated[str, Form(max_length=255)],
                      resource: Annotated[str, Form(max_length=400)]) -> Response:
    return await _change(request, me, "unmask", "masks",
                         lambda c: c.remove_mask(subject, Resource.parse(resource), by=me.user))


@router.post("/admin/filters")
async def set_filter(request: Request, me: Posted, subject: Annotated[str, Form(max_length=255)],
                     resource: Annotated[str, Form(max_length=400)],
                     predicate: Annotated[str, Form(max_length=4000)]) -> Response:
    return await _change(request, me, "filter", "filters", lambda c: c.set_row_filter(
        subject.strip(), Resource.parse(resource), predicate, by=me.user))


@router.post("/admin/filters/remove")
async def remove_filter(request: Request, me: Posted, subject: Annotated[str, Form(max_length=255)],
                        resource: Annotated[str, Form(max_length=400)]) -> Response:
    return await _change(request, me, "unfilter", "filters",
                         lambda c: c.remove_row_filter(subject, Resource.parse(resource), by=me.user))


@router.get("/audit")
def audit(
    request: Request, me: Me,
    actor: Annotated[str, Query(max_length=255)] = "",
    kind: Annotated[str, Query(max_length=20)] = "",
    resource: Annotated[str, Query(max_length=400)] = "",
    decision: Annotated[str, Query(max_length=5)] = "",
    after_seq: Annotated[int | None, Query(ge=0, le=MAX_INT)] = None,
) -> Response:
    """The audit log, newest first (or forward from ``after_seq``), with the chain's verification."""
    control = _admin(request, me)
    verified = control.audit.verify()
    entries = control.audit.query(
        actor=actor or None, kind=AuditKind.parse(kind) if kind else None, resource=resource or None,
        decision=Decision(decision) if decision in ("allow", "deny") else None, after_seq=after_seq,
        limit=AUDIT_PAGE, newest_first=after_seq is None)
    return render(request, "audit.html", {
        "verified": verified, "entries": entries, "kinds": list(AuditKind), "actor": actor, "kind": kind,
        "resource": resource, "decision": decision, "after_seq": after_seq, "page": AUDIT_PAGE,
    }, section="audit")
