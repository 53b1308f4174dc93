"""Access keys for signed requests; tasks get an integer number (their id on the API, as OMS's).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_keys",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("project_id", sa.String(1024), nullable=False),
        sa.Column("sealed_secret", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_access_keys_project_id", "access_keys", ["project_id"])
    op.add_column("tasks", sa.Column("number", sa.BigInteger(), nullable=True))
    tasks = sa.table("tasks", sa.column("id", sa.String), sa.column("number", sa.BigInteger))
    connection = op.get_bind()
    order = "SELECT id FROM tasks ORDER BY created_at, group_id, position"
    ids = connection.execute(sa.text(order)).scalars()
    for number, task_id in enumerate(list(ids), start=1):
        connection.execute(tasks.update().where(tasks.c.id == task_id).values(number=number))
    with op.batch_alter_table("tasks") as batch:
        batch.alter_column("number", existing_type=sa.BigInteger(), nullable=False)
        batch.create_unique_constraint("uq_tasks_number", ["number"])


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_constraint("uq_tasks_number", type_="unique")
        batch.drop_column("number")
    op.drop_table("access_keys")
