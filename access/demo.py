"""Roles and users for the demo domain (``lake.demo``).

=============== ========= =====================================================
role            user      may
=============== ========= =====================================================
analyst         ana       read every demo domain; PII shows as keyed hashes
                          (joins and distinct counts still work)
data_engineer   dev       read, write and register datasets in every demo
                          domain; PII redacted
marketing       mia       read ads, playback, subscriptions and the catalog,
                          only rows of EU countries (DE, FR); emails hashed,
                          names hidden
finance         finn      read subscriptions and ads with PII in clear
=============== ========= =====================================================

Each dataset's owner team gets ``admin`` on it. :func:`land_demo_access` is
idempotent: running it again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from access.masks import Mask, MaskKind
from access.policy import AccessControl
from access.resources import Action, Resource
from access.values import RoleKind
from lake.errors import AlreadyExists, NotFound
from lake.service import Lake

DEMO_DOMAINS = ("catalog", "subscriptions", "playback", "ads")
EU_COUNTRIES = ("DE", "FR")
EU_FILTER = "country IN ('DE', 'FR')"
#: The demo domains whose tables all have a ``country`` column.
COUNTRY_DOMAINS = ("subscriptions", "playback", "ads")

ROLES: dict[str, str] = {
    "analyst": "Reads every demo domain; PII as keyed hashes.",
    "data_engineer": "Reads, writes and registers datasets in the demo domains; PII redacted.",
    "marketing": "Reads ads, playback, subscriptions and the catalog, EU rows only (DE, FR).",
    "finance": "Reads subscriptions and ads with PII in clear.",
}
USERS: dict[str, str] = {"ana": "analyst", "dev": "data_engineer", "mia": "marketing", "finn": "finance"}

_D = Resource.domain_
GRANTS: list[tuple[str, Action, Resource]] = [
    *((r, Action.DISCOVER, _D(d)) for r in ROLES for d in DEMO_DOMAINS),
    *(("analyst", Action.READ, _D(d)) for d in DEMO_DOMAINS),
    *(("data_engineer", a, _D(d)) for d in DEMO_DOMAINS for a in (Action.READ, Action.WRITE, Action.PROPOSE)),
    *(("marketing", Action.READ, _D(d)) for d in ("catalog", *COUNTRY_DOMAINS)),
    *(("finance", Action.READ, _D(d)) for d in ("subscriptions", "ads")),
]
MASKS: list[tuple[str, Resource, Mask]] = [
    ("analyst", Resource.lake(), Mask(MaskKind.HASH)),
    ("data_engineer", Resource.lake(), Mask(MaskKind.REDACT)),
    ("marketing", Resource.lake(), Mask(MaskKind.NULL)),
    ("marketing", Resource.parse("dataset:subscriptions.subscribers.email"), Mask(MaskKind.HASH)),
    ("finance", _D("subscriptions"), Mask(MaskKind.DECRYPT)),
    ("finance", _D("ads"), Mask(MaskKind.DECRYPT)),
]
ROW_FILTERS: list[tuple[str, Resource, str]] = [("marketing", _D(d), EU_FILTER) for d in COUNTRY_DOMAINS]


@dataclass(frozen=True)
class DemoAccess:
    """What :func:`land_demo_access` set up: user -> role, and how many rules it added."""

    users: dict[str, str]
    added: int = 0
    owners: dict[str, str] = field(default_factory=dict)


def land_demo_access(lake: Lake, access: AccessControl | None = None, *, actor: str = "admin") -> DemoAccess:
    """Create the demo roles, their grants, masks and row filters, and one user per role.

    Args:
        lake: The lake (its demo datasets may or may not be landed yet).
        access: The access layer to use (a new one by default).
        actor: Recorded in the audit log.
    """
    ac = access or AccessControl(lake)
    added = 0
    existing = {r.name for r in ac.policies.roles()}
    for name, description in ROLES.items():
        if name not in existing:
            ac.create_role(name, kind=RoleKind.ROLE, description=description, actor=actor)
            added += 1
    have = {g.line for g in ac.policies.grants()}
    for subject, action, resource in GRANTS:
        if (subject, resource.key, action.value, "allow") not in have:
            ac.grant(subject, action, resource, reason="demo", actor=actor)
            added += 1
    masks = {(m.subject, m.resource.key): m.mask for m in ac.policies.masks()}
    for subject, resource, mask in MASKS:
        if masks.get((subject, resource.key)) != mask:
            ac.set_mask(subject, resource, mask, actor=actor)
            added += 1
    filters = {(f.subject, f.resource.key) for f in ac.policies.row_filters()}
    for subject, resource, predicate in ROW_FILTERS:
        if (subject, resource.key) not in filters:
            ac.set_row_filter(subject, resource, predicate, actor=actor)
            added += 1
    for user, role in USERS.items():
        lake.users.ensure(user)
        ac.ensure_subject(user)
        if role not in ac.roles_of(user):
            ac.add_member(role, user, actor=actor)
            added += 1
    owners = {}
    for info in lake.datasets.list():
        if info.domain in DEMO_DOMAINS:
            try:
                if ac.grant_owner(info, actor=actor) is not None:
                    added += 1
            except (AlreadyExists, NotFound):
                continue
            owners[info.name] = info.owner
    return DemoAccess(dict(USERS), added, owners)
