"""``ferry cp``: what it does once its arguments are read. Kept apart from the Typer app
(:mod:`ferry.cli.app`) so that a plain one-object copy, whose arguments :mod:`ferry.cli.cp_args` reads,
starts without importing Typer; the app's ``cp`` command calls :func:`copy` with what it parsed."""

from __future__ import annotations

import contextlib
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from ferry.api import prepare_transfer
from ferry.cli.quiet import QuietListener
from ferry.config import Config, load_config
from ferry.errors import FerryError, InterruptedTransfer, NotFoundError, UsageError
from ferry.transfer.engine import TransferResult
from ferry.transfer.events import TransferListener
from ferry.transfer.options import parse_meta, resolve_options
from ferry.units import format_size

if TYPE_CHECKING:
    from ferry.cli.progress import BarListener


def copy(
    source: str | None = None,
    destination: str | None = None,
    *,
    recursive: bool = False,
    jobs: int | None = None,
    recover: str | None = None,
    url_list: Path | None = None,
    cdn_auth_key: str | None = None,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    time_range: str | None = None,
    mf: bool = False,
    output_dir: Path | None = None,
    clear: bool = False,
    threshold: str | None = None,
    copy_threshold: str | None = None,
    part_size: str | None = None,
    parallel: int | None = None,
    checkpoint_dir: Path | None = None,
    temp_dir: Path | None = None,
    verify_length: bool = False,
    verify_md5: bool = False,
    acl: str | None = None,
    storage_class: str | None = None,
    meta: str | None = None,
    payer: str | None = None,
    copy_links: bool = False,
    crr: bool = False,
    bwlimit: str | None = None,
    retries: int | None = None,
    incremental: bool = False,
    dry_run: bool = False,
    force: bool = False,
    json_output: bool = False,
    quiet: bool = False,
    config: Path | None = None,
) -> None:
    """Copy one object (upload, download, or bucket to bucket), or with -r a whole folder or prefix as a
    task. Run it again after any interruption and it resumes where it stopped; a task resumes with
    --recover TASK_ID."""
    settings = load_config(config)
    if (
        recursive
        or recover
        or url_list
        or include
        or exclude
        or time_range
        or mf
        or jobs is not None
        or output_dir
        or clear
        or copy_links
    ):
        if not (recursive or recover or url_list):
            raise UsageError(
                "--include, --exclude, --time-range, --mf, -j, -o, -L and --clear apply to tasks: add -r"
            )
        given = {
            "threshold": threshold,
            "copy_threshold": copy_threshold,
            "part_size": part_size,
            "parallel": parallel,
            "checkpoint_dir": str(checkpoint_dir) if checkpoint_dir else None,
            "temp_dir": str(temp_dir) if temp_dir else None,
            "verify_length": verify_length,
            "verify_md5": verify_md5,
            "acl": acl,
            "storage_class": storage_class,
            "meta": meta,
            "crr": crr,
            "payer": payer,
            "bwlimit": bwlimit,
            "retries": retries,
            "jobs": jobs,
            "include": include,
            "exclude": exclude,
            "time_range": time_range,
            "mf": mf,
            "copy_links": copy_links,
            "output_dir": str(output_dir) if output_dir else None,
            "incremental": incremental,
            "url_list": url_list is not None,
        }
        if url_list is not None:
            source, destination = _url_list_task(url_list, source, destination, recover)
        from ferry.cli.batch import run_batch  # tasks load the journal's database: one object does not

        run_batch(
            source,
            destination,
            given,
            recover=recover,
            config=settings,
            quiet=quiet,
            clear=clear,
            dry_run=dry_run,
            json_output=json_output,
            cdn_auth_key=cdn_auth_key,
        )
        return
    if source is None or destination is None:
        raise UsageError("cp needs a source and a destination")
    options = resolve_options(
        settings.defaults,
        threshold=threshold,
        copy_threshold=copy_threshold,
        part_size=part_size,
        parallel=parallel,
        checkpoint_dir=checkpoint_dir,
        verify_length=verify_length,
        verify_md5=verify_md5,
        metadata=parse_meta(meta) if meta is not None else None,
        acl=acl,
        storage_class=storage_class,
        stream_copy=crr,
        retries=retries,
        bwlimit=bwlimit,
        dry_run=dry_run,
        incremental=incremental,
    )
    stop = threading.Event()
    listener: TransferListener
    bar: BarListener | None = None
    if quiet or json_output:
        listener = QuietListener()
    else:
        from ferry.cli.progress import BarListener, PlainListener, stderr_console

        console = stderr_console()
        if console.is_terminal:
            listener = bar = BarListener(console)
        else:
            listener = PlainListener()
    transfer = prepare_transfer(
        source,
        destination,
        options,
        config=settings,
        temp_dir=temp_dir or _default_temp_dir(settings),
        listener=listener,
        stop=stop,
        cdn_auth_key=cdn_auth_key,
        request_payer=payer,
    )
    ask = not force and not dry_run and sys.stdin.isatty()
    if (
        ask
        and _exists(transfer.dst, transfer.dst_key)
        and not _confirm(f"{transfer.result.destination} exists. Overwrite?")
    ):
        raise InterruptedTransfer("not overwritten")
    try:
        with bar if bar is not None else contextlib.nullcontext():
            result = transfer.run()
    except KeyboardInterrupt:  # handled here: Typer would turn it into a silent exit status
        stop.set()
        raise InterruptedTransfer("interrupted") from None
    if json_output:
        import json

        print(json.dumps({**asdict(result), "resumed": result.resumed}, indent=2))
    else:
        _print_summary(result)


