"""How a task's kept options become the engine's settings, and what a finished run makes of the task.

Shared by ``ferry cp -r`` / ``--recover`` (:mod:`ferry.cli.batch`) and the migration service
(:mod:`ferry.service.worker`): both keep a task's options as a plain dict (in the journal, never a secret)
and turn it into :class:`~ferry.transfer.options.TransferOptions`, a job count and an object filter the
same way, so a task behaves alike whoever runs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ferry.config import Defaults
from ferry.errors import UsageError
from ferry.tasks.filters import ObjectFilter
from ferry.tasks.journal import StateCount
from ferry.tasks.runner import TaskOutcome
from ferry.transfer.options import TransferOptions, parse_meta, resolve_options

DEFAULT_JOBS = 16
DEFAULT_LARGE_JOBS = 4
"""Without an explicit job count, at most this many objects at or above the threshold move at once (each
has its own parts in flight, so memory stays bounded); small objects, which mostly wait on the server, use
all the job slots. An explicit count applies to every object."""


def task_options(defaults: Defaults, raw: Mapping[str, Any], *, dry_run: bool = False) -> TransferOptions:
    """The transfer options of a task from its kept option dict (unset keys fall back to ``defaults``)."""
    return resolve_options(
        defaults,
        threshold=raw.get("threshold"),
        copy_threshold=raw.get("copy_threshold"),
        part_size=raw.get("part_size"),
        parallel=raw.get("parallel"),
        checkpoint_dir=raw.get("checkpoint_dir"),
        verify_length=bool(raw.get("verify_length")),
        verify_md5=bool(raw.get("verify_md5")),
        metadata=parse_meta(raw["meta"]) if raw.get("meta") else None,
        acl=raw.get("acl"),
        storage_class=raw.get("storage_class"),
        stream_copy=bool(raw.get("crr")),
        retries=raw.get("retries"),
        bwlimit=raw.get("bwlimit"),
        dry_run=dry_run,
        incremental=bool(raw.get("incremental")),
    )


def task_jobs(raw: Mapping[str, Any], default: int = DEFAULT_JOBS) -> int:
    """Objects at once: the kept ``jobs`` (else ``default``), checked."""
    jobs = int(raw.get("jobs") or default)
    if not 1 <= jobs <= 1000:
        raise UsageError(f"invalid job count {jobs}: it must be between 1 and 1000")
    return jobs


def task_large_jobs(raw: Mapping[str, Any]) -> int | None:
    """How many large objects may move at once (``None``: as many as there are jobs)."""
    return None if raw.get("jobs") else DEFAULT_LARGE_JOBS


def task_filter(raw: Mapping[str, Any]) -> ObjectFilter:
    """The include/exclude globs and time range of a task."""
    return ObjectFilter.build(
        list(raw.get("include") or []),
        list(raw.get("exclude") or []),
        raw.get("time_range"),
        bool(raw.get("mf")),
    )


def journal_state(outcome: TaskOutcome, final: Mapping[str, StateCount]) -> str:
    """The task's state after a run: ``interrupted``, ``failed`` (something not done) or ``succeeded``."""
    if outcome.interrupted:
        return "interrupted"
    return "failed" if final["failed"].count or final["pending"].count else "succeeded"
