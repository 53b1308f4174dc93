"""Task journals: the durable state of a task, from which ``--recover`` (or another worker) finishes it.

A journal holds the task's settings and plan and EVERY planned object with its state — pending, done,
failed (with the reason) or skipped (with the reason). Objects are written as the listing streams in, a page
per transaction, so a task of millions of objects never sits in memory; they are read back the same way
(keyset pages by sequence number). Planned objects are grouped into chunks (about a thousand objects or a
GiB; a large object alone), the work units the migration service hands to its workers.

One schema (:data:`METADATA`), two kinds of database, through SQLAlchemy:

- **a SQLite file per task** (``<checkpoint dir>/tasks/<task id>.db``), for the CLI and the embedded
  service: WAL mode with ``synchronous=NORMAL``, so each state change is one small transaction that
  survives the process being killed the moment it returns (a power cut may lose the newest few, which are
  then simply checked again). A file is built aside and linked into place whole, and an exclusive
  ``flock`` beside it keeps two processes from running the same task at once;
- **a shared database** (PostgreSQL), for a service whose workers run on several machines: every journal
  in the same tables, the schema made by the service's migrations. Who may write a chunk's objects there is
  decided by fencing (:mod:`ferry.service.chunks`), not by a file lock.

Damage is noticed, never guessed at: a SQLite file failing ``quick_check`` or a task row whose digest does
not match is :class:`JournalDamagedError`; an object row carries two digests, one over what was planned
(keys, size, time, ETag, chunk) and one over its state. A row whose plan digest fails is never moved (it
fails, naming the damage); a row whose state digest fails is moved again, which is always safe.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DatabaseError as SQLDatabaseError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

from ferry.errors import FerryError, TaskNotFoundError, TransferError
from ferry.groupcommit import GroupCommit
from ferry.private import create_private, private_dir
from ferry.tasks.records import JournalObject as JournalObject  # re-exported: callers import them from here
from ferry.tasks.records import PlannedObject as PlannedObject
from ferry.tasks.records import StateCount as StateCount
from ferry.tasks.records import TaskInfo as TaskInfo
from ferry.tasks.settings import TaskSettings
from ferry.tasks.states import FINISHED, OBJECT_STATES, UNFINISHED, ObjectState, TaskState

SCHEMA_VERSION = 2
TASK_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PAGE = 1000

METADATA = MetaData()

TASKS = Table(
    "ferry_tasks",
    METADATA,
    Column("id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("source", Text, nullable=False),
    Column("destination", Text, nullable=False),
    Column("settings", Text, nullable=False),
    Column("plan", Text, nullable=False),
    Column("digest", String(32), nullable=False),
    Column("created", Float, nullable=False),
    Column("updated", Float, nullable=False),
    Column("state", String(16), nullable=False),
    Column("listing_complete", Boolean, nullable=False),
    Column("next_seq", BigInteger, nullable=False),
    Column("schema_version", Integer, nullable=False),
)

OBJECTS = Table(
    "ferry_objects",
    METADATA,
    Column("task_id", String(36), ForeignKey("ferry_tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("source_hash", String(32), nullable=False),
    Column("source_key", Text, nullable=False),
    Column("dest_key", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("mtime", Float, nullable=False),
    Column("etag", Text, nullable=True),
    Column("chunk", Integer, nullable=False),
    Column("plan_digest", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("state_digest", String(16), nullable=False),
    Column("transferred", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("updated", Float, nullable=True),
    UniqueConstraint("task_id", "source_hash", name="ferry_objects_source"),
    Index("ferry_objects_state", "task_id", "state", "seq"),
    Index("ferry_objects_chunk", "task_id", "chunk", "seq"),
)

CHUNKS = Table(
    "ferry_chunks",
    METADATA,
    Column("task_id", String(36), ForeignKey("ferry_tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("objects", Integer, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("closed", Boolean, nullable=False),  # filled while planning; once closed, a unit of work
    Column("state", String(16), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("worker", String(255), nullable=True),
    Column("lease_until", Float, nullable=True),
    Column("transferred", BigInteger, nullable=False),
    Column("updated", Float, nullable=False),
    Index("ferry_chunks_state", "task_id", "state"),
)

CHUNK_OBJECTS = 1000
CHUNK_BYTES = 1 << 30


class JournalDamagedError(FerryError):
    """The journal exists but cannot be read as a task journal."""


@dataclass(frozen=True)
class ChunkPolicy:
    """How planned objects group into chunks: at most ``objects`` objects or ``bytes`` bytes, and an object
    of ``alone_from`` bytes or more in a chunk of its own (it resumes from its parts, on whichever worker)."""

    objects: int = CHUNK_OBJECTS
    bytes: int = CHUNK_BYTES
    alone_from: int = CHUNK_BYTES


def journal_path(directory: Path, task_id: str) -> Path:
    if not TASK_ID.match(task_id):
        raise TaskNotFoundError(f"no task {task_id!r}: a task id is a 36-character UUID")
    return directory / "tasks" / f"{task_id}.db"


def _digest(*values: object) -> str:
    text = "\x1f".join("\x00" if v is None else repr(v) if isinstance(v, float) else str(v) for v in values)
    return hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=8).hexdigest()


def _source_hash(key: str) -> str:
    """Unique per task; hashed because URLs may exceed what a database indexes."""
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _state_digest(state: str, reason: str | None) -> str:
    return _digest(state, reason)


def _plan_digest(obj: PlannedObject, chunk: int) -> str:
    return _digest(obj.source_key, obj.dest_key, obj.size, float(obj.mtime), obj.etag, chunk)


def _task_digest(task_id: str, kind: str, source: str, destination: str, settings: str, plan: str) -> str:
    text = "\x1f".join((task_id, kind, source, destination, settings, plan))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


# --- engines ------------------------------------------------------------------------------------------------


def _sqlite_engine(path: Path) -> Engine:
    """One connection shared by the task's threads (calls are serialised by the journal's mutex), in WAL
    mode, with transactions begun explicitly (the driver's own implicit ones are off)."""
    engine = create_engine(
        f"sqlite:///{path}", poolclass=StaticPool, connect_args={"check_same_thread": False, "timeout": 30}
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi: Any, _record: Any) -> None:
        dbapi.isolation_level = None
        cursor = dbapi.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine, "handle_error")
    def _damaged(context: Any) -> None:
        # quick_check at open does not compare indexes with their tables, and a flipped byte in a text
        # column is only met when the row is read: such damage surfaces mid-run, and is reported as such.
        reason = _damage(context.original_exception)
        if reason is not None:
            raise _damaged_journal(path, reason)

    return engine


