"""Catalog tables of views: views, their immutable versions, materialization runs.

A ``views`` row names a view and points at its current version; each
``view_versions`` row is immutable except for its deprecation fields; each
``view_runs`` row records one materialization of a version.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from lake.catalog.models import AwareDateTime, Base, utcnow


class View(Base):
    __tablename__ = "views"
    __table_args__ = (UniqueConstraint("domain_id", "name", name="uq_view_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id"))
    name: Mapped[str] = mapped_column(String(63))
    current_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)
    #: Refresh schedule (five-field cron, UTC); None: refreshed on apply and by hand only.
    refresh_cron: Mapped[str | None] = mapped_column(String(127), nullable=True)
    #: When the schedule next runs a refresh (claimed by moving it on).
    next_refresh_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime(), nullable=True)


class ViewVersion(Base):
    """One immutable version: the SQL as written, compiled, its schema and lineage."""

    __tablename__ = "view_versions"
    __table_args__ = (UniqueConstraint("view_id", "version", name="uq_view_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    view_id: Mapped[int] = mapped_column(ForeignKey("views.id"))
    version: Mapped[int] = mapped_column(Integer)
    sql: Mapped[str] = mapped_column(Text)
    compiled_sql: Mapped[str] = mapped_column(Text)
    materialization: Mapped[str] = mapped_column(String(15))
    owner: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    columns: Mapped[list[Any]] = mapped_column(JSON)
    dependencies: Mapped[list[Any]] = mapped_column(JSON)
    grain: Mapped[dict[str, Any]] = mapped_column(JSON)
    major: Mapped[bool] = mapped_column(Boolean, default=False)
    changes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    spark_checked: Mapped[bool] = mapped_column(Boolean, default=False)
    author: Mapped[str] = mapped_column(String(255), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)
    deprecated_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime(), nullable=True)
    deprecated_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    sunset_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    deprecation_note: Mapped[str] = mapped_column(Text, default="")


class ViewRun(Base):
    """One materialization run of a version: running, then succeeded or failed."""

    __tablename__ = "view_runs"
    __table_args__ = (Index("ix_view_runs_version", "view_version_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(36), unique=True)
    view_version_id: Mapped[int] = mapped_column(ForeignKey("view_versions.id"))
    status: Mapped[str] = mapped_column(String(15))
    trigger: Mapped[str] = mapped_column(String(31), default="manual")
    actor: Mapped[str] = mapped_column(String(255), default="")
    started_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime(), nullable=True)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    rows: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    table_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    table_version: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    source_versions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
