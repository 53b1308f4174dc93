"""The API's own description as OMS answers it: its versions (``GET /``), the v2 version (``GET /v2``),
and the cloud types nodes may name (``GET /v2/{project_id}/objectstorage/cloud-type``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from ferry.service import nodes
from ferry.service.api_groups import ProjectId, Svc

router = APIRouter(tags=["api"])

UPDATED = "2026-12-03T00:00:00Z"


class Link(BaseModel):
    href: str
    rel: str


class Version(BaseModel):
    id: str
    links: list[Link]
    status: str
    updated: str


class Versions(BaseModel):
    versions: list[Version]


def _v2(request: Request) -> Version:
    return Version(
        id="v2",
        links=[Link(href=str(request.url_for("api_info")), rel="self")],
        status="CURRENT",
        updated=UPDATED,
    )


@router.get("/", response_model=Versions, summary="The API's versions (no authentication)")
def api_versions(request: Request) -> Versions:
    return Versions(versions=[_v2(request)])


@router.get("/v2", response_model=Version, summary="The v2 API (no authentication)", name="api_info")
def api_info(request: Request) -> Version:
    return _v2(request)


@router.get(
    "/v2/{project_id}/objectstorage/cloud-type",
    response_model=list[str],
    summary="The cloud types a source (type=src) or destination (type=dst) may name",
)
def cloud_types(
    project_id: ProjectId, service: Svc, type: Annotated[Literal["src", "dst"], Query()] = "src"
) -> list[str]:
    names = []
    for name in nodes.supported():
        backend = nodes.backend_for(name)
        assert backend is not None
        if type == "dst" and not backend.destination:
            continue
        if backend.needs_endpoint and not service.endpoints.knows(name):
            continue  # only with an endpoint given in ferry's own field
        names.append(name)
    return names
