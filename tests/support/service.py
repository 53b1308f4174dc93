"""The migration service as the tests use it: ``ferry serve`` in a real child process on a free loopback
port, tokens issued by ``ferry token create``, and an HTTP client that keeps every response it got (so a
test can check that no secret ever came back)."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from ferry.service.client import STALE_CONNECTION

RUNNING = ("waiting", "executing", "stopping")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ferry_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("FERRY_SERVER", "FERRY_TOKEN", "FERRY_PROJECT", "FERRY_DB"):
        env.pop(name, None)
    env.update({"FERRY_HOME": str(home), "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


def ferry_run(
    home: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ferry", *args],
        env=ferry_env(home, env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@dataclass
class Service:
    """One ``ferry serve`` process (restartable on the same data dir and database)."""

    home: Path
    data_dir: Path
    db_url: str | None = None
    workers: int = 2
    port: int = field(default_factory=free_port)
    log_path: Path = field(init=False)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    env: dict[str, str] = field(default_factory=dict)
    """Variables of the service's own environment, on top of the test's."""
    args: list[str] = field(default_factory=list)
    """More ``ferry serve`` arguments (``--scheduler ADDRESS``, ``--endpoints FILE``)."""
    serve_args: list[str] = field(default_factory=lambda: ["--allow-private-endpoints"])
    """Options of ``ferry serve`` besides port, workers and database: the real servers are on loopback."""

    def __post_init__(self) -> None:
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"

    @property
    def url(self) -> str:
        scheme = "https" if "--tls-cert" in self.serve_args else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def db_args(self) -> list[str]:
        args = ["--data-dir", str(self.data_dir)]
        if self.db_url:
            args += ["--db", self.db_url]
        return args

    def start(self) -> Service:
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"--- start {self.starts}\n".encode())
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ferry",
                    "serve",
                    "--port",
                    str(self.port),
                    "--workers",
                    str(self.workers),
                    *self.db_args(),
                    *self.args,
                    *self.serve_args,
                ],
                env=ferry_env(self.home, self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 90  # a busy machine: importing Dask and joining a cluster take a while
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"ferry serve exited with {self.process.returncode}:\n{self.log()}")
            try:
                answer = httpx.get(f"{self.url}/openapi.json", timeout=1, trust_env=False, verify=False)
                if answer.status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.process.kill()  # a service that never answered must not outlive the test
        self.process.wait(10)
        raise AssertionError(f"ferry serve did not answer in 90 s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def token(self, project: str) -> str:
        """A token issued in this process (``ferry token create`` does the same; the CLI test runs it)."""
        from ferry.service.auth import create_token
        from ferry.service.db import open_database

        database = open_database(self.db_url, self.data_dir)
        try:
            return create_token(database, project).token
        finally:
            database.dispose()

    def access_key(self, project: str) -> tuple[str, str]:
        """An access key and its secret, as ``ferry key create`` issues them."""
        from ferry.service.db import open_database
        from ferry.service.keys import Sealer, create_key

        database = open_database(self.db_url, self.data_dir)
        try:
            issued = create_key(database, Sealer(self.data_dir), project)
        finally:
            database.dispose()
        return issued.access_key, issued.secret_key


class Api:
    """An httpx client on ``/v2/{project}`` that records every response body it receives."""

    def __init__(self, service: Service, token: str | None, project: str, seen: list[str]) -> None:
        headers = {"X-Auth-Token": token} if token is not None else {}
        self.project = project
        self.seen = seen
        self.http = httpx.Client(
            base_url=f"{service.url}/v2/{project}",
            headers=headers,
            timeout=30,
            trust_env=False,
            verify=False,  # a test's self-signed certificate, when the service speaks TLS
            event_hooks={"response": [self._keep]},
        )

    def _keep(self, response: httpx.Response) -> None:
        response.read()
        self.seen.append(response.text)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """A GET, sent again when the kept-alive connection was closed under it (as ferry's client does)."""
        for attempt in range(3):
            try:
                return self.http.get(path, **kwargs)
            except STALE_CONNECTION:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.post(path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.put(path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.delete(path, **kwargs)

    def group(self, group_id: str) -> dict[str, Any]:
        response = self.get(f"/taskgroups/{group_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait(
        self, group_id: str, timeout: float = 60, until: tuple[str, ...] | None = None
    ) -> dict[str, Any]:
        """Poll the group until it stops running (or reaches one of ``until``)."""
        deadline = time.monotonic() + timeout
        while True:
            group = self.group(group_id)
            done = group["status_name"] in until if until else group["status_name"] not in RUNNING
            if done:
                return group
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"group {group_id} still {group['status_name']} after {timeout} s: {group}"
                )
            time.sleep(0.2)

    def failed(self, group_id: str, **params: int) -> dict[str, Any]:
        response = self.get(f"/taskgroups/{group_id}/failed-objects", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def close(self) -> None:
        self.http.close()


def node(
    rgw: Any, bucket: str, second: bool = False, endpoint: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A node body for the RGW: account 1, or account 2 with ``second``."""
    return {
        "cloud_type": "Ceph",
        "endpoint": endpoint or rgw.endpoint,
        "region": "us-east-1",
        "bucket": bucket,
        "ak": rgw.access_key_2 if second else rgw.access_key,
        "sk": rgw.secret_key_2 if second else rgw.secret_key,
        **extra,
    }


def files_containing(root: Path, needles: list[str]) -> list[str]:
    """Every file under ``root`` (and its byte content) that contains one of ``needles``."""
    found = []
    encoded = [n.encode() for n in needles]
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {n.decode()}" for n in encoded if n in data]
    return found


# --- helpers of the service tests -------------------------------------------------------------------------

ERROR_KEYS = {"error_code", "error_msg"}


def api_for(service: Service, seen: list[str], project: str = "proj-1", token: str | None = None) -> Api:
    return Api(service, token if token is not None else service.token(project), project, seen)


def put_objects(client, bucket: str, objects: dict[str, int]) -> dict[str, str]:
    """Upload random objects (key -> size); returns key -> SHA-256."""

    def one(item: tuple[str, int]) -> tuple[str, str]:
        key, size = item
        data = os.urandom(size)
        client.put_object(Bucket=bucket, Key=key, Body=data)
        return key, hashlib.sha256(data).hexdigest()

    with ThreadPoolExecutor(8) as pool:
        return dict(pool.map(one, objects.items()))


def publish_on_cdn(s3, bucket: str, www: Path, objects: dict[str, int]) -> dict[str, str]:
    """The same random bytes as an object of the bucket and as a file of nginx's root, under one key;
    returns key -> SHA-256."""
    expected = {}
    for key, size in objects.items():
        data = os.urandom(size)
        s3.put_object(Bucket=bucket, Key=key, Body=data)
        path = www / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o755)
        path.write_bytes(data)
        expected[key] = hashlib.sha256(data).hexdigest()
    return expected


def digests(client, bucket: str, prefix: str = "") -> dict[str, str]:
    """key (without ``prefix``) -> SHA-256 of every object under ``prefix``."""
    keys = [
        obj["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for obj in page.get("Contents", [])
    ]

    def one(key: str) -> tuple[str, str]:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return key[len(prefix) :], hashlib.sha256(body).hexdigest()

    with ThreadPoolExecutor(8) as pool:
        return dict(pool.map(one, keys))


def create(api: Api, src: dict, dst: dict, **fields) -> str:
    response = api.post("/taskgroups", json={"src_node": src, "dst_node": dst, **fields})
    assert response.status_code == 200, response.text
    return response.json()["group_id"]


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ERROR_KEYS, body
    assert body["error_code"] == code, body
    assert body["error_msg"] and "\n" not in body["error_msg"]
    return body


def retry_keys(rgw, **more) -> dict:
    """A retry body giving both accounts' keys again (after a restart emptied the vault)."""
    return {
        "src_ak": rgw.access_key,
        "src_sk": rgw.secret_key,
        "dst_ak": rgw.access_key_2,
        "dst_sk": rgw.secret_key_2,
        **more,
    }


def secrets_of(rgw) -> list[str]:
    return [rgw.access_key, rgw.secret_key, rgw.access_key_2, rgw.secret_key_2]


def assert_no_secrets(service: Service, seen: list[str], secrets: list[str]) -> None:
    """No secret in the data dir (database, journals, part records, reports), the service log, FERRY_HOME,
    any response, or (PostgreSQL) any row."""
    assert files_containing(service.data_dir, secrets) == []
    assert files_containing(service.home, secrets) == []
    log = service.log()
    assert [s for s in secrets if s in log] == []
    assert [s for s in secrets for body in seen if s in body] == []
    if service.db_url:
        with psycopg.connect(service.db_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            rows = [
                str(row)
                for table in ("tokens", "task_groups", "tasks")
                for row in conn.execute(f"SELECT * FROM {table}")
            ]
        assert rows and [s for s in secrets for row in rows if s in row] == []
