"""``ferry cp -r`` and ``ferry cp --recover TASK_ID``: a batch task from the command line.

A thin caller of :mod:`ferry.tasks.lifecycle`: it turns flags into :class:`TaskSettings`, opens the stores,
creates or reopens the journal, and shows progress and the closing summary. The settings a task was
started with are kept in its journal (never a secret), so a recover applies them again; a flag given to
the recover overrides the kept value for that run, and filters given to it choose what that run attempts.
"""

from __future__ import annotations

import contextlib
import json
import sys
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ferry.cli.obsutil_text import Parameters, parameter_block, print_task_summary
from ferry.cli.progress import TaskBar, TaskLines, TaskQuiet, stderr_console
from ferry.config import Config, ferry_home
from ferry.display import shown
from ferry.errors import IncompleteError, InterruptedTransfer, TaskNotFoundError, UsageError
from ferry.storage import StoreOpener
from ferry.storage.base import Store
from ferry.storage.s3 import ClientSettings
from ferry.tasks import runner
from ferry.tasks.journal import JournalObject, PlannedObject, StateCount, TaskJournal
from ferry.tasks.lifecycle import TaskRun, run_task
from ferry.tasks.plan import plan_for_locations, plan_from_dict, planned_objects
from ferry.tasks.reports import ReportWriter, clear_failure_reports
from ferry.tasks.settings import TaskSettings
from ferry.tasks.states import ObjectState, TaskState
from ferry.transfer.engine import transfer_kind
from ferry.units import format_size, parse_size
from ferry.urls import LocalLocation, parse_location

if TYPE_CHECKING:
    from rich.console import Console


def run_batch(
    source_text: str | None,
    destination_text: str | None,
    given: dict[str, Any],
    *,
    recover: str | None,
    config: Config,
    quiet: bool,
    clear: bool = False,
    dry_run: bool = False,
    json_output: bool = False,
    cdn_auth_key: str | None = None,
    confirm_delete: Callable[[int, int], bool] | None = None,
) -> runner.TaskOutcome | None:
    """Run a new task, or recover one; with ``dry_run`` only say what a run would do (no journal is
    created or changed). With ``json_output`` standard output carries one JSON document (JSON lines for a
    dry run) and nothing else. Recovering a task that already succeeded does nothing and says so."""
    given_settings = TaskSettings.from_options(given)  # every flag checked before anything happens
    directory = _checkpoint_dir(given_settings.checkpoint_dir or config.defaults.checkpoint_dir)
    run_filter = None
    journal: TaskJournal | None = None
    if recover is not None:
        if source_text or destination_text:
            raise UsageError("--recover takes the task's own source and destination; give no locations")
        journal = _open_for_recover(directory, recover, given_settings.output_dir)
        try:
            if not dry_run:
                journal.lock()
            info = journal.info()
        except BaseException:
            journal.close()
            raise
        if info.state == TaskState.SUCCEEDED:
            journal.close()
            _already_succeeded(recover, json_output)
            return None
        # Filters given to a recover choose what THIS run attempts; the task keeps its own plan.
        settings = info.settings.overridden(given_settings.without_filters())
        if given_settings.filters_given():
            run_filter = given_settings.object_filter()
        source_text, destination_text, plan = info.source, info.destination, info.plan
    else:
        if not source_text or not destination_text:
            raise UsageError("cp -r needs a source and a destination")
        settings = given_settings
        plan = plan_for_locations(source_text, destination_text, url_list=bool(given.get("url_list")))

    try:
        src_store, dst_store, kind = _open_stores(
            config, settings, plan, source_text, destination_text, cdn_auth_key
        )
    except BaseException:
        if journal is not None:
            journal.close()
        raise

    if dry_run:
        _dry_run(journal, settings, plan, src_store, dst_store, kind, json_output, stderr_console(), config)
        return None

    if journal is None:
        journal = TaskJournal.create(
            settings.transfer_options(config.defaults).checkpoint_dir,
            str(uuid.uuid4()),
            kind,
            source_text,
            destination_text,
            settings,
            plan,
        )
        journal.lock()
    task_id = journal.task_id
    output_dir = output_folder(settings)
    if not json_output:
        print(parameter_block(_parameters(settings, config, task_id, output_dir)), flush=True)
    reports = ReportWriter(
        output_dir,
        task_id,
        max_bytes=parse_size(config.defaults.record_max_size, what="recordMaxLogSize"),
        max_files=config.defaults.record_backups,
    )
    progress: runner.TaskProgress
    if quiet or json_output:
        progress = TaskQuiet()
    elif sys.stdout.isatty() and (console := stderr_console()).is_terminal:  # else obsutil's plain lines
        progress = TaskBar(console)
    else:
        progress = TaskLines()
    run = TaskRun(journal, src_store, dst_store, settings, config.defaults, progress, reports=reports)
    run.run_filter = run_filter
    run.confirm_delete = confirm_delete
    try:
        with progress if isinstance(progress, TaskBar) else contextlib.nullcontext():
            result = run_task(run)
    except KeyboardInterrupt:
        raise InterruptedTransfer(f"interrupted; resume with: ferry cp --recover {task_id}") from None
    finally:
        reports.close()
        journal.close()
    if isinstance(progress, TaskLines):
        progress.finish()
    outcome, final = result.outcome, result.counts
    if json_output:
        print(json.dumps(_summary_json(outcome, result.state, final, reports.paths()), indent=2))
    else:
        print_task_summary(outcome)
    if outcome.interrupted:
        raise InterruptedTransfer(f"interrupted; resume with: ferry cp --recover {task_id}")
    if outcome.stopped_by is not None:
        raise type(outcome.stopped_by)(
            f"the task stopped: {outcome.stopped_by.message}; once that is fixed, continue it with: "
            f"ferry cp --recover {task_id}"
        )
    left = final[ObjectState.FAILED].count + final[ObjectState.PENDING].count
    if left:
        noun = "object" if left == 1 else "objects"
        raise IncompleteError(f"{left} {noun} did not succeed; retry them with: ferry cp --recover {task_id}")
    if clear:
        clear_failure_reports(output_dir, task_id)
    return outcome


