"""The service's state in a database: tokens (hashes only), access keys (sealed), task groups, their tasks
and throughput samples.

SQLite in the data directory by default; PostgreSQL when a ``postgresql://`` URL is given. The schema is
created and upgraded by the Alembic migrations in :mod:`ferry.service.migrations`, never by
``create_all``, so a database made by an older ferry is upgraded in place. No column holds a secret: nodes
are stored without their keys, and tokens only as SHA-256 hashes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from ferry.errors import UsageError
from ferry.private import create_private, private_dir


class Base(DeclarativeBase):
    pass


class Token(Base):
    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(1024), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    """UNIX time after which the token is refused; ``None``: it does not expire."""


class AccessKey(Base):
    """An AK/SK pair for signed requests. The secret is kept sealed (AES-GCM under the data dir's seal
    key, see :mod:`ferry.service.keys`): a signature can only be checked with the secret itself."""

    __tablename__ = "access_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """The access key (AK) itself: it is not secret."""
    project_id: Mapped[str] = mapped_column(String(1024), index=True)
    sealed_secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)


class TaskGroup(Base):
    __tablename__ = "task_groups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(1024), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    error_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    task_type: Mapped[str] = mapped_column(String(16))
    src_node: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The source node without secrets: cloud type, endpoint, region, bucket, addressing style."""
    dst_node: Mapped[dict[str, Any]] = mapped_column(JSON)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Overwrite policy, consistency check, migrate_since, transfer options (no secrets)."""
    retry_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Task(Base):
    """One unit of a group: a prefix, or a chunk of an object list. Its id is its journal's task id."""

    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, unique=True)
    """The task's id on the API (OMS's task ids are integers); ``id`` stays the journal's."""
    group_id: Mapped[str] = mapped_column(ForeignKey("task_groups.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str] = mapped_column(String(1024), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(1100))
    source: Mapped[dict[str, Any]] = mapped_column(JSON)
    """``{"prefix": "..."}``, ``{"keys": [...]}``, ``{"urls": [[line number, line], ...]}`` or
    ``{"list_file": {"bucket", "key", "urls"}}``."""
    status: Mapped[str] = mapped_column(String(16), index=True)
    error_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    run_mode: Mapped[str] = mapped_column(String(16), default="continue")
    """How the next run treats the journal: ``continue`` (pending and failed objects) or ``all`` (every
    object checked again; those already migrated are skipped)."""
    total_num: Mapped[int] = mapped_column(BigInteger, default=0)
    success_num: Mapped[int] = mapped_column(BigInteger, default=0)
    fail_num: Mapped[int] = mapped_column(BigInteger, default=0)
    skip_num: Mapped[int] = mapped_column(BigInteger, default=0)
    total_size: Mapped[int] = mapped_column(BigInteger, default=0)
    success_size: Mapped[int] = mapped_column(BigInteger, default=0)
    fail_size: Mapped[int] = mapped_column(BigInteger, default=0)
    skip_size: Mapped[int] = mapped_column(BigInteger, default=0)
    transferred_size: Mapped[int] = mapped_column(BigInteger, default=0)
    """Bytes sent by every run of the task."""
    run_transferred_size: Mapped[int] = mapped_column(BigInteger, default=0)
    """Bytes sent by the current (or last) run."""
    speed: Mapped[float] = mapped_column(Float, default=0.0)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    driver: Mapped[str | None] = mapped_column(String(1100), nullable=True)
    """The service instance that queued or runs the task (see :class:`ServiceInstance`)."""
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class ServiceInstance(Base):
    """A service on this database, and when it last said it was alive: several services may share one
    database, and one that starts fails only the tasks of services that are gone (their keys went with
    them)."""

    __tablename__ = "service_instances"

    name: Mapped[str] = mapped_column(String(1100), primary_key=True)
    """``host:data dir``: the same across restarts of one service."""
    heartbeat: Mapped[float] = mapped_column(Float)


def schema() -> MetaData:
    """Every table the migrations build: the service's own, the task journals' and the part records'."""
    from ferry.tasks.journal import METADATA as JOURNAL
    from ferry.transfer.record_db import METADATA as RECORDS

    merged = MetaData()
    for metadata in (Base.metadata, JOURNAL, RECORDS):
        for table in metadata.tables.values():
            table.to_metadata(merged)
    return merged


class GroupSample(Base):
    """Bytes a group had moved (every run of every task) at a moment: its throughput over time is the
    difference between two samples. Kept few per group (see :mod:`ferry.service.samples`)."""

    __tablename__ = "group_samples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("task_groups.id", ondelete="CASCADE"), index=True)
    time: Mapped[float] = mapped_column(Float)
    transferred_size: Mapped[int] = mapped_column(BigInteger)


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3; SQLite and psycopg URLs pass unchanged."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith("postgresql+psycopg://") or url.startswith("sqlite:///"):
        return url
    raise UsageError("unsupported --db URL: use sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DB")


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'service.db'}"


def safe_url(url: str) -> str:
    """The URL as it may be shown: without its password."""
    return make_url(url).render_as_string(hide_password=True)


class Database:
    """The engine and a session factory; sessions are short, one per request or worker step."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        if parsed.get_backend_name() == "sqlite":
            path = Path(parsed.database or "")
            private_dir(path.parent)
            if not path.exists():
                create_private(path)
            self.engine: Engine = create_engine(
                self.url, connect_args={"check_same_thread": False, "timeout": 30}
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(self.url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction, committed on success."""
        with self._sessions() as session, session.begin():
            yield session

    def migrate(self) -> None:
        from ferry.service.migrations import upgrade

        upgrade(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def now() -> float:
    return time.time()


def open_database(db_url: str | None, data_dir: Path) -> Database:
    """The service's database, migrated to the current schema."""
    private_dir(data_dir)  # an existing folder keeps its mode (--data-dir /tmp must not change /tmp)
    database = Database(db_url or sqlite_url(data_dir))
    database.migrate()
    return database
