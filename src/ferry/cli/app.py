"""The ``ferry`` command line as a Typer app: every command, its options and help. Entered through
:func:`ferry.cli.main.main`, which turns errors into one line and an exit code."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from ferry import __version__
from ferry.cli import secrets
from ferry.cli.copy import copy
from ferry.cli.cp_args import COMPLETE_VAR
from ferry.cli.main import EXIT_INTERRUPTED, print_error
from ferry.errors import UsageError

APP_SETTINGS: dict[str, object] = dict(
    add_completion=False,
    no_args_is_help=True,
    help="Resumable transfers into, out of and between object stores.",
    pretty_exceptions_enable=False,
)
app = typer.Typer(**APP_SETTINGS)  # type: ignore[arg-type]
_REGISTERED = False


def full_app() -> typer.Typer:
    """The app with every command. The other commands' modules are imported here, not at start-up: a
    ``ferry cp`` of one object needs none of them (see :func:`_command_for`)."""
    global _REGISTERED
    if not _REGISTERED:
        from ferry.cli import service as service_commands
        from ferry.cli import tasks as task_commands
        from ferry.cli.check import check as check_command
        from ferry.cli.ls import ls as ls_command
        from ferry.cli.remotes import app as remote_commands
        from ferry.cli.sync import sync as sync_command

        app.add_typer(task_commands.app, name="task")
        app.add_typer(remote_commands, name="remote")
        app.add_typer(service_commands.token_app, name="token")
        app.add_typer(service_commands.key_app, name="key")
        app.add_typer(service_commands.group_app, name="group")
        app.command("serve")(service_commands.serve)
        app.command("worker")(service_commands.worker)
        app.command("check")(check_command)
        app.command("sync")(sync_command)
        app.command("ls")(ls_command)
        _REGISTERED = True
    return app


def _command_for(args: list[str]) -> Any:
    """The click command to run ``args`` with. Typer inspects the signature of every command of an app
    before running one (about 60 ms for ferry's): when ``args`` name one of the commands defined in this
    module, an app of that command alone gives the same parsing, help and errors."""
    name = "version" if args == ["--version"] else args[0] if args else None
    info = next(
        (c for c in app.registered_commands if name and (c.name or c.callback.__name__) == name),  # type: ignore[union-attr]
        None,
    )
    if info is None or COMPLETE_VAR in os.environ:
        return typer.main.get_command(full_app())
    alone = typer.Typer(**APP_SETTINGS)  # type: ignore[arg-type]
    alone.registered_callback = app.registered_callback
    alone.registered_commands = [info]
    return typer.main.get_command(alone)


# Typer may bundle its own copy of click; its usage-error class is reached through a public one.
ClickUsageError: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


@app.command()
def cp(
    source: Annotated[
        str | None, typer.Argument(help="A local file or folder, s3://bucket/key or REMOTE://bucket/key.")
    ] = None,
    destination: Annotated[
        str | None, typer.Argument(help="Where to put it; a folder or a key ending in / keeps the name.")
    ] = None,
    recursive: Annotated[
        bool, typer.Option("-r", "--recursive", help="Copy a folder or prefix as a task.")
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "-j", "--jobs", help="Objects at once in a task. [default: 16, at most 4 of them large]"
        ),
    ] = None,
    recover: Annotated[
        str | None,
        typer.Option("--recover", help="Finish the task with this id: only what is not done yet moves."),
    ] = None,
    url_list: Annotated[
        Path | None,
        typer.Option(
            "--url-list", help="A task from a file of 'URL<TAB>destination key' lines; give only DESTINATION."
        ),
    ] = None,
    cdn_auth_key: Annotated[
        str | None,
        typer.Option(
            "--cdn-auth-key",
            envvar="FERRY_CDN_AUTH_KEY",
            show_default=False,
            callback=secrets.secret,
            help="Sign http(s) requests for a CDN (type A auth_key). A secret: never stored or shown.",
        ),
    ] = None,
    include: Annotated[
        list[str] | None,
        typer.Option("--include", help="Only keys matching this glob (* ? \\* \\?); repeatable."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", help="Skip keys matching this glob; decided first; repeatable."),
    ] = None,
    time_range: Annotated[
        str | None,
        typer.Option("--time-range", help="Only objects modified in time1-time2 (UTC yyyyMMddHHmmss)."),
    ] = None,
    mf: Annotated[
        bool, typer.Option("--mf", help="Apply the filters to folder objects (keys ending in /) too.")
    ] = False,
    output_dir: Annotated[
        Path | None,
        typer.Option("-o", "--output-dir", help="Where task result files go. [default: ~/.ferry/output]"),
    ] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Delete the task's failure reports once it succeeds.")
    ] = False,
    threshold: Annotated[
        str | None,
        typer.Option(
            "--threshold",
            help="Objects at or above this size go multipart; given, it applies to server-side copies too. "
            "[default: 50MiB]",
        ),
    ] = None,
    copy_threshold: Annotated[
        str | None,
        typer.Option(
            "--copy-threshold",
            help="Server-side copies at or above this size go as parts (UploadPartCopy), whatever "
            "--threshold says. [default: --threshold if given, else 4GiB]",
        ),
    ] = None,
    part_size: Annotated[
        str | None,
        typer.Option("--part-size", "--ps", help="Part size, 100KiB to 5GiB, or auto. [default: auto]"),
    ] = None,
    parallel: Annotated[
        int | None, typer.Option("-p", "--parallel", help="Parts at once. [default: 4]")
    ] = None,
    checkpoint_dir: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint-dir", "--cpd", help="Where part records live. [default: ~/.ferry/checkpoint]"
        ),
    ] = None,
    temp_dir: Annotated[
        Path | None,
        typer.Option("--temp-dir", help="Folder for unfinished downloads. [default: beside the destination]"),
    ] = None,
    verify_length: Annotated[
        bool, typer.Option("--verify-length", "--vlength", help="Check the size afterwards.")
    ] = False,
    verify_md5: Annotated[
        bool, typer.Option("--verify-md5", "--vmd5", help="Check MD5s; uploads record md5chksum metadata.")
    ] = False,
    acl: Annotated[str | None, typer.Option("--acl", help="Canned ACL for the new object.")] = None,
    storage_class: Annotated[
        str | None, typer.Option("--storage-class", "--sc", help="Storage class.")
    ] = None,
    meta: Annotated[str | None, typer.Option("--meta", help="User metadata, k1:v1#k2:v2.")] = None,
    payer: Annotated[
        str | None, typer.Option("--payer", help="'requester': the requester pays (requester-pays buckets).")
    ] = None,
    copy_links: Annotated[
        bool,
        typer.Option(
            "-L",
            "--copy-links",
            help="-r upload: follow symbolic links (left out with a warning without it).",
        ),
    ] = False,
    crr: Annotated[bool, typer.Option("--crr", help="Copy through this machine, never server-side.")] = False,
    bwlimit: Annotated[
        str | None, typer.Option("--bwlimit", help="Bandwidth limit per second, e.g. 20MiB.")
    ] = None,
    retries: Annotated[
        int | None, typer.Option("--retries", help="Retries per request. [default: 5]")
    ] = None,
    incremental: Annotated[
        bool,
        typer.Option(
            "-u",
            "--update",
            help="Incremental: move only what the destination lacks, has at another size, or has older.",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be done; change nothing.")
    ] = False,
    force: Annotated[bool, typer.Option("-f", "--force", help="Never ask before overwriting.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress, only the result.")] = False,
    config: Annotated[
        Path | None, typer.Option("--config", help="Config file. [default: ~/.config/ferry/config.toml]")
    ] = None,
) -> None:
    """Copy one object (upload, download, or bucket to bucket), or with -r a whole folder or prefix as a
    task. Run it again after any interruption and it resumes where it stopped; a task resumes with
    --recover TASK_ID."""
    copy(**locals())


@app.command()
def version() -> None:
    """Print ferry's version."""
    print(f"ferry {__version__}")


def _print_version(value: bool) -> None:
    if value:
        print(f"ferry {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option("--version", help="Print ferry's version.", is_eager=True, callback=_print_version),
    ] = False,
) -> None:
    pass


