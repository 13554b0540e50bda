"""Reading metrics out of the catalog as domain values."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lake.errors import NotFound
from metrics_catalog.approvals import authors, progress, round_approvals
from metrics_catalog.chains import parse_chain
from metrics_catalog.definition import MetricDefinition
from metrics_catalog.info import (
    ApprovalInfo,
    Duplicate,
    EventInfo,
    MetricInfo,
    RevisionInfo,
    StageProgress,
)
from metrics_catalog.lifecycle import Status
from metrics_catalog.models import ApprovalRow, EventRow, MetricRow, RevisionRow
from metrics_catalog.normalize import canonical_filters


def metric_row(s: Session, name: str) -> MetricRow:
    row = s.scalars(select(MetricRow).where(MetricRow.name == name)).first()
    if row is None:
        raise NotFound(f"metric {name} does not exist")
    return row


def revision_row(s: Session, metric: MetricRow, number: int | None = None) -> RevisionRow:
    number = metric.current_revision if number is None else number
    row = s.scalars(select(RevisionRow).where(RevisionRow.metric_id == metric.id, RevisionRow.number == number)).first()
    if row is None:
        raise NotFound(f"metric {metric.name} has no revision {number} (revisions 1..{metric.current_revision})")
    return row


def definition_of(row: RevisionRow) -> MetricDefinition:
    return MetricDefinition.model_validate(row.definition)


def revision_info(row: RevisionRow) -> RevisionInfo:
    return RevisionInfo(row.number, definition_of(row), tuple(row.changed), row.author, row.message, row.created_at)


def approval_info(row: ApprovalRow) -> ApprovalInfo:
    return ApprovalInfo(row.id, row.round, row.stage, row.revision, row.approver, row.decision, row.reason,
                        row.valid, row.reset_by_revision, row.session_id, row.created_at)


def event_info(row: EventRow) -> EventInfo:
    return EventInfo(row.action, row.from_status, row.to_status, row.revision, row.stage, row.actor, row.reason,
                     row.session_id, row.created_at)


def duplicates(s: Session, metric: MetricRow, definition: MetricDefinition) -> tuple[Duplicate, ...]:
    """Other live metrics over the same view whose canonical expression is the same."""
    others = s.scalars(select(MetricRow).where(MetricRow.fingerprint == metric.fingerprint,
                                               MetricRow.id != metric.id,
                                               MetricRow.status != Status.RETIRED.value)
                       .order_by(MetricRow.name)).all()
    mine = canonical_filters(definition.filters)
    out = []
    for other in others:
        theirs = definition_of(revision_row(s, other))
        out.append(Duplicate(other.name, other.status, canonical_filters(theirs.filters) == mine))
    return tuple(out)


def metric_info(s: Session, row: MetricRow) -> MetricInfo:
    definition = definition_of(revision_row(s, row))
    stages: tuple[StageProgress, ...] = ()
    if row.chain is not None and row.status in (Status.PROPOSED, Status.IN_REVIEW, Status.CHANGES_REQUESTED):
        stages = tuple(progress(parse_chain(row.chain), round_approvals(s, row)))
    return MetricInfo(
        id=row.id, name=row.name, domain=row.domain, status=Status(row.status), owner=row.owner,
        created_by=row.created_by, revision=row.current_revision, certified_revision=row.certified_revision,
        definition=definition, stage=row.stage, round=row.round, reason=row.reason, created_at=row.created_at,
        updated_at=row.updated_at, stages=stages, duplicates=duplicates(s, row, definition),
        authors=tuple(authors(s, row)),
    )
