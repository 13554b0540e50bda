"""Catalog tables of the metric catalog (migration ``0004``).

``metrics`` holds one row per metric with its lifecycle state and a
``lock_version`` that every workflow action bumps: an update that finds a
different version than it read changes nothing, so two actions on the same
metric never both apply (optimistic locking, the same on SQLite and
PostgreSQL). The other tables hang off it: immutable revisions, approvals,
state changes, comments; review meetings and their sessions and minutes;
cached metric values. The inbox, channels and outbox live in :mod:`lake.notify.models`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from lake.catalog.models import AwareDateTime, Base, utcnow
from lake.notify.models import ChannelRow, InboxRow, OutboxRow  # noqa: F401 - their home is lake.notify


class ApprovalChainRow(Base):
    __tablename__ = "metric_chains"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain: Mapped[str] = mapped_column(String(63), unique=True)
    stages: Mapped[list[Any]] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(255), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)


class MetricRow(Base):
    __tablename__ = "metrics"
    __table_args__ = (Index("ix_metrics_fingerprint", "fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(127), unique=True)
    domain: Mapped[str] = mapped_column(String(63))
    status: Mapped[str] = mapped_column(String(31))
    owner: Mapped[str] = mapped_column(String(255), default="")
    created_by: Mapped[str] = mapped_column(String(255))
    current_revision: Mapped[int] = mapped_column(Integer)
    certified_revision: Mapped[int | None] = mapped_column(Integer, nullable=True)
    view: Mapped[str] = mapped_column(String(127))
    fingerprint: Mapped[str] = mapped_column(String(64))
    chain: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    stage: Mapped[str | None] = mapped_column(String(63), nullable=True)
    round: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(Text, default="")
    lock_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)

    # Every UPDATE says "WHERE lock_version = <the version read>" and bumps it;
    # finding another version raises StaleDataError and the action is retried.
    __mapper_args__ = {"version_id_col": lock_version}  # read once by the mapper


class RevisionRow(Base):
    __tablename__ = "metric_revisions"
    __table_args__ = (UniqueConstraint("metric_id", "number", name="uq_metric_revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric_id: Mapped[int] = mapped_column(ForeignKey("metrics.id"))
    number: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    changed: Mapped[list[Any]] = mapped_column(JSON, default=list)
    fingerprint: Mapped[str] = mapped_column(String(64))
    author: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)


class ApprovalRow(Base):
    """One decision at a stage. ``valid`` turns false when a revision resets the stage."""

    __tablename__ = "metric_approvals"
    __table_args__ = (Index("ix_metric_approvals_round", "metric_id", "round"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric_id: Mapped[int] = mapped_column(ForeignKey("metrics.id"))
    round: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(63))
    revision: Mapped[int] = mapped_column(Integer)
    approver: Mapped[str] = mapped_column(String(255))
    decision: Mapped[str] = mapped_column(String(31))
    reason: Mapped[str] = mapped_column(Text, default="")
    session_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    valid: Mapped[bool] = mapped_column(Boolean, default=True)
    reset_by_revision: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)


class EventRow(Base):
    """One change of state (or revision) of a metric, for its history."""

    __tablename__ = "metric_events"
    __table_args__ = (Index("ix_metric_events_metric", "metric_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric_id: Mapped[int] = mapped_column(ForeignKey("metrics.id"))
    action: Mapped[str] = mapped_column(String(31))
    from_status: Mapped[str] = mapped_column(String(31))
    to_status: Mapped[str] = mapped_column(String(31))
    revision: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str | None] = mapped_column(String(63), nullable=True)
    actor: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text, default="")
    session_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)


class CommentRow(Base):
    __tablename__ = "metric_comments"
    __table_args__ = (Index("ix_metric_comments_metric", "metric_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric_id: Mapped[int] = mapped_column(ForeignKey("metrics.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("metric_comments.id"), nullable=True)
    revision: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)


class MeetingRow(Base):
    """A recurring review meeting of a domain for one stage of its chain."""

    __tablename__ = "metric_meetings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain: Mapped[str] = mapped_column(String(63))
    title: Mapped[str] = mapped_column(String(255))
    stage: Mapped[str] = mapped_column(String(63))
    starts_at: Mapped[dt.datetime] = mapped_column(AwareDateTime())
    duration_minutes: Mapped[int] = mapped_column(Integer)
    frequency: Mapped[str] = mapped_column(String(15))
    interval: Mapped[int] = mapped_column("interval", Integer, default=1)
    count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    location: Mapped[str] = mapped_column(String(255), default="")
    organizer: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)


class MeetingSessionRow(Base):
    """One held occurrence of a meeting: its agenda and whether it is open or closed."""

    __tablename__ = "metric_meeting_sessions"
    __table_args__ = (UniqueConstraint("meeting_id", "starts_at", name="uq_meeting_session"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("metric_meetings.id"))
    starts_at: Mapped[dt.datetime] = mapped_column(AwareDateTime())
    status: Mapped[str] = mapped_column(String(15))
    agenda: Mapped[list[Any]] = mapped_column(JSON, default=list)
    opened_by: Mapped[str] = mapped_column(String(255))
    closed_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime(), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)


class MinuteRow(Base):
    """One line of a session's minutes: a note, or a decision applied to a metric."""

    __tablename__ = "metric_minutes"
    __table_args__ = (Index("ix_metric_minutes_session", "session_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("metric_meeting_sessions.id"))
    kind: Mapped[str] = mapped_column(String(15))
    metric: Mapped[str | None] = mapped_column(String(127), nullable=True)
    decision: Mapped[str | None] = mapped_column(String(31), nullable=True)
    actor: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)


class ValueCacheRow(Base):
    """Computed metric values, keyed by revision, parameters, data version and caller scope."""

    __tablename__ = "metric_value_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    metric_id: Mapped[int] = mapped_column(ForeignKey("metrics.id"))
    revision: Mapped[int] = mapped_column(Integer)
    data_version: Mapped[str] = mapped_column(String(255))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)
