"""``ferry check``: is everything there, and is it the same? A task with an id, kept in a journal like any.

A check lists both trees side by side (:func:`ferry.tasks.compare.join`, streamed: memory stays flat for
millions of objects) and journals every source object as a ``cp -r`` task from the same source to the same
destination would, with what the check found:

- missing at the destination, or differing from it: **failed**, with the reason
  (``missing at destination``, ``differs at destination: size``), so ``ferry cp --recover CHECK_ID`` copies
  exactly those — and the check task then succeeds;
- the same: **skipped**, with the basis (``same at destination: md5``);
- not decidable from the listings (same size, no hash both listings carry): **pending**, until a second pass
  looks the objects up — a HEAD for the ``md5chksum`` metadata of multipart uploads, the local file's MD5
  where the other side has one, or with ``download`` both sides read and hashed. A check interrupted then
  goes on with ``ferry check --recover CHECK_ID`` where it stopped.

Extra objects (at the destination only) are not the source's, so they are not journaled; they go to the
``extra`` result file, as every verdict goes to its own (``check_<verdict>_report_<time>_<task id>.txt``).
Folder objects (keys ending in ``/``) are not compared: stores and filesystems keep folders differently.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from ferry.errors import FerryError, InterruptedTransfer, NotFoundError
from ferry.storage.base import ObjectInfo, Store
from ferry.tasks.compare import MISSING_REASON, Verdict, differ_reason, join, judge
from ferry.tasks.filters import ObjectFilter
from ferry.tasks.journal import JournalObject, PlannedObject, TaskJournal
from ferry.tasks.keys import folder_prefix, local_relative, relative_key
from ferry.tasks.plan import ListingPlan, destination_for
from ferry.tasks.reports import ReportWriter
from ferry.tasks.states import ObjectState, TaskState
from ferry.transfer.retry import RetryPolicy, call_with_retry

CHECK_KINDS = ("missing", "extra", "differ", "same")
SAME_PREFIX = "same at destination: "


def same_reason(basis: str) -> str:
    return SAME_PREFIX + basis


@dataclass(frozen=True)
class CheckSettings:
    """How a check compares; kept in the task's plan under ``check``."""

    download: bool = False
    """Read both sides and hash them when no hash both sides have decides."""
    one_way: bool = False
    """Only what the source has: objects extra at the destination are not looked for."""
    size_only: bool = False
    """Sizes decide; no hash is looked up or computed."""

    def to_dict(self) -> dict[str, bool]:
        return {"download": self.download, "one_way": self.one_way, "size_only": self.size_only}

    @classmethod
    def from_plan(cls, plan: dict[str, Any]) -> CheckSettings | None:
        """The check settings of a task's plan; ``None`` when the task is no check."""
        value = plan.get("check")
        if not isinstance(value, dict):
            return None
        return cls(**{k: bool(value.get(k)) for k in ("download", "one_way", "size_only")})


@dataclass
class CheckSummary:
    """What a check found. ``missing``, ``differ`` and ``same`` count the task's objects (from the journal,
    across runs); ``extra`` and ``unverified`` (same by size only) what this run saw."""

    task_id: str
    state: TaskState = TaskState.RUNNING
    missing: int = 0
    differ: int = 0
    same: int = 0
    extra: int = 0
    unverified: int = 0
    unchecked: int = 0
    """Objects no verdict was reached for (a lookup failed, or the run was stopped): a recover goes on."""
    first_error: str | None = None
    reports: dict[str, list[str]] = field(default_factory=dict)

    @property
    def match(self) -> bool:
        return not (self.missing or self.differ or self.extra or self.unchecked)

    def to_json(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "state": str(self.state),
            "match": self.match,
            "missing": self.missing,
            "differ": self.differ,
            "extra": self.extra,
            "same": self.same,
            "same_by_size_only": self.unverified,
            "unchecked": self.unchecked,
            "first_error": self.first_error,
            "reports": self.reports,
        }


# --- listings -----------------------------------------------------------------------------------------------


def tree_listing(store: Store, root: str, *, missing_ok: bool = False) -> Iterator[tuple[str, ObjectInfo]]:
    """``(key relative to root, info)`` of every object under the folder ``root``, in key order; folder
    objects left out. ``missing_ok``: a local folder that does not exist is an empty tree."""
    local = store.capabilities.is_local
    listing_root = root if local else folder_prefix(root)
    if local and missing_ok and not os.path.isdir(root):
        return
    for info in store.list(listing_root):
        if info.key.endswith("/"):
            continue
        relative = local_relative(info.key, root) if local else relative_key(info.key, listing_root)
        if relative:
            yield relative, info


def source_path(store: Store, root: str) -> Callable[[str], str]:
    """The absolute source path a relative key stands for (what filters judge, as ``cp`` does)."""
    if store.capabilities.is_local:
        return lambda relative: os.path.join(root, relative)
    prefix = folder_prefix(root)
    return lambda relative: prefix + relative


# --- the check ----------------------------------------------------------------------------------------------


