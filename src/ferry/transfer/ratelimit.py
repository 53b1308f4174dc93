"""A bandwidth limit shared by all the parts of a transfer (``--bwlimit``), constant or by daily windows
(the service's ``bandwidth_policy``)."""

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


Window = tuple[int, int, int]
"""A daily bandwidth window: start and end as minutes of the UTC day, and bytes per second. A window whose
end is not after its start runs over midnight."""

DAY_MINUTES = 24 * 60


def in_window(window: Window, minute: int) -> bool:
    start, end, _rate = window
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


def rate_at(windows: tuple[Window, ...], minute: int, default: int | None) -> int | None:
    """The limit at a minute of the day: the window's it falls in, else ``default`` (``None``: none)."""
    for window in windows:
        if in_window(window, minute % DAY_MINUTES):
            return window[2]
    return default


def overlapping(windows: tuple[Window, ...]) -> bool:
    """Whether two windows share a minute (OMS refuses that)."""
    taken: set[int] = set()
    for window in windows:
        minutes = {m for m in range(DAY_MINUTES) if in_window(window, m)}
        if taken & minutes:
            return True
        taken |= minutes
    return False


class ScheduledLimiter(RateLimiter):
    """A limit that follows daily windows (OMS's bandwidth policy): inside a window its rate, outside them
    ``default`` or none. The rate is looked up at every grant, so a long task changes speed as the windows
    come and go."""

    def __init__(
        self,
        windows: tuple[Window, ...],
        default: int | None,
        *,
        wall: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(1.0, clock=clock, sleep=sleep)
        self.windows = windows
        self.default = default
        self._wall = wall

    def reserve(self, n: int) -> float:
        minute = int(self._wall() // 60) % DAY_MINUTES
        rate = rate_at(self.windows, minute, self.default)
        if rate is None:
            with self._lock:
                self._next_free = self._clock()
            return 0.0
        with self._lock:
            self.rate = rate
        return super().reserve(n)


def make_limiter(bwlimit: int | None, windows: tuple[Window, ...] = ()) -> RateLimiter | None:
    """The limiter of a task: none, a constant ``bwlimit``, or daily windows over it."""
    if windows:
        return ScheduledLimiter(windows, bwlimit)
    return RateLimiter(bwlimit) if bwlimit else None
