"""ORM tables of the access layer (migration ``0003``; saved queries ``0010``).

Policies (grants, role memberships, masks, row filters) are rows here; every
change also bumps ``access_policy_head`` and appends to
``access_policy_changes`` in the same transaction, so other processes bring
their decision index up to date by replaying the changes they have not seen.
The audit log is a hash chain whose newest link is kept in ``audit_head``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lake.catalog.models import AwareDateTime, Base, utcnow


class AccessRole(Base):
    """A role or a group; members are users, service principals, groups or roles."""

    __tablename__ = "access_roles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(15))  # role, group
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)


class AccessMembership(Base):
    """A Casbin ``g`` line: ``member`` holds ``role`` (until ``expires_at``)."""

    __tablename__ = "access_memberships"
    __table_args__ = (UniqueConstraint("member", "role", name="uq_access_membership"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime(), nullable=True)
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)


class AccessGrant(Base):
    """A Casbin ``p`` line: ``subject`` is allowed or denied ``action`` on ``resource``."""

    __tablename__ = "access_grants"
    __table_args__ = (UniqueConstraint("subject", "resource", "action", "effect", name="uq_access_grant"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(255))
    resource: Mapped[str] = mapped_column(String(512), index=True)
    action: Mapped[str] = mapped_column(String(15))
    effect: Mapped[str] = mapped_column(String(7))  # allow, deny
    expires_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime(), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    request_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)


class AccessMask(Base):
    """How ``subject`` sees a column (or the PII columns under a table, domain or the lake), until ``expires_at``."""

    __tablename__ = "access_masks"
    __table_args__ = (UniqueConstraint("subject", "resource", name="uq_access_mask"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(255))
    resource: Mapped[str] = mapped_column(String(512))
    kind: Mapped[str] = mapped_column(String(15))
    keep_last: Mapped[int] = mapped_column(Integer, default=4)
    expires_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime(), nullable=True)
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)


class AccessRowFilter(Base):
    """The rows ``subject`` reads of the tables under ``resource``: a Spark SQL predicate (until ``expires_at``)."""

    __tablename__ = "access_row_filters"
    __table_args__ = (UniqueConstraint("subject", "resource", name="uq_access_row_filter"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(255))
    resource: Mapped[str] = mapped_column(String(512))
    predicate: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime(), nullable=True)
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)


class AccessPolicyHead(Base):
    """One row: the policy version. Writers lock it, so versions commit in order."""

    __tablename__ = "access_policy_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class AccessPolicyChange(Base):
    """One policy change, replayed by other processes' decision indexes."""

    __tablename__ = "access_policy_changes"

    version: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    op: Mapped[str] = mapped_column(String(7))  # add, remove
    entity: Mapped[str] = mapped_column(String(15))  # grant, membership, mask, row_filter, role
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)


class AccessRequest(Base):
    """A subscriber's request for access to a resource, and its decision."""

    __tablename__ = "access_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requester: Mapped[str] = mapped_column(String(255))
    resource: Mapped[str] = mapped_column(String(512))
    action: Mapped[str] = mapped_column(String(15))
    columns: Mapped[list[Any]] = mapped_column(JSON, default=list)
    reason: Mapped[str] = mapped_column(Text, default="")
    duration_seconds: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status: Mapped[str] = mapped_column(String(15), default="pending", index=True)
    decided_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime(), nullable=True)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime(), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)
    #: When the requester was told that the approved grants expired.
    expiry_noticed_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime(), nullable=True)


class AccessHashKey(Base):
    """A wrapped secret for keyed hash masks on tables without a data key (views)."""

    __tablename__ = "access_hash_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource: Mapped[str] = mapped_column(String(512), unique=True)
    provider: Mapped[str] = mapped_column(String(31))
    key_ref: Mapped[str] = mapped_column(String(255), default="")
    wrapped_key: Mapped[bytes] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)


class AuditEntryRow(Base):
    """One audit entry; ``hash`` = SHA-256 over ``prev_hash`` and the entry's canonical body."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts_us: Mapped[int] = mapped_column(BigInteger)  # microseconds since the epoch, UTC
    kind: Mapped[str] = mapped_column(String(31))
    actor: Mapped[str] = mapped_column(String(255), index=True)
    action: Mapped[str] = mapped_column(String(31), default="")
    resource: Mapped[str] = mapped_column(String(512), default="")
    decision: Mapped[str] = mapped_column(String(7), default="")
    detail: Mapped[str] = mapped_column(Text, default="{}")  # canonical JSON text, hashed as stored
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """One row: the newest link of the audit chain. Appenders lock it."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class SavedQueryRow(Base):
    """A gateway query saved by ``owner`` under ``name`` (migration ``0010``); its id is its share link."""

    __tablename__ = "saved_queries"
    __table_args__ = (UniqueConstraint("owner", "name", name="uq_saved_query_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255))
    sql: Mapped[str] = mapped_column(Text)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)
