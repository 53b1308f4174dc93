"""Database rows as response bodies, and failed objects as the task journals record them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from ferry.errors import FerryError
from ferry.service import states
from ferry.service.codes import NO_CREDENTIALS, TASK_FAILED
from ferry.service.db import Task, TaskGroup, now
from ferry.service.schemas import (
    DstNodeOut,
    ErrorReason,
    FailedObject,
    FailedObjectRecord,
    FailedPage,
    GroupOut,
    ListFileOut,
    SrcNodeOut,
    TaskOut,
)
from ferry.service.vault import NO_CREDENTIALS_REASON
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


def ms(timestamp: float | None) -> int | None:
    """A UNIX time as epoch milliseconds (OMS's times)."""
    return None if timestamp is None else int(timestamp * 1000)


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


def error_reason(status: str, reason: str | None) -> ErrorReason | None:
    """A stored failure reason as OMS's object: the code says what kind of failure it is."""
    if reason is None:
        return None
    code = NO_CREDENTIALS if reason == NO_CREDENTIALS_REASON else TASK_FAILED
    return ErrorReason(error_code=code, error_msg=reason[:1024])


def total_time(started: float | None, finished: float | None, status: str) -> int:
    if started is None:
        return 0
    end = finished if finished is not None and status not in states.ACTIVE else now()
    return max(0, int((end - started) * 1000))


def _oms(settings: dict[str, Any]) -> dict[str, Any]:
    """The OMS fields a group was created with (a group made before they were kept: their defaults)."""
    oms = dict(settings.get("oms") or {})
    return {
        "enable_metadata_migration": bool(oms.get("enable_metadata_migration", False)),
        "enable_failed_object_recording": bool(oms.get("enable_failed_object_recording", True)),
        "enable_restore": False,
        "bandwidth_policy": list(oms.get("bandwidth_policy") or []),
        "object_overwrite_mode": oms.get("object_overwrite_mode")
        or OVERWRITE_MODES_BACK.get(settings.get("overwrite", ""), "SIZE_LAST_MODIFIED_COMPARISON_OVERWRITE"),
        "consistency_check": oms.get("consistency_check")
        or CHECKS_BACK.get(settings.get("consistency_check", ""), "size_last_modified"),
        "dst_storage_policy": oms.get("dst_storage_policy"),
        "enable_requester_pays": bool(oms.get("enable_requester_pays", False)),
        "migrate_since": settings.get("migrate_since"),
        "source_cdn": oms.get("source_cdn"),
        "transfer": dict(settings.get("transfer") or {}),
    }


OVERWRITE_MODES = {
    "NO_OVERWRITE": "never",
    "SIZE_LAST_MODIFIED_COMPARISON_OVERWRITE": "if_different",
    "CRC64_COMPARISON_OVERWRITE": "if_checksum_differs",
    "FULL_OVERWRITE": "always",
}
"""OMS's ``object_overwrite_mode`` as the group's stored overwrite rule (see ``worker.task_settings``)."""
OVERWRITE_MODES_BACK = {rule: mode for mode, rule in OVERWRITE_MODES.items()}
CHECKS = {"size_last_modified": "size_mtime", "crc64": "checksum", "no_check": "none"}
"""OMS's ``consistency_check`` as the stored one: crc64 is checked as MD5/ETag, the checksum S3-compatible
stores keep."""
CHECKS_BACK = {check: name for name, check in CHECKS.items()}


def _src_out(node: dict[str, Any], object_key: list[str]) -> SrcNodeOut:
    return SrcNodeOut(
        cloud_type=node["cloud_type"],
        region=node.get("region"),
        bucket=node.get("bucket") or "",
        app_id=node.get("app_id"),
        object_key=object_key,
        list_file=ListFileOut(**node["list_file"]) if node.get("list_file") else None,
        endpoint=node.get("endpoint"),
        addressing_style=node.get("addressing_style"),
    )


def _dst_out(node: dict[str, Any]) -> DstNodeOut:
    return DstNodeOut(
        bucket=node.get("bucket") or "",
        region=node.get("region"),
        save_prefix=node.get("save_prefix") or "",
        cloud_type=node["cloud_type"],
        endpoint=node.get("endpoint"),
        addressing_style=node.get("addressing_style"),
    )


def _record(oms: dict[str, Any]) -> FailedObjectRecord:
    return FailedObjectRecord(result=oms["enable_failed_object_recording"])


def task_view(task: Task, group: TaskGroup, engine: Engine | None = None) -> TaskOut:
    values: dict[str, Any] = {name: getattr(task, name) for name in _SUMMED}
    oms = _oms(group.settings)
    source = task.source
    object_key = [str(source["prefix"])] if "prefix" in source else []
    by_state, workers = chunk_states(engine, [task.id]) if engine is not None else ({}, [])
    return TaskOut(
        chunks=by_state,
        workers=workers,
        id=task.number,
        group_id=task.group_id,
        name=task.name,
        status=states.TASK_CODES[task.status],
        status_name=task.status,
        error_reason=error_reason(task.status, task.error_reason),
        description=group.description,
        task_type=group.task_type,
        src_node=_src_out(group.src_node, object_key),
        dst_node=_dst_out(group.dst_node),
        failed_object_record=_record(oms),
        successful_num=task.success_num,
        failed_num=task.fail_num,
        skipped_num=task.skip_num,
        total_num=task.total_num,
        total_size=task.total_size,
        complete_size=task.success_size,
        fail_size=task.fail_size,
        skip_size=task.skip_size,
        real_size=task.transferred_size,
        transferred_size=task.transferred_size,
        run_transferred_size=task.run_transferred_size,
        migrate_speed=int(task.speed),
        progress=progress(values, task.status),
        is_query_over=task.status == states.SUCCEEDED or task.total_num > 0,
        runs=task.runs,
        journal_id=task.id,
        start_time=ms(task.started_at),
        total_time=total_time(task.started_at, task.finished_at, task.status),
        create_time=ms(task.created_at) or 0,
        update_time=ms(task.updated_at) or 0,
        finish_time=ms(task.finished_at),
        **{k: v for k, v in oms.items()},
    )


def group_totals(session: Session, group_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Counters of each group: its tasks' summed, speed over its executing tasks, its tasks by status."""
    if not group_ids:
        return {}
    columns = [func.coalesce(func.sum(getattr(Task, name)), 0) for name in _SUMMED]
    rows = session.execute(
        select(Task.group_id, func.count(Task.id), *columns)
        .where(Task.group_id.in_(group_ids))
        .group_by(Task.group_id)
    ).all()
    totals: dict[str, dict[str, Any]] = {
        group_id: {"task_count": 0, "speed": 0.0, "by_status": {}, **dict.fromkeys(_SUMMED, 0)}
        for group_id in group_ids
    }
    for row in rows:
        totals[row[0]].update(
            task_count=row[1], **{name: int(v) for name, v in zip(_SUMMED, row[2:], strict=True)}
        )
    for group_id, status, count in session.execute(
        select(Task.group_id, Task.status, func.count(Task.id))
        .where(Task.group_id.in_(group_ids))
        .group_by(Task.group_id, Task.status)
    ).all():
        totals[group_id]["by_status"][status] = int(count)
    for group_id, speed in session.execute(
        select(Task.group_id, func.sum(Task.speed))
        .where(Task.group_id.in_(group_ids), Task.status == states.EXECUTING)
        .group_by(Task.group_id)
    ).all():
        totals[group_id]["speed"] = round(float(speed or 0.0), 1)
    return totals


def group_view(group: TaskGroup, totals: dict[str, Any]) -> GroupOut:
    values: dict[str, Any] = {name: int(totals[name]) for name in _SUMMED}
    by_status: dict[str, int] = totals["by_status"]
    oms = _oms(group.settings)
    return GroupOut(
        group_id=group.id,
        project_id=group.project_id,
        status=states.GROUP_CODES[group.status],
        status_name=group.status,
        error_reason=error_reason(group.status, group.error_reason),
        description=group.description,
        task_type=group.task_type,
        src_node=_src_out(group.src_node, list(group.src_node.get("object_key") or [])),
        dst_node=_dst_out(group.dst_node),
        failed_object_record=_record(oms),
        total_task_num=totals["task_count"],
        create_task_num=totals["task_count"],
        failed_task_num=by_status.get(states.FAILED, 0),
        complete_task_num=by_status.get(states.SUCCEEDED, 0),
        paused_task_num=by_status.get(states.STOPPED, 0) + by_status.get(states.STOPPING, 0),
        executing_task_num=by_status.get(states.EXECUTING, 0),
        waiting_task_num=by_status.get(states.WAITING, 0),
        total_num=values["total_num"],
        create_complete_num=values["total_num"],
        success_num=values["success_num"],
        fail_num=values["fail_num"],
        skip_num=values["skip_num"],
        total_size=values["total_size"],
        create_complete_size=values["total_size"],
        complete_size=values["success_size"],
        fail_size=values["fail_size"],
        skip_size=values["skip_size"],
        transferred_size=values["transferred_size"],
        run_transferred_size=values["run_transferred_size"],
        migrate_speed=int(totals["speed"]),
        verify_after_migration=bool(group.settings.get("verify_after_migration")),
        progress=progress(values, group.status),
        retry_count=group.retry_count,
        start_time=ms(group.started_at),
        total_time=total_time(group.started_at, group.finished_at, group.status),
        create_time=ms(group.created_at) or 0,
        update_time=ms(group.updated_at) or 0,
        finish_time=ms(group.finished_at),
        **oms,
    )


def failed_objects(engine: Engine, tasks: Iterable[tuple[str, int]], offset: int, limit: int) -> FailedPage:
    """A page of the failed objects of the tasks, in task then planning order, read from the journals
    (their ``failed`` rows: key, size and the reason recorded when the object failed)."""
    count = 0
    page: list[FailedObject] = []
    for task_id, number in tasks:
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
                            task_id=number,
                            key=obj.source_key,
                            dest_key=obj.dest_key,
                            size=obj.size,
                            reason=obj.reason,
                        )
                    )
            count += failed
    return FailedPage(count=count, objects=page)
