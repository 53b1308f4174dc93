"""Benchmark: one large object up and down with `ferry cp`, beside a single-stream `curl --aws-sigv4` of the
same file against the same RGW in the same run (the practical ceiling on this machine). Prints medians and
the ferry/curl ratio. Usage: python bench/single.py [--size 1GiB] [--runs 3] [--parallel 4]"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

from ferry.units import format_size, parse_size

REPO = Path(__file__).resolve().parent.parent


def read_env() -> dict[str, str]:
    env_file = Path(os.environ.get("FERRY_RGW_DIR", REPO / ".run" / "rgw")) / "env"
    pairs = (line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs}


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd[:3])} failed: {done.stderr.strip()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", default="1GiB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--parallel", default="4")
    args = parser.parse_args()
    size = parse_size(args.size)
    rgw = read_env()
    endpoint, key, secret = (
        rgw["FERRY_RGW_ENDPOINT"],
        rgw["FERRY_RGW_ACCESS_KEY"],
        rgw["FERRY_RGW_SECRET_KEY"],
    )
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name="us-east-1",
    )
    bucket = "ferry-bench"
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket)

    with tempfile.TemporaryDirectory(prefix="ferry-bench-") as tmp:
        work = Path(tmp)
        source = work / "source.bin"
        with open(source, "wb") as handle:
            for _ in range(0, size, 1 << 20):
                handle.write(os.urandom(min(1 << 20, size - handle.tell())))
        config = work / "config.toml"
        config.write_text(
            f'[remotes.bench]\nendpoint = "{endpoint}"\naccess_key = "{key}"\nsecret_key = "{secret}"\n'
        )
        env = dict(os.environ, FERRY_CONFIG=str(config), FERRY_HOME=str(work / "home"))
        curl = ["curl", "-sS", "--fail", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", f"{key}:{secret}"]
        curl += ["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]
        url = f"{endpoint}/{bucket}/obj.bin"
        ferry = [sys.executable, "-m", "ferry", "cp", "-q", "-f", "-p", args.parallel]
        times: dict[str, list[float]] = {k: [] for k in ("curl up", "ferry up", "curl down", "ferry down")}
        steps = {
            "curl up": lambda: timed([*curl, "-T", str(source), url]),
            "ferry up": lambda: timed([*ferry, str(source), f"bench://{bucket}/obj.bin"], env),
            "curl down": lambda: timed([*curl, "-o", str(work / "down.bin"), url]),
            "ferry down": lambda: timed([*ferry, f"bench://{bucket}/obj.bin", str(work / "down.bin")], env),
        }
        for run in range(args.runs):
            # Alternate who goes first, so neither always inherits the other's page cache and writeback.
            order = ("curl", "ferry") if run % 2 == 0 else ("ferry", "curl")
            for direction in ("up", "down"):
                for tool in order:
                    times[f"{tool} {direction}"].append(steps[f"{tool} {direction}"]())
                    if direction == "up":
                        s3.delete_object(Bucket=bucket, Key="obj.bin")
                    else:
                        (work / "down.bin").unlink()
                if direction == "up":  # the object both download: the same multipart upload each run
                    steps["ferry up"]()
            s3.delete_object(Bucket=bucket, Key="obj.bin")
            summary = ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items())
            print(f"run {run + 1}/{args.runs}: {summary}", flush=True)

    def rate(name: str) -> float:
        return size / statistics.median(times[name])

    print(f"\n{format_size(size)} object, median of {args.runs} runs, ferry -p {args.parallel}")
    print(f"{'':12}{'curl':>14}{'ferry':>14}{'ferry/curl':>12}")
    for direction in ("up", "down"):
        c, f = rate(f"curl {direction}"), rate(f"ferry {direction}")
        print(f"{direction:12}{format_size(c) + '/s':>14}{format_size(f) + '/s':>14}{f / c:>12.2f}")


if __name__ == "__main__":
    main()
