"""Task journals and part records in the service's database, so that workers on any machine share them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ferry_tasks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("destination", sa.Text(), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("plan", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(32), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("listing_complete", sa.Boolean(), nullable=False),
        sa.Column("next_seq", sa.BigInteger(), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
    )
    op.create_table(
        "ferry_objects",
        sa.Column(
            "task_id", sa.String(36), sa.ForeignKey("ferry_tasks.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("source_hash", sa.String(32), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column("dest_key", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime", sa.Float(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("chunk", sa.Integer(), nullable=False),
        sa.Column("plan_digest", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("state_digest", sa.String(16), nullable=False),
        sa.Column("transferred", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=True),
        sa.UniqueConstraint("task_id", "source_hash", name="ferry_objects_source"),
    )
    op.create_index("ferry_objects_state", "ferry_objects", ["task_id", "state", "seq"])
    op.create_index("ferry_objects_chunk", "ferry_objects", ["task_id", "chunk", "seq"])
    op.create_table(
        "ferry_chunks",
        sa.Column(
            "task_id", sa.String(36), sa.ForeignKey("ferry_tasks.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("number", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("objects", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(255), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=True),
        sa.Column("transferred", sa.BigInteger(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
    )
    op.create_index("ferry_chunks_state", "ferry_chunks", ["task_id", "state"])
    op.create_table(
        "ferry_part_records",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("header", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
    )
    op.create_table(
        "ferry_parts",
        sa.Column(
            "record_id",
            sa.String(40),
            sa.ForeignKey("ferry_part_records.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("number", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    for table in ("ferry_parts", "ferry_part_records", "ferry_chunks", "ferry_objects", "ferry_tasks"):
        op.drop_table(table)
