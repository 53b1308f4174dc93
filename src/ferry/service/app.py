"""The FastAPI application: routers, error bodies, the token gate, and the worker pool's lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ferry import __version__
from ferry.service import api_dashboard, api_groups, api_meta, api_tasks, dashboard, errors
from ferry.service.auth import TokenGate
from ferry.service.control import Service
from ferry.service.keys import Sealer
from ferry.service.limits import BodyLimit

DESCRIPTION = """\
An OMS-style migration service over ferry's resumable transfer engine. Every call under
`/v2/{project_id}` carries `X-Auth-Token` (issued by `ferry token create`) or is signed with an access key
(`SDK-HMAC-SHA256`, as Huawei Cloud's SDKs sign; keys from `ferry key create`); every error answers
`{"error_code": "...", "error_msg": "..."}`. Credentials are held in the service's memory only.
"""


def create_app(service: Service) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:  # the scheduler was started before the server (see ferry.service.server.serve)
            yield
        finally:
            service.scheduler.shutdown()

    app = FastAPI(
        title="ferry migration service", version=__version__, description=DESCRIPTION, lifespan=lifespan
    )
    app.state.service = service
    errors.install(app)
    app.include_router(api_groups.router)
    app.include_router(api_tasks.router)
    app.include_router(dashboard.router)  # before api_meta: GET / is the page for a browser
    app.include_router(api_meta.router)
    app.include_router(api_dashboard.router)
    app.include_router(api_dashboard.auth_router)
    app.add_middleware(TokenGate, database=service.database, sealer=Sealer(service.settings.data_dir))
    app.add_middleware(BodyLimit)  # the outermost: nothing reads a body before its size is checked
    return app
