"""access layer: policies, grants, masks, row filters, access requests, audit log

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64

#: The policy every lake starts with: admins may do everything, everyone may
#: discover, producers may propose (register) datasets.
_ROLES = [
    ("admin", "role", "Administrators: every action on the whole lake."),
    ("producer", "role", "Producers: may register datasets in any domain."),
    ("everyone", "group", "Every user and service principal."),
]
_GRANTS = [
    ("admin", "lake", "admin"),
    ("everyone", "lake", "discover"),
    ("producer", "lake", "propose"),
]


def _ts() -> sa.Column[dt.datetime]:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    roles = op.create_table(
        "access_roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=15), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        _ts(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "access_memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        _ts(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("member", "role", name="uq_access_membership"),
    )
    grants = op.create_table(
        "access_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("resource", sa.String(length=512), nullable=False),
        sa.Column("action", sa.String(length=15), nullable=False),
        sa.Column("effect", sa.String(length=7), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        _ts(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subject", "resource", "action", "effect", name="uq_access_grant"),
    )
    op.create_index("ix_access_grants_resource", "access_grants", ["resource"])
    op.create_table(
        "access_masks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("resource", sa.String(length=512), nullable=False),
        sa.Column("kind", sa.String(length=15), nullable=False),
        sa.Column("keep_last", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        _ts(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subject", "resource", name="uq_access_mask"),
    )
    op.create_table(
        "access_row_filters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("resource", sa.String(length=512), nullable=False),
        sa.Column("predicate", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        _ts(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subject", "resource", name="uq_access_row_filter"),
    )
    head = op.create_table(
        "access_policy_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "access_policy_changes",
        sa.Column("version", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("op", sa.String(length=7), nullable=False),
        sa.Column("entity", sa.String(length=15), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        _ts(),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_table(
        "access_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requester", sa.String(length=255), nullable=False),
        sa.Column("resource", sa.String(length=512), nullable=False),
        sa.Column("action", sa.String(length=15), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("duration_seconds", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=15), nullable=False),
        sa.Column("decided_by", sa.String(length=255), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        _ts(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_access_requests_status", "access_requests", ["status"])
    op.create_table(
        "access_hash_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource", sa.String(length=512), nullable=False),
        sa.Column("provider", sa.String(length=31), nullable=False),
        sa.Column("key_ref", sa.String(length=255), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        _ts(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("resource"),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ts_us", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=31), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=31), nullable=False),
        sa.Column("resource", sa.String(length=512), nullable=False),
        sa.Column("decision", sa.String(length=7), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("hash"),
    )
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"])
    audit_head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )

    now = dt.datetime.now(dt.UTC)
    op.bulk_insert(roles, [{"name": n, "kind": k, "description": d, "created_by": "lakegate", "created_at": now}
                           for n, k, d in _ROLES])
    op.bulk_insert(grants, [{"subject": s, "resource": r, "action": a, "effect": "allow", "expires_at": None,
                             "reason": "initial policy", "request_id": None, "created_by": "lakegate",
                             "created_at": now} for s, r, a in _GRANTS])
    op.bulk_insert(head, [{"id": 1, "version": 0}])
    op.bulk_insert(audit_head, [{"id": 1, "seq": 0, "hash": GENESIS_HASH}])


def downgrade() -> None:
    for table in ("audit_head", "audit_log", "access_hash_keys", "access_requests", "access_policy_changes",
                  "access_policy_head", "access_row_filters", "access_masks", "access_grants",
                  "access_memberships", "access_roles"):
        op.drop_table(table)
