"""``ferry serve``: open (and migrate) the database, fail what a previous run left running, start the
worker pool and serve the API with uvicorn."""

from __future__ import annotations

import logging
from pathlib import Path

from ferry.config import ferry_home
from ferry.display import EscapingFilter
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
    data_dir: Path, db_url: str | None, workers: int, limits: ProjectLimits | None = None
) -> Service:
    database = open_database(db_url, data_dir)
    failed = fail_interrupted(database)
    if failed:
        log.warning(
            "%d task groups were running when the service stopped: they are failed until retried", failed
        )
    settings = ServiceSettings(data_dir=data_dir, workers=workers)
    vault = Vault()
    return Service(database, vault, Scheduler(database, vault, settings), settings, limits or ProjectLimits())


def serve(
    host: str,
    port: int,
    data_dir: Path,
    db_url: str | None,
    workers: int,
    policy: Policy,
    limits: ProjectLimits,
) -> None:
    import uvicorn

    from ferry.service.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # keys and reasons in messages cannot forge lines
        handler.addFilter(EscapingFilter())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    netguard.install(policy)
    service = build_service(data_dir, db_url, workers, limits)
    log.info("data in %s, state in %s, %d workers", data_dir, safe_url(service.database.url), workers)
    try:
        uvicorn.run(create_app(service), host=host, port=port, log_level="info", access_log=True)
    finally:
        service.database.dispose()


def open_for_tokens(data_dir: Path | None, db_url: str | None) -> Database:
    return open_database(db_url, data_dir or default_data_dir())
