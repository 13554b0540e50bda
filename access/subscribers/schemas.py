"""Request and response bodies of the subscriber routes (``api/routes/subscribers.py``),
built from subscriber values, never ORM rows. Secrets appear only in :class:`VendedPublic`,
the answer to the one request that issues them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from access.subscribers.exports import Export
from access.subscribers.policy_sync import PolicyPlan
from access.subscribers.redshift import RedshiftPlan
from access.subscribers.values import IssuedCredential, Subscriber
from access.subscribers.vending import Vended
from lake.timestamps import UtcDateTime

TABLE_DOC = "'domain.name' (a dataset, else a view), or 'dataset:domain.name' / 'view:domain.name'."


class SubscriberCreate(BaseModel):
    name: str = Field(description="Lower-case letters, digits, '_' or '-' (it names the IAM role).")
    kind: str = Field(description="redshift, emr or sagemaker")
    owner: str = Field(description="The user or team role responsible for it.")
    roles: list[str] = Field(default_factory=list, description="Roles and groups to bind it to.")
    description: str = Field("", max_length=2000)


class RoleBind(BaseModel):
    expires_at: UtcDateTime | None = Field(None, description="When the binding ends (ISO 8601 with zone).")


class SubscriberPublic(BaseModel):
    name: str
    kind: str
    subject: str = Field(description="Its principal in the access layer.")
    owner: str
    status: str
    description: str
    roles: list[str]
    role_arn: str | None
    policy_tables: list[str] = Field(description="Tables its IAM role may read raw, as last written.")
    policy_synced_at: UtcDateTime | None
    policy_valid_until: UtcDateTime | None
    policy_error: str | None
    created_by: str
    created_at: UtcDateTime | None
    suspended_at: UtcDateTime | None

    @classmethod
    def of(cls, s: Subscriber) -> SubscriberPublic:
        return cls(name=s.name, kind=s.kind.value, subject=s.subject, owner=s.owner, status=s.status.value,
                   description=s.description, roles=list(s.roles), role_arn=s.role_arn,
                   policy_tables=list(s.policy_tables), policy_synced_at=s.policy_synced_at,
                   policy_valid_until=s.policy_valid_until, policy_error=s.policy_error, created_by=s.created_by,
                   created_at=s.created_at, suspended_at=s.suspended_at)


class GovernedTable(BaseModel):
    table: str
    reasons: list[str]


class PolicyPublic(BaseModel):
    subscriber: str
    raw: list[str] = Field(description="Tables it may read raw (its role policy lists exactly these).")
    governed: list[GovernedTable] = Field(description="Tables it may read only through the gateway or exports.")
    valid_until: UtcDateTime | None
    policy_version: int

    @classmethod
    def of(cls, plan: PolicyPlan) -> PolicyPublic:
        return cls(subscriber=plan.subscriber.name, raw=plan.table_keys,
                   governed=[GovernedTable(table=d.table.key, reasons=list(d.reasons)) for d in plan.governed],
                   valid_until=plan.valid_until, policy_version=plan.version)


class VendRequest(BaseModel):
    tables: list[str] = Field(min_length=1, max_length=100, description=TABLE_DOC)
    duration_seconds: int | None = Field(None, ge=900, le=3600,
                                         description="900 to 3600; shortened to the first grant expiry.")


class CredentialPublic(BaseModel):
    id: int
    subscriber: str
    tables: list[str]
    role_arn: str
    access_key_prefix: str
    issued_by: str
    issued_at: UtcDateTime
    expires_at: UtcDateTime
    revoked_at: UtcDateTime | None
    revoke_reason: str

    @classmethod
    def of(cls, c: IssuedCredential) -> CredentialPublic:
        return cls(id=c.id, subscriber=c.subscriber, tables=list(c.tables), role_arn=c.role_arn,
                   access_key_prefix=c.access_key_prefix, issued_by=c.issued_by, issued_at=c.issued_at,
                   expires_at=c.expires_at, revoked_at=c.revoked_at, revoke_reason=c.revoke_reason)


class VendedTablePublic(BaseModel):
    name: str
    kind: str
    version: int
    location: str


class VendedPublic(BaseModel):
    """Shown once: the secret access key and session token are not kept by Lakegate."""

    record: CredentialPublic
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: UtcDateTime
    role_arn: str
    tables: list[VendedTablePublic]
    spark_conf: dict[str, str] = Field(description="spark.* settings for the cluster (holds the credentials).")
    storage_options: dict[str, str] = Field(description="deltalake storage options (hold the credentials).")

    @classmethod
    def of(cls, v: Vended) -> VendedPublic:
        c = v.credentials
        return cls(record=CredentialPublic.of(v.record), access_key_id=c.access_key_id,
                   secret_access_key=c.secret_access_key, session_token=c.session_token, expiration=c.expiration,
                   role_arn=c.role_arn, tables=[VendedTablePublic(name=t.name, kind=t.kind, version=t.version,
                                                                  location=t.location) for t in v.tables],
                   spark_conf=dict(v.spark_conf), storage_options=dict(v.storage_options))


class RedshiftSyncRequest(BaseModel):
    target: str = Field("redshift", description="redshift, or postgres (the same plan for PostgreSQL)")
    full: bool = Field(False, description="Every statement for an empty cluster, not the difference.")
    dry_run: bool = Field(False, description="Show the statements without recording them as applied.")


class SkippedPublic(BaseModel):
    table: str
    reason: str


class RedshiftPlanPublic(BaseModel):
    subscriber: str
    target: str
    statements: list[str]
    created: list[str]
    dropped: list[str]
    skipped: list[SkippedPublic]
    grants: dict[str, list[str]] = Field(description="Per Redshift role, the views it may select.")

    @classmethod
    def of(cls, p: RedshiftPlan) -> RedshiftPlanPublic:
        return cls(subscriber=p.subscriber, target=p.target.value, statements=list(p.statements),
                   created=list(p.created), dropped=list(p.dropped),
                   skipped=[SkippedPublic(table=s.table, reason=s.reason) for s in p.skipped],
                   grants={k: list(v) for k, v in p.grants.items()})


class SubscriberDeleted(BaseModel):
    subscriber: SubscriberPublic
    redshift_teardown: list[str] = Field(description="For a Redshift subscriber: run these on its cluster.")


class ExportCreate(BaseModel):
    table: str = Field(description=TABLE_DOC)
    role: str | None = Field(None, description="One of the subscriber's roles, instead of all of them.")
    url_seconds: int | None = Field(None, ge=1, le=7 * 24 * 3600, description="Lifetime of presigned URLs.")


class ExportFilePublic(BaseModel):
    name: str
    rows: int
    bytes: int
    sha256: str
    url: str | None


class ExportPublic(BaseModel):
    id: str
    subscriber: str
    table: str
    subject: str
    location: str
    rows: int
    files: list[ExportFilePublic]
    source_versions: dict[str, int]
    created_at: UtcDateTime
    manifest_url: str | None
    datacard_url: str | None
    urls_expire_at: UtcDateTime | None
    datacard: dict[str, Any] | None = None

    @classmethod
    def of(cls, e: Export) -> ExportPublic:
        return cls(id=e.id, subscriber=e.subscriber, table=e.table, subject=e.subject, location=e.location,
                   rows=e.rows, files=[ExportFilePublic(name=f.name, rows=f.rows, bytes=f.bytes, sha256=f.sha256,
                                                        url=f.url) for f in e.files],
                   source_versions=dict(e.source_versions), created_at=e.created_at, manifest_url=e.manifest_url,
                   datacard_url=e.datacard_url, urls_expire_at=e.urls_expire_at,
                   datacard=dict(e.datacard) or None)
