"""``Subscribers``: the one entry point the API, the CLI and tests use.

Each operation changes the catalog (through the registry and the access
layer) and then the IAM side, so that what an engine can read always follows
the access layer: creating, binding and resuming write the role policy;
suspending removes it at once; deleting removes the role.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from access.policy import SYSTEM_ACTOR
from access.subscribers.cloud import RoleBackend, attach_roles, cloud_roles
from access.subscribers.exports import Export, Exports
from access.subscribers.models import CredentialRow
from access.subscribers.policy_sync import PolicyPlan, PolicySync, SyncedPolicy, plan_policy
from access.subscribers.redshift import RedshiftPlan, RedshiftSync
from access.subscribers.redshift_sql import Target
from access.subscribers.registry import SubscriberRegistry
from access.subscribers.settings import SubscriberSettings
from access.subscribers.values import IssuedCredential, Subscriber, SubscriberKind, SubscriberStatus
from access.subscribers.vending import CredentialVending, Vended
from lake.catalog.models import utcnow

if TYPE_CHECKING:
    from access.gateway import Gateway
    from access.policy import AccessControl

_UNSET = object()


class Subscribers:
    """Engine subscribers of one lake.

    Args:
        access: The access layer.
        roles: IAM roles; by default those of the lake in S3 mode (``None`` in local mode).
            Passing one also makes the policy change hook of this process use it.
        settings: Lifetimes, limits and names (the lake's ``settings.subscribers`` by default).
        gateway: The query gateway exports run through (none: exports are refused).

    Example::

        subs = Subscribers(AccessControl(lake))
        subs.create("etl", "emr", owner="data-eng", roles=["analyst"], actor="admin")
        vended = subs.vend("etl", ["ads.conversions"], actor="admin")   # S3 mode
    """

    def __init__(self, access: AccessControl, *, roles: RoleBackend | object | None = _UNSET,
                 settings: SubscriberSettings | None = None, gateway: Gateway | None = None) -> None:
        self.access = access
        self.lake = access.lake
        if roles is _UNSET:
            self.roles = cloud_roles(self.lake)
        else:
            self.roles = roles  # type: ignore[assignment]
            attach_roles(self.lake, self.roles)
        self.settings = settings or self.lake.settings.subscribers
        self.registry = SubscriberRegistry(access)
        self.policies = PolicySync(access, self.registry, self.roles)
        self.vending = CredentialVending(access, self.registry, self.roles, self.settings)
        self.redshift = RedshiftSync(access, self.registry, self.settings)
        self.exports = Exports(access, self.registry, self.settings, gateway)

    # -- registry --------------------------------------------------------------------------------

    def create(self, name: str, kind: SubscriberKind | str, *, owner: str, roles: Iterable[str] = (),
               description: str = "", actor: str = SYSTEM_ACTOR) -> Subscriber:
        """Register a subscriber bound to ``roles`` and write its role policy."""
        self.registry.create(name, kind, owner=owner, roles=roles, description=description, actor=actor)
        self.policies.sync(name, force=True)
        return self.registry.get(name)

    def get(self, name: str) -> Subscriber:
        return self.registry.get(name)

    def list(self, *, kind: SubscriberKind | None = None,
             status: SubscriberStatus | None = None) -> list[Subscriber]:
        return self.registry.list(kind=kind, status=status)

    def bind(self, name: str, role: str, *, expires_at: dt.datetime | None = None,
             actor: str = SYSTEM_ACTOR) -> Subscriber:
        """Bind ``name`` to ``role`` (the policy hook rewrites its role policy)."""
        self.registry.bind(name, role, expires_at=expires_at, actor=actor)
        self.policies.sync(name)
        return self.registry.get(name)

    def unbind(self, name: str, role: str, *, actor: str = SYSTEM_ACTOR) -> Subscriber:
        self.registry.unbind(name, role, actor=actor)
        self.policies.sync(name)
        return self.registry.get(name)

    def suspend(self, name: str, *, actor: str = SYSTEM_ACTOR) -> Subscriber:
        """Suspend: its role policy is removed at once (every credential vended stops
        working), its principal's tokens stop authenticating."""
        sub = self.registry.set_status(name, SubscriberStatus.SUSPENDED, actor=actor)
        self.policies.remove(sub)
        self._revoke_records(name, "subscriber suspended")
        return self.registry.get(name)

    def resume(self, name: str, *, actor: str = SYSTEM_ACTOR) -> Subscriber:
        self.registry.set_status(name, SubscriberStatus.ACTIVE, actor=actor)
        self.policies.sync(name, force=True)
        return self.registry.get(name)

    def suspend_as(self, name: str, *, by: str) -> Subscriber:
        """:meth:`suspend` as ``by``, who must be the subscriber itself, its owner or an admin: the one rule
        the API and the UI follow (the CLI acts as the host's administrator).

        Raises:
            NotFound: No such subscriber.
            AccessDenied: ``by`` may not act for it.
        """
        self.registry.require_acting_for(by, name, "suspend")
        return self.suspend(name, actor=by)

    def resume_as(self, name: str, *, by: str) -> Subscriber:
        """:meth:`resume` as ``by``, who must be an admin of the lake (a suspended subscriber's owner
        may not lift the suspension).

        Raises:
            AccessDenied: ``by`` is no admin.
            NotFound: No such subscriber.
        """
        self.registry.require_admin(by)
        return self.resume(name, actor=by)

    def delete(self, name: str, *, actor: str = SYSTEM_ACTOR,
               target: Target | str = Target.REDSHIFT) -> tuple[Subscriber, RedshiftPlan | None]:
        """Delete: the IAM role goes first, then memberships, direct grants and tokens.

        Args:
            name: The subscriber.
            actor: Who deletes it (audited).
            target: The SQL dialect of a Redshift subscriber's teardown statements.

        Returns:
            The subscriber as it was, and for a Redshift subscriber the statements
            that remove what was applied to its cluster.
        """
        sub = self.registry.get(name)
        teardown = None
        if sub.kind is SubscriberKind.REDSHIFT:
            teardown = self.redshift.plan(name, target=target, teardown=True, write_manifests=False)
        # Suspended first, so that no policy change hook writes its role again meanwhile.
        suspended = self.registry.set_status(name, SubscriberStatus.SUSPENDED, actor=actor)
        self.policies.remove(suspended, delete_role=True)
        self.registry.delete(name, actor=actor)
        self.redshift.forget(name)
        return sub, teardown

    def _revoke_records(self, name: str, reason: str) -> None:
        from sqlalchemy import update

        now = utcnow()
        with self.lake.catalog.session() as s:
            s.execute(update(CredentialRow).where(CredentialRow.subscriber == name,
                                                  CredentialRow.revoked_at.is_(None),
                                                  CredentialRow.expires_at > now)
                      .values(revoked_at=now, revoke_reason=reason))

    # -- role policy -----------------------------------------------------------------------------

    def plan_policy(self, name: str) -> PolicyPlan:
        """What ``name``'s role policy must allow now (nothing is written)."""
        return plan_policy(self.access, self.registry.get(name))

    def sync_policy(self, name: str, *, force: bool = False) -> SyncedPolicy:
        return self.policies.sync(name, force=force)

    def sync_policies(self, *, due_only: bool = False, force: bool = False) -> builtins.list[SyncedPolicy]:
        return self.policies.sync_all(due_only=due_only, force=force)

    # -- engines -------------------------------------------------------------------------------

    def vend(self, name: str, tables: Sequence[str], *, duration_seconds: int | None = None,
             actor: str = SYSTEM_ACTOR) -> Vended:
        return self.vending.vend(name, tables, duration_seconds=duration_seconds, actor=actor)

    def credentials(self, name: str, *, include_inactive: bool = False) -> builtins.list[IssuedCredential]:
        self.registry.get(name)
        return self.vending.credentials(name, include_inactive=include_inactive)

    def redshift_sync(self, name: str, *, target: Target | str = Target.REDSHIFT, full: bool = False,
                      commit: bool = True) -> RedshiftPlan:
        return self.redshift.sync(name, target=target, full=full, commit=commit)

    def redshift_apply(self, name: str, connection_url: str, *, target: Target | str = Target.REDSHIFT,
                       full: bool = False) -> RedshiftPlan:
        """Run the Redshift plan on the cluster and record it as applied only after it succeeded."""
        return self.redshift.apply(name, connection_url, target=target, full=full)

    def export(self, name: str, table: str, *, role: str | None = None, url_seconds: int | None = None,
               actor: str = SYSTEM_ACTOR) -> Export:
        return self.exports.export(name, table, role=role, url_seconds=url_seconds, actor=actor)
