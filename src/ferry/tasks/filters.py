"""Which objects a batch transfer takes: obsutil's ``--include``, ``--exclude``, ``--time-range`` and ``-mf``.

Everything here is pure: the caller lists the objects (or walks the local folder) and asks an
:class:`ObjectFilter` about each one by key and last-modified time.

Patterns are obsutil's, not :mod:`fnmatch`'s: ``*`` matches any run of characters *including* ``/``, ``?``
exactly one character (``/`` too), and every other character is literal, brackets and braces included.
``\\*``, ``\\?`` and ``\\\\`` stand for a literal ``*``, ``?`` and backslash; a backslash before anything else
is just a backslash. A pattern must match the whole key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from ferry.errors import UsageError

_ESCAPABLE = "*?\\"
_TO_ESCAPE = re.compile(r"([*?\\])")


def escape(text: str) -> str:
    """Return a pattern that matches exactly ``text``: ``*``, ``?`` and ``\\`` get a backslash in front."""
    return _TO_ESCAPE.sub(r"\\\1", text)


@dataclass(frozen=True)
class _Segment:
    """Literals and ``?`` between two stars: fixed length, compiled to a regex without quantifiers."""

    length: int
    regex: re.Pattern[str]


def _compile_segment(parts: list[str]) -> _Segment:
    return _Segment(len(parts), re.compile("".join(parts), re.DOTALL))


class Glob:
    """A compiled include/exclude pattern.

    Matching splits the pattern at its stars and places the pieces in between greedily, each at the
    leftmost position after the previous one; the first piece is pinned to the start of the key and the last
    to its end. That is the classic two-pointer star-backtracking algorithm, one piece at a time: leftmost
    placement is always safe because a star can absorb whatever is skipped. Each piece is a regex of
    literals and ``.`` only (no quantifiers), so nothing backtracks beyond the O(len(key) * len(pattern))
    bound, whatever the user types.
    """

    __slots__ = ("_head", "_middle", "_tail", "pattern")

    def __init__(self, pattern: str) -> None:
        if not pattern:
            raise UsageError("invalid pattern '': a pattern must not be empty")
        self.pattern = pattern
        pieces: list[list[str]] = [[]]
        i = 0
        while i < len(pattern):
            char = pattern[i]
            if char == "\\" and i + 1 < len(pattern) and pattern[i + 1] in _ESCAPABLE:
                pieces[-1].append(re.escape(pattern[i + 1]))
                i += 2
                continue
            if char == "*":
                pieces.append([])
            elif char == "?":
                pieces[-1].append(".")
            else:
                pieces[-1].append(re.escape(char))
            i += 1
        segments = [_compile_segment(parts) for parts in pieces]
        self._head = segments[0]
        # With no star at all, _tail is None and _head must cover the whole key.
        self._tail: _Segment | None = segments[-1] if len(segments) > 1 else None
        self._middle = tuple(segment for segment in segments[1:-1] if segment.length)

    def matches(self, key: str) -> bool:
        """Whether the pattern matches all of ``key``."""
        head, tail = self._head, self._tail
        if tail is None:
            return len(key) == head.length and head.regex.match(key) is not None
        end = len(key) - tail.length
        if end < head.length:
            return False
        if head.length and head.regex.match(key) is None:
            return False
        if tail.length and tail.regex.match(key, end) is None:
            return False
        position = head.length
        for segment in self._middle:
            found = segment.regex.search(key, position, end)
            if found is None:
                return False
            position = found.end()
        return True

    def __repr__(self) -> str:
        return f"Glob({self.pattern!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Glob) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)


@dataclass(frozen=True)
class TimeRange:
    """An inclusive range of last-modified times, in whole UNIX seconds; ``None`` leaves that end open.

    The command line gives times to the second, so an object's time is truncated to the second before it is
    compared: with an end of 12:00:00, an object modified at 12:00:00.7 is still inside.
    """

    start: float | None
    end: float | None

    def contains(self, mtime: float) -> bool:
        second = math.floor(mtime)
        return (self.start is None or second >= self.start) and (self.end is None or second <= self.end)


_TIME_FORMAT = "expected time1-time2 as yyyyMMddHHmmss (short forms and * allowed)"
_DIGITS = re.compile(r"[0-9]{6}(?:[0-9]{2}){0,4}")


def _parse_time(text: str, value: str) -> float | None:
    """One side of a range: ``*``, or 6 to 14 digits. As the seed says, a short form is completed with the
    start of what it leaves out, on either side: ``yyyyMM`` is ``yyyyMM01000000`` and ``yyyyMMdd`` is
    ``yyyyMMdd000000``."""
    if value == "*":
        return None
    if not _DIGITS.fullmatch(value):
        raise UsageError(f"invalid --time-range {text!r}: {_TIME_FORMAT}")
    full = value + "01000000"[len(value) - 6 :]
    try:
        moment = datetime(
            int(full[0:4]),
            int(full[4:6]),
            int(full[6:8]),
            int(full[8:10]),
            int(full[10:12]),
            int(full[12:14]),
            tzinfo=UTC,
        )
    except ValueError:
        raise UsageError(f"invalid --time-range {text!r}: {value} is not a valid UTC date and time") from None
    return moment.timestamp()


def parse_time_range(text: str) -> TimeRange:
    """Parse ``time1-time2`` (UTC, ``yyyyMMddHHmmss``, shorter forms down to ``yyyyMM``, ``*`` for open).

    Both ends are inclusive, to the second; a short form means the first second of what it names on either
    side (obsutil's rule), so the whole of 1 January 2024 is ``20240101-20240101235959``.
    """
    sides = text.split("-")
    if len(sides) != 2:
        raise UsageError(f"invalid --time-range {text!r}: {_TIME_FORMAT}")
    start = _parse_time(text, sides[0])
    end = _parse_time(text, sides[1])
    if start is not None and end is not None and start > end:
        raise UsageError(f"invalid --time-range {text!r}: the start is after the end")
    return TimeRange(start, end)


def _globs(option: str, patterns: Iterable[str]) -> tuple[Glob, ...]:
    globs = []
    for pattern in patterns:
        if not pattern:
            raise UsageError(f"invalid {option} '': a pattern must not be empty")
        globs.append(Glob(pattern))
    return tuple(globs)


@dataclass(frozen=True)
class ObjectFilter:
    """The object filters of one batch transfer. The default instance accepts everything."""

    include: tuple[Glob, ...] = ()
    exclude: tuple[Glob, ...] = ()
    time_range: TimeRange | None = None
    folders_too: bool = False
    """Apply the filters to folder objects (keys ending in ``/``) too; obsutil's ``-mf``. Without it they
    always pass."""

    @classmethod
    def build(
        cls, include: list[str], exclude: list[str], time_range: str | None, folders_too: bool
    ) -> ObjectFilter:
        """Compile the command-line values; raise :class:`UsageError` for an empty pattern or a bad range."""
        return cls(
            include=_globs("--include", include),
            exclude=_globs("--exclude", exclude),
            time_range=None if time_range is None else parse_time_range(time_range),
            folders_too=folders_too,
        )

    def reason(self, key: str, mtime: float) -> str | None:
        """Why the object is left out, for logs and dry runs; ``None`` when it is taken.

        Excludes are decided before includes, and both before the time range.
        """
        if key.endswith("/") and not self.folders_too:
            return None
        for glob in self.exclude:
            if glob.matches(key):
                return f"excluded by {glob.pattern!r}"
        if self.include and not any(glob.matches(key) for glob in self.include):
            return "not matched by any --include"
        if self.time_range is not None and not self.time_range.contains(mtime):
            return "modified outside --time-range"
        return None

    def accepts(self, key: str, mtime: float) -> bool:
        return self.reason(key, mtime) is None
