"""``ferry task list|show|resume|rm``: what the task journals say, for people and (with --json) scripts."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ferry.config import load_config
from ferry.display import shown
from ferry.tasks.records import TaskInfo
from ferry.tasks.states import ObjectState
from ferry.transfer.options import default_checkpoint_dir
from ferry.units import format_size

if TYPE_CHECKING:
    from ferry.tasks.journal import TaskJournal  # loaded by each command: `ferry cp` does not need it

app = typer.Typer(help="Batch tasks: list, show, resume, remove.", no_args_is_help=True)

CheckpointDir = Annotated[
    Path | None,
    typer.Option(
        "--checkpoint-dir", "--cpd", help="Where task journals live. [default: ~/.ferry/checkpoint]"
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ConfigPath = Annotated[Path | None, typer.Option("--config", help="Config file.")]


def _directory(checkpoint_dir: Path | None, config: Path | None) -> Path:
    if checkpoint_dir:
        return checkpoint_dir.expanduser()
    configured = load_config(config).defaults.checkpoint_dir
    return Path(configured).expanduser() if configured else default_checkpoint_dir()


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _summary(info: TaskInfo, journal: TaskJournal) -> dict[str, Any]:
    from ferry.cli.batch import output_folder

    counts = journal.counts()
    return {
        "task_id": info.task_id,
        "kind": info.kind,
        "source": info.source,
        "destination": info.destination,
        "output_dir": str(output_folder(info.settings)),
        "state": str(info.state),
        "created": _when(info.created),
        "updated": _when(info.updated),
        "listing_complete": info.listing_complete,
        "counts": {str(state): asdict(count) for state, count in counts.items()},
    }


@app.command("list")
def list_command(
    checkpoint_dir: CheckpointDir = None, json_output: Json = False, config: ConfigPath = None
) -> None:
    """Every task, newest first."""
    from ferry.tasks.journal import TaskJournal, list_tasks

    directory = _directory(checkpoint_dir, config)
    rows = []
    for info in list_tasks(directory):
        with TaskJournal.open(directory, info.task_id) as journal:
            rows.append(_summary(info, journal))
    if json_output:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        print("no tasks")
        return
    for row in rows:
        c = row["counts"]
        print(
            f"{row['task_id']}  {row['kind']:<8} {row['state']:<11} {row['created']}  "
            f"done {c['done']['count']}, failed {c['failed']['count']}, pending {c['pending']['count']}, "
            f"skipped {c['skipped']['count']}  {row['source']} --> {row['destination']}  "
            f"(results in {row['output_dir']})"
        )


@app.command("show")
def show_command(
    task_id: str,
    checkpoint_dir: CheckpointDir = None,
    json_output: Json = False,
    limit: Annotated[int, typer.Option("--limit", help="Failed objects to list.", min=0)] = 100,
    config: ConfigPath = None,
) -> None:
    """A task's counts, bytes and failed objects with their reasons."""
    from ferry.tasks.journal import TaskJournal

    with TaskJournal.open(_directory(checkpoint_dir, config), task_id) as journal:
        row = _summary(journal.info(), journal)
        failed: list[dict[str, Any]] = []
        for obj in journal.objects((ObjectState.FAILED,)):
            if len(failed) >= limit:
                break
            failed.append(
                {
                    "source": obj.source_key,
                    "destination": obj.dest_key,
                    "size": obj.size,
                    "reason": obj.reason,
                }
            )
    row["failed_objects"] = failed
    if json_output:
        print(json.dumps(row, indent=2))
        return
    print(f"Task id:     {row['task_id']}\nKind:        {row['kind']}\nState:       {row['state']}")
    print(
        f"Source:      {row['source']}\nDestination: {row['destination']}\n"
        f"Created:     {row['created']} UTC\nOutputDir:   {row['output_dir']}"
    )
    for state, count in row["counts"].items():
        print(f"{state.capitalize() + ':':<13}{count['count']} objects, {format_size(count['bytes'])}")
    for entry in failed:
        print(shown(f"failed: {entry['source']}: {entry['reason']}"))


@app.command("resume")
def resume_command(
    task_id: str,
    checkpoint_dir: CheckpointDir = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress, only the result.")] = False,
    config: ConfigPath = None,
    cdn_auth_key: Annotated[
        str | None,
        typer.Option(
            "--cdn-auth-key",
            envvar="FERRY_CDN_AUTH_KEY",
            show_default=False,
            help="Sign http(s) requests of a URL list for a CDN (type A). Never stored or shown.",
        ),
    ] = None,
) -> None:
    """Finish a task, as ``ferry cp --recover TASK_ID``."""
    from ferry.cli.batch import run_batch

    given: dict[str, Any] = {"checkpoint_dir": str(checkpoint_dir) if checkpoint_dir else None}
    run_batch(
        None,
        None,
        given,
        recover=task_id,
        config=load_config(config),
        quiet=quiet,
        cdn_auth_key=cdn_auth_key,
    )


@app.command("rm")
def rm_command(task_id: str, checkpoint_dir: CheckpointDir = None, config: ConfigPath = None) -> None:
    """Delete a task's journal (refused while the task runs)."""
    from ferry.tasks.journal import remove_task

    remove_task(_directory(checkpoint_dir, config), task_id)
    print(f"removed task {task_id}")
