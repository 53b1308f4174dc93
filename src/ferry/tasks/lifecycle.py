"""The one lifecycle of a task, shared by ``ferry cp -r``, ``--recover``, ``ferry task resume``, the library
and the migration service:

1. check that both sides answer (optional: one listing request each, so refused keys or a missing bucket
   end the run at once with one reason instead of once per object);
2. plan, if the journal's listing is not complete (:func:`ferry.tasks.plan.planned_objects`, streamed into
   the journal page by page);
3. put objects back to pending when the run checks every object again (:class:`RunMode`);
4. skip what the destination already has, by the run's rule (:mod:`ferry.tasks.skip`);
5. move the unfinished objects (:func:`ferry.tasks.runner.run`);
6. with ``verify_after``, check every done or skipped object against the destination
   (:func:`ferry.tasks.check.verify_finished`): those that differ become failed;
7. for ``sync --delete``, once every object succeeded, delete what the destination has and the source does
   not (:mod:`ferry.tasks.sync`);
8. decide and record the task's state.

Callers open (or create) the journal, open the two stores and say how progress and reports are shown;
everything between is here, once. A run stopped by a stop request, or by Ctrl-C, leaves the task
``interrupted`` and resumable.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from ferry.config import Defaults
from ferry.errors import InterruptedTransfer, NotFoundError, UsageError
from ferry.storage.base import Store
from ferry.tasks import check, runner, skip, sync
from ferry.tasks.filters import ObjectFilter
from ferry.tasks.journal import ChunkPolicy, JournalObject, StateCount, TaskJournal
from ferry.tasks.keys import folder_prefix
from ferry.tasks.plan import ListFilePlan, ListingPlan, UrlListPlan, plan_from_dict, planned_objects
from ferry.tasks.reports import ReportWriter
from ferry.tasks.settings import TaskSettings
from ferry.tasks.states import FINISHED, ObjectState, TaskState
from ferry.transfer.options import TransferOptions
from ferry.transfer.retry import RetryPolicy, call_with_retry


class RunMode(StrEnum):
    CONTINUE = "continue"
    """Pending and failed objects go; done and skipped ones are left alone."""
    RECHECK = "all"
    """The source is listed again and every object checked again (those the destination already has are
    skipped): a service retry with ``migrate_failed_object`` false or absent."""


@dataclass
class TaskRun:
    """One run of a task: what it works on, and how it is watched."""

    journal: TaskJournal
    source: Store
    destination: Store
    settings: TaskSettings
    """The task's kept settings with this run's overrides (planning uses them, filters included)."""
    defaults: Defaults = field(default_factory=Defaults)
    progress: runner.TaskProgress = field(default_factory=runner.TaskProgress)
    stop: threading.Event = field(default_factory=threading.Event)
    reports: ReportWriter | None = None
    mode: RunMode = RunMode.CONTINUE
    run_filter: ObjectFilter | None = None
    """Filters given to this run only (a recover's ``--include`` ...): objects they leave out are not
    attempted now and keep their state."""
    confirm_delete: Callable[[int, int], bool] | None = None
    """Asked ``(count, bytes)`` before ``sync --delete`` deletes anything; ``False`` deletes nothing."""
    check_access: bool = False
    """Ask each side for one listing page first (the service does: a group with wrong keys fails once)."""
    chunk_policy: ChunkPolicy = field(default_factory=ChunkPolicy)
    list_store: Store | None = None
    """The store holding a list file plan's list (the service opens it on the destination's cloud)."""


@dataclass
class RunResult:
    outcome: runner.TaskOutcome
    state: TaskState
    counts: Mapping[ObjectState, StateCount]


@dataclass(frozen=True)
class Prepared:
    """What the executing step of a run needs once the task is planned and checked."""

    options: TransferOptions
    jobs: int
    only: Callable[[JournalObject], bool] | None


Executor = Callable[[TaskRun, Prepared], runner.TaskOutcome]
"""Moves a prepared task's unfinished objects: :func:`execute_here` (threads of this process), or the
service's dispatch of chunks to a Dask cluster (:mod:`ferry.service.dispatch`)."""


