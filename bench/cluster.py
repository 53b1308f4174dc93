"""Benchmark: the migration service's throughput as Dask workers are added. A Dask scheduler, the service on
PostgreSQL (`ferry serve --scheduler`), and 1, 2 then 4 `ferry worker` processes; each worker's share of a
group is capped by the group's bwlimit (per worker process), standing for one machine's network. One group
copies the same objects between the RGW's two accounts (streamed through the workers) in every run.
Prints the median seconds and MiB/s of each worker count and the speed-up over one worker.
Usage: python bench/cluster.py [--objects 24] [--object-size 32MiB] [--bwlimit 40MiB] [--workers 1,2,4]
[--runs 3]"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import httpx
import psycopg

from ferry.units import format_size, parse_size
from peers import REPO, read_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pg_url() -> str:
    env = Path(os.environ.get("FERRY_PG_DIR", REPO / ".run" / "postgres")) / "env"
    values = dict(line.split("=", 1) for line in env.read_text().splitlines() if "=" in line)
    return values["FERRY_PG_URL"]


def spawn(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, *args], env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {what} did not happen in {timeout:.0f} s")
        time.sleep(0.2)


def tear_down(
    processes: list[subprocess.Popen[bytes]], buckets: Iterable[tuple[Any, str]], admin: str, database: str
) -> None:
    """Stop the bench's processes, empty and delete its buckets, drop its database."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
    for client, bucket in buckets:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys})
        client.delete_bucket(Bucket=bucket)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=24)
    parser.add_argument("--object-size", default="32MiB")
    parser.add_argument("--bwlimit", default="40MiB")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    size = parse_size(args.object_size)
    counts = [int(n) for n in args.workers.split(",")]
    rgw = read_env()
    admin_url = pg_url()
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    db_url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    processes: list[subprocess.Popen[bytes]] = []
    src = boto3.client(
        "s3",
        endpoint_url=rgw["FERRY_RGW_ENDPOINT"],
        aws_access_key_id=rgw["FERRY_RGW_ACCESS_KEY"],
        aws_secret_access_key=rgw["FERRY_RGW_SECRET_KEY"],
        region_name="us-east-1",
    )
    dst = boto3.client(
        "s3",
        endpoint_url=rgw["FERRY_RGW_ENDPOINT"],
        aws_access_key_id=rgw["FERRY_RGW_ACCESS_KEY_2"],
        aws_secret_access_key=rgw["FERRY_RGW_SECRET_KEY_2"],
        region_name="us-east-1",
    )
    src_bucket, dst_bucket = f"cluster-src-{name[6:]}", f"cluster-dst-{name[6:]}"
    src.create_bucket(Bucket=src_bucket)
    dst.create_bucket(Bucket=dst_bucket)
    try:
        with tempfile.TemporaryDirectory(prefix="ferry-bench-cluster-") as tmp:
            work = Path(tmp)
            env = dict(os.environ, FERRY_HOME=str(work / "home"), FERRY_CHUNK_LEASE="10")
            data = os.urandom(size)
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda n: src.put_object(Bucket=src_bucket, Key=f"o{n:04}", Body=data),
                              range(args.objects)))  # fmt: skip
            port = free_port()
            address = f"tcp://127.0.0.1:{port}"
            scheduler = ["-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port)]
            processes.append(
                spawn([*scheduler, "--dashboard-address", "127.0.0.1:0"], work / "sched.log", env)
            )
            wait_until(lambda: "Scheduler at" in (work / "sched.log").read_text(), 60, "the scheduler start")
            service_port = free_port()
            serve = [
                "-m",
                "ferry",
                "serve",
                "--port",
                str(service_port),
                "--db",
                db_url,
                "--scheduler",
                address,
                "--allow-private-endpoints",  # the RGW is on loopback
            ]
            processes.append(spawn([*serve, "--data-dir", str(work / "svc")], work / "svc.log", env))
            base = f"http://127.0.0.1:{service_port}"

            def answers() -> bool:
                try:
                    return httpx.get(f"{base}/openapi.json", timeout=1, trust_env=False).status_code == 200
                except httpx.TransportError:
                    return False

            wait_until(answers, 120, "the service start")
            token = subprocess.run(
                [sys.executable, "-m", "ferry", "token", "create", "--project", "bench", "--db", db_url],
                env=env, capture_output=True, text=True, check=True,
            ).stdout.strip()  # fmt: skip
            api = httpx.Client(
                base_url=f"{base}/v2/bench", headers={"X-Auth-Token": token}, timeout=60, trust_env=False
            )
            node = {"cloud_type": "Ceph", "endpoint": rgw["FERRY_RGW_ENDPOINT"], "region": "us-east-1"}
            body = {
                "src_node": {**node, "bucket": src_bucket, "ak": rgw["FERRY_RGW_ACCESS_KEY"],
                             "sk": rgw["FERRY_RGW_SECRET_KEY"]},
                "dst_node": {**node, "bucket": dst_bucket, "ak": rgw["FERRY_RGW_ACCESS_KEY_2"],
                             "sk": rgw["FERRY_RGW_SECRET_KEY_2"]},
                "transfer": {"threshold": "16MiB", "part_size": "8MiB", "parallel": 4, "jobs": 2,
                             "bwlimit": args.bwlimit},
            }  # fmt: skip
            results: dict[int, list[float]] = {}
            for count in counts:
                workers = [
                    spawn(
                        [
                            "-m",
                            "ferry",
                            "worker",
                            "--scheduler",
                            address,
                            "--db",
                            db_url,
                            "--name",
                            f"w{count}-{k}",
                            "--threads",
                            "2",
                            "--allow-private-endpoints",
                        ],
                        work / f"w{count}-{k}.log",
                        env,
                    )
                    for k in range(count)
                ]
                processes.extend(workers)
                from distributed import Client

                with Client(address, timeout="30s") as client:
                    client.wait_for_workers(count, timeout=120)
                for _ in range(args.runs):
                    started = time.perf_counter()
                    created = api.post("/taskgroups", json=body)
                    if created.status_code != 200:
                        raise SystemExit(f"bench: the group was refused: {created.text}")
                    group_id = created.json()["group_id"]
                    while (group := api.get(f"/taskgroups/{group_id}").json())["status_name"] not in (
                        "succeeded", "failed", "stopped"
                    ):  # fmt: skip
                        time.sleep(0.2)
                    elapsed = time.perf_counter() - started
                    if group["status_name"] != "succeeded":
                        raise SystemExit(
                            f"bench: the group {group['status_name']}: {group.get('error_reason')}"
                        )
                    results.setdefault(count, []).append(elapsed)
                    api.delete(f"/taskgroups/{group_id}")
                    keys = [{"Key": f"o{n:04}"} for n in range(args.objects)]
                    dst.delete_objects(Bucket=dst_bucket, Delete={"Objects": keys})
                for worker in workers:
                    worker.terminate()
                for worker in workers:
                    worker.wait(30)
            total = size * args.objects
            print(f"cluster: {args.objects} x {format_size(size)} between two accounts, bwlimit "
                  f"{args.bwlimit} per worker, median of {args.runs}")  # fmt: skip
            one = statistics.median(results[counts[0]])
            for count in counts:
                median = statistics.median(results[count])
                print(f"  {count} worker(s): {median:6.1f} s  {total / median / 2**20:7.1f} MiB/s  "
                      f"x{one / median:.2f}")  # fmt: skip
    finally:
        tear_down(processes, ((src, src_bucket), (dst, dst_bucket)), admin, name)


if __name__ == "__main__":
    main()
