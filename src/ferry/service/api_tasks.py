"""``/v2/{project_id}/tasks``: the tasks of the groups — list, show, start, stop, delete, failed objects.
A task's id on the API is its number (OMS's task ids are integers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response
from sqlalchemy import func, select

from ferry.service import control, states, views
from ferry.service.api_groups import OK, Limit, Offset, ProjectId, Svc
from ferry.service.codes import UNSUPPORTED
from ferry.service.db import Task, TaskGroup
from ferry.service.errors import ApiError
from ferry.service.schemas import BandwidthBody, FailedPage, RetryBody, TaskOut, TaskPage

router = APIRouter(prefix="/v2/{project_id}/tasks", tags=["tasks"])

TaskId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("", response_model=TaskPage, summary="List tasks, by group and position")
def list_tasks(
    project_id: ProjectId,
    service: Svc,
    limit: Limit = 10,
    offset: Offset = 0,
    status: Annotated[int | None, Query(ge=1, le=7, description="OMS's task status code")] = None,
    group_id: Annotated[str | None, Query(min_length=1, max_length=1024)] = None,
    task_name: Annotated[str | None, Query(min_length=1, max_length=1100)] = None,
) -> TaskPage:
    with service.database.session() as session:
        where = [Task.project_id == project_id]
        if status is not None:
            where.append(Task.status.in_(states.task_statuses(status)))
        if group_id is not None:
            where.append(Task.group_id == group_id)
        if task_name is not None:
            where.append(Task.name == task_name)
        count = session.scalar(select(func.count(Task.id)).where(*where)) or 0
        tasks = list(
            session.scalars(
                select(Task)
                .where(*where)
                .order_by(Task.created_at.desc(), Task.group_id, Task.position)
                .offset(offset)
                .limit(limit)
            )
        )
        groups = {
            group.id: group
            for group in session.scalars(
                select(TaskGroup).where(TaskGroup.id.in_({task.group_id for task in tasks}))
            )
        }
        return TaskPage(
            count=count,
            tasks=[views.task_view(task, groups[task.group_id], service.database.engine) for task in tasks],
        )


@router.post("", responses={400: {"description": "not supported"}}, summary="Create a single task")
def create_task(project_id: ProjectId) -> Response:
    raise ApiError(400, UNSUPPORTED, "tasks are created by their group: POST .../taskgroups")


@router.post("/batch-update", responses={400: {"description": "not supported"}}, summary="Update tasks")
def batch_update(project_id: ProjectId) -> Response:
    raise ApiError(400, UNSUPPORTED, "batch updates of tasks are not supported: change each group instead")


@router.get("/{task_id}", response_model=TaskOut, summary="Show a task")
def show(project_id: ProjectId, task_id: TaskId, service: Svc) -> TaskOut:
    with service.database.session() as session:
        task = control.get_task(session, project_id, task_id)
        group = session.get(TaskGroup, task.group_id)
        assert group is not None
        return views.task_view(task, group, service.database.engine)


@router.post("/{task_id}/start", responses={200: OK}, summary="Start a stopped or failed task again")
def start(
    project_id: ProjectId, task_id: TaskId, service: Svc, body: Annotated[RetryBody | None, Body()] = None
) -> Response:
    control.start_task(service, project_id, task_id, body or RetryBody())
    return Response(status_code=200)


@router.post("/{task_id}/stop", responses={200: OK}, summary="Stop a waiting or executing task")
def stop(project_id: ProjectId, task_id: TaskId, service: Svc) -> Response:
    control.stop_task(service, project_id, task_id)
    return Response(status_code=200)


@router.put(
    "/{task_id}/bandwidth-policy",
    responses={200: OK},
    summary="Change the bandwidth policy of a task's group (each task follows it from its next run)",
)
def bandwidth(project_id: ProjectId, task_id: TaskId, service: Svc, body: BandwidthBody) -> Response:
    with service.database.session() as session:
        group_id = control.get_task(session, project_id, task_id).group_id
    control.update_bandwidth(service, group_id, body)
    return Response(status_code=200)


@router.delete("/{task_id}", responses={200: OK}, summary="Delete a task that is not running")
def delete(project_id: ProjectId, task_id: TaskId, service: Svc) -> Response:
    control.delete_task(service, project_id, task_id)
    return Response(status_code=200)


@router.get("/{task_id}/failed-objects", response_model=FailedPage, summary="The task's failed objects")
def failed(
    project_id: ProjectId, task_id: TaskId, service: Svc, limit: Limit = 100, offset: Offset = 0
) -> FailedPage:
    with service.database.session() as session:
        task = control.get_task(session, project_id, task_id)
        pair = (task.id, task.number)
    return views.failed_objects(service.database.engine, [pair], offset, limit)
