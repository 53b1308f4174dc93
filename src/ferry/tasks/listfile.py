"""OMS's list file: an object in a bucket whose lines name a task's objects — object keys one a line (a
LIST group), or ``URL<TAB>destination key`` lines (a URL_LIST group, see :mod:`ferry.tasks.urllist`).

It is read in ranged pieces of :data:`PIECE` bytes on each planning run, never whole, so a list of ten
million keys costs a few MiB of memory. Text is UTF-8, with or without a byte order mark; lines end in LF
or CRLF; blank lines are skipped (a line's number still counts them). A line that is not valid UTF-8 keeps
its bad bytes as surrogate escapes, so the check of each line can report it as a failed object naming its
line, as a URL list's malformed lines are. A line longer than :data:`MAX_LINE` stops planning: such a file
is not a list.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator

from ferry.errors import InterruptedTransfer, SourceChangedError, UsageError
from ferry.storage.base import Store
from ferry.transfer.retry import RetryPolicy, call_with_retry

PIECE = 4 << 20
MAX_LINE = 1 << 20
MAX_KEY_BYTES = 1024
BOM = b"\xef\xbb\xbf"


class ListFileError(UsageError):
    """The list file cannot be read as a list (a line too long to be one)."""


def split_lines(pieces: Iterable[bytes], max_line: int = MAX_LINE) -> Iterator[tuple[int, str]]:
    """The non-blank lines of a text given in pieces (cut anywhere), with their 1-based numbers, without
    their line ends or a leading byte order mark."""
    buffer = b""
    number = 0
    bom_checked = False
    for piece in pieces:
        buffer += piece
        if not bom_checked:
            if len(buffer) < len(BOM) and BOM.startswith(buffer):
                continue
            buffer, bom_checked = buffer.removeprefix(BOM), True
        lines = buffer.split(b"\n")
        buffer = lines.pop()
        for raw in lines:
            number += 1
            if len(raw) > max_line:
                raise ListFileError(f"line {number} is longer than {max_line} bytes: not a list file")
            text = raw.removesuffix(b"\r").decode("utf-8", "surrogateescape")
            if text.strip():
                yield number, text
        if len(buffer) > max_line:
            raise ListFileError(f"line {number + 1} is longer than {max_line} bytes: not a list file")
    if not bom_checked:
        buffer = buffer.removeprefix(BOM)
    text = buffer.removesuffix(b"\r").decode("utf-8", "surrogateescape")
    if text.strip():
        yield number + 1, text


def pieces(
    store: Store, key: str, stop: threading.Event, retry: RetryPolicy, piece: int = PIECE
) -> Iterator[bytes]:
    """The object's bytes, ``piece`` at a time, each read pinned to the ETag the object had when reading
    began (a list replaced mid-way fails the read rather than mixing two lists)."""
    info = call_with_retry(lambda: store.stat(key), retry, stop=stop)
    for offset in range(0, info.size, piece):
        if stop.is_set():
            raise InterruptedTransfer("stopped while reading the list file")
        length = min(piece, info.size - offset)
        try:
            yield call_with_retry(
                lambda o=offset, n=length: store.read_range(key, o, n, if_match=info.etag),  # type: ignore[misc]
                retry,
                stop=stop,
            )
        except SourceChangedError:
            raise ListFileError("it was replaced while it was read (a retry reads the new one)") from None


def not_text(head: bytes, whole: bool) -> str | None:
    """Why the first bytes of a list file (``whole``: all of it) show it is no text list — a NUL byte, or
    more bad lines than good ones, as a compressed or binary file has — or ``None``. A few bad lines do
    not refuse a list: each fails as an object naming its line."""
    if b"\x00" in head:
        return f"a NUL byte at byte {head.index(0)}"
    lines = head.split(b"\n")
    if not whole and len(lines) > 1:
        lines.pop()  # cut mid-line, perhaps mid-character
    good = bad = 0
    for line in lines:
        try:
            good += bool(line.decode("utf-8").strip())
        except UnicodeDecodeError:
            bad += 1
    return f"{bad} of the first {good + bad} lines are not UTF-8" if bad > good else None


def key_problem(number: int, text: str) -> str | None:
    """Why a line of a LIST group's list file names no object key, or ``None``."""
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return f"list file line {number}: the line is not valid UTF-8"
    if size > MAX_KEY_BYTES:
        return f"list file line {number}: a key is at most {MAX_KEY_BYTES} bytes"
    return None


def shown(text: str) -> str:
    """A line as the journal and reports can hold it: bad bytes as ``\\xNN``."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