def _damaged_journal(path: Path, reason: str) -> JournalDamagedError:
    """One line, whatever SQLite said: its message about a damaged schema quotes the statement, newlines and
    all."""
    reason = " ".join(reason.split())
    if len(reason) > 160:
        reason = reason[:157] + "..."
    return JournalDamagedError(f"the journal of task {path.stem} is damaged ({reason}): {path}")


def _damage(exc: BaseException) -> str | None:
    """What a SQLite error says about damage to the file, or ``None`` for any other error (a lock ...)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return None
    name = getattr(exc, "sqlite_errorname", "")
    text = str(exc).strip()
    if name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or "malformed" in text or "not a database" in text:
        return text
    if "Could not decode to UTF-8" in text:
        return "a text value is not UTF-8"
    if text.startswith(("no such column", "no such table", "no such index")):
        return f"its schema is not ferry's: {text}"  # the file's own CREATE statements were changed
    return None


_MARK = (
    update(OBJECTS)
    .where(OBJECTS.c.task_id == bindparam("b_task"), OBJECTS.c.seq == bindparam("b_seq"))
    .values(
        state=bindparam("b_state"),
        reason=bindparam("b_reason"),
        state_digest=bindparam("b_digest"),
        transferred=OBJECTS.c.transferred + bindparam("b_moved"),
        attempts=OBJECTS.c.attempts + 1,
        updated=bindparam("b_now"),
    )
)
"""An object's outcome, built once: SQLAlchemy builds and compiles a statement per call otherwise."""

_MARK_SQL = (
    "UPDATE ferry_objects SET state = ?, reason = ?, state_digest = ?, transferred = transferred + ?, "
    "attempts = attempts + 1, updated = ? WHERE task_id = ? AND seq = ?"
)
"""The same outcome for a per-task SQLite file, given to its driver directly."""


