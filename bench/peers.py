"""What the benchmarks share: the RGW's address and keys, and how each tool — ferry, the AWS CLI, rclone,
curl — is pointed at it, so that every tool runs against the same server in the same run."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3

REPO = Path(__file__).resolve().parent.parent


def read_env() -> dict[str, str]:
    env_file = Path(os.environ.get("FERRY_RGW_DIR", REPO / ".run" / "rgw")) / "env"
    pairs = (line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs}


_downloads = itertools.count(1)


def download_folder(work: Path, tool: str) -> Path:
    """A new folder for one download, to be kept until the benchmark ends.

    Why not one folder emptied between runs: ext4 skips an inode freed in the last 30 s when it allocates
    one (``recently_deleted``), reading each such inode to tell, so a download into the space another tool's
    download had just freed paid for that tool's files: by perf, a third of the CPU of a download of small
    files here, and nothing a user's download pays."""
    return work / f"down-{tool}-{next(_downloads)}"


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    """Wall time of one command, which must succeed."""
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd[:4])} failed: {done.stderr.strip()[-500:]}")
    return elapsed


class Server:
    """The RGW under test, and each tool's command line and environment for it."""

    def __init__(self, work: Path) -> None:
        rgw = read_env()
        self.endpoint = rgw["FERRY_RGW_ENDPOINT"]
        self.key, self.secret = rgw["FERRY_RGW_ACCESS_KEY"], rgw["FERRY_RGW_SECRET_KEY"]
        self.s3: Any = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
            region_name="us-east-1",
        )
        config = work / "ferry.toml"
        config.write_text(
            f'[remotes.bench]\nendpoint = "{self.endpoint}"\naccess_key = "{self.key}"\n'
            f'secret_key = "{self.secret}"\n'
        )
        self.ferry_env = dict(os.environ, FERRY_CONFIG=str(config), FERRY_HOME=str(work / "ferry-home"))
        self.aws_env = dict(
            os.environ,
            AWS_ACCESS_KEY_ID=self.key,
            AWS_SECRET_ACCESS_KEY=self.secret,
            AWS_DEFAULT_REGION="us-east-1",
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_CONFIG_FILE=str(work / "aws-config"),
        )
        # rclone 1.60 cannot load the machine's custom CA bundle for a plain-HTTP endpoint: unset it there.
        self.rclone_env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
        self.rclone_env.update(
            RCLONE_CONFIG_BENCH_TYPE="s3",
            RCLONE_CONFIG_BENCH_PROVIDER="Ceph",
            RCLONE_CONFIG_BENCH_ENDPOINT=self.endpoint,
            RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=self.key,
            RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=self.secret,
            RCLONE_CONFIG_BENCH_REGION="us-east-1",
        )

    def settle(self) -> None:
        """Have RGW's garbage collector free now what earlier runs deleted, so that no tool is timed
        against a server busy freeing another tool's bytes (the collector otherwise wakes every 15 s)."""
        conf = Path(read_env()["FERRY_RGW_DIR"]) / "ceph.conf"
        done = subprocess.run(
            ["radosgw-admin", "-c", str(conf), "gc", "process", "--include-all"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            print(f"bench: radosgw-admin gc process failed: {done.stderr.strip()[-300:]}", file=sys.stderr)

    def bucket(self, name: str) -> str:
        with contextlib.suppress(self.s3.exceptions.BucketAlreadyOwnedByYou):
            self.s3.create_bucket(Bucket=name)
        return name

    def empty(self, bucket: str, prefix: str) -> None:
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                self.s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})

    def count(self, bucket: str, prefix: str) -> int:
        paginator = self.s3.get_paginator("list_objects_v2")
        return sum(page.get("KeyCount", 0) for page in paginator.paginate(Bucket=bucket, Prefix=prefix))

    def curl(self) -> list[str]:
        return [
            "curl", "-sS", "--fail", "--aws-sigv4", "aws:amz:us-east-1:s3",
            "--user", f"{self.key}:{self.secret}", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
        ]  # fmt: skip


def ferry_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "ferry", *args]


def aws_cmd(*args: str) -> list[str]:
    found = shutil.which("aws")
    if found is None:
        raise SystemExit("bench: the AWS CLI is missing: make bench installs it")
    return [found, *args]


def rclone_cmd(*args: str) -> list[str]:
    found = shutil.which("rclone")
    if found is None:
        raise SystemExit("bench: rclone is missing: make bench installs it")
    return [found, *args]
