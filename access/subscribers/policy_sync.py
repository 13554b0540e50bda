"""Keeping each subscriber's IAM role policy equal to what the access layer allows.

The role policy of a subscriber lists exactly the tables it may read raw
(:mod:`access.subscribers.raw`): ``s3:GetObject``/``s3:ListBucket`` on their
prefixes and ``kms:Decrypt`` on exactly their domains' keys
(:func:`deploy.policies.read_statements`). It is computed from the access
layer's decisions and written:

* after every policy change this process commits (grants, revokes,
  memberships, masks, row filters: :func:`policy_changed` is a change hook of
  :class:`~access.policy.AccessControl`), so a revoked grant stops working for
  credentials already handed out;
* on every vend, before the credentials are issued;
* by ``lakegate subscribers sync`` (run it from cron): grants and memberships
  that expire change decisions without a change event, so each subscriber
  records ``policy_valid_until``, the first such expiry it depends on; vended
  credentials never outlive it, and ``sync --due`` rewrites the policies
  whose time has come.

Suspending or deleting a subscriber removes its role policy at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from access.masks import MaskKind
from access.resources import Action
from access.subscribers.cloud import RoleBackend, cloud_roles
from access.subscribers.models import SubscriberRow
from access.subscribers.raw import RawDecision, raw_decision
from access.subscribers.registry import SubscriberRegistry
from access.subscribers.tables import LakeTable, lake_tables
from access.subscribers.values import Subscriber, SubscriberStatus
from access.values import Effect
from deploy.policies import TableGrant
from lake.catalog.models import utcnow

if TYPE_CHECKING:
    from access.policy import AccessControl

log = logging.getLogger(__name__)

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock(name: str) -> threading.Lock:
    """One lock per subscriber name in this process (the catalog row lock orders processes)."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(name, threading.Lock())


@dataclass(frozen=True)
class PolicyPlan:
    """What a subscriber's role policy must allow, from the access layer's decisions.

    Attributes:
        subscriber: The subscriber.
        raw: Tables it may read raw (the policy lists exactly these).
        governed: Tables it may read, but only governed (with the reasons).
        valid_until: The first expiry of a grant or membership the decisions rest on.
        version: The access policy version decided with.
    """

    subscriber: Subscriber
    raw: tuple[RawDecision, ...]
    governed: tuple[RawDecision, ...]
    valid_until: dt.datetime | None
    version: int

    @property
    def grants(self) -> list[TableGrant]:
        return sorted(g for d in self.raw if (g := d.table.grant) is not None)

    @property
    def table_keys(self) -> list[str]:
        return sorted(d.table.key for d in self.raw)


@dataclass(frozen=True)
class SyncedPolicy:
    """The outcome of writing a role policy."""

    plan: PolicyPlan
    document: dict[str, Any] | None = field(default=None, repr=False)
    role_arn: str | None = None
    written: bool = False


def expiry_horizon(access: AccessControl, subject: str, tables: Iterable[LakeTable]) -> dt.datetime | None:
    """The first future expiry among the allow grants (on ``tables``, their columns,
    domains or the lake), the ``decrypt`` masks and the memberships that
    ``subject``'s decisions rest on. (A PII column is raw-readable only while a
    ``decrypt`` mask holds, so its expiry ends raw access too; an expiring row
    filter or other mask only loosens access when it ends.)"""
    now = utcnow()
    closure = {subject} | set(access.roles_of(subject))
    exact: set[str] = set()
    prefixes: list[str] = []
    for table in tables:
        exact.update(r.key for r in table.resource.lineage())
        prefixes.append(table.resource.key + ".")
    first: dt.datetime | None = None

    def consider(when: dt.datetime | None) -> None:
        nonlocal first
        if when is not None and when > now and (first is None or when < first):
            first = when

    for principal in sorted(closure):
        for grant in access.policies.grants(subject=principal):
            if grant.effect is not Effect.ALLOW or grant.action not in (Action.READ, Action.ADMIN):
                continue
            key = grant.resource.key
            if key in exact or any(key.startswith(p) for p in prefixes):
                consider(grant.expires_at)
        for rule in access.policies.masks(subject=principal):
            key = rule.resource.key
            if rule.mask.kind is MaskKind.DECRYPT and (key in exact or any(key.startswith(p) for p in prefixes)):
                consider(rule.expires_at)
        for membership in access.policies.memberships(member=principal):
            consider(membership.expires_at)
    return first


def plan_policy(access: AccessControl, sub: Subscriber, tables: Sequence[LakeTable] | None = None) -> PolicyPlan:
    """Decide, table by table, what ``sub`` may read raw (all tables of the lake by default)."""
    version = access.version
    candidates = list(tables) if tables is not None else lake_tables(access.lake)
    raw: list[RawDecision] = []
    governed: list[RawDecision] = []
    if sub.active:
        for table in candidates:
            decision = raw_decision(access, sub.subject, table)
            if decision.raw:
                raw.append(decision)
            elif decision.allowed:
                governed.append(decision)
    valid_until = expiry_horizon(access, sub.subject, [d.table for d in raw]) if raw else None
    return PolicyPlan(sub, tuple(raw), tuple(governed), valid_until, version)