class TaskJournal:
    """An open task journal; safe to use from the task's worker threads."""

    def __init__(self, engine: Engine, task_id: str, *, path: Path | None = None) -> None:
        self.engine = engine
        self.task_id = task_id
        self.path = path
        """The SQLite file of a per-task journal; ``None`` in a shared database."""
        self._mutex = threading.RLock() if path is not None else None
        self._lock_fd: int | None = None
        self._fence: Callable[[Connection], None] | None = None
        self._marks = GroupCommit(self.mark_many)
        self._driver: Any = None
        """The sqlite3 connection of a per-task file, once :meth:`_mark_in_file` took it."""

    def fenced(self, fence: Callable[[Connection], None]) -> TaskJournal:
        """This journal for one attempt of a chunk: each outcome it records first passes ``fence`` in the
        same transaction (see :mod:`ferry.tasks.chunks`)."""
        view = TaskJournal(self.engine, self.task_id, path=self.path)
        view._mutex = self._mutex
        view._fence = fence
        return view

    # --- opening --------------------------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        directory: Path,
        task_id: str,
        kind: str,
        source: str,
        destination: str,
        settings: TaskSettings,
        plan: dict[str, Any] | None = None,
    ) -> TaskJournal:
        """A new per-task journal file under ``directory``."""
        path = journal_path(directory, task_id)
        private_dir(path.parent)
        if path.exists():
            raise TransferError(f"task {task_id} already exists")
        # Built aside and linked into place whole: a reader (or a crash) never meets a journal without
        # its tables, and an existing journal is never replaced.
        staging = path.with_name(f"{path.name}.new")
        staging.unlink(missing_ok=True)
        create_private(staging)  # SQLite gives the -wal and -shm files the journal's mode
        building = _sqlite_engine(staging)
        try:
            with building.begin() as connection:
                METADATA.create_all(connection)
                _insert_task(connection, task_id, kind, source, destination, settings, plan or {})
        finally:
            building.dispose()
        try:
            os.link(staging, path)
        except FileExistsError:
            raise TransferError(f"task {task_id} already exists") from None
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{staging}{suffix}").unlink(missing_ok=True)
        return cls(_sqlite_engine(path), task_id, path=path)

    @classmethod
    def open(cls, directory: Path, task_id: str) -> TaskJournal:
        """Open an existing per-task journal: TaskNotFoundError when there is none, JournalDamagedError when
        the file is not an intact journal of this version (one of the previous version is upgraded)."""
        path = journal_path(directory, task_id)
        if not path.exists():
            raise TaskNotFoundError(f"no task {task_id} in {path.parent}")
        engine = _sqlite_engine(path)
        try:
            with engine.begin() as connection:
                problems = [row[0] for row in connection.exec_driver_sql("PRAGMA quick_check")]
                if problems != ["ok"]:  # one row per problem found
                    raise JournalDamagedError(f"the journal of task {task_id} is damaged: {path}")
                tables = {
                    row[0]
                    for row in connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")
                }
                if "task" in tables and "ferry_tasks" not in tables:
                    from ferry.tasks.journal_upgrade import upgrade_v1

                    upgrade_v1(connection, task_id)
        except SQLDatabaseError as exc:
            engine.dispose()
            raise _damaged_journal(path, str(exc.orig) if exc.orig else type(exc).__name__) from None
        except sqlite3.DatabaseError as exc:  # raised by the driver as the connection is set up, unwrapped
            engine.dispose()
            reason = _damage(exc)
            if reason is None:  # a lock, not damage
                text = " ".join(str(exc).split()) or type(exc).__name__
                message = f"the journal of task {task_id} cannot be opened ({text}): {path}"
                raise TransferError(message) from None
            raise _damaged_journal(path, reason) from None
        except UnicodeDecodeError:  # a flipped byte in the schema's own text, met while connecting
            engine.dispose()
            raise _damaged_journal(path, "its schema cannot be read") from None
        except BaseException:
            engine.dispose()
            raise
        journal = cls(engine, task_id, path=path)
        try:
            journal.info()
        except BaseException:
            engine.dispose()
            raise
        return journal

    @classmethod
    def create_shared(
        cls,
        engine: Engine,
        task_id: str,
        kind: str,
        source: str,
        destination: str,
        settings: TaskSettings,
        plan: dict[str, Any] | None = None,
    ) -> TaskJournal:
        """A new journal in a shared database (whose schema the service's migrations made)."""
        try:
            with engine.begin() as connection:
                _insert_task(connection, task_id, kind, source, destination, settings, plan or {})
        except IntegrityError:
            raise TransferError(f"task {task_id} already exists") from None
        return cls(engine, task_id)

    @classmethod
    def open_shared(cls, engine: Engine, task_id: str) -> TaskJournal:
        journal = cls(engine, task_id)
        journal.info()
        return journal

    def lock(self) -> None:
        """Take a per-task journal for this process; a second process gets a clear refusal. (In a shared
        database chunks are fenced instead: see :mod:`ferry.service.chunks`.)"""
        if self.path is None:
            return
        fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise TransferError(f"task {self.task_id} is being run by another ferry process") from None
        self._lock_fd = fd

    def close(self) -> None:
        if self.path is not None:
            self.engine.dispose()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> TaskJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One transaction: on the journal's one connection under its mutex (a per-task file), or on a
        pooled connection (a shared database)."""
        with self._mutex if self._mutex is not None else contextlib.nullcontext(), self.engine.begin() as c:
            try:
                yield c
            except (ValueError, TypeError, OverflowError) as exc:
                if self.path is None:
                    raise
                # a stored value of the wrong type (a flipped byte in a record header) cannot be read back
                raise JournalDamagedError(
                    f"the journal of task {self.task_id} is damaged (a value cannot be read: "
                    f"{type(exc).__name__}): {self.path}"
                ) from None

    # --- the task -------------------------------------------------------------------------------------------

    def info(self) -> TaskInfo:
        with self._transaction() as connection:
            row = connection.execute(select(TASKS).where(TASKS.c.id == self.task_id)).one_or_none()
        if row is None:
            raise TaskNotFoundError(f"no task {self.task_id}")
        digest = _task_digest(row.id, row.kind, row.source, row.destination, row.settings, row.plan)
        where = f": {self.path}" if self.path is not None else ""
        if digest != row.digest or row.schema_version != SCHEMA_VERSION:
            raise JournalDamagedError(f"the journal of task {self.task_id} is damaged{where}")
        try:
            settings = TaskSettings.from_json(row.settings)
            plan = json.loads(row.plan)
            state = TaskState(row.state)
        except (ValueError, TypeError, FerryError):
            raise JournalDamagedError(f"the journal of task {self.task_id} is damaged{where}") from None
        return TaskInfo(
            row.id,
            row.kind,
            row.source,
            row.destination,
            settings,
            plan,
            row.created,
            row.updated,
            state,
            bool(row.listing_complete),
        )

    def set_state(self, state: TaskState) -> None:
        with self._transaction() as connection:
            connection.execute(
                update(TASKS).where(TASKS.c.id == self.task_id).values(state=str(state), updated=time.time())
            )

    # --- planning -------------------------------------------------------------------------------------------

    def add_planned(self, objects: Iterable[PlannedObject], policy: ChunkPolicy | None = None) -> int:
        """Record planned objects as the listing streams in, a page per transaction, each in a chunk (see
        :class:`ChunkPolicy`). An object already in the journal (a re-listing after a crash during the
        first) is left as it is. Returns how many were new. One planner at a time per task."""
        policy = policy or ChunkPolicy()
        added = 0
        page: list[PlannedObject] = []
        for obj in objects:
            page.append(obj)
            if len(page) >= PAGE:
                added += self._add_page(page, policy)
                page.clear()
        if page:
            added += self._add_page(page, policy)
        return added

    def _add_page(self, page: Sequence[PlannedObject], policy: ChunkPolicy) -> int:
        now = time.time()
        with self._transaction() as connection:
            next_seq = connection.execute(
                select(TASKS.c.next_seq).where(TASKS.c.id == self.task_id)
            ).scalar_one()
            hashes = [_source_hash(obj.source_key) for obj in page]
            known = _known_sources(connection, self.task_id, hashes)
            chunk = connection.execute(
                select(CHUNKS)
                .where(CHUNKS.c.task_id == self.task_id)
                .order_by(CHUNKS.c.number.desc())
                .limit(1)
            ).one_or_none()
            builder = _ChunkBuilder(policy, chunk)
            rows = []
            seen: set[str] = set()
            for obj, source_hash in zip(page, hashes, strict=True):
                if source_hash in known or source_hash in seen:
                    continue
                seen.add(source_hash)
                number = builder.place(obj.size)
                state = ObjectState.PENDING if obj.problem is None else ObjectState.FAILED
                reason = obj.problem
                if obj.problem is None and obj.skipped is not None:
                    state, reason = ObjectState.SKIPPED, obj.skipped
                rows.append(
                    {
                        "task_id": self.task_id,
                        "seq": next_seq,
                        "source_hash": source_hash,
                        "source_key": obj.source_key,
                        "dest_key": obj.dest_key,
                        "size": obj.size,
                        "mtime": float(obj.mtime),
                        "etag": obj.etag,
                        "chunk": number,
                        "plan_digest": _plan_digest(obj, number),
                        "state": str(state),
                        "reason": reason,
                        "state_digest": _state_digest(str(state), reason),
                        "transferred": 0,
                        "attempts": 0,
                        "updated": now,
                    }
                )
                next_seq += 1
            if rows:
                connection.execute(insert(OBJECTS), rows)
                builder.save(connection, self.task_id, now)
            connection.execute(
                update(TASKS).where(TASKS.c.id == self.task_id).values(next_seq=next_seq, updated=now)
            )
        return len(rows)

    def known_sources(self, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` the journal holds as source keys (a planning run after one cut short)."""
        by_hash = {_source_hash(key): key for key in keys}
        with self._transaction() as connection:
            known = _known_sources(connection, self.task_id, list(by_hash))
        return {by_hash[h] for h in known}

    def finish_listing(self) -> None:
        """The listing is whole: mark it so, and close the last chunk."""
        now = time.time()
        with self._transaction() as connection:
            connection.execute(
                update(CHUNKS)
                .where(CHUNKS.c.task_id == self.task_id, CHUNKS.c.closed.is_(False))
                .values(closed=True, updated=now)
            )
            connection.execute(
                update(TASKS).where(TASKS.c.id == self.task_id).values(listing_complete=True, updated=now)
            )

    # --- running --------------------------------------------------------------------------------------------

    def objects(
        self, states: tuple[ObjectState, ...] = UNFINISHED, *, chunk: int | None = None
    ) -> Iterator[JournalObject]:
        """Objects in ``states`` in planning order (of one chunk, when given), read a page at a time. Asking
        for the unfinished ones also yields rows whose state is damaged, as pending: moving an object again
        is always safe."""
        if any(state not in OBJECT_STATES for state in states):
            raise ValueError(states)
        unfinished = set(states) == set(UNFINISHED)
        wanted = {str(s) for s in states}
        where = [OBJECTS.c.task_id == self.task_id]
        if chunk is not None:
            where.append(OBJECTS.c.chunk == chunk)
        if unfinished:
            where.append(OBJECTS.c.state.notin_([str(s) for s in FINISHED]))
        else:
            where.append(OBJECTS.c.state.in_(wanted))
        last = -1
        while True:
            with self._transaction() as connection:
                rows = connection.execute(
                    select(OBJECTS).where(*where, OBJECTS.c.seq > last).order_by(OBJECTS.c.seq).limit(PAGE)
                ).all()
            if not rows:
                return
            for row in rows:
                obj = _journal_object(row)
                if obj.state in wanted or (unfinished and obj.state == ObjectState.PENDING):
                    yield obj
            last = rows[-1].seq

    def mark(self, seq: int, state: ObjectState, *, reason: str | None = None, transferred: int = 0) -> None:
        """Record an object's outcome; durable when this returns. Outcomes recorded by several threads at
        once share a transaction (see :mod:`ferry.groupcommit`)."""
        if state not in OBJECT_STATES:
            raise ValueError(state)
        self._marks.submit((seq, state, reason, transferred))

    def mark_many(self, marks: Sequence[tuple[int, ObjectState, str | None, int]]) -> None:
        """Record several outcomes in one durable transaction: ``(seq, state, reason, bytes moved)``."""
        for _seq, state, _reason, _n in marks:
            if state not in OBJECT_STATES:
                raise ValueError(state)
        now = time.time()
        if self.path is not None and self._fence is None:
            self._mark_in_file(
                [
                    (str(state), reason, _state_digest(str(state), reason), moved, now, self.task_id, seq)
                    for seq, state, reason, moved in marks
                ]
            )
            return
        params = [
            {
                "b_task": self.task_id,
                "b_seq": seq,
                "b_state": str(state),
                "b_reason": reason,
                "b_digest": _state_digest(str(state), reason),
                "b_moved": moved,
                "b_now": now,
            }
            for seq, state, reason, moved in marks
        ]
        with self._transaction() as connection:
            if self._fence is not None:
                self._fence(connection)
            connection.execute(_MARK, params)

    def _mark_in_file(self, rows: list[tuple[object, ...]]) -> None:
        """Outcomes into a per-task SQLite file straight through its driver connection: SQLAlchemy's
        transaction and statement machinery cost as much CPU per batch as the objects of 16 KiB did."""
        assert self._mutex is not None and self.path is not None
        with self._mutex:
            if self._driver is None:
                fairy = self.engine.raw_connection()  # the one connection of the journal's StaticPool
                self._driver = fairy.driver_connection
                fairy.close()
            driver = self._driver
            try:
                driver.execute("BEGIN IMMEDIATE")
                try:
                    driver.executemany(_MARK_SQL, rows)
                except BaseException:
                    driver.execute("ROLLBACK")
                    raise
                driver.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                reason = _damage(exc)
                if reason is None:
                    raise TransferError(
                        f"the journal of task {self.path.stem} cannot record outcomes "
                        f"({str(exc).strip()}): {self.path}"
                    ) from None
                raise _damaged_journal(self.path, reason) from None

    def chunks_to_run(self) -> list[int]:
        """The closed chunks that still hold an unfinished object, in order."""
        with self._transaction() as connection:
            rows = connection.execute(
                select(OBJECTS.c.chunk)
                .where(OBJECTS.c.task_id == self.task_id, OBJECTS.c.state.notin_([str(s) for s in FINISHED]))
                .distinct()
                .order_by(OBJECTS.c.chunk)
            ).scalars()
            numbers = list(rows)
            closed = set(
                connection.execute(
                    select(CHUNKS.c.number).where(CHUNKS.c.task_id == self.task_id, CHUNKS.c.closed.is_(True))
                ).scalars()
            )
        return [n for n in numbers if n in closed]

    def requeue(self, states: tuple[ObjectState, ...]) -> int:
        """Put every object in ``states`` back to pending (a fresh check of them all); objects whose key
        was found unsafe stay failed: no retry can help them. Returns how many were requeued."""
        if any(state not in OBJECT_STATES for state in states):
            raise ValueError(states)
        pending = str(ObjectState.PENDING)
        with self._transaction() as connection:
            result = connection.execute(
                update(OBJECTS)
                .where(
                    OBJECTS.c.task_id == self.task_id,
                    OBJECTS.c.state.in_([str(s) for s in states]),
                    OBJECTS.c.dest_key != "",
                )
                .values(state=pending, reason=None, state_digest=_state_digest(pending, None))
            )
            return int(result.rowcount or 0)

    def counts(self) -> dict[ObjectState, StateCount]:
        """Objects and bytes in each state; a row whose state is no known state counts as pending (that is
        how a run treats it)."""
        result = {state: StateCount(0, 0) for state in OBJECT_STATES}
        with self._transaction() as connection:
            rows = connection.execute(
                select(OBJECTS.c.state, func.count(), func.coalesce(func.sum(OBJECTS.c.size), 0))
                .where(OBJECTS.c.task_id == self.task_id)
                .group_by(OBJECTS.c.state)
            ).all()
        for state, count, size in rows:
            key = ObjectState(state) if state in OBJECT_STATES else ObjectState.PENDING
            before = result[key]
            result[key] = StateCount(before.count + count, before.bytes + int(size))
        return result


