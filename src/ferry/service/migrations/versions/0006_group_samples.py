"""Throughput samples of task groups.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "group_samples",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "group_id",
            sa.String(36),
            sa.ForeignKey("task_groups.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("time", sa.Float(), nullable=False),
        sa.Column("transferred_size", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_group_samples_group_id", "group_samples", ["group_id"])


def downgrade() -> None:
    op.drop_table("group_samples")
