"""What a Dask worker runs: one chunk of one task (:func:`run_chunk`).

A worker finds the service's database in ``FERRY_DB`` (``ferry worker`` and a plain ``dask worker`` with
ferry installed), or in what :func:`use_database` was given (the service's own in-process cluster). It
claims the chunk for a new attempt (waiting while another live attempt holds it), renews the lease while it
runs, and writes every outcome and every part record through the attempt's fence, so an attempt that lost
the chunk cannot change anything (:mod:`ferry.tasks.chunks`). The source and destination keys arrive in the
job, in memory only; the job's ``repr`` hides them.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from ferry.config import Defaults
from ferry.errors import FerryError, UsageError
from ferry.service import nodes
from ferry.service.db import Database
from ferry.service.vault import GroupSecrets
from ferry.storage.s3 import ClientSettings
from ferry.tasks import chunks, runner
from ferry.tasks.journal import JournalObject, TaskJournal
from ferry.tasks.settings import TaskSettings
from ferry.transfer.options import TransferOptions
from ferry.transfer.ratelimit import RateLimiter, make_limiter
from ferry.transfer.record_db import DbRecordStore

log = logging.getLogger("ferry.worker")

WAIT_FOR_LEASE = 300.0
"""How long an attempt waits for another live attempt of its chunk to end before giving up (and being
submitted again by the service)."""


@dataclass(frozen=True)
class ChunkJob:
    task_id: str
    number: int
    src_node: dict[str, Any]
    dst_node: dict[str, Any]
    settings: str
    """The task's settings as JSON (:meth:`TaskSettings.to_json`)."""
    incremental: bool
    defaults: Defaults
    secrets: GroupSecrets = field(repr=False)


@dataclass(frozen=True)
class ChunkResult:
    number: int
    attempt: int
    worker: str
    succeeded: int = 0
    failed: int = 0
    transferred: int = 0
    interrupted: bool = False
    stopped_by: str | None = None
    fenced: bool = False


_limiters: dict[str, RateLimiter | None] = {}
_limiters_lock = threading.Lock()


def task_limiter(task_id: str, options: TransferOptions) -> RateLimiter | None:
    """One rate limit per task in this process (a constant ``bwlimit`` or OMS's daily windows), shared
    by the task's chunks running here: the limit caps what each worker (each machine) sends for the
    task."""
    with _limiters_lock:
        if task_id not in _limiters:
            if len(_limiters) > 1000:  # a long-lived worker forgets the limits of old tasks
                _limiters.clear()
            _limiters[task_id] = make_limiter(options.bwlimit, options.bandwidth_windows)
        return _limiters[task_id]


_database: Database | None = None
_database_lock = threading.Lock()
_local_name: str | None = None


def use_database(database: Database, name: str | None = None) -> None:
    """The database this process's workers use, and for the service's in-process cluster the name its
    chunks are held under (the same across restarts of the service: see :func:`expire_own_leases`)."""
    global _database, _local_name
    with _database_lock:
        _database, _local_name = database, name


def worker_database() -> Database:
    """The configured database, or the one ``FERRY_DB`` names (opened once per process)."""
    global _database
    with _database_lock:
        if _database is None:
            url = os.environ.get("FERRY_DB")
            if not url:
                raise UsageError("this worker has no database: set FERRY_DB to the service's database URL")
            _database = Database(url)
        return _database


def worker_name() -> str:
    if _local_name is not None:
        return _local_name
    try:
        from distributed import get_worker

        worker = get_worker()
        return str(worker.name if worker.name is not None else worker.address)
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


class _ChunkProgress(runner.TaskProgress):
    def __init__(self) -> None:
        self.bytes = 0
        self._lock = threading.Lock()

    def advanced(self, n: int) -> None:
        with self._lock:
            self.bytes += n

    def object_done(self, obj: JournalObject, ok: bool, reason: str | None) -> None:
        if not ok:
            log.info("failed: %s: %s", obj.source_key, reason)


def _claim(engine: Engine, job: ChunkJob, name: str) -> chunks.ChunkClaim:
    deadline = time.monotonic() + WAIT_FOR_LEASE
    while True:
        try:
            return chunks.claim(engine, job.task_id, job.number, name)
        except chunks.Busy as busy:
            if time.monotonic() > deadline:
                raise
            time.sleep(min(2.0, max(0.2, busy.until - time.time())))