def _insert_task(
    connection: Connection,
    task_id: str,
    kind: str,
    source: str,
    destination: str,
    settings: TaskSettings,
    plan: dict[str, Any],
) -> None:
    now = time.time()
    settings_text = settings.to_json()
    plan_text = json.dumps(plan, sort_keys=True)
    connection.execute(
        insert(TASKS).values(
            id=task_id,
            kind=kind,
            source=source,
            destination=destination,
            settings=settings_text,
            plan=plan_text,
            digest=_task_digest(task_id, kind, source, destination, settings_text, plan_text),
            created=now,
            updated=now,
            state=str(TaskState.RUNNING),
            listing_complete=False,
            next_seq=1,
            schema_version=SCHEMA_VERSION,
        )
    )


def _known_sources(connection: Connection, task_id: str, hashes: Sequence[str]) -> set[str]:
    """Which of these source hashes the journal already has (a re-listing after a crash)."""
    known: set[str] = set()
    for start in range(0, len(hashes), 500):
        known.update(
            connection.execute(
                select(OBJECTS.c.source_hash).where(
                    and_(OBJECTS.c.task_id == task_id, OBJECTS.c.source_hash.in_(hashes[start : start + 500]))
                )
            ).scalars()
        )
    return known


def _journal_object(row: Any) -> JournalObject:
    planned = PlannedObject(row.source_key, row.dest_key, row.size, row.mtime, row.etag)
    damage = None
    state = row.state
    try:
        intact = _plan_digest(planned, row.chunk) == row.plan_digest
    except (ValueError, TypeError, OverflowError):  # a value of the wrong type: a damaged record header
        intact = False
    if not intact:
        damage = "the journal's record of this object is damaged; it was not moved (plan the task again)"
    elif state not in OBJECT_STATES or _state_digest(state, row.reason) != row.state_digest:
        state = ObjectState.PENDING
    return JournalObject(
        row.seq,
        row.source_key,
        row.dest_key,
        row.size,
        row.mtime,
        row.etag,
        ObjectState(state) if state in OBJECT_STATES else ObjectState.PENDING,
        row.reason,
        row.transferred,
        row.attempts,
        row.chunk,
        damage,
    )


