"""URL lists (Huawei OMS's ``URL_LIST``): a task whose objects are named by a file, not by a listing.

One object per line, ``URL<TAB>destination key``; blank lines and lines starting with ``#`` are skipped::

    # what to fetch                                  where it goes (below the destination)
    https://cdn.example.com/img/a%20b.png	images/a b.png
    http://origin.example.net/v/clip.mp4?v=2	video/clip.mp4

The file is streamed, never held in memory. A malformed line (no tab, a scheme other than http(s), an
empty or unsafe key) does not stop the others: it is planned as a failed object whose reason names its line,
so the task's failed report lists it. Good lines are planned with their size, time and ETag (a HEAD each,
a few at once, in list order); a URL whose HEAD fails is planned anyway and the run reports why it failed.

Source keys are the URLs themselves, canonical (:func:`ferry.urls.canonical_url`): the journal holds the full
URL, and one :class:`~ferry.storage.http.HttpSource` serves every host. A URL listed twice is planned once
(the journal's source keys are unique): the first line's destination wins. A line naming a destination key
an earlier line named fails, with both line numbers in its reason: one key is written by one line only.
"""

from __future__ import annotations

import collections
import hashlib
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from ferry.errors import FerryError, NotFoundError, UsageError
from ferry.storage.base import Store
from ferry.tasks.filters import ObjectFilter
from ferry.tasks.journal import PAGE, PlannedObject
from ferry.tasks.keys import UnsafeKeyError, join_key, safe_local_path
from ferry.transfer.engine import transfer_kind
from ferry.urls import canonical_url

T = TypeVar("T")
R = TypeVar("R")

Journaled = Callable[[list[str]], set[str]]
"""Which of some source keys a task's journal already holds (see :meth:`TaskJournal.known_sources`)."""


@dataclass(frozen=True)
class UrlListEntry:
    """One meaningful line: a URL (canonical) and its destination key, or the problem that makes the line
    unusable (then ``url`` and ``key`` are empty)."""

    line: int
    text: str
    url: str = ""
    key: str = ""
    problem: str | None = None


def parse_line(number: int, text: str) -> UrlListEntry:
    """Check one line (without its end of line) that is neither blank nor a comment."""

    def bad(problem: str) -> UrlListEntry:
        return UrlListEntry(number, text, problem=f"URL list line {number}: {problem}")

    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # kept with its bad bytes as \xNN, so the journal and reports can hold it
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        return bad("the line is not valid UTF-8")
    url_text, tab, key = text.partition("\t")
    if not tab:
        return bad("no tab between the URL and the destination key")
    if "\t" in key:
        return bad("more than one tab: a destination key cannot contain a tab")
    try:
        url = canonical_url(url_text)
    except UsageError as exc:
        return bad(exc.message)
    if url.endswith("/"):  # a task takes a source key ending in / for a folder object
        return bad("the URL ends in /: name a file, not a folder")
    if not key:
        return bad("empty destination key")
    if key.endswith("/"):
        return bad("the destination key ends in /: it must name an object, not a folder")
    try:
        safe_local_path(".", key)  # the one key check of tasks/keys.py; the root is irrelevant here
    except UnsafeKeyError as exc:
        return bad(f"unsafe destination key: {exc}")
    return UrlListEntry(number, text, url, key)


def parse_lines(lines: Iterable[str]) -> Iterator[UrlListEntry]:
    """Every line that is neither blank nor a comment, checked, with its 1-based line number."""
    for number, line in enumerate(lines, 1):
        text = line.rstrip("\r\n")
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        yield parse_line(number, text)


