"""The arguments of a plain ``ferry cp``, read without Typer.

Importing Typer and building a command from ``cp``'s signature costs a one-object command a third of its
time to the first request. Most ``cp`` command lines are simple: two locations and a few known options.
:func:`plain_cp` reads those exactly as click would and returns keyword arguments for
:func:`ferry.cli.copy.copy`; anything it is not sure of (help, an unknown or misspelt option, a value click
would refuse or convert differently, a secret option, shell completion) makes it return ``None`` and the
command line goes through the Typer app, which gives the same result, or the usage error, as ever.

``OPTIONS`` mirrors the Typer ``cp`` command's options; tests/unit/test_cp_args.py checks it against that
command, option by option, and the values against what click parses."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

FLAG, TEXT, INT, PATH, LIST = "flag", "text", "int", "path", "list"

# parameter of copy() -> (kind, its flags)
OPTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "recursive": (FLAG, ("-r", "--recursive")),
    "jobs": (INT, ("-j", "--jobs")),
    "recover": (TEXT, ("--recover",)),
    "url_list": (PATH, ("--url-list",)),
    "include": (LIST, ("--include",)),
    "exclude": (LIST, ("--exclude",)),
    "time_range": (TEXT, ("--time-range",)),
    "mf": (FLAG, ("--mf",)),
    "output_dir": (PATH, ("-o", "--output-dir")),
    "clear": (FLAG, ("--clear",)),
    "threshold": (TEXT, ("--threshold",)),
    "copy_threshold": (TEXT, ("--copy-threshold",)),
    "part_size": (TEXT, ("--part-size", "--ps")),
    "parallel": (INT, ("-p", "--parallel")),
    "checkpoint_dir": (PATH, ("--checkpoint-dir", "--cpd")),
    "temp_dir": (PATH, ("--temp-dir",)),
    "verify_length": (FLAG, ("--verify-length", "--vlength")),
    "verify_md5": (FLAG, ("--verify-md5", "--vmd5")),
    "acl": (TEXT, ("--acl",)),
    "storage_class": (TEXT, ("--storage-class", "--sc")),
    "meta": (TEXT, ("--meta",)),
    "payer": (TEXT, ("--payer",)),
    "copy_links": (FLAG, ("-L", "--copy-links")),
    "crr": (FLAG, ("--crr",)),
    "bwlimit": (TEXT, ("--bwlimit",)),
    "retries": (INT, ("--retries",)),
    "incremental": (FLAG, ("-u", "--update")),
    "dry_run": (FLAG, ("--dry-run",)),
    "force": (FLAG, ("-f", "--force")),
    "json_output": (FLAG, ("--json",)),
    "quiet": (FLAG, ("-q", "--quiet")),
    "config": (PATH, ("--config",)),
}
LEFT_TO_TYPER = ("cdn_auth_key",)
"""Options of ``cp`` that always go through the Typer app (a secret: its callback reads a variable, a file
or standard input and warns when it was typed)."""

COMPLETE_VAR = "_FERRY_COMPLETE"
"""Set by a shell asking the Typer app for completions."""
# Variables that change how Typer reads a cp command line: shell completion, the secret option's sources.
_TYPER_VARIABLES = (COMPLETE_VAR, "FERRY_CDN_AUTH_KEY", "FERRY_CDN_AUTH_KEY_FILE")

_BY_FLAG: dict[str, tuple[str, str]] = {
    flag: (name, kind) for name, (kind, flags) in OPTIONS.items() for flag in flags
}
_SOURCE_AND_DESTINATION = ("source", "destination")


class _NotPlain(Exception):
    """The command line is one for the Typer app to read."""


def plain_cp(args: list[str]) -> dict[str, Any] | None:
    """Keyword arguments for :func:`ferry.cli.copy.copy` when ``args`` is ``cp`` followed by a command line
    read here as click would read it; ``None`` for anything else."""
    if not args or args[0] != "cp" or any(name in os.environ for name in _TYPER_VARIABLES):
        return None
    try:
        return _read(args[1:])
    except _NotPlain:
        return None


def _read(args: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    positional: list[str] = []
    rest = iter(args)
    for arg in rest:
        if arg == "--":
            positional.extend(rest)
        elif arg.startswith("--"):
            flag, sep, value = arg.partition("=")
            _take(values, flag, value if sep else None, rest)
        elif arg.startswith("-") and len(arg) > 1:
            _take_short(values, arg, rest)
        else:
            positional.append(arg)
    if len(positional) > len(_SOURCE_AND_DESTINATION):
        raise _NotPlain
    values.update(zip(_SOURCE_AND_DESTINATION, positional, strict=False))
    return values


def _take_short(values: dict[str, Any], arg: str, rest: Any) -> None:
    """``-q``, ``-qf`` (flags together), ``-j4`` or ``-qj 4``: click's reading of a short-option word."""
    if "=" in arg:
        raise _NotPlain
    for i, letter in enumerate(arg[1:], start=2):
        flag = f"-{letter}"
        if _BY_FLAG.get(flag, ("", FLAG))[1] != FLAG:
            _take(values, flag, arg[i:] or None, rest)
            return
        _take(values, flag, None, rest)


def _take(values: dict[str, Any], flag: str, given: str | None, rest: Any) -> None:
    name, kind = _BY_FLAG.get(flag, ("", ""))
    if not name:
        raise _NotPlain
    if kind == FLAG:
        if given is not None:
            raise _NotPlain
        values[name] = True
        return
    value = given if given is not None else next(rest, None)
    if not value:
        raise _NotPlain
    if kind == INT:
        try:
            values[name] = int(value)
        except ValueError:
            raise _NotPlain from None
    elif kind == PATH:
        values[name] = Path(value)
    elif kind == LIST:
        values.setdefault(name, []).append(value)
    else:
        values[name] = value
