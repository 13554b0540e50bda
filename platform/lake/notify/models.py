"""Catalog tables of notifications (migrations ``0004`` and ``0008``).

The tables keep the names they were created with under the metric catalog
(``metric_inbox``, ``metric_channels``, ``metric_outbox``), which first
sent notices; access requests and views post to them too. ``metric`` of an
inbox row is what the notice is about: a metric's name, or a resource key
(``dataset:sales.orders``) for access notices.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lake.catalog.models import AwareDateTime, Base, utcnow


class InboxRow(Base):
    """A notice in one person's inbox; ``done_at`` is set once what it asked for no longer waits."""

    __tablename__ = "metric_inbox"
    __table_args__ = (Index("ix_metric_inbox_recipient", "recipient", "id"),
                      Index("ix_metric_inbox_about", "metric", "kind"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(31))
    metric: Mapped[str] = mapped_column(String(127))
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime(), nullable=True)
    done_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime(), nullable=True)


class ChannelRow(Base):
    """Where a user's notifications also go: a webhook URL or an email address."""

    __tablename__ = "metric_channels"
    __table_args__ = (UniqueConstraint("subject", "kind", "target", name="uq_metric_channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(15))
    target: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)


class OutboxRow(Base):
    """A message to deliver: written with the action, sent after it commits."""

    __tablename__ = "metric_outbox"
    __table_args__ = (Index("ix_metric_outbox_status", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("metric_channels.id"))
    kind: Mapped[str] = mapped_column(String(15))
    target: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(15), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime(), nullable=True)


class PreferenceRow(Base):
    """One person's choices: notice kind to the deliveries it goes to (``inbox``, ``email``, ``webhook``).

    Kinds not named follow the defaults of :mod:`lake.notify.preferences`.
    """

    __tablename__ = "notify_preferences"

    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    choices: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)
