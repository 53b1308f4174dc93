"""``ferry serve``: open (and migrate) the database, fail what a previous run left running, connect to the
Dask cluster (or start the in-process one), start the task drivers and serve the API with uvicorn."""

from __future__ import annotations

import logging
from pathlib import Path

from ferry.config import ferry_home
from ferry.service.control import Service
from ferry.service.db import Database, open_database, safe_url
from ferry.service.vault import Vault
from ferry.service.worker import Scheduler, ServiceSettings, fail_interrupted

log = logging.getLogger("ferry.service")


def default_data_dir() -> Path:
    return ferry_home() / "service"


def build_service(data_dir: Path, db_url: str | None, workers: int, scheduler: str | None = None) -> Service:
    database = open_database(db_url, data_dir)
    settings = ServiceSettings(data_dir=data_dir, workers=workers, scheduler=scheduler)
    failed = fail_interrupted(database, own=settings.instance)
    if failed:
        log.warning(
            "%d task groups were running when the service stopped: they are failed until retried", failed
        )
    vault = Vault()
    return Service(database, vault, Scheduler(database, vault, settings), settings)


def serve(
    host: str, port: int, data_dir: Path, db_url: str | None, workers: int, scheduler: str | None = None
) -> None:
    import uvicorn

    from ferry.service.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    service = build_service(data_dir, db_url, workers, scheduler)
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
        uvicorn.run(create_app(service), host=host, port=port, log_level="info", access_log=True)
    finally:
        service.database.dispose()


def open_for_tokens(data_dir: Path | None, db_url: str | None) -> Database:
    return open_database(db_url, data_dir or default_data_dir())
