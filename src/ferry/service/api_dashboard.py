"""The calls the dashboard needs beyond OMS's own, public like the rest of the API: which project a token
belongs to, a group's throughput samples, and its failed objects as a CSV file."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from typing import IO, Annotated

from fastapi import APIRouter, Header
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import select
from starlette.background import BackgroundTask

from ferry.errors import FerryError
from ferry.service import control, samples
from ferry.service.api_groups import GroupId, ProjectId, Svc
from ferry.service.auth import MAX_TOKEN, hash_token
from ferry.service.db import Token
from ferry.service.errors import TOKEN_MISSING, TOKEN_UNKNOWN, ApiError
from ferry.tasks.journal import TaskJournal
from ferry.tasks.states import ObjectState

router = APIRouter(prefix="/v2/{project_id}/taskgroups", tags=["task groups"])
auth_router = APIRouter(tags=["authentication"])

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Project(BaseModel):
    id: str
    name: str


class ProjectList(BaseModel):
    projects: list[Project]


class Sample(BaseModel):
    time: int
    """Epoch milliseconds."""
    transferred_size: int
    """Bytes the group had moved by then (every run of every task)."""
    speed: float
    """Average bytes per second since the previous sample."""


class SamplePage(BaseModel):
    count: int
    samples: list[Sample]


@auth_router.get(
    "/v3/auth/projects",
    response_model=ProjectList,
    summary="The project of the X-Auth-Token (as IAM's GET /v3/auth/projects answers)",
)
def token_projects(
    service: Svc, x_auth_token: Annotated[str | None, Header(max_length=MAX_TOKEN)] = None
) -> ProjectList:
    if not x_auth_token:
        raise ApiError(401, TOKEN_MISSING, "authentication required: send the X-Auth-Token header")
    with service.database.session() as session:
        owner = session.scalar(select(Token.project_id).where(Token.token_hash == hash_token(x_auth_token)))
    if owner is None:
        raise ApiError(401, TOKEN_UNKNOWN, "the X-Auth-Token is not valid")
    return ProjectList(projects=[Project(id=owner, name=owner)])


@router.get(
    "/{group_id}/samples",
    response_model=SamplePage,
    summary="Bytes the group had moved over time (a few hundred samples spread over its whole run)",
)
def group_samples(project_id: ProjectId, group_id: GroupId, service: Svc) -> SamplePage:
    with service.database.session() as session:
        control.get_group(session, project_id, group_id)
        rows = samples.group_samples(session, group_id)
    return SamplePage(count=len(rows), samples=[Sample(**row) for row in rows])


def csv_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: one that would start a formula gets a leading quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


@router.get(
    "/{group_id}/failed-objects.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "task_id,key,dest_key,size,reason"}},
    summary="Every failed object of the group, as CSV",
)
def failed_csv(project_id: ProjectId, group_id: GroupId, service: Svc) -> StreamingResponse:
    with service.database.session() as session:
        control.get_group(session, project_id, group_id)
        task_ids = [task.id for task in control.group_tasks(session, group_id)]
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=4 << 20)  # noqa: SIM115 - closed after sending
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(["task_id", "key", "dest_key", "size", "reason"])
    for task_id in task_ids:
        try:
            journal = TaskJournal.open_shared(service.database.engine, task_id)
        except FerryError:  # not planned yet, or deleted
            continue
        with journal:
            for obj in journal.objects((ObjectState.FAILED,)):
                writer.writerow(
                    [
                        task_id,
                        csv_cell(obj.source_key),
                        csv_cell(obj.dest_key),
                        obj.size,
                        csv_cell(obj.reason),
                    ]
                )
    text.detach()
    spool.seek(0)

    def chunks() -> Iterator[bytes]:
        while block := spool.read(1 << 16):
            yield block

    return StreamingResponse(
        chunks(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="failed-objects-{group_id[:64]}.csv"'},
        background=BackgroundTask(spool.close),
    )
