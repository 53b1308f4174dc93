"""Shared fixtures: the real Ceph RGW (started by scripts/rgw.sh), buckets that clean up after themselves,
a config file naming the server as remotes, and a runner for the ``ferry`` command in a child process."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import botocore.config
import pytest
from hypothesis import settings as hypothesis_settings
from tests.support.cluster import create_database, drop_database
from tests.support.servers import start_server

# Property tests assert what holds, not how fast: a deadline only makes them flaky on a busy machine.
hypothesis_settings.register_profile("ferry", deadline=None)
hypothesis_settings.load_profile("ferry")

MiB = 1024 * 1024


@dataclass(frozen=True)
class RGW:
    endpoint: str
    access_key: str
    secret_key: str
    access_key_2: str
    secret_key_2: str

    def client(self, second: bool = False, endpoint: str | None = None):
        return boto3.client(
            "s3",
            endpoint_url=endpoint or self.endpoint,
            aws_access_key_id=self.access_key_2 if second else self.access_key,
            aws_secret_access_key=self.secret_key_2 if second else self.secret_key,
            region_name="us-east-1",
            config=botocore.config.Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 3}),
        )


@pytest.fixture(scope="session")
def rgw() -> RGW:
    """The real S3 server. ``make test`` starts it; starting it here too keeps plain ``pytest`` working."""
    try:
        env = start_server("rgw.sh")
    except RuntimeError as exc:
        pytest.fail(f"could not start Ceph RGW: {exc}")
    return RGW(
        endpoint=env["FERRY_RGW_ENDPOINT"],
        access_key=env["FERRY_RGW_ACCESS_KEY"],
        secret_key=env["FERRY_RGW_SECRET_KEY"],
        access_key_2=env["FERRY_RGW_ACCESS_KEY_2"],
        secret_key_2=env["FERRY_RGW_SECRET_KEY_2"],
    )


@pytest.fixture(scope="session")
def s3(rgw):
    return rgw.client()


def empty_bucket(client, bucket: str) -> None:
    for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads", []):
            client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
        if keys:  # a thousand a request: a test of thousands of objects is emptied in seconds
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


def _make_bucket(client):
    name = f"t-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    yield name
    empty_bucket(client, name)
    client.delete_bucket(Bucket=name)


@pytest.fixture
def bucket(s3):
    """A fresh bucket of the first account, emptied and deleted afterwards."""
    yield from _make_bucket(s3)


@pytest.fixture
def bucket2(s3):
    """A second bucket of the same account (server-side copies)."""
    yield from _make_bucket(s3)


@pytest.fixture
def other_bucket(rgw):
    """A bucket of the second account (cross-account, streamed copies)."""
    yield from _make_bucket(rgw.client(second=True))


def write_remotes(path: Path, rgw: RGW, extra: dict[str, str] | None = None, defaults: str = "") -> Path:
    """A config file with ``rgw`` (first account), ``rgw2`` (second account) and any extra remotes
    (name -> endpoint, first account's keys)."""
    remotes = {"rgw": (rgw.endpoint, rgw.access_key, rgw.secret_key)}
    remotes["rgw2"] = (rgw.endpoint, rgw.access_key_2, rgw.secret_key_2)
    for name, endpoint in (extra or {}).items():
        remotes[name] = (endpoint, rgw.access_key, rgw.secret_key)
    text = f"[defaults]\n{defaults}\n"
    for name, (endpoint, key, secret) in remotes.items():
        text += (
            f'[remotes.{name}]\nendpoint = "{endpoint}"\naccess_key = "{key}"\nsecret_key = "{secret}"\n'
            'region = "us-east-1"\n'
        )
    path.write_text(text)
    return path


@pytest.fixture
def home(tmp_path) -> Path:
    """FERRY_HOME for the test: checkpoints and the like stay inside tmp."""
    path = tmp_path / "ferry-home"
    path.mkdir()
    return path


@pytest.fixture
def config(tmp_path, rgw) -> Path:
    return write_remotes(tmp_path / "config.toml", rgw)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    def transferred(self) -> int:
        for line in self.stdout.splitlines():
            if line.startswith("Transferred bytes:"):
                return int(line.split(":", 1)[1].split()[0])
        raise AssertionError(f"no 'Transferred bytes' in output:\n{self.stdout}\n{self.stderr}")


def ferry_env(config: Path, home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"FERRY_CONFIG": str(config), "FERRY_HOME": str(home), "PYTHONUNBUFFERED": "1"})
    return env


def ferry_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "ferry", *args]


def spawn_ferry(config: Path, home: Path, *args: str) -> subprocess.Popen[bytes]:
    """Start ``ferry ARGS`` in the background (for tests that kill or interrupt it)."""
    return subprocess.Popen(
        ferry_cmd(*args),
        env=ferry_env(config, home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def ferry(config, home):
    """Run ``ferry ARGS`` in a child process against the test config; returns a Run."""

    def run(*args: str, timeout: float = 180, config_path: Path | None = None) -> Run:
        done = subprocess.run(
            ferry_cmd(*args),
            env=ferry_env(config_path or config, home),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    return run


def make_file(path: Path, size: int) -> str:
    """A file of ``size`` random bytes (no two parts alike, so a misplaced part cannot go unseen);
    returns its SHA-256."""
    digest = hashlib.sha256()
    with open(path, "wb") as handle:
        left = size
        while left:
            chunk = os.urandom(min(left, MiB))
            handle.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_object(client, bucket: str, key: str) -> str:
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    digest = hashlib.sha256()
    while chunk := body.read(MiB):
        digest.update(chunk)
    return digest.hexdigest()


def uploads_left(client, bucket: str) -> list[str]:
    return [u["Key"] for u in client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


@pytest.fixture(scope="session")
def postgres_url() -> str:
    try:
        return start_server("postgres.sh")["FERRY_PG_URL"]
    except RuntimeError as exc:
        pytest.fail(f"could not start PostgreSQL: {exc}")


@pytest.fixture
def pg_database(postgres_url):
    """A fresh database of the test cluster, dropped afterwards."""
    url = create_database(postgres_url)
    yield url
    drop_database(postgres_url, url)