class PolicySync:
    """Writes subscribers' role policies.

    Args:
        access: The access layer.
        registry: The subscriber registry.
        roles: IAM roles (``None`` for a lake in a local directory: policies
            are computed and recorded, nothing is written to IAM).
    """

    def __init__(self, access: AccessControl, registry: SubscriberRegistry, roles: RoleBackend | None) -> None:
        self.access = access
        self.registry = registry
        self.roles = roles

    def sync(self, name: str, *, force: bool = False) -> SyncedPolicy:
        """Make ``name``'s role policy exactly what it may read raw now.

        Args:
            name: The subscriber.
            force: Write to IAM even when the recorded policy is the same.
        """
        sub = self.registry.get(name)
        if not sub.active:
            self.remove(sub)
            return SyncedPolicy(plan_policy(self.access, sub, []))
        plan = plan_policy(self.access, sub)
        return self.write(sub, plan, force=force)

    def write(self, sub: Subscriber, plan: PolicyPlan, *, force: bool = False) -> SyncedPolicy:
        """Write ``plan`` to IAM and record it, unless the subscriber is no longer active or a
        plan decided on a newer policy version was written already (the row is locked meanwhile)."""
        tables = plan.table_keys
        document = self.roles.policy(plan.grants) if self.roles is not None else None
        with _lock(sub.name), self.access.lake.catalog.session() as s:
            row = s.scalars(select(SubscriberRow).where(SubscriberRow.name == sub.name)
                            .with_for_update()).one_or_none()
            if row is None or row.status != SubscriberStatus.ACTIVE.value or row.policy_version > plan.version:
                return SyncedPolicy(plan, document, row.role_arn if row else None, written=False)
            arn = row.role_arn
            unchanged = (tables == list(row.policy_tables or ()) and row.policy_error is None
                         and (self.roles is None or arn is not None))
            written = False
            failure: Exception | None = None
            if self.roles is not None and (force or not unchanged):
                try:
                    arn = self.roles.ensure_role(sub.name, sub.kind.value)
                    document = self.roles.sync_grants(sub.name, sub.kind.value, plan.grants)
                    written = True
                except Exception as exc:  # noqa: BLE001 - recorded on the row; raised once the row is saved
                    row.policy_error = f"writing the role policy failed: {exc}"[:2000]
                    failure = exc
            if failure is None:
                row.policy_error = None
                row.policy_tables = tables
                row.policy_document = document
                row.policy_version = plan.version
                row.policy_synced_at = utcnow()
                row.policy_valid_until = plan.valid_until
                row.role_arn = arn
        if failure is not None:
            raise failure
        return SyncedPolicy(plan, document, arn, written=written)

    def sync_all(self, *, due_only: bool = False, force: bool = False) -> list[SyncedPolicy]:
        """:meth:`sync` every active subscriber (``due_only``: those whose policy
        outlived a grant or membership, or whose last write failed)."""
        now = utcnow()
        out = []
        tables: list[LakeTable] | None = None
        for sub in self.registry.list(status=SubscriberStatus.ACTIVE):
            if due_only and sub.policy_error is None and sub.policy_synced_at is not None and (
                    sub.policy_valid_until is None or sub.policy_valid_until > now):
                continue
            if tables is None:
                tables = lake_tables(self.access.lake)
            out.append(self.write(sub, plan_policy(self.access, sub, tables), force=force))
        return out

    def remove(self, sub: Subscriber, *, delete_role: bool = False) -> None:
        """Remove the role policy (and with ``delete_role`` the role): every credential
        vended from it stops working."""
        with _lock(sub.name), self.access.lake.catalog.session() as s:
            row = s.scalars(select(SubscriberRow).where(SubscriberRow.name == sub.name)
                            .with_for_update()).one_or_none()
            if self.roles is not None:
                if delete_role:
                    self.roles.delete_role(sub.name, sub.kind.value)
                else:
                    self.roles.sync_grants(sub.name, sub.kind.value, [])
            if row is not None:
                row.policy_tables = []
                row.policy_document = None
                row.policy_version = max(row.policy_version, self.access.version)
                row.policy_synced_at = utcnow()
                row.policy_valid_until = None
                if delete_role:
                    row.role_arn = None


def policy_changed(access: AccessControl) -> None:
    """The change hook: rewrite the role policies of every active subscriber.

    Failures are logged and recorded on the subscriber (``policy_error``);
    the policy change itself has committed. ``lakegate subscribers sync --due``
    retries them.
    """
    registry = SubscriberRegistry(access)
    if registry.count_active() == 0:
        return
    sync = PolicySync(access, registry, cloud_roles(access.lake))
    tables = lake_tables(access.lake)
    for sub in registry.list(status=SubscriberStatus.ACTIVE):
        try:
            sync.write(sub, plan_policy(access, sub, tables), force=False)
        except Exception:
            log.exception("could not rewrite the role policy of subscriber %s after a policy change", sub.name)
