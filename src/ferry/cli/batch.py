"""``ferry cp -r`` and ``ferry cp --recover TASK_ID``: a batch task from the command line.

The options a task was started with are kept in its journal (as given, never a secret), so a recover
applies them again; a flag given to the recover overrides the kept value.
"""

from __future__ import annotations

import functools
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from ferry.cli.progress import TaskBar, TaskLines, TaskQuiet
from ferry.config import Config, ferry_home
from ferry.errors import IncompleteError, InterruptedTransfer, UsageError
from ferry.storage import StoreOpener
from ferry.storage.s3 import ClientSettings
from ferry.tasks import runner, urllist
from ferry.tasks.assemble import journal_state, task_filter, task_jobs, task_large_jobs, task_options
from ferry.tasks.journal import JournalObject, PlannedObject, StateCount, TaskJournal
from ferry.tasks.reports import ReportWriter, clear_failure_reports
from ferry.transfer.engine import transfer_kind
from ferry.transfer.options import check_payer
from ferry.units import format_size
from ferry.urls import LocalLocation, parse_location


def merge_options(kept: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The options of a recover: what the task kept, overridden by what this command line gave (a flag
    counts as given when it is set; an unset flag never clears a kept value)."""
    merged = dict(kept)
    merged.update({k: v for k, v in given.items() if v not in (None, False, [], ())})
    return merged


def run_batch(
    source_text: str | None,
    destination_text: str | None,
    given: dict[str, Any],
    *,
    recover: str | None,
    config: Config,
    quiet: bool,
    console: Console,
    clear: bool = False,
    dry_run: bool = False,
    json_output: bool = False,
    cdn_auth_key: str | None = None,
) -> runner.TaskOutcome | None:
    """Run a new task, or recover one; with ``dry_run`` only say what a run would do (no journal is
    created or changed). With ``json_output`` standard output carries one JSON document (JSON lines for a
    dry run) and nothing else."""
    resolved_cpd = given.get("checkpoint_dir") or config.defaults.checkpoint_dir
    if recover is not None:
        if source_text or destination_text:
            raise UsageError("--recover takes the task's own source and destination; give no locations")
        journal = TaskJournal.open(_checkpoint_dir(resolved_cpd), recover)
        if not dry_run:
            journal.lock()
        info = journal.info()
        if info.state == "succeeded":
            journal.close()
            raise UsageError(f"task {recover} already succeeded: there is nothing to recover")
        raw = merge_options(info.options, given)
        source_text, destination_text = info.source, info.destination
    else:
        if not source_text or not destination_text:
            raise UsageError("cp -r needs a source and a destination")
        raw = {k: v for k, v in given.items() if v not in (None, False, [], ())}
        journal = None

    options = task_options(config.defaults, raw)  # the same assembly as the migration service's
    jobs = task_jobs(raw)
    object_filter = task_filter(raw)

    # The planner: the source's listing, or (option url_list) the lines of the URL list file named as the
    # task's source, fetched from their hosts by one HTTP source.
    url_list = Path(source_text) if raw.get("url_list") else None
    source = parse_location(source_text) if url_list is None else None
    destination = parse_location(destination_text)
    opener = StoreOpener(
        config,
        ClientSettings(
            connect_timeout=config.defaults.connect_timeout,
            read_timeout=config.defaults.read_timeout,
            max_connections=max(16, jobs * options.parallel + 4),
            request_payer=check_payer(raw.get("payer")),
        ),
        temp_dir=Path(raw["temp_dir"]) if raw.get("temp_dir") else None,
        cdn_auth_key=cdn_auth_key,
    )
    src_store, src_root = opener.open(source) if source is not None else (opener.http_source(), "")
    dst_store, dst_root = opener.open(destination)
    kind = transfer_kind(src_store, dst_store)
    if isinstance(source, LocalLocation):
        if not source.path.is_dir():
            raise UsageError(f"{source.path} is not a directory: cp -r copies a folder")
        src_root = str(source.path.absolute())
    if isinstance(destination, LocalLocation):
        if destination.path.exists() and not destination.path.is_dir():
            raise UsageError(f"{destination.path} is not a directory")
        dst_root = str(destination.path.absolute())

    planned_objects: Callable[[], Iterator[PlannedObject]]
    if url_list is not None:
        planned_objects = functools.partial(
            urllist.url_list_objects,
            url_list,
            src_store,
            dst_store,
            dst_root,
            object_filter,
            workers=min(32, 2 * jobs),
        )
    else:
        planned_objects = functools.partial(
            runner.planned_objects, src_store, src_root, dst_store, dst_root, object_filter
        )

    if dry_run:
        planned: Iterable[PlannedObject | JournalObject]
        if journal is None:
            planned = planned_objects()
        else:
            if not journal.info().listing_complete:
                console.print(
                    "ferry: note: the task's listing was not finished; a recover would list the source again"
                )
            planned = journal.objects()
        try:
            _print_preview(runner.preview(planned, dst_store, options.incremental), kind, json_output)
        finally:
            if journal is not None:
                journal.close()
        return None

    if journal is None:
        task_id = str(uuid.uuid4())
        journal = TaskJournal.create(
            options.checkpoint_dir, task_id, kind, source_text, destination_text, raw
        )
        journal.lock()
    task_id = journal.info().task_id
    output_dir = Path(raw["output_dir"]).expanduser() if raw.get("output_dir") else ferry_home() / "output"
    if not json_output:
        print(f"Task id: {task_id}\nOutputDir: {output_dir}", flush=True)
    reports = ReportWriter(output_dir, task_id)
    stop = threading.Event()
    try:
        if not journal.info().listing_complete:
            journal.add_planned(planned_objects())
            journal.finish_listing()
        counts = journal.counts()
        todo = counts["pending"].count + counts["failed"].count
        todo_bytes = counts["pending"].bytes + counts["failed"].bytes
        progress: runner.TaskProgress
        if quiet or json_output:
            progress = TaskQuiet()
        elif console.is_terminal:
            progress = TaskBar(console)
        else:
            progress = TaskLines()
        progress.begin(todo, todo_bytes, 0)
        bar = progress if isinstance(progress, TaskBar) else None
        if bar is not None:
            bar.__enter__()
        try:
            large_jobs = task_large_jobs(raw)
            outcome = runner.run(
                journal, src_store, dst_store, options, jobs, progress, stop, reports, large_jobs
            )
        finally:
            reports.close()
            if bar is not None:
                bar.__exit__(None, None, None)
        final = journal.counts()
        outcome.skipped = final["skipped"].count
        journal.set_state(journal_state(outcome, final))
    except KeyboardInterrupt:
        stop.set()
        journal.set_state("interrupted")
        raise InterruptedTransfer(f"interrupted; resume with: ferry cp --recover {task_id}") from None
    finally:
        journal.close()
    state = journal_state(outcome, final)
    if json_output:
        print(json.dumps(_summary_json(outcome, state, final, reports.paths()), indent=2))
    else:
        print_task_summary(outcome)
    if outcome.interrupted:
        raise InterruptedTransfer(f"interrupted; resume with: ferry cp --recover {task_id}")
    if outcome.stopped_by is not None:
        raise type(outcome.stopped_by)(
            f"the task stopped: {outcome.stopped_by.message}; once that is fixed, continue it with: "
            f"ferry cp --recover {task_id}"
        )
    if final["failed"].count or final["pending"].count:
        left = final["failed"].count + final["pending"].count
        raise IncompleteError(
            f"{left} objects did not succeed; retry them with: ferry cp --recover {task_id}"
        )
    if clear:
        clear_failure_reports(output_dir, task_id)
    return outcome


def _summary_json(
    outcome: runner.TaskOutcome, state: str, final: dict[str, StateCount], reports: dict[str, list[Path]]
) -> dict[str, Any]:
    return {
        "task_id": outcome.task_id,
        "state": state,
        "succeeded": outcome.succeeded,
        "failed": outcome.failed,
        "skipped": outcome.skipped,
        "succeed_bytes": outcome.succeed_bytes,
        "transferred": outcome.transferred,
        "elapsed": round(outcome.elapsed, 3),
        "objects": {name: {"count": c.count, "bytes": c.bytes} for name, c in final.items()},
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
            print(f"would {_VERBS[kind]}: {row.source_key} --> {row.dest_key} ({format_size(row.size)})")
        else:
            verb = "would skip" if row.action == "skip" else "would fail"
            print(f"{verb}: {row.source_key}: {row.reason}")
    summary = {action: {"count": c, "bytes": b} for action, (c, b) in totals.items()}
    if json_output:
        print(json.dumps({"summary": summary}))
    else:
        move, skip, fail = totals["move"], totals["skip"], totals["fail"]
        print(
            f"Dry run: {move[0]} objects ({format_size(move[1])}) would move, {skip[0]} are up to date, "
            f"{fail[0]} would fail; nothing was changed"
        )


def _checkpoint_dir(value: str | Path | None) -> Path:
    from ferry.transfer.options import default_checkpoint_dir

    return Path(value).expanduser() if value else default_checkpoint_dir()


def print_task_summary(outcome: runner.TaskOutcome) -> None:
    """The closing summary of obsutil's task commands."""
    costs = outcome.costs
    done = outcome.succeeded + outcome.failed
    tps = done / outcome.elapsed if outcome.elapsed > 0 else 0.0
    print(f"Succeed count:      {outcome.succeeded:<10}Failed count:       {outcome.failed}")
    if outcome.skipped:
        print(f"Skip count:         {outcome.skipped} (up to date, not moved)")
    print(f"Succeed bytes:      {outcome.succeed_bytes} ({format_size(outcome.succeed_bytes)})")
    print(f"Transferred bytes:  {outcome.transferred} ({format_size(outcome.transferred)})")
    print(
        f"Metrics [max cost:{costs.longest * 1e3:.0f} ms, min cost:{costs.shortest * 1e3:.0f} ms, "
        f"average cost:{costs.average * 1e3:.2f} ms, average tps:{tps:.2f}, "
        f"transferred size:{format_size(outcome.transferred)}]"
    )
    print(f"\nTask id: {outcome.task_id}", flush=True)
