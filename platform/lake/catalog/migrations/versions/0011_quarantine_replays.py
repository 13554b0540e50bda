"""quarantined rows landed by a replay

Revision ID: 0011
Revises: 0010
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quarantine_replays",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("commit_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("source_commit_id", sa.BigInteger(), nullable=False),
        sa.Column("row_number", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["commit_id"], ["commits.id"]),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "source_commit_id", "row_number", name="uq_quarantine_replay_row"),
    )
    op.create_index("ix_quarantine_replays_commit_id", "quarantine_replays", ["commit_id"])


def downgrade() -> None:
    op.drop_index("ix_quarantine_replays_commit_id", table_name="quarantine_replays")
    op.drop_table("quarantine_replays")
