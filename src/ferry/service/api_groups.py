"""``/v2/{project_id}/taskgroups``: create, list, show, stop, start, retry, delete, failed objects."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from sqlalchemy import func, select

from ferry.service import control, states, views
from ferry.service.control import Service
from ferry.service.db import Task, TaskGroup
from ferry.service.schemas import (
    Created,
    Credentials,
    FailedPage,
    GroupCreate,
    GroupOut,
    GroupPage,
    RetryBody,
)

router = APIRouter(prefix="/v2/{project_id}/taskgroups", tags=["task groups"])

ProjectId = Annotated[str, Path(min_length=1, max_length=1024)]
GroupId = Annotated[str, Path(min_length=1, max_length=1024)]
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=2**63 - 1)]  # a database OFFSET is a 64-bit integer
OK = {"description": "Ok (no body)"}


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


Svc = Annotated[Service, Depends(service_of)]


@router.post("", response_model=Created, summary="Create a task group (it starts on its own)")
def create(project_id: ProjectId, body: GroupCreate, service: Svc) -> Created:
    group_id, task_ids = control.create_group(service, project_id, body)
    return Created(id=group_id, task_ids=task_ids)


@router.get("", response_model=GroupPage, summary="List task groups, newest first")
def list_groups(
    project_id: ProjectId,
    service: Svc,
    limit: Limit = 10,
    offset: Offset = 0,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(states.STATUSES) + ")$")] = None,
) -> GroupPage:
    with service.database.session() as session:
        where = [TaskGroup.project_id == project_id]
        if status is not None:
            where.append(TaskGroup.status == status)
        count = session.scalar(select(func.count(TaskGroup.id)).where(*where)) or 0
        groups = list(
            session.scalars(
                select(TaskGroup)
                .where(*where)
                .order_by(TaskGroup.created_at.desc(), TaskGroup.id)
                .offset(offset)
                .limit(limit)
            )
        )
        totals = views.group_totals(session, [g.id for g in groups])
        return GroupPage(count=count, taskgroups=[views.group_view(g, totals[g.id]) for g in groups])


@router.get(
    "/{group_id}", response_model=GroupOut, summary="Show a task group: status, counts, bytes, progress"
)
def show(project_id: ProjectId, group_id: GroupId, service: Svc) -> GroupOut:
    with service.database.session() as session:
        group = control.get_group(session, project_id, group_id)
        task_ids = list(session.scalars(select(Task.id).where(Task.group_id == group.id)))
        view = views.group_view(group, views.group_totals(session, [group.id])[group.id])
    view.chunks, view.workers = views.chunk_states(service.database.engine, task_ids)
    view.workers_connected = service.scheduler.cluster.worker_count()
    return view


def stop(project_id: ProjectId, group_id: GroupId, service: Svc) -> Response:
    control.stop_group(service, project_id, group_id)
    return Response(status_code=200)


def start(
    project_id: ProjectId, group_id: GroupId, service: Svc, body: Annotated[Credentials | None, Body()] = None
) -> Response:
    control.start_group(service, project_id, group_id, body or Credentials())
    return Response(status_code=200)


# OMS uses PUT for these two; POST is accepted too.
for _method in ("PUT", "POST"):
    router.add_api_route(
        "/{group_id}/stop",
        stop,
        methods=[_method],
        responses={200: OK},
        summary="Stop (pause) a waiting or executing group",
        operation_id=f"stop_taskgroup_{_method.lower()}",
    )
    router.add_api_route(
        "/{group_id}/start",
        start,
        methods=[_method],
        responses={200: OK},
        summary="Start a stopped group again (credentials in the body after a restart)",
        operation_id=f"start_taskgroup_{_method.lower()}",
    )


@router.put("/{group_id}/retry", responses={200: OK}, summary="Restart a failed task group")
def retry(
    project_id: ProjectId, group_id: GroupId, service: Svc, body: Annotated[RetryBody | None, Body()] = None
) -> Response:
    control.retry_group(service, project_id, group_id, body or RetryBody())
    return Response(status_code=200)


@router.delete("/{group_id}", responses={200: OK}, summary="Delete a group that is not running")
def delete(project_id: ProjectId, group_id: GroupId, service: Svc) -> Response:
    control.delete_group(service, project_id, group_id)
    return Response(status_code=200)


@router.get("/{group_id}/failed-objects", response_model=FailedPage, summary="The group's failed objects")
def failed(
    project_id: ProjectId, group_id: GroupId, service: Svc, limit: Limit = 100, offset: Offset = 0
) -> FailedPage:
    with service.database.session() as session:
        control.get_group(session, project_id, group_id)
        task_ids = [task.id for task in control.group_tasks(session, group_id)]
    return views.failed_objects(service.database.engine, task_ids, offset, limit)
