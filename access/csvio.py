"""The policy as a Casbin CSV file, and back.

The file is plain Casbin: ``casbin.Enforcer("access/model.conf", "policy.csv")``
loads it and decides exactly as Lakegate does at the moment of export.
Lakegate's own facts ride in comment lines that Casbin skips::

    # lakegate {"role": "marketing", "kind": "group", "description": "..."}
    # lakegate {"expires_at": "2026-12-01T00:00:00+00:00"}     (for the next line)
    p, alice, dataset:ads.conversions, read, allow
    g, alice, marketing
    g2, dataset:ads.conversions.email, dataset:ads.conversions
    # lakegate {"mask": {"subject": "marketing", "resource": "dataset:ads.conversions.email", "mask": "hash"}}
    # lakegate {"row_filter": {"subject": "marketing", "resource": "dataset:ads.conversions", "predicate": "..."}}

An expiring mask or row filter carries ``"expires_at"`` inside its note; one
that has expired is neither exported nor imported (as for grants).

``g2`` lines (the resource hierarchy) are written for every resource the policy
names and every column of every dataset; on import they are checked, never
stored: the hierarchy follows from the names.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from access import rowfilter
from access.errors import InvalidPolicy
from access.masks import Mask
from access.models import AccessGrant, AccessMask, AccessMembership, AccessRole, AccessRowFilter
from access.resources import Action, Resource
from access.values import Effect, RoleKind, check_subject
from lake.catalog.models import utcnow
from lake.errors import LakegateError
from lake.timestamps import as_utc

if TYPE_CHECKING:
    from access.policy import AccessControl

PREFIX = "# lakegate "


def _line(*fields: str) -> str:
    return ", ".join(fields)


def _note(value: dict[str, Any]) -> str:
    return PREFIX + json.dumps(value, sort_keys=True)


def hierarchy_lines(resources: Iterable[Resource]) -> list[str]:
    """``g2`` lines linking each resource to its parent, up to the lake."""
    seen: set[tuple[str, str]] = set()
    out = []
    for r in resources:
        node: Resource | None = r
        while node is not None and (parent := node.parent) is not None:
            edge = (node.key, parent.key)
            if edge in seen:
                break
            seen.add(edge)
            out.append(_line("g2", *edge))
            node = parent
    return out


def export_policy(ac: AccessControl) -> str:
    now = utcnow()
    lines = [f"# Lakegate access policy, version {ac.version}, exported {now.isoformat()}",
             "# Load with casbin.Enforcer('access/model.conf', <this file>)."]
    for role in ac.policies.roles():
        lines.append(_note({"role": role.name, "kind": role.kind.value, "description": role.description}))
    named: list[Resource] = []
    for g in ac.policies.grants():
        if g.expires_at is not None:
            lines.append(_note({"expires_at": g.expires_at.isoformat()}))
        lines.append(_line("p", *g.line))
        named.append(g.resource)
    for m in ac.policies.memberships():
        if not m.live(now):
            continue
        if m.expires_at is not None:
            lines.append(_note({"expires_at": m.expires_at.isoformat()}))
        lines.append(_line("g", m.member, m.role))
    for k in ac.policies.masks():
        mask: dict[str, Any] = {"subject": k.subject, "resource": k.resource.key, "mask": str(k.mask)}
        if k.expires_at is not None:
            mask["expires_at"] = k.expires_at.isoformat()
        lines.append(_note({"mask": mask}))
        named.append(k.resource)
    for f in ac.policies.row_filters():
        row_filter: dict[str, Any] = {"subject": f.subject, "resource": f.resource.key, "predicate": f.predicate}
        if f.expires_at is not None:
            row_filter["expires_at"] = f.expires_at.isoformat()
        lines.append(_note({"row_filter": row_filter}))
        named.append(f.resource)
    for info in ac.lake.datasets.list():
        table = Resource.table(info.name)
        named.extend(Resource.column_of(table, c.name) for c in info.contract.columns)
    lines.extend(hierarchy_lines(sorted(set(named), key=lambda r: r.key)))
    return "\n".join(lines) + "\n"


@dataclass
class _Parsed:
    roles: dict[str, tuple[RoleKind, str]] = field(default_factory=dict)
    grants: list[tuple[str, Resource, Action, Effect, dt.datetime | None]] = field(default_factory=list)
    memberships: list[tuple[str, str, dt.datetime | None]] = field(default_factory=list)
    masks: list[tuple[str, Resource, Mask, dt.datetime | None]] = field(default_factory=list)
    filters: list[tuple[str, Resource, str, dt.datetime | None]] = field(default_factory=list)


def _parse_note(text: str, n: int) -> dict[str, Any]:
    try:
        value = json.loads(text[len(PREFIX):])
    except json.JSONDecodeError as exc:
        raise InvalidPolicy(f"the lakegate note is not JSON: {exc.msg}", line=n) from None
    if not isinstance(value, dict) or len(value) < 1:
        raise InvalidPolicy("a lakegate note is a JSON object", line=n)
    return value


def _expiry(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    return as_utc(dt.datetime.fromisoformat(str(value)))


def parse_policy(text: str) -> _Parsed:
    out = _Parsed()
    expires: dt.datetime | None = None
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            if line.startswith(PREFIX):
                note = _parse_note(line, n)
                if "expires_at" in note:
                    expires = as_utc(dt.datetime.fromisoformat(str(note["expires_at"])))
                elif "role" in note:
                    out.roles[check_subject(str(note["role"]), "role")] = (
                        RoleKind.parse(str(note.get("kind", "role"))), str(note.get("description", "")))
                elif "mask" in note:
                    m = note["mask"]
                    out.masks.append((check_subject(m["subject"]), Resource.parse(m["resource"]),
                                      Mask.parse(m["mask"]), _expiry(m.get("expires_at"))))
                elif "row_filter" in note:
                    f = note["row_filter"]
                    out.filters.append((check_subject(f["subject"]), Resource.parse(f["resource"]),
                                        rowfilter.normalize(str(f["predicate"])), _expiry(f.get("expires_at"))))
                else:
                    raise InvalidPolicy(f"unknown lakegate note {sorted(note)}", line=n)
                continue
            if line.startswith("#"):
                continue
            fields = [f.strip() for f in line.split(",")]
            ptype = fields[0]
            if ptype == "p":
                if len(fields) != 5:
                    raise InvalidPolicy("a p line is 'p, subject, resource, action, allow|deny'", line=n)
                out.grants.append((check_subject(fields[1]), Resource.parse(fields[2]), Action.parse(fields[3]),
                                   Effect.parse(fields[4]), expires))
            elif ptype == "g":
                if len(fields) != 3:
                    raise InvalidPolicy("a g line is 'g, member, role'", line=n)
                out.memberships.append((check_subject(fields[1]), check_subject(fields[2], "role"), expires))
            elif ptype == "g2":
                if len(fields) != 3:
                    raise InvalidPolicy("a g2 line is 'g2, resource, parent'", line=n)
                child, parent = Resource.parse(fields[1]), Resource.parse(fields[2])
                if child.parent != parent:
                    raise InvalidPolicy(f"{child.key} lies under {child.parent.key if child.parent else 'nothing'}, "
                                        f"not {parent.key}: the resource hierarchy follows from the names", line=n)
            else:
                raise InvalidPolicy(f"unknown policy type {ptype!r}; expected p, g or g2", line=n)
            expires = None
        except InvalidPolicy:
            raise
        except (LakegateError, KeyError, TypeError, ValueError) as exc:
            message = exc.message if isinstance(exc, LakegateError) else f"malformed value ({exc})"
            raise InvalidPolicy(message, line=n) from None
    return out


def import_policy(ac: AccessControl, text: str, *, replace: bool, actor: str) -> dict[str, int]:
    parsed = parse_policy(text)
    store = ac.policies
    counts = {"roles": 0, "grants": 0, "memberships": 0, "masks": 0, "row_filters": 0, "removed": 0}
    now = utcnow()
    with store.transaction(actor) as tx:
        s = tx.session
        existing_roles = set(s.scalars(select(AccessRole.name)))
        wanted_roles = dict(parsed.roles)
        for _, role, _ in parsed.memberships:
            wanted_roles.setdefault(role, (RoleKind.ROLE, ""))
        mentioned = ({g[0] for g in parsed.grants} | {m[0] for m in parsed.memberships}
                     | {k[0] for k in parsed.masks} | {f[0] for f in parsed.filters})
        for name in sorted(mentioned - set(wanted_roles) - existing_roles):
            if not store.is_user(name):
                wanted_roles[name] = (RoleKind.ROLE, "")
        for name, (kind, description) in sorted(wanted_roles.items()):
            if name not in existing_roles:
                store.create_role(tx, name, kind, description)
                existing_roles.add(name)
                counts["roles"] += 1
        s.flush()
        before = tx.changes[:]
        for member, role, expires in parsed.memberships:
            if expires is None or expires > now:
                store.add_member(tx, role, member, expires)
        counts["memberships"] = len(tx.changes) - len(before)
        mark = len(tx.changes)
        for subject, resource, action, effect, expires in parsed.grants:
            if expires is None or expires > now:
                store.add_grant(tx, subject, action, resource, effect, expires_at=expires, reason="imported",
                                on_exists="replace")
        counts["grants"] = len(tx.changes) - mark
        for subject, resource, mask, expires in parsed.masks:
            if expires is None or expires > now:
                store.set_mask(tx, subject, resource, mask, expires_at=expires)
                counts["masks"] += 1
        for subject, resource, predicate, expires in parsed.filters:
            if expires is None or expires > now:
                store.set_row_filter(tx, subject, resource, predicate, expires_at=expires)
                counts["row_filters"] += 1
        if replace:
            counts["removed"] = _remove_unlisted(tx, parsed)
    return counts


def _remove_unlisted(tx: Any, parsed: _Parsed) -> int:
    s = tx.session
    keep_grants = {(g[0], g[1].key, g[2].value, g[3].value) for g in parsed.grants}
    keep_members = {(m[0], m[1]) for m in parsed.memberships}
    keep_masks = {(k[0], k[1].key) for k in parsed.masks}
    keep_filters = {(f[0], f[1].key) for f in parsed.filters}
    removed = 0
    for g in list(s.scalars(select(AccessGrant))):
        if (g.subject, g.resource, g.action, g.effect) not in keep_grants:
            s.delete(g)
            tx.log("remove", "grant", {"id": g.id, "subject": g.subject, "resource": g.resource, "action": g.action,
                                       "effect": g.effect}, g.resource)
            removed += 1
    for m in list(s.scalars(select(AccessMembership))):
        if (m.member, m.role) not in keep_members:
            s.delete(m)
            tx.log("remove", "membership", {"member": m.member, "role": m.role}, m.role)
            removed += 1
    for k in list(s.scalars(select(AccessMask))):
        if (k.subject, k.resource) not in keep_masks:
            s.execute(delete(AccessMask).where(AccessMask.id == k.id))
            tx.log("remove", "mask", {"subject": k.subject, "resource": k.resource}, k.resource)
            removed += 1
    for f in list(s.scalars(select(AccessRowFilter))):
        if (f.subject, f.resource) not in keep_filters:
            s.execute(delete(AccessRowFilter).where(AccessRowFilter.id == f.id))
            tx.log("remove", "row_filter", {"subject": f.subject, "resource": f.resource}, f.resource)
            removed += 1
    return removed