class _ChunkBuilder:
    """Places planned objects into chunks, continuing the last chunk of an earlier planning run if it is
    still open; :meth:`save` writes the chunks a page touched, in the page's transaction."""

    def __init__(self, policy: ChunkPolicy, last: Any) -> None:
        self.policy = policy
        self.touched: dict[int, tuple[int, int, bool]] = {}
        self.existing: set[int] = set()
        if last is None:
            self.current, self.objects, self.bytes, self.closed = 0, 0, 0, True
        else:
            self.current, self.objects, self.bytes = last.number, last.objects, last.bytes
            self.closed = bool(last.closed)
            self.existing.add(last.number)

    def place(self, size: int) -> int:
        """The chunk of the next planned object of ``size`` bytes."""
        policy = self.policy
        alone = size >= policy.alone_from
        crowded = self.objects >= policy.objects or self.bytes + size > policy.bytes
        if self.closed or (self.objects and (alone or crowded)):
            self._close()
            self.current, self.objects, self.bytes, self.closed = self.current + 1, 0, 0, False
        self.objects += 1
        self.bytes += size
        self._note()
        if alone:
            self._close()
        return self.current

    def _close(self) -> None:
        if not self.closed:
            self.closed = True
            self._note()

    def _note(self) -> None:
        self.touched[self.current] = (self.objects, self.bytes, self.closed)

    def save(self, connection: Connection, task_id: str, now: float) -> None:
        for number, (objects, size, closed) in self.touched.items():
            values = {"objects": objects, "bytes": size, "closed": closed, "updated": now}
            if number in self.existing:
                where = (CHUNKS.c.task_id == task_id, CHUNKS.c.number == number)
                connection.execute(update(CHUNKS).where(*where).values(**values))
            else:
                connection.execute(
                    insert(CHUNKS).values(
                        task_id=task_id, number=number, state="queued", attempt=0, transferred=0, **values
                    )
                )
                self.existing.add(number)
        self.touched.clear()


