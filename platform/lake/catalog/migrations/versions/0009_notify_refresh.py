"""notifications that arrive, views that never go dark: notice done, preferences, request expiry notices,
view refresh schedules

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("metric_inbox", sa.Column("done_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_metric_inbox_about", "metric_inbox", ["metric", "kind"])
    op.create_table(
        "notify_preferences",
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject"),
    )
    _close_stale_review_notices()
    op.add_column("access_requests", sa.Column("expiry_noticed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("views", sa.Column("refresh_cron", sa.String(127), nullable=True))
    op.add_column("views", sa.Column("next_refresh_at", sa.DateTime(timezone=True), nullable=True))


def _close_stale_review_notices() -> None:
    """Review notices of metrics no longer waiting at their stage are done (the rule of
    ``metrics_catalog.workflow.close_review_notices``, applied once to notices written before it)."""
    bind = op.get_bind()
    inbox = sa.table("metric_inbox", sa.column("id", sa.Integer()), sa.column("kind", sa.String()),
                     sa.column("metric", sa.String()), sa.column("payload", sa.JSON()),
                     sa.column("done_at", sa.DateTime(timezone=True)))
    metrics = sa.table("metrics", sa.column("name", sa.String()), sa.column("status", sa.String()),
                       sa.column("stage", sa.String()))
    waiting = {name: stage for name, status, stage in bind.execute(
        sa.select(metrics.c.name, metrics.c.status, metrics.c.stage)) if status in ("proposed", "in_review")}
    stale = []
    for notice_id, metric, payload in bind.execute(
            sa.select(inbox.c.id, inbox.c.metric, inbox.c.payload)
            .where(inbox.c.kind.in_(["stage_reached", "revised"]), inbox.c.done_at.is_(None))):
        data = json.loads(payload) if isinstance(payload, str) else (payload or {})
        if metric not in waiting or data.get("stage") != waiting[metric]:
            stale.append(notice_id)
    now = dt.datetime.now(dt.UTC)
    for start in range(0, len(stale), 500):
        bind.execute(sa.update(inbox).where(inbox.c.id.in_(stale[start:start + 500])).values(done_at=now))


def downgrade() -> None:
    with op.batch_alter_table("views") as batch:
        batch.drop_column("next_refresh_at")
        batch.drop_column("refresh_cron")
    with op.batch_alter_table("access_requests") as batch:
        batch.drop_column("expiry_noticed_at")
    op.drop_table("notify_preferences")
    op.drop_index("ix_metric_inbox_about", table_name="metric_inbox")
    with op.batch_alter_table("metric_inbox") as batch:
        batch.drop_column("done_at")
