"""``/v2/{project_id}/tasks``: the tasks of the groups — list, show, start, stop, delete, failed objects."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response
from sqlalchemy import func, select

from ferry.service import control, states, views
from ferry.service.api_groups import OK, Limit, Offset, ProjectId, Svc
from ferry.service.db import Task
from ferry.service.schemas import FailedPage, RetryBody, TaskOut, TaskPage

router = APIRouter(prefix="/v2/{project_id}/tasks", tags=["tasks"])

TaskId = Annotated[str, Path(min_length=1, max_length=1024)]


@router.get("", response_model=TaskPage, summary="List tasks, by group and position")
def list_tasks(
    project_id: ProjectId,
    service: Svc,
    limit: Limit = 10,
    offset: Offset = 0,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(states.STATUSES) + ")$")] = None,
    group_id: Annotated[str | None, Query(min_length=1, max_length=1024)] = None,
) -> TaskPage:
    with service.database.session() as session:
        where = [Task.project_id == project_id]
        if status is not None:
            where.append(Task.status == status)
        if group_id is not None:
            where.append(Task.group_id == group_id)
        count = session.scalar(select(func.count(Task.id)).where(*where)) or 0
        tasks = session.scalars(
            select(Task)
            .where(*where)
            .order_by(Task.created_at.desc(), Task.group_id, Task.position)
            .offset(offset)
            .limit(limit)
        )
        return TaskPage(count=count, tasks=[views.task_view(task, service.database.engine) for task in tasks])


@router.get("/{task_id}", response_model=TaskOut, summary="Show a task")
def show(project_id: ProjectId, task_id: TaskId, service: Svc) -> TaskOut:
    with service.database.session() as session:
        return views.task_view(control.get_task(session, project_id, task_id), service.database.engine)


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


@router.delete("/{task_id}", responses={200: OK}, summary="Delete a task that is not running")
def delete(project_id: ProjectId, task_id: TaskId, service: Svc) -> Response:
    control.delete_task(service, project_id, task_id)
    return Response(status_code=200)


@router.get("/{task_id}/failed-objects", response_model=FailedPage, summary="The task's failed objects")
def failed(
    project_id: ProjectId, task_id: TaskId, service: Svc, limit: Limit = 100, offset: Offset = 0
) -> FailedPage:
    with service.database.session() as session:
        control.get_task(session, project_id, task_id)
    return views.failed_objects(service.database.engine, [task_id], offset, limit)
