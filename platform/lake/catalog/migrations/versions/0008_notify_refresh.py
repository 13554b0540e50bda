"""notifications that arrive, views that never go dark: notice done, preferences, request expiry notices,
view refresh schedules

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
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
    op.add_column("access_requests", sa.Column("expiry_noticed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("views", sa.Column("refresh_cron", sa.String(127), nullable=True))
    op.add_column("views", sa.Column("next_refresh_at", sa.DateTime(timezone=True), nullable=True))


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
