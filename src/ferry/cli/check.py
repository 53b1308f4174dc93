"""``ferry check SRC DST``: prove a copy complete, as a task (see :mod:`ferry.tasks.check`).

Exit status: 0 when the trees match, 8 when they differ (the summary and result files say how), the usual
codes when a side cannot be listed (4 bucket missing or access denied, 5 credentials ...), 9 interrupted.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ferry.config import load_config
from ferry.errors import IncompleteError, InterruptedTransfer, UsageError
from ferry.tasks.states import TaskState

if TYPE_CHECKING:  # loaded when the command runs: `ferry cp` of one object does not need them
    from ferry.tasks.check import CheckSummary


def check(
    source: Annotated[str | None, typer.Argument(help="The tree copied from: a folder or a prefix.")] = None,
    destination: Annotated[str | None, typer.Argument(help="The tree copied to.")] = None,
    download: Annotated[
        bool,
        typer.Option("--download", help="Where no hash both sides have decides, read both and hash them."),
    ] = False,
    one_way: Annotated[
        bool, typer.Option("--one-way", help="Only what the source has: do not look for extra objects.")
    ] = False,
    size_only: Annotated[
        bool, typer.Option("--size-only", help="Compare sizes only: no hash is looked up or computed.")
    ] = False,
    recover: Annotated[
        str | None, typer.Option("--recover", help="Go on with the check task with this id.")
    ] = None,
    include: Annotated[
        list[str] | None, typer.Option("--include", help="Only keys matching this glob; repeatable.")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="Leave out keys matching this glob; repeatable.")
    ] = None,
    time_range: Annotated[
        str | None,
        typer.Option("--time-range", help="Only objects modified in time1-time2 (UTC yyyyMMddHHmmss)."),
    ] = None,
    jobs: Annotated[int | None, typer.Option("-j", "--jobs", help="Lookups at once. [default: 16]")] = None,
    output_dir: Annotated[
        Path | None,
        typer.Option("-o", "--output-dir", help="Where result files go. [default: ~/.ferry/output]"),
    ] = None,
    checkpoint_dir: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint-dir", "--cpd", help="Where task journals live. [default: ~/.ferry/checkpoint]"
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress, only the result.")] = False,
    config: Annotated[Path | None, typer.Option("--config", help="Config file.")] = None,
) -> None:
    """Compare two trees: objects missing at the destination, extra there, and differing (by size, then by
    a hash both sides have). Exits 0 only when they match; 'ferry cp --recover TASK_ID' then copies exactly
    what is missing or differs."""
    from ferry.cli.batch import _checkpoint_dir, _open_stores, output_folder
    from ferry.tasks.check import CHECK_KINDS, CheckRun, CheckSettings, run_check
    from ferry.tasks.journal import TaskJournal
    from ferry.tasks.plan import ListingPlan, plan_for_locations, plan_from_dict
    from ferry.tasks.reports import ReportWriter
    from ferry.tasks.settings import TaskSettings

    settings_file = load_config(config)
    given = TaskSettings.from_options(
        {
            "include": include,
            "exclude": exclude,
            "time_range": time_range,
            "jobs": jobs,
            "output_dir": str(output_dir) if output_dir else None,
            "checkpoint_dir": str(checkpoint_dir) if checkpoint_dir else None,
        }
    )
    directory = _checkpoint_dir(given.checkpoint_dir or settings_file.defaults.checkpoint_dir)
    if recover is not None:
        if source or destination:
            raise UsageError("--recover takes the check's own source and destination; give no locations")
        journal = TaskJournal.open(directory, recover)
        try:
            journal.lock()
            info = journal.info()
            check_settings = CheckSettings.from_plan(info.plan)
            if check_settings is None:
                raise UsageError(
                    f"task {recover} is not a check (continue it with: ferry cp --recover {recover})"
                )
            if info.state == TaskState.SUCCEEDED:
                raise UsageError(f"task {recover} already finished: run a new check to compare again")
        except BaseException:
            journal.close()
            raise
        settings, plan = info.settings, info.plan
        source, destination = info.source, info.destination
    else:
        if not source or not destination:
            raise UsageError("check needs a source and a destination")
        check_settings = CheckSettings(download=download, one_way=one_way, size_only=size_only)
        settings = given
        plan = {**plan_for_locations(source, destination), "check": check_settings.to_dict()}
        journal = None
    try:
        src_store, dst_store, kind = _open_stores(settings_file, settings, plan, source, destination, None)
        if journal is None:
            journal = TaskJournal.create(
                directory, str(uuid.uuid4()), kind, source, destination, settings, plan
            )
            journal.lock()
    except BaseException:
        if journal is not None:
            journal.close()
        raise
    task_id = journal.task_id
    out = output_folder(settings)
    if not json_output:
        print(f"Task id: {task_id}\nOutputDir: {out}", flush=True)
    reports = ReportWriter(out, task_id, command="check", kinds=CHECK_KINDS)
    listing = plan_from_dict(plan)
    assert isinstance(listing, ListingPlan)
    options = settings.transfer_options(settings_file.defaults)
    run = CheckRun(
        journal,
        src_store,
        dst_store,
        listing,
        check_settings,
        settings.object_filter(),
        reports,
        modified_after=settings.modified_after,
        jobs=settings.job_count(),
        retry=options.retry,
    )
    if not json_output and not quiet:
        run.progress = lambda n: print(f"ferry: {n} keys compared", file=sys.stderr, flush=True)
    try:
        summary = run_check(run)
    except KeyboardInterrupt:
        raise InterruptedTransfer(f"interrupted; go on with: ferry check --recover {task_id}") from None
    finally:
        reports.close()
        journal.close()
    if json_output:
        print(json.dumps(summary.to_json(), indent=2))
    else:
        _print_summary(summary)
    _exit(summary)


def _print_summary(summary: CheckSummary) -> None:
    by_size = f" ({summary.unverified} by size only)" if summary.unverified else ""
    print(f"Missing at destination: {summary.missing}")
    print(f"Differing:              {summary.differ}")
    print(f"Extra at destination:   {summary.extra}")
    print(f"Matching:               {summary.same}{by_size}")
    if summary.unchecked:
        print(f"Not checked:            {summary.unchecked}")
    print(f"\nTask id: {summary.task_id}", flush=True)


def _exit(summary: CheckSummary) -> None:
    task_id = summary.task_id
    if summary.state == TaskState.INTERRUPTED:
        raise InterruptedTransfer(f"interrupted; go on with: ferry check --recover {task_id}")
    if summary.unchecked:
        reason = f" (the first: {summary.first_error})" if summary.first_error else ""
        raise IncompleteError(
            f"{summary.unchecked} objects could not be checked{reason}; "
            f"go on with: ferry check --recover {task_id}"
        )
    if summary.missing or summary.differ:
        raise IncompleteError(
            f"the trees differ: {summary.missing} missing, {summary.differ} differing, "
            f"{summary.extra} extra; copy what is missing or differs with: ferry cp --recover {task_id}"
        )
    if summary.extra:
        raise IncompleteError(f"the destination has {summary.extra} objects the source does not")
