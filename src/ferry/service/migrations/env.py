"""Alembic's environment: runs on the connection :func:`ferry.service.migrations.upgrade` hands over."""

from __future__ import annotations

from alembic import context

from ferry.service.db import schema

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=schema(),
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
