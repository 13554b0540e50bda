"""ORM tables of the catalog database.

These rows never leave the domain layer: the API has its own schemas.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from lake.catalog.types import AwareDateTime as AwareDateTime  # re-exported for the models of every package


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, bytes: LargeBinary, dt.datetime: AwareDateTime}


class Domain(Base):
    __tablename__ = "domains"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    owner: Mapped[str] = mapped_column(String(255), default="")
    kms_key_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)

    datasets: Mapped[list[Dataset]] = relationship(back_populates="domain")


class Dataset(Base):
    """One major version of a dataset; a breaking change opens the next major."""

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("domain_id", "name", "major", name="uq_dataset_major"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id"))
    name: Mapped[str] = mapped_column(String(63))
    major: Mapped[int] = mapped_column(Integer, default=1)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    owner: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    table_uri: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)

    domain: Mapped[Domain] = relationship(back_populates="datasets")
    contracts: Mapped[list[ContractVersion]] = relationship(
        back_populates="dataset", order_by="ContractVersion.version"
    )


class ContractVersion(Base):
    __tablename__ = "contract_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "version", name="uq_contract_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    changes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)

    dataset: Mapped[Dataset] = relationship(back_populates="contracts")


class DataKey(Base):
    """A per-dataset data key, stored only wrapped by the master key or KMS."""

    __tablename__ = "data_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), unique=True)
    provider: Mapped[str] = mapped_column(String(31))  # "local" or "kms"
    key_ref: Mapped[str] = mapped_column(String(255), default="")  # KMS key id, or master key fingerprint
    wrapped_key: Mapped[bytes] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)


class Commit(Base):
    """One ingestion into a dataset's Delta table.

    ``status`` is ``pending`` while the Delta transaction runs and ``committed``
    after; the unique idempotency key makes a retried batch land once.
    """

    __tablename__ = "commits"
    __table_args__ = (UniqueConstraint("dataset_id", "idempotency_key", name="uq_commit_idempotency"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str] = mapped_column(String(15), default="pending")
    operation: Mapped[str] = mapped_column(String(15))
    table_version: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    contract_version: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    rejected_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    actor: Mapped[str] = mapped_column(String(255), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)


class QuarantineReplay(Base):
    """A quarantined row landed by a replay (migration ``0011``).

    The row stays in the dataset's quarantine table; it counts as replayed
    once its replay commit (``commit_id``) is committed. A replay that never
    reached the Delta log is undone with its commit, these rows included.
    """

    __tablename__ = "quarantine_replays"
    __table_args__ = (UniqueConstraint("dataset_id", "source_commit_id", "row_number",
                                       name="uq_quarantine_replay_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commit_id: Mapped[int] = mapped_column(ForeignKey("commits.id"), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    source_commit_id: Mapped[int] = mapped_column(BigInteger)
    row_number: Mapped[int] = mapped_column(BigInteger)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    display_name: Mapped[str] = mapped_column(String(255), default="")
    kind: Mapped[str] = mapped_column(String(31), default="user")  # user, service
    roles: Mapped[list[Any]] = mapped_column(JSON, default=list)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)


class ApiToken(Base):
    """A bearer token; only its SHA-256 digest is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(255), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime(), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime(), nullable=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime(), nullable=True)

    user: Mapped[User] = relationship()


class SearchDocumentRow(Base):
    """The stored form of one ``lake.search.SearchDocument``.

    The full-text structures beside it are the database's own (an FTS5 table
    on SQLite, generated ``tsvector`` columns on PostgreSQL): migrations make
    them, the models leave them out.
    """

    __tablename__ = "search_documents"
    __table_args__ = (UniqueConstraint("kind", "key", name="uq_search_kind_key"),
                      Index("ix_search_domain_kind", "domain", "kind"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(31))
    key: Mapped[str] = mapped_column(String(255))
    domain: Mapped[str] = mapped_column(String(63))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(255))
    certified: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[dt.datetime] = mapped_column(AwareDateTime())


class SearchTermRow(Base):
    """A word of the search index, for typo tolerance (``lake.search.vocabulary``); rows are only added."""

    __tablename__ = "search_terms"
    __table_args__ = (UniqueConstraint("term", name="uq_search_terms_term"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    term: Mapped[str] = mapped_column(String(64))
