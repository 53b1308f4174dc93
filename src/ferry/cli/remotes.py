"""``ferry remote add|list|rm``: named remotes in the config file, without editing TOML by hand.

The file is edited as text — a section appended, or one section cut out — so the comments and layout of the
rest are kept; the result is checked by reading it back as a config before it replaces the old file, which
is written readable by its owner only (0600). Secrets are never printed: ``list`` shows whether each is set.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from ferry.config import RemoteConfig, config_path, load_config
from ferry.errors import UsageError

app = typer.Typer(help="Named remotes in the config file: add, list, rm.", no_args_is_help=True)

ConfigPath = Annotated[Path | None, typer.Option("--config", help="Config file.")]
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_HEADER = re.compile(r"^\s*\[")
SECRETS = ("secret_key", "session_token", "connection_string")
RESERVED = ("file", "http", "https")


def _toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's for these characters)."""
    return json.dumps(value, ensure_ascii=False)


def _section_header(name: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*\[\s*remotes\s*\.\s*\"?{re.escape(name)}\"?\s*\]\s*(#.*)?$", re.IGNORECASE)


def _write(path: Path, text: str) -> None:
    """Check ``text`` as a config, then put it in place atomically, mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(staging, 0o600)
        load_config(staging)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The remote's name, used as NAME://bucket/key.")],
    kind: Annotated[str, typer.Option("--type", help="s3, azure or gcs.")] = "s3",
    endpoint: Annotated[str | None, typer.Option("--endpoint", help="The service's URL.")] = None,
    region: Annotated[str | None, typer.Option("--region", help="The S3 region.")] = None,
    access_key: Annotated[str | None, typer.Option("--access-key", help="The S3 access key id.")] = None,
    addressing_style: Annotated[
        str | None, typer.Option("--addressing-style", help="path, virtual or auto.")
    ] = None,
    json_auth_file: Annotated[
        Path | None, typer.Option("--json-auth-file", help="gcs: a service-account key file.")
    ] = None,
    project: Annotated[str | None, typer.Option("--project", help="gcs: the project.")] = None,
    from_env: Annotated[
        bool,
        typer.Option(
            "--from-env",
            help="Take keys, region and endpoint from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
            "AWS_SESSION_TOKEN, AWS_REGION and AWS_ENDPOINT_URL (azure: AZURE_STORAGE_CONNECTION_STRING).",
        ),
    ] = False,
    force: Annotated[bool, typer.Option("-f", "--force", help="Replace a remote of that name.")] = False,
    config: ConfigPath = None,
) -> None:
    """Add a remote. The secret key (or Azure connection string) is asked for without echo, or taken from
    the environment with --from-env; it is never given on the command line, where other users can see it."""
    name = name.lower()
    if not _NAME.match(name) or name in RESERVED:
        raise UsageError(
            f"invalid remote name {name!r}: a letter, then letters, digits or '-' (at most 31), not file/http"
        )
    values: dict[str, str | None] = {"type": kind}
    env = os.environ
    if kind == "s3":
        values.update(
            endpoint=endpoint or (env.get("AWS_ENDPOINT_URL") if from_env else None),
            region=region or (env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") if from_env else None),
            access_key=access_key or (env.get("AWS_ACCESS_KEY_ID") if from_env else None),
            addressing_style=addressing_style,
        )
        if from_env:
            values["secret_key"] = env.get("AWS_SECRET_ACCESS_KEY")
            values["session_token"] = env.get("AWS_SESSION_TOKEN")
            if not values["access_key"] or not values["secret_key"]:
                raise UsageError("--from-env: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set")
        elif values["access_key"]:
            values["secret_key"] = _ask("Secret key")
    elif kind == "azure":
        if from_env:
            values["connection_string"] = env.get("AZURE_STORAGE_CONNECTION_STRING")
            if not values["connection_string"]:
                raise UsageError("--from-env: AZURE_STORAGE_CONNECTION_STRING is not set")
        else:
            values["connection_string"] = _ask("Connection string")
    elif kind == "gcs":
        values.update(
            endpoint=endpoint,
            json_auth_file=str(json_auth_file.expanduser().absolute()) if json_auth_file else None,
            project=project,
        )
    else:
        raise UsageError(f"invalid remote type {kind!r}: s3, azure or gcs")
    path = config_path(config)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if path.exists() and name in load_config(path).remotes:
        if not force:
            raise UsageError(f"remote {name!r} already exists in {path}: add -f to replace it")
        text = _without(text, name)
    section = f"[remotes.{name}]\n" + "".join(
        f"{key} = {_toml_string(value)}\n" for key, value in values.items() if value
    )
    if text and not text.endswith("\n"):
        text += "\n"
    _write(path, f"{text}\n{section}" if text.strip() else section)
    print(f"Remote {name} added to {path}")


def _ask(what: str) -> str:
    if not sys.stdin.isatty():
        raise UsageError(f"{what.lower()} needed: run on a terminal to be asked, or use --from-env")
    value: str = typer.prompt(what, hide_input=True)
    if not value.strip():
        raise UsageError(f"empty {what.lower()}")
    return value.strip()


def _without(text: str, name: str) -> str:
    """``text`` without the ``[remotes.NAME]`` section (its header up to the next header)."""
    header = _section_header(name)
    out: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        if header.match(line):
            skipping = True
            continue
        if skipping and _HEADER.match(line):
            skipping = False
        if not skipping:
            out.append(line)
    return "".join(out)


@app.command("list")
def list_remotes(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigPath = None,
) -> None:
    """The remotes of the config file, secrets shown only as set or not."""
    loaded = load_config(config)
    rows = [_shown(remote) for remote in loaded.remotes.values()]
    if json_output:
        print(json.dumps({"config": str(loaded.path) if loaded.path else None, "remotes": rows}, indent=2))
        return
    if not rows:
        print(f"No remotes in {loaded.path or config_path(config)}")
        return
    for row in rows:
        details = ", ".join(f"{k}={v}" for k, v in row.items() if k not in ("name", "type") and v)
        print(f"{row['name']:<16} {row['type']:<6} {details}")


def _shown(remote: RemoteConfig) -> dict[str, str | None]:
    row: dict[str, str | None] = {"name": remote.name, "type": remote.type}
    for key in ("endpoint", "region", "access_key", "addressing_style", "json_auth_file", "project"):
        row[key] = getattr(remote, key)
    for key in SECRETS:
        row[key] = "(set)" if getattr(remote, key) else None
    return row


@app.command("rm")
def remove(name: str, config: ConfigPath = None) -> None:
    """Remove a remote from the config file."""
    name = name.lower()
    path = config_path(config)
    if not path.exists() or name not in load_config(path).remotes:
        raise UsageError(f"no remote {name!r} in {path}")
    _write(path, _without(path.read_text(encoding="utf-8"), name))
    print(f"Remote {name} removed from {path}")
