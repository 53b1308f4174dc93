"""The records a task journal reads and writes, without the database: modules that only pass them around
(the runner, progress displays) import them from here, so that ``ferry cp`` of one object does not load
SQLAlchemy. :mod:`ferry.tasks.journal` re-exports them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ferry.tasks.settings import TaskSettings
from ferry.tasks.states import ObjectState, TaskState


@dataclass(frozen=True)
class TaskInfo:
    task_id: str
    kind: str
    source: str
    destination: str
    settings: TaskSettings
    plan: dict[str, Any]
    """How the task finds its objects (see :mod:`ferry.tasks.plan`)."""
    created: float
    updated: float
    state: TaskState
    listing_complete: bool


@dataclass(frozen=True)
class PlannedObject:
    source_key: str
    dest_key: str
    size: int
    mtime: float
    etag: str | None = None
    problem: str | None = None
    """Set when planning already knows the object cannot be moved (an unsafe key): it is journaled as
    failed with this reason, so the report lists it."""
    skipped: str | None = None
    """Set when planning already knows the destination has the object (a check found it the same): it is
    journaled as skipped with this reason."""


@dataclass(frozen=True)
class JournalObject:
    seq: int
    source_key: str
    dest_key: str
    size: int
    mtime: float
    etag: str | None
    state: ObjectState
    reason: str | None
    transferred: int
    attempts: int
    chunk: int = 0
    damage: str | None = None
    """Set when the row's planned values failed their digest: it must not be moved (see the module doc)."""


@dataclass(frozen=True)
class StateCount:
    count: int
    bytes: int
