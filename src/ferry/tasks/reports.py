"""Result files of a task run, as obsutil writes them: ``cp_succeed_report_<UTC time>_<task id>.txt``,
``cp_failed_report_...`` and ``cp_warning_report_...`` in the output folder, none when it would be empty.

Where obsutil falls short, these do better: every row is written and flushed as the object finishes (no
rows buffered and lost to a SIGKILL), and fields are tab-separated with tabs, newlines and backslashes in
keys escaped, so any key reads back unambiguously (obsutil's ``, `` and `` --> `` separators cannot). The
task journal, not these files, is what ``--recover`` reads. A file that reaches ``max_bytes`` continues in
``<name>.1``, ``.2``, ...; past ``max_files`` the oldest is removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from pathlib import Path
from typing import TextIO

from ferry.private import open_private, private_dir

DEFAULT_MAX_BYTES = 30 * 1024 * 1024
DEFAULT_MAX_FILES = 1024
KINDS = ("succeed", "failed", "warning", "deleted")


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\\\\]")
_NAMED = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def escape_field(text: str) -> str:
    """A field as one tab-free line: a backslash doubled, tab, newline and carriage return as ``\\t``,
    ``\\n``, ``\\r``, every other control character as ``\\xNN``. Reversible (:func:`unescape_field`)."""
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}"), text)


def unescape_field(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            if text[i + 1] == "x" and re.fullmatch("[0-9a-f]{2}", text[i + 2 : i + 4]):
                out.append(chr(int(text[i + 2 : i + 4], 16)))
                i += 4
                continue
            out.append({"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}.get(text[i + 1], "\\" + text[i + 1]))
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


_last_stamp: tuple[int, str] = (-1, "")


def _utc(ts: float) -> str:
    """The UTC time of a row, formatted once per second (thousands of rows share each)."""
    global _last_stamp
    second = int(ts)
    cached = _last_stamp
    if cached[0] != second:
        cached = _last_stamp = (second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second)))
    return cached[1]


class _RotatingFile:
    def __init__(self, base: Path, max_bytes: int, max_files: int) -> None:
        self.base, self.max_bytes, self.max_files = base, max_bytes, max_files
        self.paths: list[Path] = []
        self._opened = 0
        self._handle: TextIO | None = None
        self._size = 0

    def write(self, line: str) -> None:
        data = line.encode("utf-8", "surrogateescape")
        if self._handle is None or (self._size and self._size + len(data) > self.max_bytes):
            self._next()
        assert self._handle is not None
        self._handle.write(line)
        self._handle.flush()
        self._size += len(data)

    def _next(self) -> None:
        if self._handle is not None:
            self._handle.close()
        path = self.base if not self._opened else self.base.with_name(f"{self.base.name}.{self._opened}")
        self._opened += 1
        self.paths.append(path)
        if len(self.paths) > self.max_files:
            with contextlib.suppress(FileNotFoundError):
                self.paths.pop(0).unlink()
        fd = open_private(path, os.O_WRONLY | os.O_APPEND)
        self._handle = open(fd, "a", encoding="utf-8", errors="surrogateescape")  # noqa: SIM115
        self._size = 0

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _unused_stamp(output_dir: Path, command: str, task_id: str) -> str:
    """The UTC time for this run's file names; a run that starts in the same second as an earlier run of
    the same task gets ``-2``, ``-3``... so that each run keeps its own files."""
    base = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    stamp, n = base, 1
    while any(output_dir.glob(f"{command}_*_report_{stamp}_{task_id}.txt*")):
        n += 1
        stamp = f"{base}-{n}"
    return stamp


class ReportWriter:
    """The three result files of one run of a task; thread-safe, each row flushed at once."""

    def __init__(
        self,
        output_dir: Path,
        task_id: str,
        *,
        command: str = "cp",
        kinds: tuple[str, ...] = KINDS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_files: int = DEFAULT_MAX_FILES,
    ) -> None:
        private_dir(output_dir)
        stamp = _unused_stamp(output_dir, command, task_id)
        self.files = {
            kind: _RotatingFile(
                output_dir / f"{command}_{kind}_report_{stamp}_{task_id}.txt", max_bytes, max_files
            )
            for kind in kinds
        }
        self._lock = threading.Lock()

    def row(self, kind: str, *fields: object) -> None:
        """One line in the ``kind`` file: the UTC time, then the fields, tab-separated and escaped."""
        self._row(kind, *fields)

    def _row(self, kind: str, *fields: object) -> None:
        line = "\t".join([_utc(time.time()), *(escape_field(str(f)) for f in fields)]) + "\n"
        with self._lock:
            self.files[kind].write(line)

    def succeeded(self, source: str, destination: str, size: int, transferred: int, cost_ms: float) -> None:
        self._row("succeed", source, destination, size, transferred, f"{cost_ms:.0f}ms")

    def skipped(self, source: str, destination: str, size: int, reason: str) -> None:
        """An object left alone (``-u``): it is in its place, so it belongs with the successes."""
        self._row("succeed", source, destination, size, 0, "0ms", f"skipped: {reason}")

    def failed(self, source: str, destination: str, size: int, reason: str, cost_ms: float) -> None:
        self._row("failed", source, destination, size, f"{cost_ms:.0f}ms", reason)

    def warning(self, source: str, destination: str, message: str) -> None:
        self._row("warning", source, destination, message)

    def deleted(self, destination: str, size: int) -> None:
        """An object ``sync --delete`` removed from the destination (the source does not have it)."""
        self._row("deleted", destination, size)

    def paths(self) -> dict[str, list[Path]]:
        return {kind: list(f.paths) for kind, f in self.files.items()}

    def close(self) -> None:
        for f in self.files.values():
            f.close()


def clear_failure_reports(output_dir: Path, task_id: str, command: str = "cp") -> list[Path]:
    """Delete every failure report of a task (``--clear`` after it finally succeeds)."""
    removed = []
    for path in output_dir.glob(f"{command}_failed_report_*_{task_id}.txt*"):
        path.unlink()
        removed.append(path)
    return removed
