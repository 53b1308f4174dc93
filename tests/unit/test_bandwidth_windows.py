"""Daily bandwidth windows (OMS's bandwidth policy): which limit holds at a minute of the day, and a
limiter that follows them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ferry.tasks.settings import TaskSettings
from ferry.transfer.ratelimit import (
    DAY_MINUTES,
    ScheduledLimiter,
    in_window,
    make_limiter,
    overlapping,
    rate_at,
)

minutes = st.integers(0, DAY_MINUTES - 1)


@given(minutes, minutes, minutes)
def test_a_window_holds_its_minutes_and_a_midnight_window_wraps(start, end, minute):
    window = (start, end, 5000)
    inside = in_window(window, minute)
    if start < end:
        assert inside == (start <= minute < end)
    elif start > end:
        assert inside == (minute >= start or minute < end)
    assert rate_at((window,), minute, None) == (5000 if inside else None)


@given(minutes, minutes, minutes, st.one_of(st.none(), st.integers(1024, 10**9)))
def test_outside_every_window_the_default_holds(start, length, minute, default):
    window = (start, (start + 1 + length % 60) % DAY_MINUTES, 2048)
    expected = 2048 if in_window(window, minute) else default
    assert rate_at((window,), minute, default) == expected


def test_overlap():
    assert not overlapping(((60, 120, 1), (120, 180, 1)))
    assert overlapping(((60, 121, 1), (120, 180, 1)))
    assert overlapping(((1380, 30, 1), (0, 10, 1)))  # across midnight


class Clock:
    def __init__(self, wall: float) -> None:
        self.wall, self.mono = wall, 0.0

    def sleep(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += seconds


def test_the_limiter_follows_the_windows():
    clock = Clock(wall=10 * 60 * 60)  # 10:00 UTC
    limiter = ScheduledLimiter(
        ((9 * 60, 11 * 60, 1000),), None, wall=lambda: clock.wall, clock=lambda: clock.mono, sleep=clock.sleep
    )
    for _ in range(5):
        limiter.acquire(1000)
    assert 3.9 <= clock.mono <= 4.1  # 1000 B/s inside the window (the first grant starts at once)
    clock.wall = 12 * 60 * 60  # past the window: no limit
    before = clock.mono
    for _ in range(5):
        limiter.acquire(10**6)
    assert clock.mono == before
    assert make_limiter(None) is None and make_limiter(2048).rate == 2048


def test_windows_are_kept_with_a_task():
    settings = TaskSettings.from_options({"bandwidth_windows": [[60, 120, 1 << 20]], "bwlimit": "2MiB"})
    again = TaskSettings.from_json(settings.to_json())
    assert again.bandwidth_windows == ((60, 120, 1 << 20),) == settings.bandwidth_windows
    from ferry.config import Defaults

    assert again.transfer_options(Defaults()).bandwidth_windows == ((60, 120, 1 << 20),)
