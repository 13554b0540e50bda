"""The subscriber registry: named engines, their owners and role bindings.

Each subscriber is a service principal ``sub.<name>`` of the lake (so it can
hold API tokens and be decided about like any principal) and a member of the
roles it is bound to; grants, masks and row filters come from the access
layer, never from a list kept here. Suspending a subscriber deactivates its
principal (its tokens stop working); deleting it also removes its
memberships and direct grants and revokes its tokens.

This module changes catalog rows only; :class:`~access.subscribers.service.Subscribers`
adds the IAM side (role policies) to each operation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from access.policy import SYSTEM_ACTOR
from access.resources import Action, Resource
from access.subscribers.errors import SubscriberSuspended
from access.subscribers.models import CredentialRow, SubscriberRow
from access.subscribers.values import (
    Subscriber,
    SubscriberKind,
    SubscriberStatus,
    check_name,
    subject_of,
)
from access.values import EVERYONE, check_subject
from lake.auth import PrincipalKind
from lake.catalog.models import ApiToken, User, utcnow
from lake.errors import AccessDenied, AlreadyExists, NotFound

if TYPE_CHECKING:
    from access.policy import AccessControl


class SubscriberRegistry:
    """Subscribers of one lake, in its catalog.

    Args:
        access: The access layer (memberships and grants go through it).
    """

    def __init__(self, access: AccessControl) -> None:
        self.access = access
        self.lake = access.lake

    # -- reading ---------------------------------------------------------------------------

    def _of(self, row: SubscriberRow) -> Subscriber:
        roles = tuple(m.role for m in self.access.policies.memberships(member=row.subject) if m.role != EVERYONE)
        return Subscriber(
            name=row.name, kind=SubscriberKind(row.kind), subject=row.subject, owner=row.owner,
            status=SubscriberStatus(row.status), description=row.description, roles=roles,
            role_arn=row.role_arn, policy_tables=tuple(row.policy_tables or ()),
            policy_synced_at=row.policy_synced_at, policy_valid_until=row.policy_valid_until,
            policy_error=row.policy_error, created_by=row.created_by, created_at=row.created_at,
            suspended_at=row.suspended_at,
        )

    def get(self, name: str) -> Subscriber:
        """A subscriber by name.

        Raises:
            NotFound: No such subscriber.
        """
        check_name(name)
        with self.lake.catalog.session() as s:
            row = s.scalars(select(SubscriberRow).where(SubscriberRow.name == name)).one_or_none()
            if row is None:
                raise NotFound(f"subscriber {name} does not exist")
            s.expunge(row)
        return self._of(row)

    def by_subject(self, subject: str) -> Subscriber | None:
        """The subscriber whose principal is ``subject``, if any."""
        with self.lake.catalog.session() as s:
            row = s.scalars(select(SubscriberRow).where(SubscriberRow.subject == subject)).one_or_none()
            if row is None:
                return None
            s.expunge(row)
        return self._of(row)

    def list(self, *, kind: SubscriberKind | None = None, status: SubscriberStatus | None = None) -> list[Subscriber]:
        """Subscribers by name (``kind`` and ``status`` narrow it)."""
        q = select(SubscriberRow).order_by(SubscriberRow.name)
        if kind is not None:
            q = q.where(SubscriberRow.kind == kind.value)
        if status is not None:
            q = q.where(SubscriberRow.status == status.value)
        with self.lake.catalog.session() as s:
            rows = list(s.scalars(q))
            for row in rows:
                s.expunge(row)
        return [self._of(r) for r in rows]

    def count_active(self) -> int:
        from sqlalchemy import func

        with self.lake.catalog.session() as s:
            return int(s.scalar(select(func.count()).select_from(SubscriberRow)
                                .where(SubscriberRow.status == SubscriberStatus.ACTIVE.value)) or 0)

    def require_active(self, name: str) -> Subscriber:
        """The subscriber, if active.

        Raises:
            NotFound: No such subscriber.
            SubscriberSuspended: It is suspended.
        """
        sub = self.get(name)
        if not sub.active:
            raise SubscriberSuspended(name)
        return sub

    def may_act_for(self, caller: str, sub: Subscriber) -> bool:
        """Whether ``caller`` may use ``sub`` (vend, export): the subscriber itself, its
        owner (by name, or holding the owner role), or an admin of the lake."""
        if caller == sub.subject or caller == sub.owner:
            return True
        if sub.owner in self.access.roles_of(caller):
            return True
        return self.access.can(caller, Action.ADMIN, Resource.lake())

    def require_acting_for(self, caller: str, name: str, what: str) -> Subscriber:
        """The subscriber, if ``caller`` may act for it (:meth:`may_act_for`).

        Raises:
            NotFound: No such subscriber.
            AccessDenied: naming who may (``what`` is the action refused, as "suspend").
        """
        sub = self.get(name)
        if not self.may_act_for(caller, sub):
            raise AccessDenied(caller, what, f"subscriber {name}",
                               f"only the subscriber ({sub.subject}), its owner ({sub.owner}) or an admin may")
        return sub

    def require_admin(self, caller: str) -> None:
        """Pass if ``caller`` is an admin of the lake (the decision is audited).

        Raises:
            AccessDenied: ``caller`` is no admin.
        """
        self.access.require(caller, Action.ADMIN, Resource.lake())

    # -- changing ---------------------------------------------------------------------------

    def _check_owner(self, owner: str) -> None:
        check_subject(owner, "owner")
        try:
            self.lake.users.get(owner)
            return
        except NotFound:
            pass
        self.access.policies.role(owner)  # NotFound names it

    def create(self, name: str, kind: SubscriberKind | str, *, owner: str, roles: Iterable[str] = (),
               description: str = "", actor: str = SYSTEM_ACTOR) -> Subscriber:
        """Register a subscriber: its principal ``sub.<name>``, bound to ``roles``.

        Raises:
            InvalidInput: A bad name or kind.
            AlreadyExists: The name is taken (or a user ``sub.<name>`` exists that is no subscriber's).
            NotFound: The owner or a role does not exist.
        """
        check_name(name)
        kind = kind if isinstance(kind, SubscriberKind) else SubscriberKind.parse(kind)
        subject = subject_of(name)
        wanted = sorted(set(roles))
        self._check_owner(owner)
        for role in wanted:
            self.access.policies.role(role)
        with self.lake.catalog.session() as s:
            if s.scalars(select(SubscriberRow.id).where(SubscriberRow.name == name)).first() is not None:
                raise AlreadyExists(f"subscriber {name} already exists")
            user = s.scalars(select(User).where(User.name == subject)).one_or_none()
            if user is not None and (user.kind != PrincipalKind.SERVICE.value or user.is_active):
                raise AlreadyExists(f"principal {subject} exists and is not a former subscriber's; "
                                    "choose another subscriber name")
            if user is None:
                s.add(User(name=subject, kind=PrincipalKind.SERVICE.value, roles=[],
                           display_name=f"{kind.value} subscriber {name}"))
            else:
                user.is_active = True
            s.add(SubscriberRow(name=name, kind=kind.value, subject=subject, owner=owner,
                                status=SubscriberStatus.ACTIVE.value, description=description,
                                policy_tables=[], policy_version=0, created_by=actor))
        try:
            self.access.ensure_subject(subject)
            for role in wanted:
                self.access.add_member(role, subject, actor=actor)
        except Exception:
            self._remove(name, subject, actor)
            raise
        return self.get(name)

    def bind(self, name: str, role: str, *, expires_at: dt.datetime | None = None,
             actor: str = SYSTEM_ACTOR) -> Subscriber:
        """Make the subscriber a member of ``role`` (until ``expires_at``)."""
        sub = self.get(name)
        self.access.add_member(role, sub.subject, expires_at=expires_at, actor=actor)
        return self.get(name)

    def unbind(self, name: str, role: str, *, actor: str = SYSTEM_ACTOR) -> Subscriber:
        sub = self.get(name)
        self.access.remove_member(role, sub.subject, actor=actor)
        return self.get(name)

    def set_status(self, name: str, status: SubscriberStatus, *, actor: str = SYSTEM_ACTOR) -> Subscriber:
        """Suspend or resume: the principal is deactivated with it (its tokens stop working)."""
        check_name(name)
        with self.lake.catalog.session() as s:
            row = s.scalars(select(SubscriberRow).where(SubscriberRow.name == name)).one_or_none()
            if row is None:
                raise NotFound(f"subscriber {name} does not exist")
            row.status = status.value
            row.suspended_at = utcnow() if status is SubscriberStatus.SUSPENDED else None
            s.execute(update(User).where(User.name == row.subject)
                      .values(is_active=status is SubscriberStatus.ACTIVE))
        return self.get(name)

    def delete(self, name: str, *, actor: str = SYSTEM_ACTOR) -> Subscriber:
        """Remove the subscriber, its memberships and direct grants; revoke its tokens."""
        sub = self.get(name)
        self._remove(name, sub.subject, actor)
        return sub

    def _remove(self, name: str, subject: str, actor: str) -> None:
        with self.lake.catalog.session() as s:  # inactive first: change hooks skip it from here on
            s.execute(update(SubscriberRow).where(SubscriberRow.name == name)
                      .values(status=SubscriberStatus.SUSPENDED.value, suspended_at=utcnow()))
        for grant in self.access.policies.grants(subject=subject, include_expired=True):
            if grant.id is not None:
                self.access.revoke(grant.id, actor=actor)
        for membership in self.access.policies.memberships(member=subject):
            self.access.remove_member(membership.role, subject, actor=actor)
        now = utcnow()
        with self.lake.catalog.session() as s:
            user = s.scalars(select(User).where(User.name == subject)).one_or_none()
            if user is not None:
                user.is_active = False
                s.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                          .values(revoked_at=now))
            s.execute(update(CredentialRow).where(CredentialRow.subscriber == name,
                                                  CredentialRow.revoked_at.is_(None),
                                                  CredentialRow.expires_at > now)
                      .values(revoked_at=now, revoke_reason="subscriber deleted"))
            row = s.scalars(select(SubscriberRow).where(SubscriberRow.name == name)).one_or_none()
            if row is not None:
                s.delete(row)
