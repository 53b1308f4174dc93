"""The executor of a task: the unfinished objects of its journal, ``jobs`` at a time, each through the same
resumable :class:`~ferry.transfer.engine.ObjectTransfer` as a single ``cp``, each outcome journaled as it
happens. Done objects are never touched; failed and pending ones go again, and a large one resumes from its
part record. :mod:`ferry.tasks.lifecycle` calls it, after planning; :func:`preview` is its dry run.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ferry.errors import FerryError, InterruptedTransfer
from ferry.storage.base import ObjectInfo, Store, WriteOptions
from ferry.tasks.compare import found_different
from ferry.tasks.records import JournalObject, PlannedObject
from ferry.tasks.reports import ReportWriter
from ferry.tasks.states import ObjectState
from ferry.transfer.engine import UP_TO_DATE, ObjectTransfer, destination_is_current
from ferry.transfer.events import TransferListener
from ferry.transfer.options import TransferOptions
from ferry.transfer.ratelimit import RateLimiter, make_limiter

if TYPE_CHECKING:
    from ferry.tasks.journal import TaskJournal  # the database, loaded by whoever opens a journal


@dataclass
class CostStats:
    """How long objects took, kept as running figures: a task of millions of objects keeps no list."""

    count: int = 0
    total: float = 0.0
    longest: float = 0.0
    shortest: float = 0.0

    def add(self, seconds: float) -> None:
        self.shortest = seconds if self.count == 0 else min(self.shortest, seconds)
        self.longest = max(self.longest, seconds)
        self.total += seconds
        self.count += 1

    @property
    def average(self) -> float:
        return self.total / self.count if self.count else 0.0


@dataclass
class TaskOutcome:
    """What one run of a task did; ``transferred`` counts only the bytes this run moved."""

    task_id: str
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    succeed_bytes: int = 0
    transferred: int = 0
    costs: CostStats = field(default_factory=CostStats)
    elapsed: float = 0.0
    interrupted: bool = False
    deleted: int = 0
    """Objects ``sync --delete`` removed from the destination."""
    stopped_by: FerryError | None = None
    """The first error that stopped the task (see ``FerryError.stops_task``); objects not started stay
    pending for a recover."""


class TaskProgress(TransferListener):
    """What a task tells its watchers: what there is to do, objects finishing, and bytes as parts
    complete."""

    def begin(self, objects: int, total_bytes: int, done_bytes: int) -> None:
        """A run starts: ``objects`` of ``total_bytes`` to move (``done_bytes`` of them moved before)."""

    def object_done(self, obj: JournalObject, ok: bool, reason: str | None) -> None:
        """An object finished (``ok``) or failed (``reason``)."""


@dataclass(frozen=True)
class PreviewRow:
    """What a run would do with one object: ``move`` it, ``skip`` it (up to date) or ``fail`` it."""

    action: str
    source_key: str
    dest_key: str
    size: int
    reason: str | None = None


def preview(
    objects: Iterable[PlannedObject | JournalObject], dest: Store, incremental: bool
) -> Iterator[PreviewRow]:
    """A dry run over planned or journaled objects: nothing is written. With ``incremental`` each
    destination is looked up, as a run would."""
    for obj in objects:
        problem = (
            obj.problem if isinstance(obj, PlannedObject) else (obj.reason if not obj.dest_key else None)
        )
        if problem is not None:
            yield PreviewRow("fail", obj.source_key, obj.dest_key, obj.size, problem)
            continue
        if incremental and not obj.source_key.endswith("/"):
            try:
                current = dest.stat(obj.dest_key)
            except FerryError:
                current = None
            source = ObjectInfo(obj.source_key, obj.size, obj.mtime, obj.etag)
            if current is not None and destination_is_current(source, current):
                yield PreviewRow("skip", obj.source_key, obj.dest_key, obj.size, UP_TO_DATE)
                continue
        yield PreviewRow("move", obj.source_key, obj.dest_key, obj.size)


def run(
    journal: TaskJournal,
    source: Store,
    dest: Store,
    options: TransferOptions,
    jobs: int,
    progress: TaskProgress,
    stop: threading.Event,
    reports: ReportWriter | None = None,
    large_jobs: int | None = None,
    only: Callable[[JournalObject], bool] | None = None,
    chunk: int | None = None,
    limiter: RateLimiter | None = None,
) -> TaskOutcome:
    """Move every pending or failed object of the journal (of one chunk, when given; only those ``only``
    takes, when given), ``jobs`` at a time (of which at most ``large_jobs`` at or above the threshold, each
    with its own parts in flight, so memory stays bounded), recording each outcome as it happens. A stop
    request lets objects in flight end (they stay resumable) and starts no new one."""
    outcome = TaskOutcome(task_id=journal.info().task_id)
    if limiter is None:
        limiter = make_limiter(options.bwlimit, options.bandwidth_windows)  # one limit for the whole task
    lock = threading.Lock()
    started = time.monotonic()
    large = threading.BoundedSemaphore(min(jobs, large_jobs or jobs))

    def one(obj: JournalObject) -> None:
        if outcome.stopped_by is not None:  # queued before the task stopped: it stays pending
            return
        begin = time.monotonic()
        try:
            # an object a check found different goes again whatever its size and time say
            chosen = replace(options, incremental=False) if found_different(obj.reason) else options
            with large if obj.size >= options.threshold else contextlib.nullcontext():
                transferred, notices, skipped = _move(obj, source, dest, chosen, progress, stop, limiter)
        except InterruptedTransfer:
            with lock:
                outcome.interrupted = True
            return
        except FerryError as exc:
            reason = exc.message
            if exc.stops_task:
                with lock:
                    outcome.stopped_by = outcome.stopped_by or exc
        except Exception as exc:  # one object's bug must not sink the task: it is reported as its failure
            reason = f"unexpected {type(exc).__name__}: {exc}"
        else:
            if skipped is not None:
                journal.mark(obj.seq, ObjectState.SKIPPED, reason=skipped)
                if reports is not None:
                    reports.skipped(obj.source_key, obj.dest_key, obj.size, skipped)
                with lock:
                    outcome.skipped += 1
                progress.object_done(obj, True, None)
                return
            journal.mark(obj.seq, ObjectState.DONE, transferred=transferred)
            if reports is not None:
                reports.succeeded(
                    obj.source_key, obj.dest_key, obj.size, transferred, (time.monotonic() - begin) * 1e3
                )
                for notice in notices:
                    reports.warning(obj.source_key, obj.dest_key, notice)
            with lock:
                outcome.succeeded += 1
                outcome.succeed_bytes += obj.size
                outcome.transferred += transferred
                outcome.costs.add(time.monotonic() - begin)
            progress.object_done(obj, True, None)
            return
        journal.mark(obj.seq, ObjectState.FAILED, reason=reason)
        if reports is not None:
            reports.failed(obj.source_key, obj.dest_key, obj.size, reason, (time.monotonic() - begin) * 1e3)
        with lock:
            outcome.failed += 1
            outcome.costs.add(time.monotonic() - begin)
        progress.object_done(obj, False, reason)

    # Each worker takes the next object itself: no future, queue hand-off or semaphore per object (for
    # small objects those cost as much CPU as the request did), and never more than ``jobs`` in flight.
    objects = journal.objects(chunk=chunk)
    taking = threading.Lock()
    ended = threading.Event()
    broken: list[BaseException] = []

    def take() -> JournalObject | None:
        with taking:
            while not ended.is_set():
                if outcome.stopped_by is not None:
                    break
                if stop.is_set():
                    outcome.interrupted = True
                    break
                try:
                    obj = next(objects, None)
                except BaseException as exc:  # a damaged journal: the run stops and says so
                    broken.append(exc)
                    break
                if obj is None:
                    break
                if only is not None and not only(obj):
                    continue
                if obj.damage is not None and obj.reason != obj.damage:
                    journal.mark(obj.seq, ObjectState.FAILED, reason=obj.damage)
                    obj = replace(obj, state=ObjectState.FAILED, reason=obj.damage)
                if obj.damage is not None or (obj.state == ObjectState.FAILED and obj.dest_key == ""):
                    # an unsafe key, or a damaged record of one: retrying cannot help
                    with lock:
                        outcome.failed += 1
                    if reports is not None:
                        reports.failed(obj.source_key, obj.dest_key, obj.size, obj.reason or "", 0.0)
                    progress.object_done(obj, False, obj.reason)
                    continue
                return obj
            ended.set()
            return None

    def work() -> None:
        while (obj := take()) is not None:
            try:
                one(obj)
            except BaseException as exc:  # an outcome that could not be recorded: the run stops and says so
                with taking:
                    broken.append(exc)
                    ended.set()
                return

    workers = [
        threading.Thread(target=work, name=f"ferry-object_{n}", daemon=True) for n in range(max(1, jobs))
    ]
    for worker in workers:
        worker.start()
    try:
        for worker in workers:
            worker.join()
    except KeyboardInterrupt:
        stop.set()  # objects in flight stop at their next part and stay resumable
        for worker in workers:
            worker.join()
        raise
    if broken:
        raise broken[0]
    outcome.elapsed = time.monotonic() - started
    return outcome


def _move(
    obj: JournalObject,
    source: Store,
    dest: Store,
    options: TransferOptions,
    progress: TransferListener,
    stop: threading.Event,
    limiter: RateLimiter | None,
) -> tuple[int, list[str], str | None]:
    """Move one journaled object; returns the bytes this run sent for it, what it noticed, and why it was
    skipped (``None`` when it was not)."""
    if obj.source_key.endswith("/"):  # a folder object, or an empty local directory
        if dest.capabilities.is_local:
            os.makedirs(obj.dest_key, exist_ok=True)
        elif not options.dry_run:
            dest.put(obj.dest_key, b"", WriteOptions())
        return 0, [], None
    listed = ObjectInfo(obj.source_key, obj.size, obj.mtime, obj.etag)
    transfer = ObjectTransfer(
        source, obj.source_key, dest, obj.dest_key, options, progress, stop, limiter, listed
    )
    result = transfer.run()
    return result.transferred, result.notices, result.skipped
