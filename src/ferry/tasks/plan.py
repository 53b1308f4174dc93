"""How a task finds its objects — the one planner of ``cp -r``, ``--url-list`` and the migration service.

A plan is one of four kinds, kept in the task's journal:

- :class:`ListingPlan`: every object under a root of the source. ``folder=True`` is ``cp -r``'s meaning (the
  root names a folder, ``dir`` means ``dir/``, and an object keeps its path below the root);
  ``folder=False`` is OMS's (the root is a raw key prefix, ``photo`` takes ``photos/a`` and ``photo.jpg``, and
  an object keeps its whole key below the destination root);
- :class:`KeysPlan`: the objects named by a list of keys, each looked up at the source (one that is missing
  is journaled as failed: a later run looks again);
- :class:`UrlListPlan`: the lines of a URL list (a local file, or lines given inline), each fetched from its
  own host (see :mod:`ferry.tasks.urllist`);
- :class:`ListFilePlan`: the lines of an object in a bucket (OMS's list file), object keys or URL list
  lines, read in ranged pieces (see :mod:`ferry.tasks.listfile`) from a store the caller opens.

Key lists and URL lists are planned again from their first line when a planning run was cut short (the
journal's ``listing_complete`` is still false); lines the journal already holds are then passed over without
being looked up again (``journaled``), so the second run costs a read of the list, not a request per line.

Filters (include, exclude, time range) judge an object by its *absolute* path, as obsutil's do: its whole
key from the root of the bucket (``src1/src2/test.txt`` for ``obs://bucket/src1/src2/test.txt``), or for a
local file its absolute path (``/home/me/photos/a.jpg``); for a URL list, the destination key its line
names. :func:`planned_objects` streams; nothing here holds a listing in memory.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferry.errors import InterruptedTransfer, NotFoundError, UsageError
from ferry.storage.base import Store
from ferry.tasks import listfile
from ferry.tasks.filters import ObjectFilter
from ferry.tasks.journal import PlannedObject
from ferry.tasks.keys import (
    UnsafeKeyError,
    folder_prefix,
    join_key,
    local_relative,
    relative_key,
    safe_local_path,
)
from ferry.tasks.urllist import (
    Journaled,
    UrlListEntry,
    in_order,
    parse_line,
    planned_url_objects,
    read_url_list,
    unjournaled,
)
from ferry.transfer.engine import transfer_kind
from ferry.transfer.retry import RetryPolicy, call_with_retry
from ferry.urls import LocalLocation, RemoteLocation, parse_location

NOT_AT_SOURCE = "the object does not exist at the source"


@dataclass(frozen=True)
class ListingPlan:
    root: str
    dest_root: str
    folder: bool = True


@dataclass(frozen=True)
class KeysPlan:
    keys: tuple[str, ...]
    dest_root: str


@dataclass(frozen=True)
class UrlListPlan:
    dest_root: str
    file: str | None = None
    """A URL list file on this machine, read as a stream on each planning run."""
    lines: tuple[tuple[int, str], ...] = ()
    """Or the lines themselves, with their line numbers."""


@dataclass(frozen=True)
class ListFilePlan:
    """OMS's list file: the object ``key`` of ``bucket`` (in the store a caller gives as ``list_store``)."""

    bucket: str
    key: str
    dest_root: str
    urls: bool = False
    """URL list lines (a URL_LIST group's), else object keys one a line."""


Plan = ListingPlan | KeysPlan | UrlListPlan | ListFilePlan


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    if isinstance(plan, ListingPlan):
        return {"type": "listing", "root": plan.root, "dest_root": plan.dest_root, "folder": plan.folder}
    if isinstance(plan, KeysPlan):
        return {"type": "keys", "keys": list(plan.keys), "dest_root": plan.dest_root}
    if isinstance(plan, ListFilePlan):
        return {
            "type": "list_file",
            "bucket": plan.bucket,
            "key": plan.key,
            "dest_root": plan.dest_root,
            "urls": plan.urls,
        }
    return {
        "type": "url_list",
        "dest_root": plan.dest_root,
        "file": plan.file,
        "lines": [list(line) for line in plan.lines],
    }


