"""Benchmark: the peak memory of the migration service and of a Dask worker while a LIST group plans a list
file of a million keys. The list file (``obj/0000001`` ... one a line, about 12 MB) is put in a bucket of
the RGW's second account; a Dask scheduler, ``ferry serve --db postgresql://... --scheduler`` and one
``ferry worker`` run as in bench/cluster.py; a LIST group names the list file. The keys name objects that do
not exist: planning looks each one up (a HEAD) and journals it as failed, which costs the service what
planning existing objects costs. Once the journal says the listing is complete, the worker runs chunks for
``--run-seconds`` (each object fails again there), then the group is stopped. Reported: the rows of the
task in PostgreSQL (which must equal the line count), planning time, and the peak RSS (``VmHWM``) of the
service and the worker process. Target: under 300 MiB each.
Usage: python bench/listfile_memory.py [--lines 1000000] [--run-seconds 60]"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3
import httpx
import psycopg

from cluster import free_port, pg_url, spawn, tear_down, wait_until
from peers import read_env

TARGET_MIB = 300


def peak_mib(pid: int) -> float:
    """The process's peak resident set so far (Linux ``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"bench: no VmHWM for process {pid}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--run-seconds", type=float, default=60.0)
    parser.add_argument("--timeout", type=float, default=5400.0, help="seconds planning may take")
    args = parser.parse_args()
    rgw = read_env()
    admin = pg_url().replace("postgresql+psycopg://", "postgresql://")
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    db_url = pg_url().rsplit("/", 1)[0] + f"/{name}"
    db = admin.rsplit("/", 1)[0] + f"/{name}"
    endpoint = rgw["FERRY_RGW_ENDPOINT"]
    keys = {n: (rgw[f"FERRY_RGW_ACCESS_KEY{n}"], rgw[f"FERRY_RGW_SECRET_KEY{n}"]) for n in ("", "_2")}
    clients = {
        n: boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk,
                        region_name="us-east-1")
        for n, (ak, sk) in keys.items()
    }  # fmt: skip
    src_bucket, dst_bucket = f"listmem-src-{name[6:]}", f"listmem-dst-{name[6:]}"
    clients[""].create_bucket(Bucket=src_bucket)
    clients["_2"].create_bucket(Bucket=dst_bucket)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="ferry-bench-listfile-") as tmp:
            work = Path(tmp)
            body = "".join(f"obj/{n:07d}\n" for n in range(1, args.lines + 1)).encode()
            clients["_2"].put_object(Bucket=dst_bucket, Key="lists/keys.txt", Body=body)
            size = len(body)
            del body
            env = dict(os.environ, FERRY_HOME=str(work / "home"))
            port = free_port()
            address = f"tcp://127.0.0.1:{port}"
            scheduler = ["-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port)]
            processes.append(
                spawn([*scheduler, "--dashboard-address", "127.0.0.1:0"], work / "sched.log", env)
            )
            wait_until(lambda: "Scheduler at" in (work / "sched.log").read_text(), 60, "the scheduler start")
            service_port = free_port()
            service = spawn(
                ["-m", "ferry", "serve", "--port", str(service_port), "--db", db_url, "--scheduler", address,
                 "--allow-private-endpoints", "--data-dir", str(work / "svc")],
                work / "svc.log", env,
            )  # fmt: skip
            processes.append(service)
            base = f"http://127.0.0.1:{service_port}"

            def answers() -> bool:
                try:
                    return httpx.get(f"{base}/openapi.json", timeout=1, trust_env=False).status_code == 200
                except httpx.TransportError:
                    return False

            wait_until(answers, 120, "the service start")
            worker = spawn(
                ["-m", "ferry", "worker", "--scheduler", address, "--db", db_url, "--name", "w1",
                 "--threads", "2", "--allow-private-endpoints"],
                work / "w1.log", env,
            )  # fmt: skip
            processes.append(worker)
            token = subprocess.run(
                [sys.executable, "-m", "ferry", "token", "create", "--project", "bench", "--db", db_url],
                env=env, capture_output=True, text=True, check=True,
            ).stdout.strip()  # fmt: skip
            api = httpx.Client(
                base_url=f"{base}/v2/bench", headers={"X-Auth-Token": token}, timeout=60, trust_env=False
            )
            node = {"cloud_type": "Ceph", "endpoint": endpoint, "region": "us-east-1"}
            group_body = {
                "task_type": "LIST",
                "src_node": {**node, "bucket": src_bucket, "ak": keys[""][0], "sk": keys[""][1],
                             "list_file": {"obs_bucket": dst_bucket, "list_file_key": "lists/keys.txt"}},
                "dst_node": {**node, "bucket": dst_bucket, "ak": keys["_2"][0], "sk": keys["_2"][1]},
                "transfer": {"jobs": 16},
            }  # fmt: skip
            began = time.monotonic()
            created = api.post("/taskgroups", json=group_body)
            if created.status_code != 200:
                raise SystemExit(f"bench: the group was refused: {created.text}")
            group_id = created.json()["group_id"]
            print(f"list file: {args.lines} lines, {size / 2**20:.1f} MiB; group created in "
                  f"{time.monotonic() - began:.2f} s", flush=True)  # fmt: skip

            def planned() -> tuple[bool, int]:
                with psycopg.connect(db, autocommit=True) as conn:
                    row = conn.execute("SELECT id, listing_complete FROM ferry_tasks").fetchone()
                    if row is None:
                        return False, 0
                    count = conn.execute(
                        "SELECT count(*) FROM ferry_objects WHERE task_id = %s", (row[0],)
                    ).fetchone()
                    return bool(row[1]), int(count[0] if count else 0)

            deadline = time.monotonic() + args.timeout
            complete, rows, last_print = False, 0, 0.0
            while not complete:
                if time.monotonic() > deadline:
                    raise SystemExit(f"bench: planning did not end in {args.timeout:.0f} s ({rows} rows)")
                for who, process in (("svc", service), ("w1", worker)):
                    if process.poll() is not None:
                        tail = (work / f"{who}.log").read_text()[-1500:]
                        raise SystemExit(f"bench: {who} exited:\n{tail}")
                time.sleep(2)
                complete, rows = planned()
                if time.monotonic() - last_print > 60:
                    last_print = time.monotonic()
                    print(f"  {time.monotonic() - began:6.0f} s: {rows} rows, service peak "
                          f"{peak_mib(service.pid):.0f} MiB", flush=True)  # fmt: skip
            planning = time.monotonic() - began
            time.sleep(args.run_seconds)
            api.put(f"/taskgroups/{group_id}/stop")
            time.sleep(3)
            peaks = {"service": peak_mib(service.pid), "worker": peak_mib(worker.pid)}
            _, rows = planned()
            print(f"planned {rows} rows of {args.lines} lines in PostgreSQL in {planning:.0f} s "
                  f"({rows / planning:.0f} lines/s); the worker then ran chunks for "
                  f"{args.run_seconds:.0f} s")  # fmt: skip
            for who, mib in peaks.items():
                print(f"  peak RSS of the {who}: {mib:.0f} MiB "
                      f"({'under' if mib < TARGET_MIB else 'OVER'} {TARGET_MIB} MiB)")  # fmt: skip
            if rows != args.lines:
                raise SystemExit(f"bench: {rows} rows in the journal, {args.lines} lines in the list")
    finally:
        tear_down(processes, ((clients[""], src_bucket), (clients["_2"], dst_bucket)), admin, name)


if __name__ == "__main__":
    main()
