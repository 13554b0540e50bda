"""ORM tables of engine subscribers (migration ``0007``).

* ``access_subscribers``: the registry, with the state of each subscriber's
  IAM role policy (which tables, when written, until when it holds).
* ``access_subscriber_credentials``: every vended credential, without its
  secret parts (an access key id prefix only).
* ``access_subscriber_redshift``: the Redshift objects and grants applied
  last time, so that ``sync`` emits only the difference.
* ``access_subscriber_exports``: governed exports and their manifests.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lake.catalog.models import AwareDateTime, Base, utcnow


class SubscriberRow(Base):
    __tablename__ = "access_subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    kind: Mapped[str] = mapped_column(String(15))
    subject: Mapped[str] = mapped_column(String(255), unique=True)
    owner: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(15), default="active")
    description: Mapped[str] = mapped_column(Text, default="")
    role_arn: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    policy_tables: Mapped[list[Any]] = mapped_column(JSON, default=list)
    policy_document: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    policy_version: Mapped[int] = mapped_column(Integer, default=0)
    policy_synced_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime(), nullable=True)
    policy_valid_until: Mapped[dt.datetime | None] = mapped_column(AwareDateTime(), nullable=True)
    policy_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)
    suspended_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime(), nullable=True)


class CredentialRow(Base):
    __tablename__ = "access_subscriber_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber: Mapped[str] = mapped_column(String(63), index=True)
    tables: Mapped[list[Any]] = mapped_column(JSON, default=list)
    role_arn: Mapped[str] = mapped_column(String(2048))
    access_key_prefix: Mapped[str] = mapped_column(String(16))
    session_name: Mapped[str] = mapped_column(String(64))
    issued_by: Mapped[str] = mapped_column(String(255), default="")
    issued_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), index=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime(), nullable=True)
    revoke_reason: Mapped[str] = mapped_column(Text, default="")


class RedshiftObjectRow(Base):
    __tablename__ = "access_subscriber_redshift"
    __table_args__ = (UniqueConstraint("subscriber", "object_key", name="uq_subscriber_redshift_object"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber: Mapped[str] = mapped_column(String(63))
    object_key: Mapped[str] = mapped_column(String(1024))
    kind: Mapped[str] = mapped_column(String(31))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    spec_hash: Mapped[str] = mapped_column(String(64))
    applied_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)


class ExportRow(Base):
    __tablename__ = "access_subscriber_exports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subscriber: Mapped[str] = mapped_column(String(63), index=True)
    table_key: Mapped[str] = mapped_column(String(512))
    subject: Mapped[str] = mapped_column(String(255))
    location: Mapped[str] = mapped_column(Text)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    files: Mapped[list[Any]] = mapped_column(JSON, default=list)
    source_versions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)
    urls_expire_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime(), nullable=True)
