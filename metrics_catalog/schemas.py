"""Request and response bodies of the metric routes, built from domain values."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from lake.notify import ChannelInfo, Notice, PreferenceInfo
from lake.timestamps import UtcDateTime
from metrics_catalog.chains import ApprovalChain
from metrics_catalog.comments import CommentInfo
from metrics_catalog.info import ApprovalInfo, EventInfo, MetricInfo, RevisionInfo
from metrics_catalog.meetings import AgendaItem, MeetingInfo, SessionInfo
from metrics_catalog.values import MetricValues

#: Largest id or number the catalog stores (signed 64 bits).
_MAX_INT = 2**63 - 1


class StagePublic(BaseModel):
    name: str
    roles: list[str]
    quorum: int
    approvers: list[str]
    complete: bool
    current: bool


class DuplicatePublic(BaseModel):
    name: str
    status: str
    same_filters: bool


class MetricPublic(BaseModel):
    name: str
    domain: str
    status: str
    owner: str
    created_by: str
    revision: int
    certified_revision: int | None
    certified: bool
    stage: str | None
    round: int
    reason: str
    definition: dict[str, Any]
    stages: list[StagePublic]
    duplicates: list[DuplicatePublic]
    authors: list[str]
    created_at: UtcDateTime
    updated_at: UtcDateTime

    @classmethod
    def of(cls, info: MetricInfo) -> MetricPublic:
        return cls(
            name=info.name, domain=info.domain, status=info.status.value, owner=info.owner,
            created_by=info.created_by, revision=info.revision, certified_revision=info.certified_revision,
            certified=info.certified, stage=info.stage, round=info.round, reason=info.reason,
            definition=info.definition.to_dict(),
            stages=[StagePublic(name=s.name, roles=list(s.roles), quorum=s.quorum, approvers=list(s.approvers),
                                complete=s.complete, current=s.current) for s in info.stages],
            duplicates=[DuplicatePublic(name=d.name, status=d.status, same_filters=d.same_filters)
                        for d in info.duplicates],
            authors=list(info.authors), created_at=info.created_at, updated_at=info.updated_at,
        )


class MetricUpdate(BaseModel):
    """A new revision: the fields that change, and why."""

    changes: dict[str, Any] = Field(description="Definition fields to change, e.g. {'expression': 'SUM(x)'}")
    message: str = ""


class TransitionRequest(BaseModel):
    action: str = Field(description="propose, start_review, withdraw, deprecate, reinstate or retire")
    reason: str = ""


class DecisionRequest(BaseModel):
    decision: str = Field(description="approve, request_changes or reject")
    reason: str = ""
    revision: int | None = Field(default=None, ge=1, le=_MAX_INT,
                                 description="The revision reviewed; refused if no longer current")


class RevisionPublic(BaseModel):
    number: int
    definition: dict[str, Any]
    changed: list[str]
    author: str
    message: str
    created_at: UtcDateTime

    @classmethod
    def of(cls, info: RevisionInfo) -> RevisionPublic:
        return cls(number=info.number, definition=info.definition.to_dict(), changed=list(info.changed),
                   author=info.author, message=info.message, created_at=info.created_at)


class ApprovalPublic(BaseModel):
    round: int
    stage: str
    revision: int
    approver: str
    decision: str
    reason: str
    valid: bool
    reset_by_revision: int | None
    session_id: int | None
    created_at: UtcDateTime

    @classmethod
    def of(cls, a: ApprovalInfo) -> ApprovalPublic:
        return cls(round=a.round, stage=a.stage, revision=a.revision, approver=a.approver, decision=a.decision,
                   reason=a.reason, valid=a.valid, reset_by_revision=a.reset_by_revision, session_id=a.session_id,
                   created_at=a.created_at)


class EventPublic(BaseModel):
    action: str
    from_status: str
    to_status: str
    revision: int
    stage: str | None
    actor: str
    reason: str
    session_id: int | None
    created_at: UtcDateTime

    @classmethod
    def of(cls, e: EventInfo) -> EventPublic:
        return cls(action=e.action, from_status=e.from_status, to_status=e.to_status, revision=e.revision,
                   stage=e.stage, actor=e.actor, reason=e.reason, session_id=e.session_id,
                   created_at=e.created_at)


class CommentCreate(BaseModel):
    body: str = Field(min_length=1, max_length=20_000)
    parent_id: int | None = Field(default=None, ge=1, le=_MAX_INT)


class CommentPublic(BaseModel):
    id: int
    revision: int
    parent_id: int | None
    author: str
    body: str
    created_at: UtcDateTime

    @classmethod
    def of(cls, c: CommentInfo) -> CommentPublic:
        return cls(id=c.id, revision=c.revision, parent_id=c.parent_id, author=c.author, body=c.body,
                   created_at=c.created_at)


class ValuesPublic(BaseModel):
    metric: str
    revision: int
    certified: bool
    deprecated: bool
    grain: str
    dimensions: list[str]
    start: dt.date | None = Field(serialization_alias="from")
    end: dt.date | None = Field(serialization_alias="to")
    unit: str
    format: str
    columns: list[str]
    rows: list[dict[str, Any]]
    sql: str
    source: str
    data_version: int | None
    engine: str
    cached: bool

    @classmethod
    def of(cls, v: MetricValues) -> ValuesPublic:
        return cls(metric=v.metric, revision=v.revision, certified=v.certified, deprecated=v.deprecated,
                   grain=v.grain.value, dimensions=list(v.dimensions), start=v.start, end=v.end, unit=v.unit,
                   format=v.format, columns=list(v.columns), rows=v.records(), sql=v.sql, source=v.source,
                   data_version=v.data_version, engine=v.engine, cached=v.cached)


class ChainPublic(BaseModel):
    domain: str
    stages: list[dict[str, Any]]

    @classmethod
    def of(cls, chain: ApprovalChain) -> ChainPublic:
        data = chain.to_dict()
        return cls(domain=data["domain"], stages=data["stages"])


class MeetingCreate(BaseModel):
    domain: str
    title: str
    stage: str
    starts_at: UtcDateTime
    duration_minutes: int = Field(60, ge=1, le=24 * 60)
    frequency: str = "weekly"
    interval: int = Field(1, ge=1, le=1000)
    count: int | None = Field(None, ge=1, le=10_000)
    location: str = ""


class MeetingPublic(BaseModel):
    id: int
    domain: str
    title: str
    stage: str
    starts_at: UtcDateTime
    duration_minutes: int
    frequency: str
    interval: int
    count: int | None
    location: str
    organizer: str
    rrule: str
    next_occurrences: list[UtcDateTime]

    @classmethod
    def of(cls, m: MeetingInfo, now: dt.datetime) -> MeetingPublic:
        return cls(id=m.id, domain=m.domain, title=m.title, stage=m.stage, starts_at=m.starts_at,
                   duration_minutes=m.duration_minutes, frequency=m.frequency.value, interval=m.interval,
                   count=m.count, location=m.location, organizer=m.organizer, rrule=m.rrule,
                   next_occurrences=m.occurrences(now, limit=3))


class AgendaItemPublic(BaseModel):
    metric: str
    revision: int
    status: str
    stage: str
    duplicates: list[str]

    @classmethod
    def of(cls, a: AgendaItem) -> AgendaItemPublic:
        return cls(metric=a.metric, revision=a.revision, status=a.status, stage=a.stage,
                   duplicates=list(a.duplicates))


class MinutePublic(BaseModel):
    kind: str
    metric: str | None
    decision: str | None
    actor: str
    text: str
    created_at: UtcDateTime


class SessionOpen(BaseModel):
    starts_at: UtcDateTime | None = Field(default=None, description="An occurrence; the current or next by default")


class SessionDecision(BaseModel):
    metric: str
    decision: str
    reason: str = ""


class SessionNote(BaseModel):
    text: str = Field(min_length=1)
    metric: str | None = None


class SessionPublic(BaseModel):
    id: int
    meeting_id: int
    starts_at: UtcDateTime
    status: str
    agenda: list[AgendaItemPublic]
    minutes: list[MinutePublic]
    opened_by: str
    closed_at: UtcDateTime | None

    @classmethod
    def of(cls, s: SessionInfo) -> SessionPublic:
        return cls(id=s.id, meeting_id=s.meeting_id, starts_at=s.starts_at, status=s.status.value,
                   agenda=[AgendaItemPublic.of(a) for a in s.agenda],
                   minutes=[MinutePublic(kind=m.kind, metric=m.metric, decision=m.decision, actor=m.actor,
                                         text=m.text, created_at=m.created_at) for m in s.minutes],
                   opened_by=s.opened_by, closed_at=s.closed_at)


class NoticePublic(BaseModel):
    id: int
    kind: str
    metric: str = Field(description="What it is about: a metric's name, or a resource key (dataset:a.b).")
    title: str
    body: str
    payload: dict[str, Any]
    created_at: UtcDateTime
    read: bool
    done: bool = Field(default=False, description="What it asked for no longer waits (stage moved on, "
                                                  "request decided).")
    link: str = Field(default="", description="Where it points, under /ui.")

    @classmethod
    def of(cls, n: Notice) -> NoticePublic:
        return cls(id=n.id, kind=n.kind.value, metric=n.metric, title=n.title, body=n.body, payload=n.payload,
                   created_at=n.created_at, read=n.read, done=n.done, link=n.link)


class PreferencesPublic(BaseModel):
    """Where each kind of notice goes (inbox, email, webhook); kinds you never chose follow the default."""

    deliveries: dict[str, list[str]]
    chosen: list[str] = Field(description="The kinds you chose; the others follow the default.")

    @classmethod
    def of(cls, p: PreferenceInfo) -> PreferencesPublic:
        return cls(deliveries=p.to_dict(), chosen=sorted(p.chosen))


class PreferencesUpdate(BaseModel):
    deliveries: dict[str, list[str]] = Field(default_factory=dict, description="Notice kind to the deliveries "
                                             "it goes to (inbox, email, webhook); [] sends it nowhere.")
    reset: list[str] = Field(default_factory=list, description="Kinds that go back to the default.")


class ChannelCreate(BaseModel):
    kind: str = Field(description="webhook or email")
    target: str = Field(description="An http(s) URL or an email address")


class ChannelPublic(BaseModel):
    id: int
    kind: str
    target: str
    created_at: UtcDateTime
    secret: str | None = Field(default=None, description="The webhook signing secret; shown only on creation")

    @classmethod
    def of(cls, c: ChannelInfo) -> ChannelPublic:
        return cls(id=c.id, kind=c.kind.value, target=c.target, created_at=c.created_at, secret=c.secret)


class DeliveryPublic(BaseModel):
    sent: list[int]
    failed: list[dict[str, Any]]
