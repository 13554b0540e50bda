"""Who has access to a table: the grants on it, its columns, its domain and
the lake, with the members of each role or group they name."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from access import AccessControl, Action, Resource, ResourceKind

#: Actions worth listing (everyone may discover).
_LISTED = (Action.READ, Action.WRITE, Action.GRANT, Action.APPROVE, Action.ADMIN)
MAX_MEMBERS = 12


@dataclass(frozen=True)
class AccessLine:
    subject: str
    subject_kind: str  # user, role, group
    action: str
    scope: str  # "the lake", "domain sales", "this dataset", "column email"
    effect: str
    expires_at: dt.datetime | None
    reason: str
    members: tuple[str, ...]
    more_members: int


def _scope(resource: Resource, table: Resource) -> str:
    if resource.kind is ResourceKind.LAKE:
        return "the whole lake"
    if resource.kind is ResourceKind.DOMAIN:
        return f"domain {resource.domain}"
    if resource.kind is ResourceKind.COLUMN:
        return f"column {resource.column}"
    return f"this {table.kind.value}"


def who_has_access(access: AccessControl, table: Resource, *, with_members: bool = True) -> list[AccessLine]:
    """Grants that reach ``table`` (or its columns), broadest scope first.

    Args:
        access: The access layer.
        table: A dataset or view.
        with_members: List the members of the roles and groups named (for
            viewers who may grant on the table; others see the roles only).
    """
    roles = {r.name: r.kind.value for r in access.policies.roles()}
    found = [g for g in access.policies.grants()
             if g.action in _LISTED and (g.resource.contains(table) or table.contains(g.resource))]
    order = {ResourceKind.LAKE: 0, ResourceKind.DOMAIN: 1, ResourceKind.DATASET: 2, ResourceKind.VIEW: 2,
             ResourceKind.METRIC: 2, ResourceKind.COLUMN: 3}
    found.sort(key=lambda g: (order[g.resource.kind], g.resource.key, g.subject, g.action.value))
    members: dict[str, list[str]] = {}
    lines = []
    for g in found:
        kind = roles.get(g.subject, "user")
        if with_members and kind != "user" and g.subject not in members:
            members[g.subject] = [m.member for m in access.policies.memberships(role=g.subject)]
        people = members.get(g.subject, [])
        lines.append(AccessLine(g.subject, kind, g.action.value, _scope(g.resource, table), g.effect.value,
                                g.expires_at, g.reason, tuple(people[:MAX_MEMBERS]),
                                max(0, len(people) - MAX_MEMBERS)))
    return lines
