"""``ferry ls``: buckets of a remote, one level of a bucket (folders and objects), or every object below a
prefix with ``-r``. Listings stream page by page: a bucket of millions of objects is never held in memory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from ferry.config import load_config
from ferry.errors import UnsupportedError, UsageError
from ferry.storage import StoreOpener
from ferry.storage.base import ObjectInfo
from ferry.storage.listing import BucketInfo, Entry, Folder, list_folder
from ferry.units import format_size
from ferry.urls import HttpLocation, LocalLocation, RemoteLocation, parse_location

_ACCOUNT = re.compile(r"^(?P<remote>[A-Za-z][A-Za-z0-9+.-]*)://$")


def ls(
    url: Annotated[
        str, typer.Argument(help="REMOTE:// for its buckets, REMOTE://bucket/prefix, or a folder.")
    ],
    recursive: Annotated[
        bool, typer.Option("-r", "--recursive", help="Every object below the prefix, not one level.")
    ] = False,
    directory: Annotated[
        bool, typer.Option("-d", "--dir", help="One level, folders as prefixes (the default without -r).")
    ] = False,
    byte_sizes: Annotated[bool, typer.Option("--bytes", help="Sizes in bytes, not 1.2 MiB.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    config: Annotated[Path | None, typer.Option("--config", help="Config file.")] = None,
) -> None:
    """List buckets, folders or objects, with size, modification time (UTC) and ETag."""
    if recursive and directory:
        raise UsageError("-r lists every object, -d one level: give one of them")
    opener = StoreOpener(load_config(config))
    account = _ACCOUNT.match(url)
    if account is not None:
        remote = account["remote"].lower()
        if remote in ("file", "http", "https"):
            raise UsageError(f"{url}: only a remote has buckets")
        store, _ = opener.open(RemoteLocation(remote, "", ""))
        lister = getattr(store, "list_buckets", None)
        if lister is None:
            raise UnsupportedError(f"{url}: this store cannot list its buckets")
        _print_buckets(lister(), json_output)
        return
    location = parse_location(url)
    if isinstance(location, HttpLocation):
        raise UnsupportedError(f"{url}: an http(s) URL cannot be listed")
    store, key = opener.open(location)
    if isinstance(location, LocalLocation):
        if not location.path.is_dir():
            entries: Iterator[Entry] = iter([store.stat(key)])  # a file is itself; a missing path says so
        else:
            prefix = str(location.path)
            entries = store.list(prefix) if recursive else list_folder(store, prefix)
    else:
        assert isinstance(location, RemoteLocation)
        entries = store.list(key) if recursive else list_folder(store, key)
    _print_entries(entries, json_output, byte_sizes)


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return " " * 19
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _print_buckets(buckets: Iterator[BucketInfo], json_output: bool) -> None:
    count = 0
    for bucket in buckets:
        count += 1
        if json_output:
            print(json.dumps({"type": "bucket", "name": bucket.name, "created": bucket.created}))
        else:
            print(f"{_when(bucket.created)}  {bucket.name}")
    if not json_output:
        print(f"Total buckets: {count}")


def _print_entries(entries: Iterator[Entry], json_output: bool, byte_sizes: bool) -> None:
    objects = folders = total = 0
    for entry in entries:
        if isinstance(entry, Folder):
            folders += 1
            if json_output:
                print(json.dumps({"type": "folder", "key": entry.key}))
            else:
                print(f"{'':19}  {'PRE':>10}  {'':32}  {entry.key}")
            continue
        assert isinstance(entry, ObjectInfo)
        objects += 1
        total += entry.size
        if json_output:
            row: dict[str, Any] = {
                "type": "object",
                "key": entry.key,
                "size": entry.size,
                "mtime": entry.mtime,
                "etag": entry.etag,
            }
            print(json.dumps(row))
        else:
            size = str(entry.size) if byte_sizes else format_size(entry.size)
            print(f"{_when(entry.mtime)}  {size:>10}  {entry.etag or '-':<32}  {entry.key}")
    if not json_output:
        shown = f"{total} bytes" if byte_sizes else format_size(total)
        print(f"Total: {_count(objects, 'object')} ({shown}), {_count(folders, 'folder')}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