def execute_here(run: TaskRun, prepared: Prepared) -> runner.TaskOutcome:
    return runner.run(
        run.journal,
        run.source,
        run.destination,
        prepared.options,
        prepared.jobs,
        run.progress,
        run.stop,
        run.reports,
        run.settings.large_jobs(run.defaults),
        only=prepared.only,
    )


def prepare(run: TaskRun) -> Prepared:
    """Steps 1 to 4: check access, plan what is not planned yet, requeue for a full check, skip what the
    destination already has; then tell the progress what there is to do."""
    journal, settings = run.journal, run.settings
    info = journal.info()
    options = settings.transfer_options(run.defaults)
    if run.check_access:
        plan = plan_from_dict(info.plan)
        if not isinstance(plan, UrlListPlan) and not (isinstance(plan, ListFilePlan) and plan.urls):
            _check_access(run.source, getattr(plan, "root", ""), options.retry)
        _check_access(run.destination, plan.dest_root, options.retry)
    recheck = run.mode == RunMode.RECHECK
    # A recheck lists the source again: objects added since are planned (those already journaled keep
    # their rows), so a full retry never leaves a new object behind.
    if not info.listing_complete or recheck:
        objects = planned_objects(
            plan_from_dict(info.plan),
            run.source,
            run.destination,
            settings.object_filter(),
            modified_after=settings.modified_after,
            stop=run.stop,
            retry=options.retry,
            workers=min(32, 2 * settings.job_count(run.defaults)),
            list_store=run.list_store,
            journaled=journal.known_sources,
        )
        journal.add_planned(objects, run.chunk_policy)
        journal.finish_listing()
        _report_skipped(run)
    recheck = run.mode == RunMode.RECHECK
    if recheck:
        journal.requeue((ObjectState.DONE, ObjectState.SKIPPED, ObjectState.FAILED))
    rule = skip.run_rule(settings, recheck)
    options = settings.transfer_options(run.defaults, incremental=rule == "engine")
    jobs = settings.job_count(run.defaults)
    skip.prepass(journal, run.source, run.destination, rule, jobs, run.stop, options.retry)
    before = journal.counts()
    todo = [before[ObjectState.PENDING], before[ObjectState.FAILED]]
    done_bytes = sum(before[state].bytes for state in FINISHED)
    run.progress.begin(sum(c.count for c in todo), sum(c.bytes for c in todo), done_bytes)
    only = _run_filter(run.run_filter, info.plan) if run.run_filter is not None else None
    return Prepared(options, jobs, only)


def run_task(run: TaskRun, execute: Executor = execute_here) -> RunResult:
    """Plan (if needed) and run the task; returns what this run did and the task's state after it."""
    journal, settings = run.journal, run.settings
    retry = settings.transfer_options(run.defaults).retry
    try:
        outcome = execute(run, prepare(run))
    except InterruptedTransfer:
        journal.set_state(TaskState.INTERRUPTED)
        outcome = runner.TaskOutcome(task_id=journal.task_id, interrupted=True)
        counts = journal.counts()
        outcome.skipped = counts[ObjectState.SKIPPED].count
        return RunResult(outcome, TaskState.INTERRUPTED, counts)
    except KeyboardInterrupt:
        run.stop.set()
        journal.set_state(TaskState.INTERRUPTED)
        raise
    if settings.verify_after and not outcome.interrupted and outcome.stopped_by is None:
        outcome.failed += check.verify_finished(
            journal,
            run.source,
            run.destination,
            jobs=settings.job_count(run.defaults),
            stop=run.stop,
            retry=retry,
            reports=run.reports,
        )
        outcome.interrupted = run.stop.is_set()
    counts = journal.counts()
    outcome.skipped = counts[ObjectState.SKIPPED].count
    state = final_state(outcome, counts)
    if state == TaskState.SUCCEEDED and settings.delete_extras:
        state = _delete_extras(run, outcome, retry)
    journal.set_state(state)
    return RunResult(outcome, state, counts)