def _parameters(settings: TaskSettings, config: Config, task_id: str, output_dir: Path) -> Parameters:
    options = settings.transfer_options(config.defaults)
    return Parameters(
        parallel=options.parallel,
        jobs=settings.job_count(config.defaults),
        threshold=options.threshold,
        part_size=options.part_size,
        verify_length=options.verify_length,
        verify_md5=options.verify_md5,
        checkpoint_dir=str(options.checkpoint_dir),
        task_id=task_id,
        output_dir=str(output_dir),
        temp_dir=settings.temp_dir or config.defaults.temp_dir,
    )


def output_folder(settings: TaskSettings) -> Path:
    """Where a task's result files go: ``-o``, else ``~/.ferry/output``."""
    return Path(settings.output_dir).expanduser() if settings.output_dir else ferry_home() / "output"


def _already_succeeded(task_id: str, json_output: bool) -> None:
    """A recover of a finished task is a no-op, so "recover until it exits 0" loops end."""
    if json_output:
        print(json.dumps({"task_id": task_id, "state": "succeeded", "recovered": False}, indent=2))
    else:
        print(f"Task {task_id} already succeeded: there is nothing to recover", flush=True)


def _open_for_recover(directory: Path, task_id: str, output_dir: str | None) -> TaskJournal:
    """The task's journal; when it is gone but the task's result files are found, say exactly that."""
    try:
        return TaskJournal.open(directory, task_id)
    except TaskNotFoundError:
        folders = [Path(output_dir).expanduser()] if output_dir else []
        folders.append(ferry_home() / "output")
        for folder in folders:
            reports = sorted(folder.glob(f"cp_*_report_*_{task_id}.txt*")) if folder.is_dir() else []
            if reports:
                raise TaskNotFoundError(
                    f"task {task_id} has result files in {folder} ({reports[0].name}...) but no journal in "
                    f"{directory / 'tasks'}: the journal was deleted or lives in another --checkpoint-dir; "
                    "without it nothing can be recovered (run the copy again with -u to skip what is done)"
                ) from None
        raise