def _default_temp_dir(settings: Config) -> Path | None:
    """The configuration's ``temp_dir`` (obsutil's ``defaultTempFileDir``), if it names one."""
    return Path(settings.defaults.temp_dir).expanduser() if settings.defaults.temp_dir else None


def _url_list_task(
    url_list: Path, source: str | None, destination: str | None, recover: str | None
) -> tuple[str, str]:
    """``cp --url-list FILE DST``: the task's source is the list file, absolute so a recover finds it."""
    if recover:
        raise UsageError("--recover finishes a task with its own URL list: give no --url-list")
    if source is None or destination is not None:
        raise UsageError("--url-list FILE takes one location: the destination")
    path = url_list.expanduser().absolute()
    if not path.is_file():
        raise NotFoundError(f"URL list {path}: no such file")
    return str(path), source


def _exists(store: object, key: str) -> bool:
    from ferry.storage.base import Store

    assert isinstance(store, Store)
    try:
        store.stat(key)
    except FerryError:
        return False
    return True


def _print_summary(result: TransferResult) -> None:
    verb = {"upload": "Upload", "download": "Download", "copy": "Copy"}[result.kind]
    if result.server_side:
        verb += " (server-side)"
    lines = [f"{verb}: {result.source} --> {result.destination}"]
    if result.skipped:
        would = "would be skipped" if result.dry_run else "skipped"
        lines.append(f"Result:            {would}: {result.skipped}")
        lines.append("Transferred bytes: 0 (0 B)")
        print("\n".join(lines), flush=True)
        return
    if result.dry_run:
        plan = f"would move {format_size(result.size)}"
        if result.multipart:
            plan += f" in {result.parts_total} parts of {format_size(result.part_size or 0)}"
            if result.parts_resumed:
                plan += f"; {result.parts_resumed} parts are already done and would not be sent again"
        lines.append(f"Dry run:           {plan}; nothing was changed")
        print("\n".join(lines))
        return
    lines.append(f"Size:              {result.size} ({format_size(result.size)})")
    if result.multipart:
        resumed = f", {result.parts_resumed} done by an earlier run" if result.parts_resumed else ""
        lines.append(
            f"Parts:             {result.parts_total} of {format_size(result.part_size or 0)}{resumed}"
        )
    lines.append(f"Transferred bytes: {result.transferred} ({format_size(result.transferred)})")
    speed = result.transferred / result.elapsed if result.elapsed > 0 else 0.0
    lines.append(f"Elapsed:           {result.elapsed:.2f} s ({format_size(speed)}/s)")
    if result.verified:
        lines.append(f"Verified:          {', '.join(result.verified)}")
    lines.append("Result:            succeeded")
    print("\n".join(lines), flush=True)


def _confirm(question: str) -> bool:
    import typer  # only when a person is asked, at a terminal

    return bool(typer.confirm(question, default=False))
