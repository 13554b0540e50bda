"""metric governance: metrics, revisions, proposals, approval chains, meetings, comments, notifications

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "metric_chains",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("domain", sa.String(63), nullable=False, unique=True),
        sa.Column("stages", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=False),
        _ts("updated_at"),
    )
    op.create_table(
        "metrics",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(127), nullable=False, unique=True),
        sa.Column("domain", sa.String(63), nullable=False),
        sa.Column("status", sa.String(31), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("current_revision", sa.Integer(), nullable=False),
        sa.Column("certified_revision", sa.Integer(), nullable=True),
        sa.Column("view", sa.String(127), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("chain", sa.JSON(), nullable=True),
        sa.Column("stage", sa.String(63), nullable=True),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("lock_version", sa.Integer(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_index("ix_metrics_fingerprint", "metrics", ["fingerprint"])
    op.create_table(
        "metric_revisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("metric_id", sa.Integer(), sa.ForeignKey("metrics.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("changed", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("author", sa.String(255), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        _ts("created_at"),
        sa.UniqueConstraint("metric_id", "number", name="uq_metric_revision"),
    )
    op.create_table(
        "metric_approvals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("metric_id", sa.Integer(), sa.ForeignKey("metrics.id"), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(63), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("approver", sa.String(255), nullable=False),
        sa.Column("decision", sa.String(31), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("reset_by_revision", sa.Integer(), nullable=True),
        _ts("created_at"),
    )
    op.create_index("ix_metric_approvals_round", "metric_approvals", ["metric_id", "round"])
    op.create_table(
        "metric_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("metric_id", sa.Integer(), sa.ForeignKey("metrics.id"), nullable=False),
        sa.Column("action", sa.String(31), nullable=False),
        sa.Column("from_status", sa.String(31), nullable=False),
        sa.Column("to_status", sa.String(31), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(63), nullable=True),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        _ts("created_at"),
    )
    op.create_index("ix_metric_events_metric", "metric_events", ["metric_id", "id"])
    op.create_table(
        "metric_comments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("metric_id", sa.Integer(), sa.ForeignKey("metrics.id"), nullable=False),
        sa.Column("parent_id", sa.Integer(), sa.ForeignKey("metric_comments.id"), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _ts("created_at"),
    )
    op.create_index("ix_metric_comments_metric", "metric_comments", ["metric_id", "id"])
    op.create_table(
        "metric_meetings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("domain", sa.String(63), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("stage", sa.String(63), nullable=False),
        _ts("starts_at"),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("frequency", sa.String(15), nullable=False),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=True),
        sa.Column("location", sa.String(255), nullable=False),
        sa.Column("organizer", sa.String(255), nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "metric_meeting_sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("meeting_id", sa.Integer(), sa.ForeignKey("metric_meetings.id"), nullable=False),
        _ts("starts_at"),
        sa.Column("status", sa.String(15), nullable=False),
        sa.Column("agenda", sa.JSON(), nullable=False),
        sa.Column("opened_by", sa.String(255), nullable=False),
        _ts("closed_at", nullable=True),
        _ts("created_at"),
        sa.UniqueConstraint("meeting_id", "starts_at", name="uq_meeting_session"),
    )
    op.create_table(
        "metric_minutes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("metric_meeting_sessions.id"), nullable=False),
        sa.Column("kind", sa.String(15), nullable=False),
        sa.Column("metric", sa.String(127), nullable=True),
        sa.Column("decision", sa.String(31), nullable=True),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _ts("created_at"),
    )
    op.create_index("ix_metric_minutes_session", "metric_minutes", ["session_id", "id"])
    op.create_table(
        "metric_inbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("recipient", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(31), nullable=False),
        sa.Column("metric", sa.String(127), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        _ts("created_at"),
        _ts("read_at", nullable=True),
    )
    op.create_index("ix_metric_inbox_recipient", "metric_inbox", ["recipient", "id"])
    op.create_table(
        "metric_channels",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(15), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        _ts("created_at"),
        sa.UniqueConstraint("subject", "kind", "target", name="uq_metric_channel"),
    )
    op.create_table(
        "metric_outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel_id", sa.Integer(), sa.ForeignKey("metric_channels.id"), nullable=False),
        sa.Column("kind", sa.String(15), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(15), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        _ts("created_at"),
        _ts("sent_at", nullable=True),
    )
    op.create_index("ix_metric_outbox_status", "metric_outbox", ["status", "id"])
    op.create_table(
        "metric_value_cache",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("metric_id", sa.Integer(), sa.ForeignKey("metrics.id"), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("data_version", sa.String(255), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        _ts("created_at"),
    )


def downgrade() -> None:
    op.drop_index("ix_metric_outbox_status", table_name="metric_outbox")
    op.drop_index("ix_metric_inbox_recipient", table_name="metric_inbox")
    op.drop_index("ix_metric_minutes_session", table_name="metric_minutes")
    op.drop_index("ix_metric_comments_metric", table_name="metric_comments")
    op.drop_index("ix_metric_events_metric", table_name="metric_events")
    op.drop_index("ix_metric_approvals_round", table_name="metric_approvals")
    op.drop_index("ix_metrics_fingerprint", table_name="metrics")
    for table in ("metric_value_cache", "metric_outbox", "metric_channels", "metric_inbox", "metric_minutes",
                  "metric_meeting_sessions", "metric_meetings", "metric_comments", "metric_events",
                  "metric_approvals", "metric_revisions", "metrics", "metric_chains"):
        op.drop_table(table)
