"""The one place where failed requests are tried again.

Only :class:`~ferry.errors.RetryableError` is retried (throttling, 5xx, resets, timeouts, short reads):
the stores classify, this module waits. Waits grow exponentially with full jitter, so many parts that failed
together do not return together.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from ferry.errors import InterruptedTransfer, RetryableError

T = TypeVar("T")


class Waitable(Protocol):
    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True when woken because the work should stop."""
        ...


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    """Tries per request in all, the first included."""
    base_delay: float = 0.5
    max_delay: float = 20.0

    def delay(self, failures: int, rng: Callable[[float, float], float] | None = None) -> float:
        """Seconds to wait after ``failures`` consecutive failures (1-based): uniform in [0, cap] (``rng``,
        by default ``random.uniform``; random is imported at the first retry, not at every start)."""
        cap = min(self.max_delay, self.base_delay * 2 ** (failures - 1))
        if rng is None:
            import random

            rng = random.uniform
        return rng(0.0, cap)


def call_with_retry(
    operation: Callable[[], T],
    policy: RetryPolicy,
    *,
    stop: Waitable | None = None,
    on_retry: Callable[[RetryableError, int, float], None] | None = None,
) -> T:
    """Run ``operation``; on a RetryableError wait and run it again, up to ``policy.attempts`` times.
    The last error is raised as it is. ``stop`` cuts a wait short (the transfer is being interrupted)."""
    failures = 0
    while True:
        try:
            return operation()
        except RetryableError as exc:
            failures += 1
            if failures >= policy.attempts:
                if exc.opaque:  # the service's one reason for every unreachable endpoint, kept as it is
                    raise
                raise RetryableError(f"{exc} (gave up after {failures} attempts)") from exc
            wait = policy.delay(failures)
            if on_retry is not None:
                on_retry(exc, failures, wait)
            if stop is not None:
                if stop.wait(wait):
                    raise InterruptedTransfer("interrupted") from exc
            else:
                time.sleep(wait)
