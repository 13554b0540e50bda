"""Request and response bodies of the access routes (``api/routes/access.py``,
``requests.py``, ``audit.py``), built from access values, never ORM rows."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from access.audit import AuditEntry, VerifyResult
from access.index import Explanation
from access.policy import TableAccess
from access.requests import AccessRequestInfo
from access.values import Grant, MaskRule, Membership, Role, RowFilterRule
from lake.timestamps import UtcDateTime

RESOURCE_DOC = ("A resource key: 'lake', 'domain:ads', 'dataset:ads.conversions', 'view:ads.daily', "
                "'metric:ads.revenue' or a column 'dataset:ads.conversions.email'.")


class RoleCreate(BaseModel):
    name: str = Field(description="Lower-case name; roles, groups and users share one namespace.")
    description: str = Field("", max_length=2000)


class RolePublic(BaseModel):
    name: str
    kind: str = Field(description="role or group")
    description: str

    @classmethod
    def of(cls, role: Role) -> RolePublic:
        return cls(name=role.name, kind=role.kind.value, description=role.description)


class MemberAdd(BaseModel):
    member: str = Field(description="A user, service principal, group or role.")
    expires_at: UtcDateTime | None = Field(None, description="When the membership ends (ISO 8601 with zone).")


class MembershipPublic(BaseModel):
    member: str
    role: str
    expires_at: UtcDateTime | None

    @classmethod
    def of(cls, m: Membership) -> MembershipPublic:
        return cls(member=m.member, role=m.role, expires_at=m.expires_at)


class GrantCreate(BaseModel):
    subject: str
    action: str = Field(description="discover, read, write, propose, approve, grant or admin.")
    resource: str = Field(description=RESOURCE_DOC)
    effect: str = Field("allow", description="allow, or deny (a deny anywhere above wins).")
    expires_at: UtcDateTime | None = None
    reason: str = Field("", max_length=2000)


class GrantPublic(BaseModel):
    id: int | None
    subject: str
    action: str
    resource: str
    effect: str
    expires_at: UtcDateTime | None
    reason: str
    request_id: int | None

    @classmethod
    def of(cls, g: Grant) -> GrantPublic:
        return cls(id=g.id, subject=g.subject, action=g.action.value, resource=g.resource.key, effect=g.effect.value,
                   expires_at=g.expires_at, reason=g.reason, request_id=g.request_id)


class MaskSet(BaseModel):
    subject: str
    resource: str = Field(description="A column; or a table, domain or 'lake' for the PII columns under it.")
    mask: str = Field(description="null, redact, hash, partial, partial:N or decrypt.")
    expires_at: UtcDateTime | None = Field(None, description="When the rule stops applying (ISO 8601 with zone).")


class MaskPublic(BaseModel):
    id: int | None
    subject: str
    resource: str
    mask: str
    expires_at: UtcDateTime | None = None

    @classmethod
    def of(cls, m: MaskRule) -> MaskPublic:
        return cls(id=m.id, subject=m.subject, resource=m.resource.key, mask=str(m.mask), expires_at=m.expires_at)


class RowFilterSet(BaseModel):
    subject: str
    resource: str = Field(description="A dataset, view, domain or 'lake'.")
    predicate: str = Field(description="A Spark SQL predicate over the table's columns, e.g. country IN ('DE', 'FR').",
                           max_length=4000)
    expires_at: UtcDateTime | None = Field(None, description="When the filter stops applying (ISO 8601 with zone).")


class RowFilterPublic(BaseModel):
    id: int | None
    subject: str
    resource: str
    predicate: str
    expires_at: UtcDateTime | None = None

    @classmethod
    def of(cls, f: RowFilterRule) -> RowFilterPublic:
        return cls(id=f.id, subject=f.subject, resource=f.resource.key, predicate=f.predicate,
                   expires_at=f.expires_at)


class RulePublic(BaseModel):
    subject: str
    resource: str
    action: str
    effect: str


class DecisionPublic(BaseModel):
    subject: str
    action: str
    resource: str
    allowed: bool
    reason: str
    allows: list[RulePublic]
    denies: list[RulePublic]

    @classmethod
    def of(cls, subject: str, action: str, resource: str, e: Explanation) -> DecisionPublic:
        def rules(rs: Any) -> list[RulePublic]:
            return [RulePublic(subject=r.subject, resource=r.obj, action=r.act, effect=r.effect) for r in rs]

        return cls(subject=subject, action=action, resource=resource, allowed=e.allowed, reason=e.reason(),
                   allows=rules(e.allows), denies=rules(e.denies))


class ColumnAccessPublic(BaseModel):
    name: str
    mask: str | None = Field(description="null: clear. A PII column shows 'decrypt' when it is in clear.")


class TableAccessPublic(BaseModel):
    resource: str
    subject: str
    allowed: bool
    columns: list[ColumnAccessPublic]
    row_filter: str | None
    reason: str

    @classmethod
    def of(cls, subject: str, t: TableAccess) -> TableAccessPublic:
        return cls(resource=t.resource.key, subject=subject, allowed=t.allowed, row_filter=t.row_filter,
                   reason=t.reason,
                   columns=[ColumnAccessPublic(name=c.name, mask=str(c.mask) if c.mask else None) for c in t.columns])


class ImportResult(BaseModel):
    roles: int
    grants: int
    memberships: int
    masks: int
    row_filters: int
    removed: int


class RequestCreate(BaseModel):
    resource: str = Field(description=RESOURCE_DOC)
    columns: list[str] = Field(default_factory=list, description="Only these columns of a dataset or view.")
    reason: str = Field(min_length=1, max_length=2000)
    duration_days: float = Field(30, gt=0, le=366)
    action: str = "read"


class RequestDecision(BaseModel):
    note: str = Field("", max_length=2000)
    duration_days: float | None = Field(None, gt=0, le=366, description="Approve for this long instead.")
    reveal_pii: bool = Field(False, description="Approve only: also show the PII columns the request covers in "
                                                "clear until the grants expire (needs admin on them).")


class RequestPublic(BaseModel):
    id: int
    requester: str
    resource: str
    action: str
    columns: list[str]
    reason: str
    duration_seconds: int
    status: str
    expired: bool
    created_at: UtcDateTime
    decided_by: str | None
    decided_at: UtcDateTime | None
    decision_note: str
    expires_at: UtcDateTime | None

    @classmethod
    def of(cls, r: AccessRequestInfo) -> RequestPublic:
        return cls(id=r.id, requester=r.requester, resource=r.resource.key, action=r.action.value,
                   columns=list(r.columns), reason=r.reason, duration_seconds=int(r.duration.total_seconds()),
                   status=r.status.value, expired=r.expired(), created_at=r.created_at, decided_by=r.decided_by,
                   decided_at=r.decided_at, decision_note=r.decision_note, expires_at=r.expires_at)


class AuditEntryPublic(BaseModel):
    seq: int
    at: UtcDateTime
    kind: str
    actor: str
    action: str
    resource: str
    decision: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, e: AuditEntry) -> AuditEntryPublic:
        return cls(seq=e.seq, at=e.at, kind=e.kind.value, actor=e.actor, action=e.action, resource=e.resource,
                   decision=e.decision.value, detail=e.detail, prev_hash=e.prev_hash, hash=e.hash)


class AuditProblemPublic(BaseModel):
    seq: int
    kind: str = Field(description="edited, removed or reordered")
    message: str


class AuditVerifyPublic(BaseModel):
    ok: bool
    entries: int
    head_seq: int
    head_hash: str = Field(description="Note it outside Lakegate; pass it back as expected_head later.")
    problems: list[AuditProblemPublic]

    @classmethod
    def of(cls, v: VerifyResult) -> AuditVerifyPublic:
        return cls(ok=v.ok, entries=v.entries, head_seq=v.head_seq, head_hash=v.head_hash,
                   problems=[AuditProblemPublic(**p.as_dict()) for p in v.problems])
