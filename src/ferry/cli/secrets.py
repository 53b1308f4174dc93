"""Secrets given to the CLI without putting them on its command line, where every local user sees them in
the process list. Each secret option takes its value from, in order: the option (``-`` reads one line of
standard input), its environment variable (``FERRY_SRC_SK``), or a file the variable's ``_FILE`` form names
(``FERRY_SRC_SK_FILE=/run/secrets/sk``). A secret typed as the option's value still works, with a one-line
warning."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from ferry.errors import UsageError

_warned: set[str] = set()
_stdin_used: list[str] = []


def _flag(param: typer.CallbackParam) -> str:
    return max(param.opts, key=len) if param.opts else str(param.name)


def _read_stdin(flag: str) -> str:
    if _stdin_used:
        raise UsageError(f"{flag} -: standard input already gave {_stdin_used[0]}; give only one secret as -")
    _stdin_used.append(flag)
    line = sys.stdin.readline()
    if not line.strip():
        raise UsageError(f"{flag} -: nothing was read from standard input")
    return line.rstrip("\r\n")


def read_secret_file(path: str, what: str) -> str:
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not readable UTF-8 text"
        raise UsageError(f"{what}: cannot read {path}: {reason}") from None
    value = text.rstrip("\r\n")
    if not value.strip():
        raise UsageError(f"{what}: the file {path} is empty")
    return value


def warn_on_command_line(flag: str, envvar: str | None) -> None:
    if flag in _warned:
        return
    _warned.add(flag)
    instead = f"{envvar}, {envvar}_FILE or {flag} - (standard input)" if envvar else f"{flag} -"
    print(
        f"ferry: warning: {flag} on the command line is visible to every local user; use {instead}",
        file=sys.stderr,
        flush=True,
    )


def secret(ctx: typer.Context, param: typer.CallbackParam, value: str | None) -> str | None:
    """Typer callback of a secret option (see the module's docstring)."""
    return _resolve(ctx, param, value, lambda _: True)


def database_url(ctx: typer.Context, param: typer.CallbackParam, value: str | None) -> str | None:
    """``--db``: like a secret, but a URL without a password on the command line is no secret."""
    return _resolve(ctx, param, value, _has_password)


def _has_password(url: str) -> bool:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).password is not None
    except (ArgumentError, ValueError):
        return "@" in url


def _resolve(
    ctx: typer.Context, param: typer.CallbackParam, value: str | None, sensitive: Callable[[str], bool]
) -> str | None:
    flag = _flag(param)
    envvar = param.envvar if isinstance(param.envvar, str) else None
    if value is None:
        path = os.environ.get(f"{envvar}_FILE") if envvar else None
        return read_secret_file(path, f"{envvar}_FILE") if path else None
    if value == "-":
        return _read_stdin(flag)
    source = ctx.get_parameter_source(param.name) if param.name else None
    # Compared by name: Typer may carry a click of its own, with its own enum.
    if getattr(source, "name", None) == "COMMANDLINE" and sensitive(value):
        warn_on_command_line(flag, envvar)
    return value


def file_options(args: list[str], command: Any) -> list[str]:
    """``--src-sk-file PATH`` (or ``=PATH``) for every secret option of ``command``'s tree: the file's first
    line is the secret. Taken out of the arguments here and read by the option's callback through its
    ``<VAR>_FILE`` variable, so each secret flag gets its ``-file`` twin without a second option."""
    envvars = _secret_envvars(command)
    kept: list[str] = []
    rest = iter(args)
    for arg in rest:
        if arg == "--":
            kept.append(arg)
            kept.extend(rest)
            break
        flag, sep, value = arg.partition("=")
        envvar = envvars.get(flag)
        if envvar is None:
            kept.append(arg)
            continue
        if not sep:
            value = next(rest, "")
        if not value or value.startswith("-"):
            raise UsageError(f"{flag} needs a file name")
        os.environ[f"{envvar}_FILE"] = value
    return kept


def _secret_envvars(command: Any) -> dict[str, str]:
    """``--<secret option>-file`` -> the option's environment variable, over every subcommand. (``command``
    is a click command of Typer's own click, hence untyped here.)"""
    found: dict[str, str] = {}
    for param in command.params:
        callback = getattr(param, "callback", None)
        callback = getattr(callback, "__wrapped__", callback)  # Typer wraps the callbacks it is given
        if callback in (secret, database_url) and isinstance(param.envvar, str):
            found[f"{_flag(param)}-file"] = param.envvar
    for sub in getattr(command, "commands", {}).values():
        found.update(_secret_envvars(sub))
    return found
