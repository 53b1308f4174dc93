"""Statuses of tasks and groups, their OMS status codes, and how a group's status follows from its
tasks'. Pure."""

from __future__ import annotations

from collections.abc import Iterable

WAITING = "waiting"
EXECUTING = "executing"
STOPPING = "stopping"
STOPPED = "stopped"
FAILED = "failed"
SUCCEEDED = "succeeded"

STATUSES = (WAITING, EXECUTING, STOPPING, STOPPED, FAILED, SUCCEEDED)
ACTIVE = (WAITING, EXECUTING, STOPPING)
"""A task in one of these is owned by the worker pool: it cannot be deleted or started."""

GROUP_CODES = {WAITING: 0, EXECUTING: 2, STOPPED: 3, FAILED: 5, SUCCEEDED: 6, STOPPING: 7}
"""OMS's task group status codes: 0 waiting, 2 monitoring (tasks executing), 3 paused, 5 migration
failed, 6 migration completed, 7 pausing."""
TASK_CODES = {WAITING: 1, EXECUTING: 2, STOPPED: 3, FAILED: 4, SUCCEEDED: 5, STOPPING: 7}
"""OMS's task status codes: 1 waiting, 2 executing, 3 stopped, 4 failed, 5 succeeded, 7 pausing."""

_PRECEDENCE = (EXECUTING, WAITING, STOPPING, STOPPED, FAILED)


def group_status(task_statuses: Iterable[str]) -> str:
    """A group is executing while any task is; else waiting, stopping, stopped (it can be started), failed
    (it can be retried), in that order; succeeded when every task succeeded (or it has none)."""
    present = set(task_statuses)
    for status in _PRECEDENCE:
        if status in present:
            return status
    return SUCCEEDED


def group_statuses(code: int) -> tuple[str, ...]:
    """The statuses an OMS group status code stands for (none for codes ferry never reaches)."""
    return tuple(status for status, number in GROUP_CODES.items() if number == code)


def task_statuses(code: int) -> tuple[str, ...]:
    return tuple(status for status, number in TASK_CODES.items() if number == code)