def read_url_list(path: Path) -> Iterator[UrlListEntry]:
    """Stream the entries of a URL list file (UTF-8, with or without a byte order mark)."""
    try:
        handle = open(path, encoding="utf-8-sig", errors="surrogateescape")  # noqa: SIM115
    except FileNotFoundError:
        raise NotFoundError(f"URL list {path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"URL list {path} is a directory") from None
    except OSError as exc:
        raise UsageError(f"cannot read the URL list {path}: {exc.strerror or exc}") from None
    with handle:
        yield from parse_lines(handle)


def planned_url_objects(
    entries: Iterable[UrlListEntry],
    source: Store,
    dest: Store,
    dest_root: str,
    object_filter: ObjectFilter | None = None,
    *,
    workers: int = 8,
    journaled: Journaled | None = None,
) -> Iterator[PlannedObject]:
    """The journal rows of a URL list, in list order. A malformed line becomes a failed row (no
    destination, its problem as the reason; its source names the line, which keeps it unique). A good
    one is looked up on its server (``workers`` at a time) for its size, time and ETag; the filter, if
    any, judges its destination key as written in the list. Lines whose rows ``journaled`` says the
    journal holds (an earlier planning run's) are not looked up again."""
    download = transfer_kind(source, dest) == "download"

    def row(entry: UrlListEntry) -> PlannedObject | None:
        if entry.problem is not None:
            return PlannedObject(f"line {entry.line}: {entry.text}", "", 0, 0.0, None, entry.problem)
        try:
            target = safe_local_path(dest_root, entry.key) if download else join_key(dest_root, entry.key)
        except UnsafeKeyError as exc:
            reason = f"URL list line {entry.line}: unsafe destination key: {exc}"
            return PlannedObject(entry.url, "", 0, 0.0, None, reason)
        try:
            info = source.stat(entry.url)
        except FerryError:  # planned all the same: the run tries it and reports why it failed
            return PlannedObject(entry.url, target, 0, 0.0, None)
        if object_filter is not None and not object_filter.accepts(entry.key, info.mtime):
            return None
        return PlannedObject(entry.url, target, info.size, info.mtime, info.etag)

    checked = _one_line_per_key(entries)
    if journaled is not None:
        checked = unjournaled(checked, journaled, entry_source)
    for planned in in_order(row, checked, max(1, workers)):
        if planned is not None:
            yield planned


def entry_source(entry: UrlListEntry) -> str:
    """The source key of an entry's journal row."""
    return f"line {entry.line}: {entry.text}" if entry.problem is not None else entry.url


def unjournaled(items: Iterable[T], journaled: Journaled, source_of: Callable[[T], str]) -> Iterator[T]:
    """``items`` less those whose source key the journal already holds, asked a page at a time: a planning
    run after one that was cut short goes through the list again without looking anything up twice."""
    page: list[T] = []

    def flush() -> Iterator[T]:
        known = journaled([source_of(item) for item in page])
        yield from (item for item in page if source_of(item) not in known)
        page.clear()

    for item in items:
        page.append(item)
        if len(page) >= PAGE:
            yield from flush()
    if page:
        yield from flush()


def _one_line_per_key(entries: Iterable[UrlListEntry]) -> Iterator[UrlListEntry]:
    """Entries, with a line naming a destination key an earlier line already named turned into a failed
    one: two transfers of a task must never write one destination (their parts would interleave). Holds a
    digest per key, and those in a temporary file, not in memory: a list of ten million lines stays small."""
    with _FirstLines() as first:
        for entry in entries:
            if entry.problem is None:
                key = entry.key.encode("utf-8", "surrogateescape")
                earlier = first.first(hashlib.blake2b(key, digest_size=12).digest(), entry.line)
                if earlier != entry.line:
                    problem = (
                        f"URL list line {entry.line}: line {earlier} already names the same destination "
                        "key; each key may be written by one line only"
                    )
                    entry = replace(entry, url="", key="", problem=problem)
            yield entry


class _FirstLines:
    """Key digest -> the first line naming it, in a SQLite file of its own under the temporary folder
    (removed on close)."""

    def __enter__(self) -> _FirstLines:
        self._dir = tempfile.TemporaryDirectory(prefix="ferry-urllist-")
        self._db = sqlite3.connect(Path(self._dir.name) / "keys.db", isolation_level=None)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE first (digest BLOB PRIMARY KEY, line INTEGER) WITHOUT ROWID")
        return self

    def first(self, digest: bytes, line: int) -> int:
        """The first line naming ``digest``: ``line`` itself when none did before."""
        inserted = self._db.execute("INSERT OR IGNORE INTO first VALUES (?, ?)", (digest, line)).rowcount
        if inserted:
            return line
        row = self._db.execute("SELECT line FROM first WHERE digest = ?", (digest,)).fetchone()
        return int(row[0])

    def __exit__(self, *exc: object) -> None:
        self._db.close()
        self._dir.cleanup()


def in_order(work: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """``work`` over ``items`` on ``workers`` threads, results in input order, at most a few per worker
    waiting: memory stays flat however long the list."""
    window: collections.deque[Future[R]] = collections.deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ferry-plan") as pool:
        for item in items:
            window.append(pool.submit(work, item))
            if len(window) >= workers * 4:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