SHELLS = ("bash", "zsh", "fish")


@app.command()
def completion(
    shell: Annotated[str, typer.Argument(help="bash, zsh or fish.")],
) -> None:
    """Print the shell completion script: eval "$(ferry completion bash)" in ~/.bashrc, or save it where
    your shell loads completions from (~/.zfunc/_ferry, ~/.config/fish/completions/ferry.fish)."""
    if shell not in SHELLS:
        raise UsageError(f"no completion for {shell!r}: choose one of {', '.join(SHELLS)}")
    from typer.completion import completion_init, get_completion_script  # type: ignore[attr-defined]

    completion_init()
    print(get_completion_script(prog_name="ferry", complete_var=COMPLETE_VAR, shell=shell))


def run_app(args: list[str]) -> int:
    """Run ``args`` through the Typer app; its own exits and usage errors become exit codes here (ferry's
    errors pass up to :func:`ferry.cli.main.main`)."""
    if COMPLETE_VAR in os.environ:  # a shell asking for completions: only then is the machinery loaded
        from typer.completion import completion_init  # type: ignore[attr-defined]

        completion_init()
    try:
        command = _command_for(args)
        args = secrets.file_options(args, command)  # --src-sk-file PATH and the like
        status = command.main(args=args, prog_name="ferry", standalone_mode=False)
        if isinstance(status, int) and status:  # an exit status Typer chose (130 after a Ctrl-C)
            return EXIT_INTERRUPTED if status == 130 else status
    except ClickUsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # the usage is already printed: no empty error line
            return UsageError.exit_code
        format_message = getattr(exc, "format_message", None)
        message = format_message() if callable(format_message) else str(exc)
        return print_error(" ".join(message.split()), UsageError.exit_code)
    except typer.Abort:
        return print_error("aborted", EXIT_INTERRUPTED)
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    return 0
