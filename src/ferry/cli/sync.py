"""``ferry sync SRC DST``: make DST match SRC — a ``cp -r -u`` task, and with ``--delete`` the objects the
source no longer has removed once every copy succeeded (see :mod:`ferry.tasks.sync`). Resumable by task id
like any task: ``ferry sync --recover TASK_ID`` (or ``ferry cp --recover``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ferry.config import Config, load_config
from ferry.errors import UsageError
from ferry.units import format_size

if TYPE_CHECKING:  # loaded when the command runs: `ferry cp` of one object does not need them
    from ferry.tasks.settings import TaskSettings


def sync(
    source: Annotated[str | None, typer.Argument(help="The folder or prefix to mirror.")] = None,
    destination: Annotated[str | None, typer.Argument(help="Where the mirror is kept.")] = None,
    delete: Annotated[
        bool,
        typer.Option(
            "--delete",
            help="Also delete what the destination has and the source does not (after every copy).",
        ),
    ] = False,
    max_delete: Annotated[
        int | None,
        typer.Option("--max-delete", help="Delete nothing when more than this many would be deleted."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be copied and deleted; change nothing.")
    ] = False,
    force: Annotated[bool, typer.Option("-f", "--force", help="Never ask before deleting.")] = False,
    recover: Annotated[
        str | None, typer.Option("--recover", help="Finish the sync task with this id.")
    ] = None,
    jobs: Annotated[int | None, typer.Option("-j", "--jobs", help="Objects at once. [default: 16]")] = None,
    include: Annotated[
        list[str] | None, typer.Option("--include", help="Only keys matching this glob; repeatable.")
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", help="Leave out keys matching this glob (never copied nor deleted)."),
    ] = None,
    time_range: Annotated[
        str | None,
        typer.Option("--time-range", help="Only objects modified in time1-time2 (UTC yyyyMMddHHmmss)."),
    ] = None,
    threshold: Annotated[
        str | None, typer.Option("--threshold", help="Multipart at or above this size. [default: 50MiB]")
    ] = None,
    part_size: Annotated[
        str | None, typer.Option("--part-size", "--ps", help="Part size, or auto. [default: auto]")
    ] = None,
    parallel: Annotated[
        int | None, typer.Option("-p", "--parallel", help="Parts at once. [default: 4]")
    ] = None,
    retries: Annotated[
        int | None, typer.Option("--retries", help="Retries per request. [default: 5]")
    ] = None,
    verify_md5: Annotated[
        bool, typer.Option("--verify-md5", "--vmd5", help="Check MD5s; uploads record md5chksum metadata.")
    ] = False,
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
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress, only the result.")] = False,
    config: Annotated[Path | None, typer.Option("--config", help="Config file.")] = None,
) -> None:
    """Make DESTINATION match SOURCE: copy what is new or changed (as cp -r -u), and with --delete remove
    what the source no longer has, only once every copy succeeded. Resume with --recover TASK_ID."""
    from ferry.cli.batch import run_batch
    from ferry.tasks.settings import TaskSettings

    if max_delete is not None and not delete and recover is None:
        raise UsageError("--max-delete applies with --delete")
    settings_file = load_config(config)
    given: dict[str, Any] = {
        "threshold": threshold,
        "part_size": part_size,
        "parallel": parallel,
        "retries": retries,
        "verify_md5": verify_md5,
        "jobs": jobs,
        "include": include,
        "exclude": exclude,
        "time_range": time_range,
        "output_dir": str(output_dir) if output_dir else None,
        "checkpoint_dir": str(checkpoint_dir) if checkpoint_dir else None,
        "incremental": True,
        "delete_extras": delete,
        "max_delete": max_delete,
    }
    ask = not force and not dry_run and not json_output and sys.stdin.isatty()
    target = destination or "the destination"

    def confirm(count: int, size: int) -> bool:
        if not ask:
            return True
        noun = "object" if count == 1 else "objects"
        return typer.confirm(
            f"Delete {count} {noun} ({format_size(size)}) at {target} that the source does not have?",
            default=False,
        )

    run_batch(
        source,
        destination,
        given,
        recover=recover,
        config=settings_file,
        quiet=quiet,
        dry_run=dry_run,
        json_output=json_output,
        confirm_delete=confirm,
    )
    if dry_run and delete and recover is None:
        assert source is not None and destination is not None
        _preview_deletes(settings_file, TaskSettings.from_options(given), source, destination, json_output)


def _preview_deletes(
    config: Config, settings: TaskSettings, source: str, destination: str, json_output: bool
) -> None:
    """What ``--delete`` would remove (if every copy succeeded), after the copies' preview."""
    from ferry.cli.batch import _open_stores
    from ferry.tasks.plan import ListingPlan, plan_for_locations, plan_from_dict
    from ferry.tasks.sync import extras

    plan = plan_for_locations(source, destination)
    src_store, dst_store, _ = _open_stores(config, settings, plan, source, destination, None)
    listing = plan_from_dict(plan)
    assert isinstance(listing, ListingPlan)
    count = size = 0
    for extra in extras(src_store, dst_store, listing, settings.object_filter()):
        count += 1
        size += extra.size
        if json_output:
            print(json.dumps({"action": "delete", "destination": extra.key, "size": extra.size}))
        else:
            print(f"would delete: {extra.key} ({format_size(extra.size)})")
    if json_output:
        print(json.dumps({"summary": {"delete": {"count": count, "bytes": size}}}))
    else:
        over = ""
        if settings.max_delete is not None and count > settings.max_delete:
            over = f" (more than --max-delete {settings.max_delete}: a run would delete none)"
        noun = "object" if count == 1 else "objects"
        print(f"Dry run: {count} {noun} ({format_size(size)}) would be deleted{over}; nothing was changed")
