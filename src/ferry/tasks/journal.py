"""Task journals: the durable state of one batch task, from which ``--recover`` finishes it.

One SQLite file per task (``<checkpoint dir>/tasks/<task id>.db``) holds the task's options and EVERY planned
object with its state — pending, done, failed (with the reason) or skipped (with the reason). Objects are
written as the listing streams in, in batches, so a task of millions of objects never sits in memory; the
journal is read back the same way (keyset pages by sequence number). This is what obsutil lacks: its
failure report misses objects never attempted before a crash, and loses its buffered last rows.

SQLite in WAL mode with ``synchronous=NORMAL``: each state change is one small transaction that survives
the process being killed the moment it returns (a power cut may lose the newest few, which are then simply
checked again). A damaged file is reported, never guessed at. An exclusive ``flock`` beside the file keeps
two processes from running the same task at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferry.errors import FerryError, TaskNotFoundError, TransferError

SCHEMA_VERSION = 1
OBJECT_STATES = ("pending", "done", "failed", "skipped")
TASK_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_PAGE = 1000

_SCHEMA = """
CREATE TABLE task (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    destination TEXT NOT NULL,
    options TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    state TEXT NOT NULL,
    listing_complete INTEGER NOT NULL DEFAULT 0,
    schema_version INTEGER NOT NULL
);
CREATE TABLE objects (
    seq INTEGER PRIMARY KEY,
    source_key TEXT NOT NULL UNIQUE,
    dest_key TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    etag TEXT,
    state TEXT NOT NULL DEFAULT 'pending',
    reason TEXT,
    transferred INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    updated REAL
);
CREATE INDEX objects_state ON objects (state, seq);
"""


class JournalDamagedError(FerryError):
    """The journal file exists but cannot be read as a task journal."""


@dataclass(frozen=True)
class TaskInfo:
    task_id: str
    kind: str
    source: str
    destination: str
    options: dict[str, Any]
    created: float
    updated: float
    state: str
    listing_complete: bool


@dataclass(frozen=True)
class PlannedObject:
    source_key: str
    dest_key: str
    size: int
    mtime: float
    etag: str | None = None
    problem: str | None = None
    """Set when planning already knows the object cannot be moved (an unsafe key): it is journaled as
    failed with this reason, so the report lists it."""


@dataclass(frozen=True)
class JournalObject:
    seq: int
    source_key: str
    dest_key: str
    size: int
    mtime: float
    etag: str | None
    state: str
    reason: str | None
    transferred: int
    attempts: int


@dataclass(frozen=True)
class StateCount:
    count: int
    bytes: int


def journal_path(directory: Path, task_id: str) -> Path:
    if not TASK_ID.match(task_id):
        raise TaskNotFoundError(f"no task {task_id!r}: a task id is a 36-character UUID")
    return directory / "tasks" / f"{task_id}.db"


class TaskJournal:
    """An open task journal; safe to use from the task's worker threads."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection
        self._lock_fd: int | None = None
        self._mutex = threading.RLock()  # one connection, shared by the task's worker threads

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._mutex:
            return self._db.execute(sql, params).fetchall()

    # --- opening -----------------------------------------------------------------------------------------

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA busy_timeout=5000")
        return connection

    @classmethod
    def create(
        cls, directory: Path, task_id: str, kind: str, source: str, destination: str, options: dict[str, Any]
    ) -> TaskJournal:
        path = journal_path(directory, task_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            raise TransferError(f"task {task_id} already exists")
        # Built aside and linked into place whole: a reader (or a crash) never meets a journal without
        # its tables, and an existing journal is never replaced.
        staging = path.with_name(f"{path.name}.new")
        staging.unlink(missing_ok=True)
        building = sqlite3.connect(staging, isolation_level=None)
        try:
            now = time.time()
            building.execute("BEGIN")
            for statement in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
                building.execute(statement)
            building.execute(
                "INSERT INTO task VALUES (?, ?, ?, ?, ?, ?, ?, 'running', 0, ?)",
                (task_id, kind, source, destination, json.dumps(options, sort_keys=True), now, now,
                 SCHEMA_VERSION),
            )  # fmt: skip
            building.execute("COMMIT")
        finally:
            building.close()
        try:
            os.link(staging, path)
        except FileExistsError:
            raise TransferError(f"task {task_id} already exists") from None
        finally:
            staging.unlink(missing_ok=True)
        return cls(path, cls._connect(path))

    @classmethod
    def open(cls, directory: Path, task_id: str) -> TaskJournal:
        """Open an existing journal: TaskNotFoundError when there is none, JournalDamagedError when the file
        is not an intact journal of this version."""
        path = journal_path(directory, task_id)
        if not path.exists():
            raise TaskNotFoundError(f"no task {task_id} in {path.parent}")
        try:
            connection = cls._connect(path)
            (check,) = connection.execute("PRAGMA quick_check").fetchone()
            row = connection.execute("SELECT id, schema_version FROM task").fetchone()
        except sqlite3.DatabaseError as exc:
            raise JournalDamagedError(f"the journal of task {task_id} is damaged ({exc}): {path}") from None
        if check != "ok" or row is None or row[0] != task_id:
            raise JournalDamagedError(f"the journal of task {task_id} is damaged: {path}")
        if row[1] != SCHEMA_VERSION:
            raise JournalDamagedError(f"the journal of task {task_id} has an unknown format version {row[1]}")
        return cls(path, connection)

    def lock(self) -> None:
        """Take the task for this process; a second process gets a clear refusal."""
        fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise TransferError(f"task {self.info().task_id} is being run by another ferry process") from None
        self._lock_fd = fd

    def close(self) -> None:
        self._db.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> TaskJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the task ----------------------------------------------------------------------------------------

    def info(self) -> TaskInfo:
        [row] = self._query(
            "SELECT id, kind, source, destination, options, created, updated, state, listing_complete "
            "FROM task"
        )
        return TaskInfo(
            row[0], row[1], row[2], row[3], json.loads(row[4]), row[5], row[6], row[7], bool(row[8])
        )

    def set_state(self, state: str) -> None:
        self._query("UPDATE task SET state = ?, updated = ?", (state, time.time()))

    def set_options(self, options: dict[str, Any]) -> None:
        self._query("UPDATE task SET options = ?", (json.dumps(options, sort_keys=True),))

    # --- planning ----------------------------------------------------------------------------------------

    def add_planned(self, objects: Iterable[PlannedObject]) -> int:
        """Record planned objects as the listing streams in, a page per transaction. An object already in
        the journal (a re-listing after a crash during the first) is left as it is. Returns how many were
        new."""
        added = 0
        page: list[tuple[str, str, int, float, str | None, str, str | None]] = []

        def flush() -> None:
            nonlocal added
            with self._transaction():
                before = self._db.total_changes
                self._db.executemany(
                    "INSERT OR IGNORE INTO objects (source_key, dest_key, size, mtime, etag, state, reason) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    page,
                )
                added += self._db.total_changes - before
            page.clear()

        for obj in objects:
            state = "pending" if obj.problem is None else "failed"
            page.append((obj.source_key, obj.dest_key, obj.size, obj.mtime, obj.etag, state, obj.problem))
            if len(page) >= _PAGE:
                flush()
        if page:
            flush()
        return added

    def finish_listing(self) -> None:
        self._query("UPDATE task SET listing_complete = 1, updated = ?", (time.time(),))

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._mutex:
            self._db.execute("BEGIN")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- running -----------------------------------------------------------------------------------------

    def objects(self, states: tuple[str, ...] = ("pending", "failed")) -> Iterator[JournalObject]:
        """Objects in ``states`` in planning order, read a page at a time."""
        if any(state not in OBJECT_STATES for state in states):
            raise ValueError(states)
        wanted = set(states)
        last = 0
        while True:
            rows = self._query(
                "SELECT seq, source_key, dest_key, size, mtime, etag, state, reason, transferred, attempts "
                "FROM objects WHERE seq > ? ORDER BY seq LIMIT ?",
                (last, _PAGE),
            )
            if not rows:
                return
            for row in rows:
                if row[6] in wanted:
                    yield JournalObject(*row)
            last = rows[-1][0]

    def mark(self, seq: int, state: str, *, reason: str | None = None, transferred: int = 0) -> None:
        """Record an object's outcome (one durable transaction)."""
        if state not in OBJECT_STATES:
            raise ValueError(state)
        self._query(
            "UPDATE objects SET state = ?, reason = ?, transferred = transferred + ?, "
            "attempts = attempts + 1, updated = ? WHERE seq = ?",
            (state, reason, transferred, time.time(), seq),
        )

    def requeue(self, states: tuple[str, ...]) -> int:
        """Put every object in ``states`` back to pending (a fresh check of them all, e.g. with
        ``incremental``); objects whose key was found unsafe stay failed: no retry can help them.
        Returns how many were requeued."""
        if any(state not in OBJECT_STATES for state in states):
            raise ValueError(states)
        marks = ",".join("?" * len(states))
        with self._transaction():
            before = self._db.total_changes
            self._db.execute(
                f"UPDATE objects SET state = 'pending', reason = NULL WHERE state IN ({marks}) "  # noqa: S608
                "AND dest_key != ''",
                states,
            )
            return self._db.total_changes - before

    def counts(self) -> dict[str, StateCount]:
        result = {state: StateCount(0, 0) for state in OBJECT_STATES}
        for state, count, size in self._query(
            "SELECT state, COUNT(*), COALESCE(SUM(size), 0) FROM objects GROUP BY state"
        ):
            result[state] = StateCount(count, size)
        return result


def list_tasks(directory: Path) -> Iterator[TaskInfo]:
    """Every task journal under ``directory``, newest first; damaged ones are skipped."""
    infos = []
    for path in (directory / "tasks").glob("*.db"):
        with (
            contextlib.suppress(FerryError, sqlite3.DatabaseError),
            TaskJournal.open(directory, path.stem) as journal,
        ):
            infos.append(journal.info())
    yield from sorted(infos, key=lambda info: info.created, reverse=True)


def remove_task(directory: Path, task_id: str) -> None:
    """Delete a task's journal; refused while a process runs the task."""
    with TaskJournal.open(directory, task_id) as journal:
        journal.lock()
        for suffix in (".db-wal", ".db-shm", ".db"):
            with contextlib.suppress(FileNotFoundError):
                journal.path.with_suffix(suffix).unlink()
        journal.path.with_suffix(".lock").unlink()