def _report_skipped(run: TaskRun) -> None:
    """What the source's listing left out (links, ferry's own temporary files): a warning each."""
    skipped: list[tuple[str, str]] = getattr(run.source, "skipped", [])
    for path, why in skipped:
        if run.reports is not None:
            run.reports.warning(path, "", why)
    if skipped:
        run.progress.notice(
            f"{len(skipped)} entries left out of the listing, such as {skipped[0][0]}: {skipped[0][1]}"
        )


def _delete_extras(run: TaskRun, outcome: runner.TaskOutcome, retry: RetryPolicy) -> TaskState:
    """The delete half of a sync, once every copy succeeded: ``succeeded`` or ``interrupted``; an error
    (a listing that failed, too many to delete) leaves the task failed, so a recover tries again."""
    plan = plan_from_dict(run.journal.info().plan)
    if not isinstance(plan, ListingPlan) or not plan.folder:
        raise UsageError("--delete applies to a sync of a folder or prefix")
    reports = run.reports

    def deleted(extra: sync.Extra) -> None:
        if reports is not None:
            reports.deleted(extra.key, extra.size)

    try:
        result = sync.delete_extras(
            run.source,
            run.destination,
            plan,
            run.settings.object_filter(),
            max_delete=run.settings.max_delete,
            retry=retry,
            stop=run.stop,
            confirm=run.confirm_delete,
            deleted=deleted,
        )
    except InterruptedTransfer:
        outcome.interrupted = True
        return TaskState.INTERRUPTED
    except KeyboardInterrupt:
        run.stop.set()
        run.journal.set_state(TaskState.INTERRUPTED)
        raise
    except BaseException:
        run.journal.set_state(TaskState.FAILED)
        raise
    outcome.deleted = result.deleted
    return TaskState.SUCCEEDED


def final_state(outcome: runner.TaskOutcome, counts: Mapping[ObjectState, StateCount]) -> TaskState:
    """``interrupted``, ``failed`` (something not done) or ``succeeded``."""
    if outcome.interrupted:
        return TaskState.INTERRUPTED
    unfinished = counts[ObjectState.FAILED].count or counts[ObjectState.PENDING].count
    return TaskState.FAILED if unfinished else TaskState.SUCCEEDED


def failure_reason(result: RunResult, journal: TaskJournal) -> str:
    """One line for a failed task: what stopped it, or how many objects failed and the first reason."""
    stopped_by = result.outcome.stopped_by
    if stopped_by is not None:
        return f"stopped: {stopped_by.message}"
    counts = result.counts
    failed = counts[ObjectState.FAILED].count
    total = sum(c.count for c in counts.values())
    if not failed:
        return f"{counts[ObjectState.PENDING].count} of {total} objects were not migrated"
    first = next(journal.objects((ObjectState.FAILED,)), None)
    example = f"; the first: {first.source_key}: {first.reason}" if first is not None else ""
    return f"{failed} of {total} objects failed{example}"


def _check_access(store: Store, prefix: str, retry: RetryPolicy) -> None:
    """One listing request: refused credentials or a missing bucket raise their error now."""
    with contextlib.suppress(NotFoundError):
        call_with_retry(lambda: next(iter(store.list(prefix)), None), retry)


def _run_filter(run_filter: ObjectFilter, plan: dict[str, object]) -> Callable[[JournalObject], bool]:
    """Whether a journaled object is taken by a run's filters, judged as planning judges it: by its source's
    absolute path, or for a URL list by the destination key its line names."""
    if plan.get("type") == "url_list" or (plan.get("type") == "list_file" and plan.get("urls")):
        root = folder_prefix(str(plan.get("dest_root") or ""))

        def by_line_key(obj: JournalObject) -> bool:
            key = obj.dest_key[len(root) :] if root and obj.dest_key.startswith(root) else obj.dest_key
            return run_filter.accepts(key, obj.mtime)

        return by_line_key
    return lambda obj: run_filter.accepts(obj.source_key, obj.mtime)