def plan_from_dict(value: dict[str, Any]) -> Plan:
    """ValueError when ``value`` is not a plan (a damaged journal)."""
    kind = value.get("type")
    try:
        if kind == "listing":
            return ListingPlan(str(value["root"]), str(value["dest_root"]), bool(value["folder"]))
        if kind == "keys":
            return KeysPlan(tuple(str(k) for k in value["keys"]), str(value["dest_root"]))
        if kind == "url_list":
            lines = tuple((int(n), str(text)) for n, text in value.get("lines") or ())
            return UrlListPlan(str(value["dest_root"]), value.get("file"), lines)
        if kind == "list_file":
            return ListFilePlan(
                str(value["bucket"]), str(value["key"]), str(value["dest_root"]), bool(value["urls"])
            )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a plan: {exc}") from None
    raise ValueError(f"unknown plan type {kind!r}")


def plan_for_locations(source_text: str, destination_text: str, *, url_list: bool = False) -> dict[str, Any]:
    """The plan of a ``cp -r`` (or ``--url-list``) task from its source and destination as given: local
    paths made absolute, so a recover from another folder finds the same files."""
    dest_root = _root(destination_text)
    if url_list:
        return plan_to_dict(UrlListPlan(dest_root, file=str(Path(source_text).expanduser().absolute())))
    return plan_to_dict(ListingPlan(_root(source_text), dest_root, folder=True))


def _root(text: str) -> str:
    location = parse_location(text)
    if isinstance(location, LocalLocation):
        return str(location.path.absolute())
    if isinstance(location, RemoteLocation):
        return location.key
    raise UsageError(f"{text}: an http(s) URL cannot be a task's source or destination (use --url-list)")


def planned_objects(
    plan: Plan,
    source: Store,
    dest: Store,
    object_filter: ObjectFilter,
    *,
    modified_after: float | None = None,
    stop: threading.Event | None = None,
    retry: RetryPolicy | None = None,
    workers: int = 8,
    list_store: Store | None = None,
    journaled: Journaled | None = None,
) -> Iterator[PlannedObject]:
    """Stream the objects of ``plan`` that the filters take, each with its destination (or with the
    problem that keeps it from being written). ``modified_after`` leaves out objects modified at or before
    that time; ``stop`` ends planning with InterruptedTransfer; ``workers`` look-ups run at once for keys
    and URL lines; ``list_store`` holds a :class:`ListFilePlan`'s list; keys and lines ``journaled`` says
    the journal holds are not looked up again."""
    stop = stop or threading.Event()
    retry = retry or RetryPolicy()
    if isinstance(plan, ListingPlan):
        objects = _listing(plan, source, dest, object_filter, stop)
    elif isinstance(plan, KeysPlan):
        keys = ((key, None) for key in plan.keys)
        objects = _keys(keys, plan.dest_root, source, dest, object_filter, stop, retry, workers, journaled)
    elif isinstance(plan, ListFilePlan):
        objects = _list_file(plan, list_store, source, dest, object_filter, stop, retry, workers, journaled)
    else:
        objects = _url_list(plan, source, dest, object_filter, stop, workers, journaled)
    for obj in objects:
        if modified_after is not None and obj.problem is None and obj.mtime <= modified_after:
            continue
        yield obj


def destination_for(dest: Store, download: bool, dest_root: str, relative: str) -> tuple[str, str | None]:
    """Where ``relative`` goes below the destination root, or why it cannot go there."""
    if not download:
        return join_key(dest_root, relative) if dest_root else relative, None
    try:
        return safe_local_path(dest_root, relative), None
    except UnsafeKeyError as exc:
        return "", f"unsafe key, not written: {exc}"


def _listing(
    plan: ListingPlan, source: Store, dest: Store, object_filter: ObjectFilter, stop: threading.Event
) -> Iterator[PlannedObject]:
    kind = transfer_kind(source, dest)
    upload = kind == "upload"
    listing_root = plan.root if upload or not plan.folder else folder_prefix(plan.root)
    for info in source.list(listing_root):
        if stop.is_set():
            raise InterruptedTransfer("stopped while listing")
        if plan.folder:
            relative = local_relative(info.key, plan.root) if upload else relative_key(info.key, listing_root)
            if relative in ("", "/"):
                continue
        else:
            relative = local_relative(info.key, plan.root) if upload else info.key
        if not object_filter.accepts(info.key, info.mtime):
            continue
        target, problem = destination_for(dest, kind == "download", plan.dest_root, relative)
        yield PlannedObject(info.key, target, info.size, info.mtime, info.etag, problem)


