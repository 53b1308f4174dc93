"""Chunks as units of distributed work: claimed with a lease, every write fenced by the attempt number.

A chunk (see :class:`ferry.tasks.journal.ChunkPolicy`) is run by one *attempt* at a time. :func:`claim`
takes it only when no live attempt holds it (its lease has run out, or nobody ever held it) and gives the new
attempt the next number. Every write an attempt makes to the journal or to part records first passes its
:func:`fence`: an ``UPDATE`` of the chunk's row that matches only while the chunk still carries this
attempt's number. The row lock that ``UPDATE`` takes serialises it with a newer :func:`claim`, so once a
newer attempt holds the chunk, an older one that was presumed dead and wakes up cannot change anything: its
next write raises :class:`FencedError` and rolls back.

A running attempt renews its lease (:func:`renew`) well before it runs out; a worker that dies stops
renewing, and after at most one lease another attempt may claim the chunk. Leases are judged by each
machine's own clock: clocks of the service's machines should agree to within a few seconds (NTP), far less
than the lease.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, Engine, func, select, update

from ferry.errors import InterruptedTransfer, TaskNotFoundError
from ferry.tasks.journal import CHUNKS

LEASE_SECONDS = float(os.environ.get("FERRY_CHUNK_LEASE", "30"))


class ChunkState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    STOPPING = "stopping"
    """The service asked the running attempt to stop (it sees this when it renews its lease)."""
    DONE = "done"
    """Every object of the chunk has an outcome (done, skipped or failed)."""


class FencedError(InterruptedTransfer):
    """A newer attempt holds the chunk: this one's writes are refused."""


@dataclass(frozen=True)
class ChunkClaim:
    task_id: str
    number: int
    attempt: int
    worker: str
    transferred_before: int = 0
    """Bytes the chunk's earlier attempts moved: the chunk's ``transferred`` keeps growing across them."""


class Busy(Exception):
    """Another attempt holds the chunk and its lease is live."""

    def __init__(self, worker: str | None, until: float) -> None:
        super().__init__(f"chunk held by {worker or 'another worker'} until {until:.0f}")
        self.worker = worker
        self.until = until


def claim(
    engine: Engine, task_id: str, number: int, worker: str, *, lease: float = LEASE_SECONDS
) -> ChunkClaim:
    """Take the chunk for a new attempt. Busy when a live attempt holds it; TaskNotFoundError when the chunk
    does not exist (the task was deleted)."""
    now = time.time()
    with engine.begin() as connection:
        row = connection.execute(
            select(
                CHUNKS.c.state, CHUNKS.c.attempt, CHUNKS.c.worker, CHUNKS.c.lease_until, CHUNKS.c.transferred
            )
            .where(CHUNKS.c.task_id == task_id, CHUNKS.c.number == number)
            .with_for_update()
        ).one_or_none()
        if row is None:
            raise TaskNotFoundError(f"no chunk {number} of task {task_id}")
        held = row.state in (ChunkState.RUNNING, ChunkState.STOPPING)
        if held and row.lease_until is not None and row.lease_until > now:
            raise Busy(row.worker, row.lease_until)
        attempt = row.attempt + 1
        changed = connection.execute(
            update(CHUNKS)
            .where(CHUNKS.c.task_id == task_id, CHUNKS.c.number == number, CHUNKS.c.attempt == row.attempt)
            .values(
                state=str(ChunkState.RUNNING),
                attempt=attempt,
                worker=worker,
                lease_until=now + lease,
                updated=now,
            )
        )
        if changed.rowcount != 1:  # a claim between our read and write (SQLite takes no row lock)
            raise Busy(None, now + lease)
    return ChunkClaim(task_id, number, attempt, worker, int(row.transferred))


def fence(held: ChunkClaim) -> Callable[[Connection], None]:
    """The check every write of ``held`` passes first, inside the write's own transaction."""

    def check(connection: Connection) -> None:
        passed = connection.execute(
            update(CHUNKS)
            .where(
                CHUNKS.c.task_id == held.task_id,
                CHUNKS.c.number == held.number,
                CHUNKS.c.attempt == held.attempt,
            )
            .values(updated=time.time())
        )
        if passed.rowcount != 1:
            raise FencedError(
                f"chunk {held.number} of task {held.task_id} was taken over by a newer attempt; "
                f"attempt {held.attempt} stops"
            )

    return check