def _open_stores(
    config: Config,
    settings: TaskSettings,
    plan: dict[str, Any],
    source_text: str,
    destination_text: str,
    cdn_auth_key: str | None,
) -> tuple[Store, Store, str]:
    """The task's two stores (an http(s) source of any host for a URL list), checked for what a task
    can use."""
    options = settings.transfer_options(config.defaults)
    opener = StoreOpener(
        config,
        ClientSettings(
            connect_timeout=config.defaults.connect_timeout,
            read_timeout=config.defaults.read_timeout,
            max_connections=max(16, settings.job_count(config.defaults) * options.parallel + 4),
            request_payer=settings.payer,
        ),
        temp_dir=_temp_dir(settings.temp_dir or config.defaults.temp_dir),
        copy_links=settings.copy_links,
        cdn_auth_key=cdn_auth_key,
    )
    url_list = plan.get("type") == "url_list"
    source = None if url_list else parse_location(source_text)
    destination = parse_location(destination_text)
    src_store = opener.http_source() if source is None else opener.open(source)[0]
    dst_store = opener.open(destination)[0]
    kind = transfer_kind(src_store, dst_store)
    if isinstance(source, LocalLocation) and not source.path.is_dir():
        raise UsageError(f"{source.path} is not a directory: cp -r copies a folder")
    if isinstance(destination, LocalLocation) and destination.path.exists() and not destination.path.is_dir():
        raise UsageError(f"{destination.path} is not a directory")
    return src_store, dst_store, kind


def _dry_run(
    journal: TaskJournal | None,
    settings: TaskSettings,
    plan: dict[str, Any],
    src_store: Store,
    dst_store: Store,
    kind: str,
    json_output: bool,
    console: Console,
    config: Config,
) -> None:
    """What a run would do, from a fresh plan or from the journal; nothing is written."""
    planned: Iterable[PlannedObject | JournalObject]
    if journal is None:
        planned = planned_objects(
            plan_from_dict(plan),
            src_store,
            dst_store,
            settings.object_filter(),
            modified_after=settings.modified_after,
            workers=min(32, 2 * settings.job_count(config.defaults)),
        )
    else:
        if not journal.info().listing_complete:
            console.print(
                "ferry: note: the task's listing was not finished; a recover would list the source again"
            )
        planned = journal.objects()
    try:
        _print_preview(runner.preview(planned, dst_store, settings.incremental), kind, json_output)
    finally:
        if journal is not None:
            journal.close()


def _summary_json(
    outcome: runner.TaskOutcome,
    state: TaskState,
    final: Mapping[ObjectState, StateCount],
    reports: dict[str, list[Path]],
) -> dict[str, Any]:
    return {
        "task_id": outcome.task_id,
        "state": str(state),
        "succeeded": outcome.succeeded,
        "failed": outcome.failed,
        "skipped": outcome.skipped,
        "succeed_bytes": outcome.succeed_bytes,
        "transferred": outcome.transferred,
        "deleted": outcome.deleted,
        "elapsed": round(outcome.elapsed, 3),
        "objects": {str(name): {"count": c.count, "bytes": c.bytes} for name, c in final.items()},
        "reports": {kind: [str(p) for p in paths] for kind, paths in reports.items() if paths},
    }


_VERBS = {"upload": "upload", "download": "download", "copy": "copy"}


def _print_preview(rows: Iterable[runner.PreviewRow], kind: str, json_output: bool) -> None:
    """A dry run's plan, streamed: a line per object, then the totals."""
    totals = {"move": [0, 0], "skip": [0, 0], "fail": [0, 0]}
    for row in rows:
        totals[row.action][0] += 1
        totals[row.action][1] += row.size
        if json_output:
            print(
                json.dumps(
                    {
                        "action": row.action,
                        "source": row.source_key,
                        "destination": row.dest_key,
                        "size": row.size,
                        "reason": row.reason,
                    }
                )
            )
        elif row.action == "move":
            print(
                shown(f"would {_VERBS[kind]}: {row.source_key} --> {row.dest_key} ({format_size(row.size)})")
            )
        else:
            verb = "would skip" if row.action == "skip" else "would fail"
            print(shown(f"{verb}: {row.source_key}: {row.reason}"))
    summary = {action: {"count": c, "bytes": b} for action, (c, b) in totals.items()}
    if json_output:
        print(json.dumps({"summary": summary}))
    else:
        move, skip, fail = totals["move"], totals["skip"], totals["fail"]
        print(
            f"Dry run: {move[0]} objects ({format_size(move[1])}) would move, {skip[0]} are up to date, "
            f"{fail[0]} would fail; nothing was changed"
        )


def _temp_dir(value: str | None) -> Path | None:
    return Path(value).expanduser() if value else None


def _checkpoint_dir(value: str | Path | None) -> Path:
    from ferry.transfer.options import default_checkpoint_dir

    return Path(value).expanduser() if value else default_checkpoint_dir()
