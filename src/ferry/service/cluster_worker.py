"""``ferry worker``: a Dask worker that runs the migration service's chunks.

It is a plain ``distributed.Worker`` in this process, told where the service's database is (the chunks it
runs write their outcomes and part records there). Before joining, it checks that the database answers and
holds ferry's schema, and that the scheduler answers, so a wrong address is one line, not a retry loop.
A plain ``dask worker tcp://HOST:8786`` with ferry installed and ``FERRY_DB`` set runs the same chunks.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from urllib.parse import urlsplit

from sqlalchemy import inspect

from ferry.errors import UsageError
from ferry.service.db import Database, safe_url
from ferry.service.work import use_database

log = logging.getLogger("ferry.worker")


def check_scheduler(address: str, timeout: float = 5.0) -> None:
    """UsageError unless something accepts connections at ``tcp://HOST:PORT``."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme not in ("tcp", "tls") or not parts.hostname:
        raise UsageError(f"invalid --scheduler {address!r}: expected tcp://HOST:PORT")
    try:
        port = parts.port or 8786
    except ValueError:
        raise UsageError(f"invalid --scheduler {address!r}: expected tcp://HOST:PORT") from None
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except OSError as exc:
        raise UsageError(f"the Dask scheduler at {address} does not answer ({exc.strerror or exc})") from None


def open_worker_database(url: str) -> Database:
    """The service's database; UsageError when it has no ferry schema yet."""
    database = Database(url)
    tables = set(inspect(database.engine).get_table_names())
    if "ferry_chunks" not in tables:
        database.dispose()
        raise UsageError(
            f"{safe_url(database.url)} holds no ferry service schema: start `ferry serve --db` on it first"
        )
    return database


def run_worker(scheduler: str, db_url: str, name: str | None, threads: int) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("distributed", "tornado", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    database = open_worker_database(db_url)
    check_scheduler(scheduler)
    use_database(database)
    worker_name = name or f"{socket.gethostname()}-{os.getpid()}"

    async def main() -> None:
        from distributed import Worker

        async with Worker(
            scheduler,
            nthreads=threads,
            name=worker_name,
            death_timeout=60,
            dashboard_address="127.0.0.1:0",  # the worker's HTTP endpoints: loopback only
        ) as worker:
            log.info("worker %s joined %s (%d chunks at once)", worker.name, scheduler, threads)
            await worker.finished()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    finally:
        log.info("worker %s left", worker_name)
        database.dispose()
