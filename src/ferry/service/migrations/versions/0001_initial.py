"""Tokens, task groups and tasks.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("project_id", sa.String(1024), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_tokens_project_id", "tokens", ["project_id"])
    op.create_table(
        "task_groups",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("project_id", sa.String(1024), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_reason", sa.Text(), nullable=True),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column("task_type", sa.String(16), nullable=False),
        sa.Column("src_node", sa.JSON(), nullable=False),
        sa.Column("dst_node", sa.JSON(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("retry_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=True),
        sa.Column("finished_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_task_groups_project_id", "task_groups", ["project_id"])
    op.create_index("ix_task_groups_status", "task_groups", ["status"])
    counters = [
        sa.Column(name, sa.BigInteger(), nullable=False)
        for name in (
            "total_num",
            "success_num",
            "fail_num",
            "skip_num",
            "total_size",
            "success_size",
            "fail_size",
            "skip_size",
            "transferred_size",
            "run_transferred_size",
        )
    ]
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "group_id",
            sa.String(36),
            sa.ForeignKey("task_groups.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("project_id", sa.String(1024), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(1100), nullable=False),
        sa.Column("source", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_reason", sa.Text(), nullable=True),
        sa.Column("run_mode", sa.String(16), nullable=False),
        *counters,
        sa.Column("speed", sa.Float(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=True),
        sa.Column("finished_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_tasks_group_id", "tasks", ["group_id"])
    op.create_index("ix_tasks_project_id", "tasks", ["project_id"])
    op.create_index("ix_tasks_status", "tasks", ["status"])


def downgrade() -> None:
    op.drop_table("tasks")
    op.drop_table("task_groups")
    op.drop_table("tokens")
