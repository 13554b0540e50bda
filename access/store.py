"""Policy changes in the catalog: roles, memberships, grants, masks, row filters.

Every change runs in one transaction that also

* appends the change to ``access_policy_changes`` under the next policy
  version (the ``access_policy_head`` row is locked, so versions commit in
  order and another process replays them in that order), and
* appends a ``policy_change`` entry to the audit log.

Who may make a change is decided above the store (``access.changes`` for the
API, the CLI and the UI; access requests for their own grants); the store
checks that the change itself makes sense.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from access import rowfilter
from access.audit import AuditKind, AuditLog
from access.index import MAX_HOPS
from access.masks import Mask
from access.models import (
    AccessGrant,
    AccessMask,
    AccessMembership,
    AccessPolicyChange,
    AccessPolicyHead,
    AccessRole,
    AccessRowFilter,
)
from access.resources import Action, Resource, ResourceKind
from access.state import PolicyState, iso
from access.values import (
    EVERYONE,
    Effect,
    Grant,
    MaskRule,
    Membership,
    Role,
    RoleKind,
    RowFilterRule,
    check_subject,
)
from lake.catalog import Catalog
from lake.catalog.models import User, utcnow
from lake.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from lake.timestamps import as_utc

_FILTERABLE = (ResourceKind.LAKE, ResourceKind.DOMAIN, ResourceKind.DATASET, ResourceKind.VIEW)
_MASKABLE = (ResourceKind.LAKE, ResourceKind.DOMAIN, ResourceKind.DATASET, ResourceKind.VIEW, ResourceKind.COLUMN)


@dataclass
class _Tx:
    session: Session
    changes: list[tuple[str, str, dict[str, Any], str]] = field(default_factory=list)

    def log(self, op: str, entity: str, payload: dict[str, Any], resource: str = "") -> None:
        self.changes.append((op, entity, payload, resource))


def _grant(row: AccessGrant) -> Grant:
    return Grant(row.subject, Resource.parse(row.resource), Action(row.action), Effect(row.effect),
                 row.expires_at, row.id, row.reason, row.request_id, row.created_by)


def _of(q: Select[AccessGrant], subject: str | None, action: Action | None) -> Select[AccessGrant]:
    """``q`` narrowed to the grants of ``subject`` and of ``action``, where given."""
    if subject:
        q = q.where(AccessGrant.subject == subject)
    if action is not None:
        q = q.where(AccessGrant.action == action.value)
    return q


def _grant_payload(row: AccessGrant) -> dict[str, Any]:
    return {"id": row.id, "subject": row.subject, "resource": row.resource, "action": row.action,
            "effect": row.effect, "expires_at": iso(row.expires_at)}


def _mask_rule(row: AccessMask) -> MaskRule:
    return MaskRule(row.subject, Resource.parse(row.resource), Mask(row.kind, row.keep_last),  # type: ignore[arg-type]
                    row.id, row.expires_at)


def _row_filter_rule(row: AccessRowFilter) -> RowFilterRule:
    return RowFilterRule(row.subject, Resource.parse(row.resource), row.predicate, row.id, row.expires_at)


def _admins(s: Session) -> bool:
    """Whether some active user holds ``admin`` (and ``discover``) on the lake in the policy ``s`` sees.

    The roles on the record of a user the policy has not seen yet count as
    memberships (they become memberships when it is first seen).
    """
    state = PolicyState.load(s)
    now = utcnow().timestamp()
    lake = Resource.lake().lineage_keys
    for name, roles in s.execute(select(User.name, User.roles).where(User.is_active.is_(True))):
        pending = () if state.index.has_link(name, EVERYONE) else tuple(r for r in roles or () if isinstance(r, str))
        for subject in (name, *pending):
            # Admin through the API: the API also needs discover on the lake (a deny there locks out too).
            if (state.index.allowed(subject, Action.ADMIN.value, lake, now)
                    and state.index.allowed(subject, Action.DISCOVER.value, lake, now)):
                return True
    return False


def _future(expires_at: dt.datetime | None) -> dt.datetime | None:
    expires_at = as_utc(expires_at) if expires_at is not None else None
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInput(f"expiry {expires_at.isoformat()} is in the past")
    return expires_at


def _until(expires_at: dt.datetime | None) -> str:
    return f" until {expires_at.isoformat()}" if expires_at is not None else ""


class PolicyStore:
    """Reads and changes the policy rows.

    Args:
        catalog: The catalog database.
        audit: Where changes are recorded.
        is_user: Whether a name is a user or service principal of the lake.
        on_change: Called after a change commits (the access layer replays it).
    """

    def __init__(self, catalog: Catalog, audit: AuditLog, is_user: Callable[[str], bool],
                 on_change: Callable[[], None]) -> None:
        self.catalog = catalog
        self.audit = audit
        self.is_user = is_user
        self.on_change = on_change

    @contextlib.contextmanager
    def transaction(self, actor: str) -> Iterator[_Tx]:
        """One transaction for several changes (used by requests and CSV import)."""
        try:
            with self.catalog.session() as s, self.within(s, actor) as tx:
                yield tx
        except IntegrityError as exc:
            raise Conflict(f"a concurrent change to the same policy won; retry ({exc.orig})") from exc
        self.on_change()

    @contextlib.contextmanager
    def within(self, session: Session, actor: str) -> Iterator[_Tx]:
        """Changes inside a transaction of the caller's (``session``), logged and audited in it.

        The caller commits, then calls ``on_change`` (so that its own writes,
        e.g. a dataset's registration, commit with the policy changes or not at all).
        """
        tx = _Tx(session)
        yield tx
        session.flush()
        self._keep_an_admin(tx)
        self._commit_log(tx, actor)

    def _keep_an_admin(self, tx: _Tx) -> None:
        """Refuse a change that leaves no active user with ``admin`` on the lake when one had it.

        Only changes that can take admin away are checked (a removal, a deny);
        the policy is then loaded as it would be after the change.

        Raises:
            Conflict: the change would lock every administrator out.
        """
        if not any(op == "remove" or (entity == "grant" and payload.get("effect") == Effect.DENY.value)
                   for op, entity, payload, _ in tx.changes):
            return
        if _admins(tx.session):
            return
        with self.catalog.session() as before:
            if not _admins(before):
                return  # nobody administered the lake before either
        raise Conflict("this change would leave no active user with admin on the lake; "
                       "give admin to another user first")

    def _commit_log(self, tx: _Tx, actor: str) -> None:
        if not tx.changes:
            return
        s = tx.session
        n = len(tx.changes)
        s.execute(update(AccessPolicyHead).where(AccessPolicyHead.id == 1)
                  .values(version=AccessPolicyHead.version + n))
        last = s.scalars(select(AccessPolicyHead.version).where(AccessPolicyHead.id == 1)).one()
        for i, (op, entity, payload, _resource) in enumerate(tx.changes):
            s.add(AccessPolicyChange(version=last - n + 1 + i, op=op, entity=entity, payload=payload, actor=actor))
        s.flush()
        for op, entity, payload, resource in tx.changes:
            self.audit.append(s, AuditKind.POLICY_CHANGE, actor=actor, action=f"{op} {entity}",
                              resource=resource, detail=payload)

    # -- subjects ---------------------------------------------------------------------------

    def _role_row(self, s: Session, name: str) -> AccessRole | None:
        return s.scalars(select(AccessRole).where(AccessRole.name == name)).one_or_none()

    def _check_subject(self, s: Session, name: str) -> None:
        check_subject(name)
        if self._role_row(s, name) is None and not self.is_user(name):
            raise NotFound(f"subject {name} is neither a user, a service principal, a role nor a group")

    # -- roles and groups -------------------------------------------------------------------

    def create_role(self, tx: _Tx, name: str, kind: RoleKind = RoleKind.ROLE, description: str = "") -> Role:
        check_subject(name, kind.value)
        if self.is_user(name):
            raise AlreadyExists(f"{name} is a user; roles, groups and users share one namespace")
        if self._role_row(tx.session, name) is not None:
            raise AlreadyExists(f"{name} already exists")
        tx.session.add(AccessRole(name=name, kind=kind.value, description=description))
        tx.log("add", "role", {"name": name, "kind": kind.value, "description": description})
        return Role(name, kind, description)

    def delete_role(self, tx: _Tx, name: str) -> None:
        """Delete a role with its memberships, grants, masks and row filters."""
        s = tx.session
        row = self._role_row(s, name)
        if row is None:
            raise NotFound(f"role or group {name} does not exist")
        for m in s.scalars(select(AccessMembership).where(or_(AccessMembership.role == name,
                                                              AccessMembership.member == name))):
            self._drop_membership(tx, m)
        for g in s.scalars(select(AccessGrant).where(AccessGrant.subject == name)):
            self._drop_grant(tx, g)
        for k in s.scalars(select(AccessMask).where(AccessMask.subject == name)):
            s.delete(k)
            tx.log("remove", "mask", {"subject": k.subject, "resource": k.resource}, k.resource)
        for f in s.scalars(select(AccessRowFilter).where(AccessRowFilter.subject == name)):
            s.delete(f)
            tx.log("remove", "row_filter", {"subject": f.subject, "resource": f.resource}, f.resource)
        s.delete(row)
        tx.log("remove", "role", {"name": name})

    def roles(self, kind: RoleKind | None = None) -> list[Role]:
        q = select(AccessRole).order_by(AccessRole.name)
        if kind is not None:
            q = q.where(AccessRole.kind == kind.value)
        with self.catalog.session() as s:
            return [Role(r.name, RoleKind(r.kind), r.description) for r in s.scalars(q)]

    def role(self, name: str) -> Role:
        with self.catalog.session() as s:
            row = self._role_row(s, name)
            if row is None:
                raise NotFound(f"role or group {name} does not exist")
            return Role(row.name, RoleKind(row.kind), row.description)

    # -- memberships ------------------------------------------------------------------------

    def _edges(self, s: Session) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for member, role in s.execute(select(AccessMembership.member, AccessMembership.role)):
            out.setdefault(member, set()).add(role)
        return out

    @staticmethod
    def _longest(start: str, edges: dict[str, set[str]]) -> int:
        memo: dict[str, int] = {}

        def walk(node: str, seen: frozenset[str]) -> int:
            if node in memo:
                return memo[node]
            best = 0
            for nxt in edges.get(node, ()):
                if nxt not in seen:
                    best = max(best, 1 + walk(nxt, seen | {nxt}))
            memo[node] = best
            return best

        return walk(start, frozenset({start}))

    def add_member(self, tx: _Tx, role: str, member: str, expires_at: dt.datetime | None = None) -> Membership:
        """``member`` (a user, service principal, group or role) joins ``role``.

        Raises:
            NotFound: the role or the member does not exist.
            Conflict: the membership would make a cycle, or a chain longer than
                Casbin follows (nine links).
        """
        s = tx.session
        if self._role_row(s, role) is None:
            raise NotFound(f"role or group {role} does not exist")
        self._check_subject(s, member)
        if member == role:
            raise Conflict(f"{role} cannot be a member of itself")
        expires_at = _future(expires_at)
        edges = self._edges(s)
        up = {role}
        frontier = [role]
        while frontier:
            frontier = [r for n in frontier for r in edges.get(n, ()) if r not in up]
            up.update(frontier)
        if member in up:
            raise Conflict(f"{member} holds {role} already through other roles' members; adding it would make a cycle")
        down: dict[str, set[str]] = {}
        for m, rs in edges.items():
            for r in rs:
                down.setdefault(r, set()).add(m)
        depth = self._longest(member, down) + 1 + self._longest(role, edges)
        if depth > MAX_HOPS:
            raise Conflict(f"{member} in {role} would make a chain of {depth} memberships; "
                           f"roles more than {MAX_HOPS} links away are not followed")
        row = s.scalars(select(AccessMembership).where(AccessMembership.member == member,
                                                       AccessMembership.role == role)).one_or_none()
        if row is None:
            row = AccessMembership(member=member, role=role, expires_at=expires_at)
            s.add(row)
        elif row.expires_at == expires_at:
            return Membership(member, role, expires_at)
        else:
            row.expires_at = expires_at
        tx.log("add", "membership", {"member": member, "role": role, "expires_at": iso(expires_at)}, role)
        return Membership(member, role, expires_at)

    def _drop_membership(self, tx: _Tx, row: AccessMembership) -> None:
        tx.session.delete(row)
        tx.log("remove", "membership", {"member": row.member, "role": row.role}, row.role)

    def remove_member(self, tx: _Tx, role: str, member: str) -> None:
        row = tx.session.scalars(select(AccessMembership).where(AccessMembership.member == member,
                                                                AccessMembership.role == role)).one_or_none()
        if row is None:
            raise NotFound(f"{member} is not a member of {role}")
        self._drop_membership(tx, row)

    def memberships(self, *, role: str | None = None, member: str | None = None) -> list[Membership]:
        q = select(AccessMembership).order_by(AccessMembership.role, AccessMembership.member)
        if role:
            q = q.where(AccessMembership.role == role)
        if member:
            q = q.where(AccessMembership.member == member)
        with self.catalog.session() as s:
            return [Membership(m.member, m.role, m.expires_at) for m in s.scalars(q)]

    # -- grants -----------------------------------------------------------------------------

    def add_grant(self, tx: _Tx, subject: str, action: Action, resource: Resource, effect: Effect = Effect.ALLOW,
                  *, expires_at: dt.datetime | None = None, reason: str = "", request_id: int | None = None,
                  on_exists: str = "error") -> Grant:
        """Add a ``p`` line.

        Args:
            on_exists: What to do when the same line exists: ``error``;
                ``extend`` (access requests) pushes its expiry out to
                ``expires_at`` (a grant without expiry stays so); ``replace``
                (CSV import) sets the expiry to ``expires_at``.

        Raises:
            AlreadyExists: the same grant exists and ``on_exists`` is ``error``.
        """
        s = tx.session
        self._check_subject(s, subject)
        expires_at = _future(expires_at)
        row = s.scalars(select(AccessGrant).where(
            AccessGrant.subject == subject, AccessGrant.resource == resource.key,
            AccessGrant.action == action.value, AccessGrant.effect == effect.value)).one_or_none()
        if row is not None:
            current = row.expires_at
            if on_exists == "extend":
                if current is None or (expires_at is not None and current >= expires_at):
                    return _grant(row)
                row.request_id = request_id
            elif on_exists == "replace":
                if current == expires_at:
                    return _grant(row)
            else:
                raise AlreadyExists(f"{subject} already has {effect.value} {action.value} on {resource} "
                                    f"(grant {row.id})")
            row.expires_at = expires_at
        else:
            row = AccessGrant(subject=subject, resource=resource.key, action=action.value, effect=effect.value,
                              expires_at=expires_at, reason=reason, request_id=request_id, created_by="")
            s.add(row)
        s.flush()
        tx.log("add", "grant", _grant_payload(row), resource.key)
        return _grant(row)

    def _drop_grant(self, tx: _Tx, row: AccessGrant) -> None:
        tx.session.delete(row)
        tx.log("remove", "grant", _grant_payload(row), row.resource)

    def revoke(self, tx: _Tx, grant_id: int) -> Grant:
        row = tx.session.get(AccessGrant, grant_id)
        if row is None:
            raise NotFound(f"grant {grant_id} does not exist")
        grant = _grant(row)
        self._drop_grant(tx, row)
        return grant

    def grant_by_id(self, grant_id: int) -> Grant:
        with self.catalog.session() as s:
            row = s.get(AccessGrant, grant_id)
            if row is None:
                raise NotFound(f"grant {grant_id} does not exist")
            return _grant(row)

    def grants(self, *, subject: str | None = None, resource: Resource | None = None,
               action: Action | None = None, include_expired: bool = False) -> list[Grant]:
        """Grants of a subject and/or on a resource and everything under it, and/or of one action."""
        q = _of(select(AccessGrant).order_by(AccessGrant.resource, AccessGrant.subject, AccessGrant.action),
                subject, action)
        if resource is not None and resource.kind is not ResourceKind.LAKE:
            q = q.where(or_(AccessGrant.resource == resource.key,
                            AccessGrant.resource.startswith(resource.key + ".", autoescape=True)))
        now = utcnow()
        with self.catalog.session() as s:
            out = [_grant(r) for r in s.scalars(q)]
        if resource is not None and resource.kind is ResourceKind.DOMAIN:
            out += [g for g in self._domain_children(resource, subject, action) if g not in out]
        return [g for g in out if include_expired or g.live(now)]

    def _domain_children(self, domain: Resource, subject: str | None, action: Action | None) -> list[Grant]:
        q = select(AccessGrant).where(or_(*(AccessGrant.resource.startswith(f"{k.value}:{domain.domain}.",
                                                                            autoescape=True)
                                            for k in (ResourceKind.DATASET, ResourceKind.VIEW,
                                                      ResourceKind.METRIC))))
        with self.catalog.session() as s:
            return [_grant(r) for r in s.scalars(_of(q, subject, action))]

    # -- masks ------------------------------------------------------------------------------

    def set_mask(self, tx: _Tx, subject: str, resource: Resource, mask: Mask, *,
                 expires_at: dt.datetime | None = None, on_exists: str = "replace") -> MaskRule:
        """Set how ``subject`` sees a column (or the PII columns under a table, domain or the lake).

        Args:
            expires_at: When the rule stops applying (the decision index compares
                it with the clock at decision time, as for grants); ``None``: never.
            on_exists: What to do when ``subject`` has a rule on ``resource``:
                ``replace`` sets it to ``mask`` until ``expires_at``; ``extend``
                (access requests) pushes the expiry of the same mask out to
                ``expires_at`` (one without expiry stays so) and refuses to
                replace a different live mask.

        Raises:
            Conflict: ``extend``, and ``subject`` has a different live mask there.
        """
        s = tx.session
        self._check_subject(s, subject)
        if resource.kind not in _MASKABLE:
            raise InvalidInput(f"masks apply to columns (or the PII columns of a table, domain or the lake), "
                               f"not to a {resource.kind.value}")
        expires_at = _future(expires_at)
        row = s.scalars(select(AccessMask).where(AccessMask.subject == subject,
                                                 AccessMask.resource == resource.key)).one_or_none()
        if row is None:
            row = AccessMask(subject=subject, resource=resource.key, kind=mask.kind.value, keep_last=mask.keep_last,
                             expires_at=expires_at)
            s.add(row)
        else:
            if on_exists == "extend":
                current = _mask_rule(row)
                if current.mask != mask:
                    if current.live(utcnow()):
                        raise Conflict(f"{subject} has its own {current.mask} mask on {resource}"
                                       f"{_until(current.expires_at)}; setting {mask} would replace it")
                elif current.expires_at is None or (expires_at is not None and current.expires_at >= expires_at):
                    return current
            row.kind, row.keep_last, row.expires_at = mask.kind.value, mask.keep_last, expires_at
        s.flush()
        tx.log("add", "mask", {"subject": subject, "resource": resource.key, "kind": mask.kind.value,
                               "keep_last": mask.keep_last, "expires_at": iso(expires_at)}, resource.key)
        return MaskRule(subject, resource, mask, row.id, expires_at)

    def remove_mask(self, tx: _Tx, subject: str, resource: Resource) -> None:
        n = tx.session.execute(delete(AccessMask).where(AccessMask.subject == subject,
                                                        AccessMask.resource == resource.key)).rowcount  # type: ignore[attr-defined]
        if not n:
            raise NotFound(f"{subject} has no mask on {resource}")
        tx.log("remove", "mask", {"subject": subject, "resource": resource.key}, resource.key)

    def masks(self, *, subject: str | None = None, include_expired: bool = False) -> list[MaskRule]:
        """Mask rules (of a subject); expired ones only with ``include_expired``."""
        q = select(AccessMask).order_by(AccessMask.resource, AccessMask.subject)
        if subject:
            q = q.where(AccessMask.subject == subject)
        now = utcnow()
        with self.catalog.session() as s:
            return [m for m in map(_mask_rule, s.scalars(q)) if include_expired or m.live(now)]

    # -- row filters -------------------------------------------------------------------------

    def set_row_filter(self, tx: _Tx, subject: str, resource: Resource, predicate: str, *,
                       expires_at: dt.datetime | None = None) -> RowFilterRule:
        """Limit the rows ``subject``'s grants give on the tables under ``resource``
        (until ``expires_at`` if set: then the filter stops applying, as if removed)."""
        s = tx.session
        self._check_subject(s, subject)
        if resource.kind not in _FILTERABLE:
            raise InvalidInput(f"row filters apply to datasets, views, domains or the lake, "
                               f"not to a {resource.kind.value}")
        normal = rowfilter.normalize(predicate)
        expires_at = _future(expires_at)
        row = s.scalars(select(AccessRowFilter).where(AccessRowFilter.subject == subject,
                                                      AccessRowFilter.resource == resource.key)).one_or_none()
        if row is None:
            row = AccessRowFilter(subject=subject, resource=resource.key, predicate=normal, expires_at=expires_at)
            s.add(row)
        else:
            row.predicate, row.expires_at = normal, expires_at
        s.flush()
        tx.log("add", "row_filter", {"subject": subject, "resource": resource.key, "predicate": normal,
                                     "expires_at": iso(expires_at)}, resource.key)
        return RowFilterRule(subject, resource, normal, row.id, expires_at)

    def remove_row_filter(self, tx: _Tx, subject: str, resource: Resource) -> None:
        n = tx.session.execute(delete(AccessRowFilter).where(
            AccessRowFilter.subject == subject, AccessRowFilter.resource == resource.key)).rowcount  # type: ignore[attr-defined]
        if not n:
            raise NotFound(f"{subject} has no row filter on {resource}")
        tx.log("remove", "row_filter", {"subject": subject, "resource": resource.key}, resource.key)

    def row_filters(self, *, subject: str | None = None, include_expired: bool = False) -> list[RowFilterRule]:
        """Row filters (of a subject); expired ones only with ``include_expired``."""
        q = select(AccessRowFilter).order_by(AccessRowFilter.resource, AccessRowFilter.subject)
        if subject:
            q = q.where(AccessRowFilter.subject == subject)
        now = utcnow()
        with self.catalog.session() as s:
            return [f for f in map(_row_filter_rule, s.scalars(q)) if include_expired or f.live(now)]

    # -- changes --------------------------------------------------------------------------

    def version(self) -> int:
        with self.catalog.session() as s:
            return int(s.scalars(select(AccessPolicyHead.version).where(AccessPolicyHead.id == 1)).one())

    def changes_since(self, version: int) -> tuple[int, list[tuple[str, str, dict[str, Any]]]]:
        with self.catalog.session() as s:
            head = int(s.scalars(select(AccessPolicyHead.version).where(AccessPolicyHead.id == 1)).one())
            if head == version:
                return head, []
            rows = s.execute(select(AccessPolicyChange.version, AccessPolicyChange.op, AccessPolicyChange.entity,
                                    AccessPolicyChange.payload)
                             .where(AccessPolicyChange.version > version, AccessPolicyChange.version <= head)
                             .order_by(AccessPolicyChange.version)).all()
        if len(rows) != head - version:
            raise Conflict("the policy change log has gaps; reload the whole policy")
        return head, [(op, entity, payload) for _, op, entity, payload in rows]
