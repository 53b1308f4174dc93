"""Planning a service task into its journal: a prefix listing, an explicit list of object keys, or the
lines of a URL list.

OMS keeps object names whole: with ``save_prefix`` ``dst/``, ``photos/a.jpg`` becomes ``dst/photos/a.jpg``,
and a prefix is a raw key prefix (``photo`` takes ``photos/...`` and ``photo.jpg``). That differs from
``cp -r``'s folder semantics, so the service streams its own :class:`PlannedObject`\\ s; they go into the
journal through the same :meth:`TaskJournal.add_planned` / :meth:`finish_listing` as
:func:`ferry.tasks.runner.plan`, and everything after planning is the shared runner's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator

from ferry.errors import InterruptedTransfer, NotFoundError
from ferry.storage.base import Store
from ferry.tasks.journal import PlannedObject, TaskJournal
from ferry.tasks.keys import join_key
from ferry.tasks.urllist import UrlListEntry, parse_line, planned_url_objects
from ferry.transfer.retry import RetryPolicy, call_with_retry

NOT_AT_SOURCE = "the object does not exist at the source"


def destination_key(save_prefix: str, key: str) -> str:
    return join_key(save_prefix, key) if save_prefix else key


def prefix_objects(
    source: Store, prefix: str, save_prefix: str, since: float | None, stop: threading.Event
) -> Iterator[PlannedObject]:
    """Every object under ``prefix`` (modified after ``since``, when given), streamed."""
    for info in source.list(prefix):
        if stop.is_set():
            raise InterruptedTransfer("stopped while listing")
        if since is not None and info.mtime <= since:
            continue
        yield PlannedObject(
            info.key, destination_key(save_prefix, info.key), info.size, info.mtime, info.etag
        )


def key_objects(
    source: Store,
    keys: Iterable[str],
    save_prefix: str,
    since: float | None,
    stop: threading.Event,
    retry: RetryPolicy,
) -> Iterator[PlannedObject]:
    """The listed objects, each looked up at the source. One that is missing is journaled as failed (a
    retry looks again: it may have appeared)."""
    for key in keys:
        if stop.is_set():
            raise InterruptedTransfer("stopped while planning")
        target = destination_key(save_prefix, key)
        try:
            info = call_with_retry(lambda k=key: source.stat(k), retry, stop=stop)  # type: ignore[misc]
        except NotFoundError:
            yield PlannedObject(key, target, 0, 0.0, None, NOT_AT_SOURCE)
            continue
        if since is not None and info.mtime <= since:
            continue
        yield PlannedObject(key, target, info.size, info.mtime, info.etag)


def url_objects(
    source: Store,
    destination: Store,
    lines: Iterable[tuple[int, str]],
    save_prefix: str,
    stop: threading.Event,
    workers: int,
) -> Iterator[PlannedObject]:
    """The objects of URL list lines (``(line number, text)``), planned as ``cp --url-list`` plans them
    (:func:`ferry.tasks.urllist.planned_url_objects`): a malformed line is a failed object naming its line,
    a URL that cannot be looked up now is planned all the same (its transfer says why it fails)."""

    def entries() -> Iterator[UrlListEntry]:
        for number, text in lines:
            if stop.is_set():
                raise InterruptedTransfer("stopped while planning")
            yield parse_line(number, text)

    yield from planned_url_objects(entries(), source, destination, save_prefix, workers=workers)


def plan(journal: TaskJournal, objects: Iterable[PlannedObject]) -> int:
    """Journal the planned objects and mark the listing complete; returns how many were new."""
    added = journal.add_planned(objects)
    journal.finish_listing()
    return added