def _keys(
    keys: Iterable[tuple[str, str | None]],
    dest_root: str,
    source: Store,
    dest: Store,
    object_filter: ObjectFilter,
    stop: threading.Event,
    retry: RetryPolicy,
    workers: int,
    journaled: Journaled | None,
) -> Iterator[PlannedObject]:
    """Object keys, each with the problem that makes it no key (or ``None``), looked up at the source
    ``workers`` at a time, in order."""
    download = transfer_kind(source, dest) == "download"

    def checked() -> Iterator[tuple[str, str | None]]:
        for item in keys:
            if stop.is_set():
                raise InterruptedTransfer("stopped while planning")
            yield item

    def row(item: tuple[str, str | None]) -> PlannedObject | None:
        key, problem = item
        if problem is not None:
            return PlannedObject(key, "", 0, 0.0, None, problem)
        target, problem = destination_for(dest, download, dest_root, key)
        if problem is not None:
            return PlannedObject(key, "", 0, 0.0, None, problem)
        try:
            info = call_with_retry(lambda: source.stat(key), retry, stop=stop)
        except NotFoundError:
            return PlannedObject(key, target, 0, 0.0, None, NOT_AT_SOURCE)
        if not object_filter.accepts(key, info.mtime):
            return None
        return PlannedObject(key, target, info.size, info.mtime, info.etag)

    items: Iterable[tuple[str, str | None]] = checked()
    if journaled is not None:
        items = unjournaled(items, journaled, lambda item: item[0])
    for planned in in_order(row, items, max(1, workers)):
        if planned is not None:
            yield planned


def _list_file(
    plan: ListFilePlan,
    list_store: Store | None,
    source: Store,
    dest: Store,
    object_filter: ObjectFilter,
    stop: threading.Event,
    retry: RetryPolicy,
    workers: int,
    journaled: Journaled | None,
) -> Iterator[PlannedObject]:
    if list_store is None:
        raise UsageError(f"the list file {plan.bucket}/{plan.key}: no store to read it from")
    try:
        lines = listfile.split_lines(listfile.pieces(list_store, plan.key, stop, retry))
        if plan.urls:
            entries = (parse_line(n, text) for n, text in lines if not text.strip().startswith("#"))
            yield from planned_url_objects(
                entries, source, dest, plan.dest_root, object_filter, workers=workers, journaled=journaled
            )
            return
        keys = (_key_line(number, text) for number, text in lines)
        yield from _keys(keys, plan.dest_root, source, dest, object_filter, stop, retry, workers, journaled)
    except NotFoundError as exc:
        raise NotFoundError(f"the list file {plan.bucket}/{plan.key}: {exc.message}") from None
    except listfile.ListFileError as exc:
        raise UsageError(f"the list file {plan.bucket}/{plan.key}: {exc.message}") from None


def _key_line(number: int, text: str) -> tuple[str, str | None]:
    """A list file's line as a key, or as a failed row's source (naming the line) with its problem."""
    problem = listfile.key_problem(number, text)
    return (text, None) if problem is None else (f"line {number}: {listfile.shown(text)}", problem)


def _url_list(
    plan: UrlListPlan,
    source: Store,
    dest: Store,
    object_filter: ObjectFilter,
    stop: threading.Event,
    workers: int,
    journaled: Journaled | None,
) -> Iterator[PlannedObject]:
    def entries() -> Iterator[UrlListEntry]:
        lines: Iterable[UrlListEntry] = (
            read_url_list(Path(plan.file))
            if plan.file is not None
            else (parse_line(number, text) for number, text in plan.lines)
        )
        for entry in lines:
            if stop.is_set():
                raise InterruptedTransfer("stopped while planning")
            yield entry

    yield from planned_url_objects(
        entries(), source, dest, plan.dest_root, object_filter, workers=workers, journaled=journaled
    )