# --- journals in a folder -----------------------------------------------------------------------------------


def list_tasks(directory: Path) -> Iterator[TaskInfo]:
    """Every task journal under ``directory``, newest first; damaged ones are skipped."""
    infos = []
    for path in (directory / "tasks").glob("*.db"):
        with (
            contextlib.suppress(FerryError, SQLDatabaseError),
            TaskJournal.open(directory, path.stem) as journal,
        ):
            infos.append(journal.info())
    yield from sorted(infos, key=lambda info: info.created, reverse=True)


def remove_task(directory: Path, task_id: str) -> None:
    """Delete a task's journal; refused while a process runs the task."""
    path = journal_path(directory, task_id)
    if not path.exists():
        raise TaskNotFoundError(f"no task {task_id} in {path.parent}")
    lock = path.with_suffix(".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TransferError(f"task {task_id} is being run by another ferry process") from None
        for suffix in (".db-wal", ".db-shm", ".db"):
            with contextlib.suppress(FileNotFoundError):
                path.with_suffix(suffix).unlink()
        lock.unlink(missing_ok=True)
    finally:
        os.close(fd)


def remove_shared_task(connection: Connection, task_id: str) -> None:
    """Delete a task's journal from a shared database, in the caller's transaction."""
    for table, column in ((OBJECTS, OBJECTS.c.task_id), (CHUNKS, CHUNKS.c.task_id), (TASKS, TASKS.c.id)):
        connection.execute(delete(table).where(column == task_id))
