"""Credential vending for EMR/Spark and SageMaker subscribers.

A subscriber asks for a set of tables. Each one is decided by the access
layer for the subscriber's subject (``READ`` through ``table_access``) and
must pass the fail-closed rule of :mod:`access.subscribers.raw`; a table that
is denied raises :class:`~lake.errors.AccessDenied`, one that is readable only
governed raises :class:`~access.subscribers.errors.RawAccessRefused` naming
the gateway and exports. Then the subscriber's role policy is rewritten (it
lists exactly the tables it may read raw), and STS issues credentials of the
role narrowed by a session policy to the tables asked for, lasting at most
until the first grant or membership they rest on expires.

Every issue is recorded (subscriber, tables, role ARN, the access key id's
first characters, issued and expiry times; never the secret parts) and
audited per table.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select

from access.audit import AuditKind, Decision
from access.resources import Action
from access.subscribers.cloud import RoleBackend
from access.subscribers.errors import RawAccessRefused, VendingUnavailable, WrongSubscriberKind
from access.subscribers.models import CredentialRow
from access.subscribers.policy_sync import PolicySync, expiry_horizon, plan_policy
from access.subscribers.raw import RawDecision, raw_decision
from access.subscribers.registry import SubscriberRegistry
from access.subscribers.settings import MIN_CREDENTIAL_SECONDS, SubscriberSettings
from access.subscribers.tables import LakeTable, find_table
from access.subscribers.values import IssuedCredential, Subscriber, SubscriberKind
from deploy.spark_conf import S3Credentials, cluster_spark_conf
from lake.catalog.models import utcnow
from lake.errors import AccessDenied, InvalidInput, NotFound
from lake.timestamps import as_utc

#: Vended credentials end at least this long before the first grant, mask or membership they rest on.
EXPIRY_MARGIN_SECONDS = 60

if TYPE_CHECKING:
    from access.policy import AccessControl
    from deploy.iam import VendedCredentials

#: Kinds that get credentials (a Redshift cluster assumes its role itself).
VENDING_KINDS = (SubscriberKind.EMR, SubscriberKind.SAGEMAKER)
#: Characters of the access key id kept in the record.
KEY_PREFIX_CHARS = 8
MAX_TABLES = 100


@dataclass(frozen=True)
class VendedTable:
    """A table the credentials read: its name, kind, stored version and location."""

    name: str
    kind: str
    version: int
    location: str


@dataclass(frozen=True)
class Vended:
    """Credentials for a subscriber, the tables they read and a Spark configuration.

    ``credentials`` and ``spark_conf`` hold the secret; show them once.
    """

    record: IssuedCredential
    credentials: VendedCredentials = field(repr=False)
    tables: tuple[VendedTable, ...]
    spark_conf: dict[str, str] = field(repr=False)
    storage_options: dict[str, str] = field(repr=False)


def _deny_unknown(subject: str, name: str) -> AccessDenied:
    return AccessDenied(subject, Action.READ.value, f"table {name}",
                        "it does not exist or you have no read access to it")


class CredentialVending:
    """Vends and records subscriber credentials.

    Args:
        access: The access layer.
        registry: The subscriber registry.
        roles: IAM roles of the lake (``None`` in local mode: vending is refused).
        settings: Lifetimes.
    """

    def __init__(self, access: AccessControl, registry: SubscriberRegistry, roles: RoleBackend | None,
                 settings: SubscriberSettings) -> None:
        self.access = access
        self.registry = registry
        self.roles = roles
        self.settings = settings
        self.policies = PolicySync(access, registry, roles)

    def check(self, sub: Subscriber, names: Sequence[str]) -> list[RawDecision]:
        """Decide every table for ``sub``; raise on the first one it may not read raw.

        Raises:
            AccessDenied: A table that does not exist or that it may not read.
            RawAccessRefused: A table it may read only governed.
        """
        if not names:
            raise InvalidInput("ask for at least one table")
        if len(names) > MAX_TABLES:
            raise InvalidInput(f"ask for at most {MAX_TABLES} tables at once, not {len(names)}")
        decisions: list[RawDecision] = []
        for name in dict.fromkeys(n.strip() for n in names):
            try:
                table = find_table(self.access.lake, name)
            except NotFound:
                self._audit(sub, name, Decision.DENY, "unknown table")
                raise _deny_unknown(sub.subject, name) from None
            decision = raw_decision(self.access, sub.subject, table)
            if not decision.allowed:
                self._audit(sub, table.resource.key, Decision.DENY, decision.access.reason)
                raise _deny_unknown(sub.subject, name)
            if not decision.raw:
                error = RawAccessRefused(sub.name, sub.subject, table.name, decision.reasons)
                self._audit(sub, table.resource.key, Decision.DENY, error.message)
                raise error
            decisions.append(decision)
        return decisions

    def vend(self, name: str, tables: Sequence[str], *, duration_seconds: int | None = None,
             actor: str) -> Vended:
        """Issue credentials for ``tables`` to subscriber ``name``.

        Args:
            name: The subscriber (emr or sagemaker).
            tables: ``domain.name`` (a dataset, else a view) or ``dataset:``/``view:`` keys.
            duration_seconds: 900 to 3600 (the configured default when ``None``);
                shortened to the first expiry of a grant or membership used.
            actor: Who asked (recorded).

        Raises:
            NotFound, SubscriberSuspended, WrongSubscriberKind, VendingUnavailable,
            AccessDenied, RawAccessRefused, InvalidInput.
        """
        self.access.refresh(force=True)  # decide on the newest policy, whoever changed it
        sub = self.registry.require_active(name)
        if sub.kind not in VENDING_KINDS:
            raise WrongSubscriberKind(name, sub.kind.value, "credential vending",
                                      [k.value for k in VENDING_KINDS])
        seconds = self.settings.credential_lifetime(duration_seconds)
        decisions = self.check(sub, tables)
        if self.roles is None:
            raise VendingUnavailable()
        plan = plan_policy(self.access, sub)
        synced = self.policies.write(sub, plan, force=True)
        allowed = {d.table.key for d in plan.raw}
        for decision in decisions:
            if decision.table.key not in allowed:  # the policy changed in between
                raise RawAccessRefused(sub.name, sub.subject, decision.table.name,
                                       ["its decision changed while credentials were being issued; ask again"])
        wanted = [d.table for d in decisions]
        seconds = self._cap(sub, wanted, seconds)
        grants = sorted(g for t in wanted if (g := t.grant) is not None)
        session = f"lakegate-{name}-{uuid.uuid4().hex[:12]}"[:64]
        creds = self.roles.vend(name, sub.kind.value, grants, duration_seconds=seconds, session_name=session)
        record = self._record(sub, wanted, creds, session, actor, synced.role_arn or creds.role_arn)
        for table in wanted:
            self._audit(sub, table.resource.key, Decision.ALLOW, "vended raw read credentials",
                        credential=record.id, expires_at=record.expires_at.isoformat())
        endpoint = self.access.lake.settings.s3_endpoint_url
        region = self.access.lake.settings.s3_region
        conf = cluster_spark_conf(S3Credentials(creds.access_key_id, creds.secret_access_key, creds.session_token),
                                  region=region, endpoint_url=endpoint)
        assert self.roles is not None
        store_root = f"s3://{self.roles.bucket}"
        return Vended(
            record=record,
            credentials=creds,
            tables=tuple(VendedTable(t.name, t.kind.value, t.version,
                                     f"{store_root}/{g.key_prefix(self.roles.lake_prefix)}")
                         for t in wanted if (g := t.grant) is not None),
            spark_conf=conf,
            storage_options=creds.storage_options(region=region, endpoint_url=endpoint),
        )

    def _cap(self, sub: Subscriber, tables: Sequence[LakeTable], seconds: int) -> int:
        """The lifetime to ask for: at most until :data:`EXPIRY_MARGIN_SECONDS` before the first expiry
        the access rests on. STS counts the lifetime from when it issues the credentials, a moment after
        this is computed (under load, more than a second was seen), so the margin keeps them inside."""
        horizon = expiry_horizon(self.access, sub.subject, tables)
        if horizon is None:
            return seconds
        left = int((horizon - utcnow()).total_seconds()) - EXPIRY_MARGIN_SECONDS
        if left < MIN_CREDENTIAL_SECONDS:
            raise AccessDenied(sub.subject, "get credentials for", ", ".join(t.name for t in tables),
                               f"a grant or membership they rest on expires at {horizon.isoformat()}, in less "
                               f"than the shortest credential lifetime ({MIN_CREDENTIAL_SECONDS} s) and a "
                               f"{EXPIRY_MARGIN_SECONDS} s margin; renew it "
                               "or read through the query gateway")
        return min(seconds, left)

    def _record(self, sub: Subscriber, tables: Sequence[LakeTable], creds: VendedCredentials, session: str,
                actor: str, role_arn: str) -> IssuedCredential:
        expires = as_utc(creds.expiration)
        with self.access.lake.catalog.session() as s:
            row = CredentialRow(subscriber=sub.name, tables=[t.key for t in tables], role_arn=role_arn,
                                access_key_prefix=creds.access_key_id[:KEY_PREFIX_CHARS], session_name=session,
                                issued_by=actor, issued_at=utcnow(), expires_at=expires)
            s.add(row)
            s.flush()
            return _issued(row)

    def _audit(self, sub: Subscriber, resource: str, decision: Decision, reason: str, **extra: object) -> None:
        self.access.audit.record(AuditKind.DECISION, actor=sub.subject, action="vend", resource=resource,
                                 decision=decision, detail={"subscriber": sub.name, "reason": reason, **extra})

    def credentials(self, name: str, *, include_inactive: bool = False, limit: int = 100) -> list[IssuedCredential]:
        """Credentials issued to ``name``, newest first: by default only those still valid
        (not expired, not revoked), judged against the clock at the time of the call."""
        now = utcnow()
        q = select(CredentialRow).where(CredentialRow.subscriber == name).order_by(CredentialRow.id.desc())
        if not include_inactive:
            q = q.where(CredentialRow.expires_at > now, CredentialRow.revoked_at.is_(None))
        with self.access.lake.catalog.session() as s:
            rows = [_issued(r) for r in s.scalars(q.limit(limit))]
        return [r for r in rows if include_inactive or r.active(now)]


def _issued(row: CredentialRow) -> IssuedCredential:
    return IssuedCredential(id=row.id, subscriber=row.subscriber, tables=tuple(row.tables or ()),
                            role_arn=row.role_arn, access_key_prefix=row.access_key_prefix,
                            issued_by=row.issued_by, issued_at=row.issued_at, expires_at=row.expires_at,
                            revoked_at=row.revoked_at, revoke_reason=row.revoke_reason)