def renew(engine: Engine, held: ChunkClaim, transferred: int, *, lease: float = LEASE_SECONDS) -> ChunkState:
    """Extend the lease and note the bytes this attempt moved; the chunk's state (``stopping`` asks the
    attempt to stop). FencedError when a newer attempt holds the chunk."""
    now = time.time()
    with engine.begin() as connection:
        fence(held)(connection)
        connection.execute(
            update(CHUNKS)
            .where(CHUNKS.c.task_id == held.task_id, CHUNKS.c.number == held.number)
            .values(lease_until=now + lease, transferred=held.transferred_before + transferred)
        )
        state = connection.execute(
            select(CHUNKS.c.state).where(CHUNKS.c.task_id == held.task_id, CHUNKS.c.number == held.number)
        ).scalar_one()
    return ChunkState(state)


def release(engine: Engine, held: ChunkClaim, state: ChunkState, transferred: int) -> None:
    """The attempt ends: the chunk is ``done``, or ``queued`` again (stopped, or left unfinished)."""
    with engine.begin() as connection:
        fence(held)(connection)
        connection.execute(
            update(CHUNKS)
            .where(CHUNKS.c.task_id == held.task_id, CHUNKS.c.number == held.number)
            .values(
                state=str(state),
                lease_until=None,
                transferred=held.transferred_before + transferred,
                updated=time.time(),
            )
        )


def expire_leases(engine: Engine, worker: str) -> int:
    """Chunks held by ``worker`` are free at once: a service restarted with its in-process cluster knows its
    earlier attempts died with it. How many were freed."""
    with engine.begin() as connection:
        result = connection.execute(
            update(CHUNKS)
            .where(
                CHUNKS.c.worker == worker,
                CHUNKS.c.state.in_([str(ChunkState.RUNNING), str(ChunkState.STOPPING)]),
            )
            .values(state=str(ChunkState.QUEUED), lease_until=None, updated=time.time())
        )
    return int(result.rowcount or 0)


def request_stop(engine: Engine, task_id: str) -> int:
    """Ask every running attempt of the task to stop; how many were asked."""
    with engine.begin() as connection:
        result = connection.execute(
            update(CHUNKS)
            .where(CHUNKS.c.task_id == task_id, CHUNKS.c.state == str(ChunkState.RUNNING))
            .values(state=str(ChunkState.STOPPING), updated=time.time())
        )
    return int(result.rowcount or 0)


def clear_stop(engine: Engine, task_id: str) -> None:
    """A new run of the task: chunks left ``stopping`` are only queued."""
    with engine.begin() as connection:
        connection.execute(
            update(CHUNKS)
            .where(CHUNKS.c.task_id == task_id, CHUNKS.c.state == str(ChunkState.STOPPING))
            .values(state=str(ChunkState.QUEUED))
        )


@dataclass(frozen=True)
class ChunkSummary:
    """A task's chunks by state, and the workers holding the running ones."""

    by_state: dict[str, int]
    workers: tuple[str, ...]
    transferred: int


def summary(engine: Engine, task_id: str) -> ChunkSummary:
    with engine.begin() as connection:
        rows = connection.execute(
            select(CHUNKS.c.state, func.count(), func.coalesce(func.sum(CHUNKS.c.transferred), 0))
            .where(CHUNKS.c.task_id == task_id)
            .group_by(CHUNKS.c.state)
        ).all()
        workers = connection.execute(
            select(CHUNKS.c.worker)
            .where(CHUNKS.c.task_id == task_id, CHUNKS.c.state == str(ChunkState.RUNNING))
            .distinct()
        ).scalars()
        names = tuple(sorted(w for w in workers if w))
    return ChunkSummary({str(r[0]): int(r[1]) for r in rows}, names, sum(int(r[2]) for r in rows))
