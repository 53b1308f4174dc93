"""The service's schema migrations (Alembic), applied programmatically at start-up: no alembic.ini is
needed. A new migration goes in ``versions/``; ``tests/unit/test_service_schema.py`` checks that the
migrations build exactly the schema the models in :mod:`ferry.service.db` describe."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

HERE = Path(__file__).resolve().parent
MIGRATION_LOCK = 0x66657272  # "ferr": the advisory lock key of ferry's migrations


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision``. Two processes starting at once (``ferry serve`` and ``ferry
    token create``) take turns: an advisory lock on PostgreSQL (whose DDL is transactional), a file lock
    beside the database file on SQLite."""
    config = alembic_config()
    with contextlib.ExitStack() as stack:
        if engine.dialect.name == "sqlite" and engine.url.database:
            fd = os.open(f"{engine.url.database}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            stack.callback(os.close, fd)
            fcntl.flock(fd, fcntl.LOCK_EX)
        connection = stack.enter_context(engine.begin())
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
