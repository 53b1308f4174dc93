"""A bandwidth limit shared by all the parts of a transfer (``--bwlimit``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Grants bytes at ``rate`` per second on a virtual clock: each grant books the next free slot, so
    concurrent callers queue fairly and the long-run rate never exceeds ``rate`` (a burst of one grant is
    allowed to start at once)."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._next_free = clock()
        self._lock = threading.Lock()

    def reserve(self, n: int) -> float:
        """Book ``n`` bytes; return how long the caller must wait before sending them."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next_free)
            self._next_free = start + n / self.rate
            return start - now

    def acquire(self, n: int) -> None:
        wait = self.reserve(n)
        if wait > 0:
            self._sleep(wait)
