"""The states of a task and of its objects, in one place.

A task journal records one :class:`ObjectState` per planned object and one :class:`TaskState` for the task.
The values are the words the journal stores and ``--json`` prints, so they never change spelling.
"""

from __future__ import annotations

from enum import StrEnum


class ObjectState(StrEnum):
    PENDING = "pending"
    """Planned, not attempted yet (or interrupted, or put back for another run)."""
    DONE = "done"
    FAILED = "failed"
    """Attempted and failed; the journal keeps the reason. A recover tries it again."""
    SKIPPED = "skipped"
    """Nothing to move: the destination already had it (the reason says by which rule)."""


class TaskState(StrEnum):
    RUNNING = "running"
    """Being planned or run, or cut short by a crash before it could say otherwise."""
    INTERRUPTED = "interrupted"
    FAILED = "failed"
    """Some objects failed or were not reached; a recover continues."""
    SUCCEEDED = "succeeded"


OBJECT_STATES: tuple[ObjectState, ...] = tuple(ObjectState)
UNFINISHED: tuple[ObjectState, ...] = (ObjectState.PENDING, ObjectState.FAILED)
"""What a run of a task works on."""
FINISHED: tuple[ObjectState, ...] = (ObjectState.DONE, ObjectState.SKIPPED)