@dataclass
class CheckRun:
    journal: TaskJournal
    source: Store
    destination: Store
    plan: ListingPlan
    check: CheckSettings
    object_filter: ObjectFilter
    reports: ReportWriter
    modified_after: float | None = None
    jobs: int = 16
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    stop: threading.Event = field(default_factory=threading.Event)
    progress: Callable[[int], None] | None = None
    """Told how many keys have been compared so far, every :data:`PROGRESS_EVERY` of them."""


PROGRESS_EVERY = 10_000


def run_check(run: CheckRun) -> CheckSummary:
    """List and compare (again, on a recover: objects already judged keep their verdict), then decide the
    pending objects by their hashes; returns the summary and records the task's state."""
    journal = run.journal
    summary = CheckSummary(journal.task_id)
    try:
        journal.set_state(TaskState.RUNNING)
        journal.add_planned(_planned(run, summary))
        journal.finish_listing()
        _decide_pending(run, summary)
    except InterruptedTransfer:
        journal.set_state(TaskState.INTERRUPTED)
        raise
    except KeyboardInterrupt:
        run.stop.set()
        journal.set_state(TaskState.INTERRUPTED)
        raise
    except BaseException:
        journal.set_state(TaskState.FAILED)
        raise
    _count(journal, summary)
    if run.stop.is_set():
        summary.state = TaskState.INTERRUPTED
    elif summary.unchecked or summary.missing or summary.differ:
        summary.state = TaskState.FAILED
    else:
        summary.state = TaskState.SUCCEEDED
    journal.set_state(summary.state)
    summary.reports = {k: [str(p) for p in v] for k, v in run.reports.paths().items() if v}
    return summary


def _planned(run: CheckRun, summary: CheckSummary) -> Iterator[PlannedObject]:
    plan, check, reports = run.plan, run.check, run.reports
    download = run.destination.capabilities.is_local
    source_of = source_path(run.source, plan.root)

    def taken(relative: str, mtime: float) -> bool:
        if run.modified_after is not None and mtime <= run.modified_after:
            return False
        return run.object_filter.accepts(source_of(relative), mtime)

    pairs = join(
        tree_listing(run.source, plan.root),
        tree_listing(run.destination, plan.dest_root, missing_ok=True),
    )
    for n, pair in enumerate(pairs, 1):
        if run.stop.is_set():
            raise InterruptedTransfer("stopped while listing")
        if run.progress is not None and n % PROGRESS_EVERY == 0:
            run.progress(n)
        src, dst = pair.source, pair.dest
        if src is None:
            assert dst is not None
            if not check.one_way and taken(pair.key, dst.mtime):
                summary.extra += 1
                reports.row("extra", dst.key, dst.size)
            continue
        if not taken(pair.key, src.mtime):
            continue
        dest_key, problem = (
            (dst.key, None)
            if dst is not None
            else destination_for(run.destination, download, plan.dest_root, pair.key)
        )
        planned = PlannedObject(src.key, dest_key, src.size, src.mtime, src.etag)
        if problem is not None:  # a key no local file can have: a copy cannot help
            reports.row("differ", src.key, "", src.size, problem)
            yield _with(planned, problem=problem)
            continue
        if dst is None:
            reports.row("missing", src.key, dest_key, src.size)
            yield _with(planned, problem=MISSING_REASON)
            continue
        verdict = judge(src, dst, require_hash=not check.size_only)
        if verdict.verdict == Verdict.DIFFER:
            reports.row("differ", src.key, dest_key, src.size, differ_reason(verdict.basis))
            yield _with(planned, problem=differ_reason(verdict.basis))
        elif verdict.verdict == Verdict.SAME:
            if verdict.basis == "size":
                summary.unverified += 1
            reports.row("same", src.key, dest_key, src.size, verdict.basis)
            yield _with(planned, skipped=same_reason(verdict.basis))
        else:
            yield planned


def _with(obj: PlannedObject, *, problem: str | None = None, skipped: str | None = None) -> PlannedObject:
    return replace(obj, problem=problem, skipped=skipped)


def _decide_pending(run: CheckRun, summary: CheckSummary) -> None:
    """Look up or read the objects the listings could not decide, ``jobs`` at a time."""
    lock = threading.Lock()
    slots = threading.BoundedSemaphore(run.jobs * 2)

    def one(obj: JournalObject) -> None:
        try:
            if run.stop.is_set():
                return
            verdict, basis = decide(run.source, run.destination, obj, run.check, run.retry, run.stop)
        except NotFoundError:
            verdict, basis = Verdict.MISSING, ""
        except FerryError as exc:
            with lock:
                summary.first_error = summary.first_error or f"{obj.source_key}: {exc.message}"
            return
        finally:
            slots.release()
        if verdict == Verdict.SAME:
            run.journal.mark(obj.seq, ObjectState.SKIPPED, reason=same_reason(basis))
            run.reports.row("same", obj.source_key, obj.dest_key, obj.size, basis)
            if basis == "size":
                with lock:
                    summary.unverified += 1
        elif verdict == Verdict.MISSING:
            run.journal.mark(obj.seq, ObjectState.FAILED, reason=MISSING_REASON)
            run.reports.row("missing", obj.source_key, obj.dest_key, obj.size)
        else:
            run.journal.mark(obj.seq, ObjectState.FAILED, reason=differ_reason(basis))
            run.reports.row("differ", obj.source_key, obj.dest_key, obj.size, differ_reason(basis))

    with ThreadPoolExecutor(max_workers=run.jobs, thread_name_prefix="ferry-check") as pool:
        try:
            for obj in run.journal.objects((ObjectState.PENDING,)):
                if run.stop.is_set():
                    break
                slots.acquire()
                pool.submit(one, obj)
        except KeyboardInterrupt:
            run.stop.set()
            raise


