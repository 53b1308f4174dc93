"""Database rows as response bodies, and failed objects as the task journals record them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from ferry.errors import FerryError
from ferry.service import states
from ferry.service.db import Task, TaskGroup
from ferry.service.schemas import DstNodeOut, FailedObject, FailedPage, GroupOut, SrcNodeOut, TaskOut
from ferry.tasks import chunks
from ferry.tasks.journal import TaskJournal
from ferry.tasks.states import ObjectState

_SUMMED = (
    "total_num",
    "success_num",
    "fail_num",
    "skip_num",
    "total_size",
    "success_size",
    "fail_size",
    "skip_size",
    "transferred_size",
    "run_transferred_size",
)


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def progress(values: dict[str, int], status: str) -> float:
    """Done (succeeded or skipped) over everything, by bytes where there are bytes, else by objects."""
    if values["total_size"] > 0:
        return round((values["success_size"] + values["skip_size"]) / values["total_size"], 4)
    if values["total_num"] > 0:
        return round((values["success_num"] + values["skip_num"]) / values["total_num"], 4)
    return 1.0 if status == states.SUCCEEDED else 0.0


def chunk_states(engine: Engine, task_ids: Iterable[str]) -> tuple[dict[str, int], list[str]]:
    """The tasks' chunks by state, and the workers running them."""
    counts: dict[str, int] = {}
    workers: set[str] = set()
    for task_id in task_ids:
        summary = chunks.summary(engine, task_id)
        for state, count in summary.by_state.items():
            counts[state] = counts.get(state, 0) + count
        workers.update(summary.workers)
    return counts, sorted(workers)


def task_view(task: Task, engine: Engine | None = None) -> TaskOut:
    values: dict[str, Any] = {name: getattr(task, name) for name in _SUMMED}
    by_state, workers = chunk_states(engine, [task.id]) if engine is not None else ({}, [])
    return TaskOut(
        chunks=by_state,
        workers=workers,
        id=task.id,
        group_id=task.group_id,
        name=task.name,
        status=task.status,
        status_code=states.TASK_CODES[task.status],
        error_reason=task.error_reason,
        runs=task.runs,
        progress=progress(values, task.status),
        speed=round(task.speed, 1),
        created_at=iso(task.created_at) or "",
        updated_at=iso(task.updated_at) or "",
        started_at=iso(task.started_at),
        finished_at=iso(task.finished_at),
        **values,
    )


def group_totals(session: Session, group_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Counters of each group: its tasks' summed, speed over its executing tasks, its task count."""
    if not group_ids:
        return {}
    columns = [func.coalesce(func.sum(getattr(Task, name)), 0) for name in _SUMMED]
    rows = session.execute(
        select(Task.group_id, func.count(Task.id), *columns)
        .where(Task.group_id.in_(group_ids))
        .group_by(Task.group_id)
    ).all()
    totals: dict[str, dict[str, Any]] = {
        group_id: {"task_count": 0, "speed": 0.0, **dict.fromkeys(_SUMMED, 0)} for group_id in group_ids
    }
    for row in rows:
        totals[row[0]].update(
            task_count=row[1], **{name: int(v) for name, v in zip(_SUMMED, row[2:], strict=True)}
        )
    for group_id, speed in session.execute(
        select(Task.group_id, func.sum(Task.speed))
        .where(Task.group_id.in_(group_ids), Task.status == states.EXECUTING)
        .group_by(Task.group_id)
    ).all():
        totals[group_id]["speed"] = round(float(speed or 0.0), 1)
    return totals


def group_view(group: TaskGroup, totals: dict[str, Any]) -> GroupOut:
    settings = group.settings
    values: dict[str, Any] = {name: int(totals[name]) for name in _SUMMED}
    return GroupOut(
        id=group.id,
        project_id=group.project_id,
        status=group.status,
        status_code=states.GROUP_CODES[group.status],
        error_reason=group.error_reason,
        description=group.description,
        task_type=group.task_type,
        src_node=SrcNodeOut(**group.src_node),
        dst_node=DstNodeOut(**group.dst_node),
        overwrite=settings["overwrite"],
        consistency_check=settings["consistency_check"],
        migrate_since=settings.get("migrate_since"),
        verify_after_migration=bool(settings.get("verify_after_migration")),
        transfer=dict(settings.get("transfer") or {}),
        task_count=totals["task_count"],
        retry_count=group.retry_count,
        progress=progress(values, group.status),
        speed=totals["speed"],
        created_at=iso(group.created_at) or "",
        updated_at=iso(group.updated_at) or "",
        started_at=iso(group.started_at),
        finished_at=iso(group.finished_at),
        **values,
    )


def failed_objects(engine: Engine, task_ids: Iterable[str], offset: int, limit: int) -> FailedPage:
    """A page of the failed objects of the tasks, in task then planning order, read from the journals
    (their ``failed`` rows: key, size and the reason recorded when the object failed)."""
    count = 0
    page: list[FailedObject] = []
    for task_id in task_ids:
        try:
            journal = TaskJournal.open_shared(engine, task_id)
        except FerryError:  # not planned yet, or deleted
            continue
        with journal:
            failed = journal.counts()[ObjectState.FAILED].count
            if len(page) < limit and offset < count + failed:
                skip = max(0, offset - count)
                wanted = limit - len(page)
                for obj in islice(journal.objects((ObjectState.FAILED,)), skip, skip + wanted):
                    page.append(
                        FailedObject(
                            task_id=task_id,
                            key=obj.source_key,
                            dest_key=obj.dest_key,
                            size=obj.size,
                            reason=obj.reason,
                        )
                    )
            count += failed
    return FailedPage(count=count, objects=page)
