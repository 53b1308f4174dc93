"""Which service instance drives each task, and the instances' heartbeats: several services on one database.

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
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("driver", sa.String(1100), nullable=True))
    op.create_table(
        "service_instances",
        sa.Column("name", sa.String(1100), primary_key=True),
        sa.Column("heartbeat", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("service_instances")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("driver")
