"""Events a transfer emits. The engine never prints: the CLI's progress bar, the library's progress
callback and (later) the service each subscribe through a listener."""

from __future__ import annotations

import threading
from collections.abc import Callable


class TransferListener:
    """Receives a transfer's events; every method may be called from worker threads."""

    def started(self, description: str, total: int, already_done: int) -> None:
        """An object's transfer begins; ``already_done`` bytes were moved by earlier runs."""

    def advanced(self, n: int) -> None:
        """``n`` more bytes are confirmed by the destination."""

    def notice(self, message: str) -> None:
        """Something a user should know that is not an error: a record discarded, a retry."""
        import logging  # not at start-up: a one-object command rarely has a notice

        logging.getLogger("ferry").warning("%s", message)


class CallbackListener(TransferListener):
    """Adapts a ``callback(bytes_done, bytes_total)`` (oss2's ``progress_callback``) to listener events."""

    def __init__(self, callback: Callable[[int, int], None]) -> None:
        self._callback = callback
        self._done = 0
        self._total = 0
        self._lock = threading.Lock()

    def started(self, description: str, total: int, already_done: int) -> None:
        with self._lock:
            self._total, self._done = total, already_done
        self._callback(already_done, total)

    def advanced(self, n: int) -> None:
        with self._lock:
            self._done += n
            done, total = self._done, self._total
        self._callback(done, total)
