"""Showing a transfer's progress: a Rich bar on a terminal, sparse plain lines otherwise. Rich is imported
when a bar is made: a quiet or scripted run never loads it."""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, TextIO

from ferry.cli.obsutil_text import progress_line
from ferry.cli.quiet import QuietListener
from ferry.display import shown, write_line
from ferry.tasks.records import JournalObject
from ferry.tasks.runner import TaskProgress
from ferry.transfer.events import TransferListener
from ferry.units import format_size

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID


def stderr_console() -> Console:
    """Rich's console on standard error, made (and Rich imported) only when something is shown through it."""
    from rich.console import Console

    return Console(stderr=True)


class BarListener(TransferListener):
    """A live bar with bytes, speed and ETA on standard error."""

    def __init__(self, console: Console) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> BarListener:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def started(self, description: str, total: int, already_done: int) -> None:
        name = description.rsplit("/", 1)[-1][:40]
        if self._task is None:
            self._task = self.progress.add_task(name, total=total, completed=already_done)
        else:
            self.progress.reset(self._task, total=total, completed=already_done, description=name)

    def advanced(self, n: int) -> None:
        if self._task is not None:
            self.progress.advance(self._task, n)

    def notice(self, message: str) -> None:
        self.progress.console.print(f"ferry: note: {shown(message)}", markup=False, highlight=False)


class PlainListener(TransferListener):
    """For logs and pipes: a line when the first bytes are confirmed, then at most one every ``interval``
    seconds. (A transfer that fails before any byte moved prints its one error line alone.)"""

    def __init__(self, stream: TextIO | None = None, interval: float = 5.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self._pending: str | None = None
        self._lock = threading.Lock()
        self._done = self._total = 0
        self._last = time.monotonic()
        self._start = self._last
        self._base = 0

    def _line(self, text: str) -> None:
        write_line(shown(text), self.stream)

    def started(self, description: str, total: int, already_done: int) -> None:
        with self._lock:
            self._done, self._total, self._base = already_done, total, already_done
            self._start = self._last = time.monotonic()
        resumed = f", {format_size(already_done)} already done" if already_done else ""
        with self._lock:
            self._pending = f"ferry: {description}: {format_size(total)}{resumed}"

    def _flush_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            self._line(pending)

    def advanced(self, n: int) -> None:
        self._flush_pending()
        with self._lock:
            self._done += n
            now = time.monotonic()
            if now - self._last < self.interval:
                return
            self._last = now
            done, total, rate = (
                self._done,
                self._total,
                (self._done - self._base) / max(now - self._start, 1e-9),
            )
        pct = 100.0 * done / total if total else 100.0
        self._line(f"ferry: {format_size(done)} of {format_size(total)} ({pct:.1f}%), {format_size(rate)}/s")

    def notice(self, message: str) -> None:
        self._flush_pending()
        self._line(f"ferry: note: {message}")


class TaskBar(BarListener, TaskProgress):
    """A whole task on a terminal: bytes with speed and ETA, and objects done of all."""

    def __init__(self, console: Console) -> None:
        super().__init__(console)
        self._lock = threading.Lock()
        self._objects_done = 0
        self._objects_total = 0

    def begin(self, objects: int, total_bytes: int, done_bytes: int) -> None:
        self._objects_total = objects
        self._task = self.progress.add_task(self._label(), total=total_bytes, completed=done_bytes)

    def _label(self) -> str:
        return f"{self._objects_done}/{self._objects_total} objects"

    def started(self, description: str, total: int, already_done: int) -> None:
        """Per-object starts are folded into the task's bar."""

    def object_done(self, obj: JournalObject, ok: bool, reason: str | None) -> None:
        with self._lock:
            self._objects_done += 1
            label = self._label()
        if self._task is not None:
            self.progress.update(self._task, description=label)
        if not ok:
            self.progress.console.print(
                shown(f"ferry: failed: {obj.source_key}: {reason}"), markup=False, highlight=False
            )


class TaskLines(PlainListener, TaskProgress):
    """A whole task for logs and pipes: a line per failed object on standard error, and obsutil's plain
    progress line on standard output every few seconds and once at the end."""

    def __init__(self, stream: TextIO = sys.stderr, interval: float = 5.0, out: TextIO | None = None) -> None:
        super().__init__(stream, interval)
        self.out = out or sys.stdout
        self._objects = 0

    def begin(self, objects: int, total_bytes: int, done_bytes: int) -> None:
        noun = "object" if objects == 1 else "objects"
        PlainListener.started(self, f"{objects} {noun} to move", total_bytes, done_bytes)
        self._flush_pending()  # a task's size is news at once: its listing is done

    def started(self, description: str, total: int, already_done: int) -> None:
        """Per-object starts are folded into the task's lines."""

    def advanced(self, n: int) -> None:
        with self._lock:
            self._done += n
            now = time.monotonic()
            if now - self._last < self.interval:
                return
            self._last = now
        self.finish()

    def finish(self) -> None:
        """Print the progress line now (the run's last one when it has ended)."""
        with self._lock:
            line = progress_line(
                self._done,
                self._total,
                self._done - self._base,
                self._objects,
                time.monotonic() - self._start,
            )
        write_line(line, self.out)

    def object_done(self, obj: JournalObject, ok: bool, reason: str | None) -> None:
        with self._lock:
            self._objects += 1
        if not ok:
            self._line(f"ferry: failed: {obj.source_key}: {reason}")


class TaskQuiet(QuietListener, TaskProgress):
    """A whole task with no progress: only notices and failures, on standard error."""

    def begin(self, objects: int, total_bytes: int, done_bytes: int) -> None:
        """Nothing to draw."""

    def object_done(self, obj: JournalObject, ok: bool, reason: str | None) -> None:
        if not ok:
            write_line(shown(f"ferry: failed: {obj.source_key}: {reason}"), sys.stderr)
