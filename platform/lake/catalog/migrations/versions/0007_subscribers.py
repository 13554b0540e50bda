"""engine subscribers: registry, role bindings, vended credentials, Redshift sync state, exports

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column[dt.datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "access_subscribers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=15), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=15), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("role_arn", sa.String(length=2048), nullable=True),
        sa.Column("policy_tables", sa.JSON(), nullable=False),
        sa.Column("policy_document", sa.JSON(), nullable=True),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        _ts("policy_synced_at", nullable=True),
        _ts("policy_valid_until", nullable=True),
        sa.Column("policy_error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        _ts("created_at"),
        _ts("suspended_at", nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("subject"),
    )
    op.create_table(
        "access_subscriber_credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber", sa.String(length=63), nullable=False),
        sa.Column("tables", sa.JSON(), nullable=False),
        sa.Column("role_arn", sa.String(length=2048), nullable=False),
        sa.Column("access_key_prefix", sa.String(length=16), nullable=False),
        sa.Column("session_name", sa.String(length=64), nullable=False),
        sa.Column("issued_by", sa.String(length=255), nullable=False),
        _ts("issued_at"),
        _ts("expires_at"),
        _ts("revoked_at", nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_access_subscriber_credentials_subscriber", "access_subscriber_credentials", ["subscriber"])
    op.create_index("ix_access_subscriber_credentials_expires_at", "access_subscriber_credentials", ["expires_at"])
    op.create_table(
        "access_subscriber_redshift",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber", sa.String(length=63), nullable=False),
        sa.Column("object_key", sa.String(length=1024), nullable=False),
        sa.Column("kind", sa.String(length=31), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("spec_hash", sa.String(length=64), nullable=False),
        _ts("applied_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subscriber", "object_key", name="uq_subscriber_redshift_object"),
    )
    op.create_table(
        "access_subscriber_exports",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("subscriber", sa.String(length=63), nullable=False),
        sa.Column("table_key", sa.String(length=512), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("source_versions", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        _ts("created_at"),
        _ts("urls_expire_at", nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_access_subscriber_exports_subscriber", "access_subscriber_exports", ["subscriber"])


def downgrade() -> None:
    op.drop_index("ix_access_subscriber_exports_subscriber", table_name="access_subscriber_exports")
    op.drop_table("access_subscriber_exports")
    op.drop_table("access_subscriber_redshift")
    op.drop_index("ix_access_subscriber_credentials_expires_at", table_name="access_subscriber_credentials")
    op.drop_index("ix_access_subscriber_credentials_subscriber", table_name="access_subscriber_credentials")
    op.drop_table("access_subscriber_credentials")
    op.drop_table("access_subscribers")
