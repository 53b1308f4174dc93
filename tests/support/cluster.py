"""A Dask scheduler and ``ferry worker`` processes on loopback, each with its own home and log (as if on
several machines), and fresh PostgreSQL databases for them: shared by the cluster tests and the chaos
campaign."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
from tests.support.service import ferry_env, free_port


def pg(url: str) -> psycopg.Connection:
    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def create_database(server_url: str) -> str:
    """A new, empty database on the PostgreSQL server of ``server_url``; its URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with pg(server_url) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(server_url: str, url: str) -> None:
    with pg(server_url) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


class Cluster:
    """A Dask scheduler and ``ferry worker`` processes, each with its own home and log."""

    def __init__(self, root: Path, db_url: str, lease: str = "4") -> None:
        self.root, self.db_url, self.lease = root, db_url, lease
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        home = self.root / name
        home.mkdir(exist_ok=True)
        with open(self.root / f"{name}.log", "ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, *args],
                env=ferry_env(home, {"FERRY_CHUNK_LEASE": self.lease, **(env or {})}),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=home,
            )

    def start_scheduler(self) -> None:
        args = ["-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(self.port)]
        self._spawn("scheduler", [*args, "--dashboard-address", "127.0.0.1:0"])
        deadline = time.monotonic() + 60
        while not (self.root / "scheduler.log").read_text(errors="replace").count("Scheduler at"):
            if time.monotonic() > deadline or self.processes["scheduler"].poll() is not None:
                raise AssertionError(f"the Dask scheduler did not start:\n{self.log('scheduler')}")
            time.sleep(0.2)

    def start_worker(self, name: str, db_url: str | None = None) -> None:
        args = ["-m", "ferry", "worker", "--scheduler", self.address, "--db", db_url or self.db_url]
        self._spawn(name, [*args, "--name", name, "--threads", "2", "--allow-private-endpoints"])

    def wait_workers(self, count: int, timeout: float = 60) -> None:
        from distributed import Client

        with Client(self.address, timeout="20s") as client:
            client.wait_for_workers(count, timeout=timeout)

    def kill(self, name: str) -> None:
        process = self.processes[name]
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