class _Lease(threading.Thread):
    """Renews the attempt's lease; sets ``stop`` when the service asks the chunk to stop, when a newer
    attempt took it, or when the database has not answered for a whole lease."""

    def __init__(self, engine: Engine, held: chunks.ChunkClaim, progress: _ChunkProgress) -> None:
        super().__init__(name=f"ferry-lease-{held.number}", daemon=True)
        self.engine, self.held, self.progress = engine, held, progress
        self.stop = threading.Event()
        self.fenced = False
        self._done = threading.Event()

    def run(self) -> None:
        last = time.monotonic()
        interval = min(0.5, chunks.LEASE_SECONDS / 4)  # also how often the bytes moved are noted
        while not self._done.wait(interval):
            try:
                state = chunks.renew(self.engine, self.held, self.progress.bytes)
            except chunks.FencedError:
                self.fenced = True
                self.stop.set()
                return
            except SQLAlchemyError:
                if time.monotonic() - last > chunks.LEASE_SECONDS:
                    log.warning(
                        "chunk %d: the database has not answered for a lease; stopping", self.held.number
                    )
                    self.stop.set()
                    return
                continue
            last = time.monotonic()
            if state == chunks.ChunkState.STOPPING:
                self.stop.set()

    def finish(self) -> None:
        self._done.set()
        self.join(5)


def run_chunk(job: ChunkJob) -> ChunkResult:
    """Run one attempt of a chunk: move its unfinished objects and record each outcome, fenced."""
    database = worker_database()
    engine = database.engine
    name = worker_name()
    held = _claim(engine, job, name)
    started = time.monotonic()
    fence = chunks.fence(held)
    settings = TaskSettings.from_json(job.settings)
    options = settings.transfer_options(job.defaults, incremental=job.incremental)
    options = replace(options, records=DbRecordStore(engine, fence))
    client = ClientSettings(
        connect_timeout=job.defaults.connect_timeout,
        read_timeout=job.defaults.read_timeout,
        max_connections=max(16, settings.job_count(job.defaults) * options.parallel + 4),
        request_payer=settings.payer,
    )
    progress = _ChunkProgress()
    lease = _Lease(engine, held, progress)
    lease.start()
    try:
        source = nodes.open_store(job.src_node, job.secrets.source, client, "src")
        destination = nodes.open_store(job.dst_node, job.secrets.destination, client, "dst")
        journal = TaskJournal.open_shared(engine, job.task_id).fenced(fence)
        outcome = runner.run(
            journal,
            source,
            destination,
            options,
            settings.job_count(job.defaults),
            progress,
            lease.stop,
            None,
            settings.large_jobs(job.defaults),
            chunk=job.number,
            limiter=task_limiter(job.task_id, options),
        )
    except chunks.FencedError:
        lease.finish()
        log.info("chunk %d of task %s: attempt %d fenced off", job.number, job.task_id, held.attempt)
        return ChunkResult(job.number, held.attempt, name, fenced=True, interrupted=True)
    except SQLAlchemyError as exc:
        # an outcome could not be recorded: the objects not recorded stay unfinished, and the chunk goes
        # again (on this worker or another) once the database answers
        lease.finish()
        log.warning(
            "chunk %d of task %s: attempt %d stopped: the database did not record an outcome (%s)",
            job.number,
            job.task_id,
            held.attempt,
            type(exc).__name__,
        )
        return ChunkResult(job.number, held.attempt, name, interrupted=True)
    except BaseException:
        lease.finish()
        raise
    lease.finish()
    interrupted = outcome.interrupted or lease.stop.is_set()
    if lease.fenced:
        log.info("chunk %d of task %s: attempt %d fenced off", job.number, job.task_id, held.attempt)
        return ChunkResult(job.number, held.attempt, name, fenced=True, interrupted=True)
    state = chunks.ChunkState.QUEUED if interrupted or outcome.stopped_by else chunks.ChunkState.DONE
    try:
        chunks.release(engine, held, state, progress.bytes)
    except chunks.FencedError:
        return ChunkResult(job.number, held.attempt, name, fenced=True, interrupted=True)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        log.warning(
            "chunk %d of task %s: its end could not be recorded (%s)", job.number, job.task_id, reason
        )
        return ChunkResult(job.number, held.attempt, name, fenced=True, interrupted=True)
    log.info(
        "chunk %d of task %s (attempt %d): %d done, %d failed, %d bytes in %.1f s%s",
        job.number,
        job.task_id,
        held.attempt,
        outcome.succeeded,
        outcome.failed,
        progress.bytes,
        time.monotonic() - started,
        " (stopped)" if interrupted else "",
    )
    stopped_by = outcome.stopped_by.message if isinstance(outcome.stopped_by, FerryError) else None
    return ChunkResult(
        job.number,
        held.attempt,
        name,
        succeeded=outcome.succeeded,
        failed=outcome.failed,
        transferred=progress.bytes,
        interrupted=interrupted,
        stopped_by=stopped_by,
    )
