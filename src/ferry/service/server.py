"""``ferry serve``: open (and migrate) the database, fail what a previous run left running, connect to the
Dask cluster (or start the in-process one), start the task drivers and serve the API with uvicorn."""

from __future__ import annotations

import logging
from pathlib import Path

from ferry.config import ferry_home
from ferry.display import EscapingFilter
from ferry.service import endpoints
from ferry.service.control import Service
from ferry.service.db import Database, open_database, safe_url
from ferry.service.limits import ProjectLimits
from ferry.service.vault import Vault
from ferry.service.worker import Scheduler, ServiceSettings, fail_interrupted
from ferry.storage import netguard
from ferry.storage.netguard import Policy

log = logging.getLogger("ferry.service")


def default_data_dir() -> Path:
    return ferry_home() / "service"


def build_service(
    data_dir: Path,
    db_url: str | None,
    workers: int,
    scheduler: str | None = None,
    endpoints_file: Path | None = None,
    limits: ProjectLimits | None = None,
) -> Service:
    table = endpoints.load(endpoints_file) if endpoints_file is not None else endpoints.EndpointTable()
    database = open_database(db_url, data_dir)
    settings = ServiceSettings(data_dir=data_dir, workers=workers, scheduler=scheduler)
    failed = fail_interrupted(database, own=settings.instance)
    if failed:
        log.warning(
            "%d task groups were running when the service stopped: they are failed until retried", failed
        )
    vault = Vault()
    return Service(
        database, vault, Scheduler(database, vault, settings), settings, table, limits or ProjectLimits()
    )


def serve(
    host: str,
    port: int,
    data_dir: Path,
    db_url: str | None,
    workers: int,
    scheduler: str | None = None,
    endpoints_file: Path | None = None,
    *,
    policy: Policy | None = None,
    limits: ProjectLimits | None = None,
    tls: tuple[str, str] | None = None,
) -> None:
    import uvicorn

    from ferry.service.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # keys and reasons in messages cannot forge lines
        handler.addFilter(EscapingFilter())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    netguard.install(policy or Policy())
    service = build_service(data_dir, db_url, workers, scheduler, endpoints_file, limits)
    where = f"the Dask cluster at {scheduler}" if scheduler else "an in-process Dask cluster"
    log.info(
        "data in %s, state in %s, %d tasks at once on %s",
        data_dir,
        safe_url(service.database.url),
        workers,
        where,
    )
    service.scheduler.start()  # before the server: a scheduler that does not answer ends here, in one line
    try:
        if tls is None and host not in ("127.0.0.1", "::1", "localhost"):
            log.warning("listening on %s without TLS: tokens and keys cross the network in clear", host)
        uvicorn.run(
            create_app(service),
            host=host,
            port=port,
            log_level="info",
            access_log=True,
            # Clients poll a group every few seconds, and a busy process may not run its event loop for
            # several: uvicorn's 5 s default closes connections that clients are about to reuse.
            timeout_keep_alive=60,
            ssl_certfile=tls[0] if tls else None,
            ssl_keyfile=tls[1] if tls else None,
        )
    finally:
        service.database.dispose()


def open_for_tokens(data_dir: Path | None, db_url: str | None) -> Database:
    return open_database(db_url, data_dir or default_data_dir())