def decide(
    source: Store,
    destination: Store,
    obj: JournalObject,
    check: CheckSettings,
    retry: RetryPolicy,
    stop: threading.Event,
) -> tuple[Verdict, str]:
    """The verdict on one object the listings could not decide, and its basis. NotFoundError when the
    destination no longer has it."""
    there = call_with_retry(lambda: destination.stat(obj.dest_key), retry, stop=stop)
    here = ObjectInfo(obj.source_key, obj.size, obj.mtime, obj.etag)
    if here.md5_hex() is None and not source.capabilities.is_local and not check.size_only:
        here = call_with_retry(lambda: source.stat(obj.source_key), retry, stop=stop)
    verdict = judge(here, there, require_hash=not check.size_only)
    if verdict.verdict is not None:
        return verdict.verdict, verdict.basis
    ours, theirs = here.md5_hex(), there.md5_hex()
    if ours is None and theirs is not None and (source.capabilities.is_local or check.download):
        ours = content_md5(source, here.key, here.size, retry, stop)
    elif theirs is None and ours is not None and (destination.capabilities.is_local or check.download):
        theirs = content_md5(destination, there.key, there.size, retry, stop)
    elif ours is None and theirs is None and check.download:
        ours = content_md5(source, here.key, here.size, retry, stop)
        theirs = content_md5(destination, there.key, there.size, retry, stop)
    if ours is None or theirs is None:
        return Verdict.SAME, "size"
    basis = "content" if check.download else "md5"
    return (Verdict.SAME if ours == theirs else Verdict.DIFFER), basis


def content_md5(store: Store, key: str, size: int, retry: RetryPolicy, stop: threading.Event) -> str:
    """The MD5 of an object's bytes, read as a stream (a failed read starts the object again)."""

    def read() -> str:
        digest = hashlib.md5(usedforsecurity=False)
        if size:
            chunks = store.read_range_chunks(key, 0, size)
            with contextlib.closing(chunks):
                for chunk in chunks:
                    if stop.is_set():
                        raise InterruptedTransfer("stopped while reading")
                    digest.update(chunk)
        return digest.hexdigest()

    return call_with_retry(read, retry, stop=stop)


def _count(journal: TaskJournal, summary: CheckSummary) -> None:
    counts = journal.counts()
    summary.same = counts[ObjectState.SKIPPED].count
    summary.unchecked = counts[ObjectState.PENDING].count
    for obj in journal.objects((ObjectState.FAILED,)):
        if obj.reason == MISSING_REASON:
            summary.missing += 1
        else:
            summary.differ += 1


def verify_finished(
    journal: TaskJournal,
    source: Store,
    destination: Store,
    *,
    jobs: int,
    stop: threading.Event,
    retry: RetryPolicy,
    reports: ReportWriter | None = None,
) -> int:
    """Check every done or skipped object of a task against its destination (the service's verify after
    migrating): by size, then by a hash both sides have. An object that differs, or is gone, becomes
    failed with the reason ``differs at destination: size`` (``md5``, ``missing``), so a retry copies it
    again. A lookup that fails leaves the object as it is. Returns how many were found different."""
    lock = threading.Lock()
    slots = threading.BoundedSemaphore(jobs * 2)
    found = 0

    def one(obj: JournalObject) -> None:
        nonlocal found
        try:
            if stop.is_set() or obj.source_key.endswith("/") or not obj.dest_key:
                return
            try:
                verdict, basis = decide(source, destination, obj, CheckSettings(), retry, stop)
            except NotFoundError:
                verdict, basis = Verdict.DIFFER, "missing"
            if verdict != Verdict.SAME:
                reason = differ_reason(basis)
                journal.mark(obj.seq, ObjectState.FAILED, reason=reason)
                if reports is not None:
                    reports.failed(obj.source_key, obj.dest_key, obj.size, reason, 0.0)
                with lock:
                    found += 1
        except FerryError:
            return
        finally:
            slots.release()

    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="ferry-verify") as pool:
        for obj in journal.objects((ObjectState.DONE, ObjectState.SKIPPED)):
            if stop.is_set():
                break
            slots.acquire()
            pool.submit(one, obj)
    return found
