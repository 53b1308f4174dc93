"""Benchmark: one large object up, down and copied within the server (bucket to bucket, server-side) with
`ferry cp`, beside the AWS CLI, rclone and a single-stream `curl --aws-sigv4` (the practical ceiling on this
machine: for the copy, one CopyObject request) on the same RGW in the same run. Each tool runs with its own
defaults (ferry with -p); who goes first rotates between runs. Prints medians and ratios.
Usage: python bench/single.py [--size 1GiB] [--runs 3] [--parallel 4]"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

from ferry.units import format_size, parse_size
from peers import Server, aws_cmd, ferry_cmd, rclone_cmd, timed

TOOLS = ("curl", "ferry", "aws", "rclone")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", default="1GiB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--parallel", default="4")
    args = parser.parse_args()
    size = parse_size(args.size)

    with tempfile.TemporaryDirectory(prefix="ferry-bench-") as tmp:
        work = Path(tmp)
        server = Server(work)
        bucket = server.bucket("ferry-bench")
        source, down = work / "source.bin", work / "down.bin"
        with open(source, "wb") as handle:
            for done in range(0, size, 1 << 20):
                handle.write(os.urandom(min(1 << 20, size - done)))
        url = f"{server.endpoint}/{bucket}/obj.bin"
        ferry_cp = ferry_cmd("cp", "-q", "-f", "-p", args.parallel)
        aws_cp = aws_cmd("s3", "cp", "--only-show-errors")
        fe, ae, re_ = server.ferry_env, server.aws_env, server.rclone_env
        up: dict[str, Callable[[], float]] = {
            "curl": lambda: timed([*server.curl(), "-T", str(source), url]),
            "ferry": lambda: timed([*ferry_cp, str(source), f"bench://{bucket}/obj.bin"], fe),
            "aws": lambda: timed([*aws_cp, str(source), f"s3://{bucket}/obj.bin"], ae),
            "rclone": lambda: timed(rclone_cmd("copyto", str(source), f"bench:{bucket}/obj.bin"), re_),
        }
        get: dict[str, Callable[[], float]] = {
            "curl": lambda: timed([*server.curl(), "-o", str(down), url]),
            "ferry": lambda: timed([*ferry_cp, f"bench://{bucket}/obj.bin", str(down)], fe),
            "aws": lambda: timed([*aws_cp, f"s3://{bucket}/obj.bin", str(down)], ae),
            "rclone": lambda: timed(rclone_cmd("copyto", f"bench:{bucket}/obj.bin", str(down)), re_),
        }
        copy_url = f"{server.endpoint}/{bucket}/copy.bin"
        copy: dict[str, Callable[[], float]] = {
            "curl": lambda: timed(
                [*server.curl(), "-X", "PUT", "-H", f"x-amz-copy-source: {bucket}/obj.bin", copy_url]
            ),
            "ferry": lambda: timed(
                [*ferry_cp, f"bench://{bucket}/obj.bin", f"bench://{bucket}/copy.bin"], fe
            ),
            "aws": lambda: timed([*aws_cp, f"s3://{bucket}/obj.bin", f"s3://{bucket}/copy.bin"], ae),
            "rclone": lambda: timed(
                rclone_cmd("copyto", f"bench:{bucket}/obj.bin", f"bench:{bucket}/copy.bin"), re_
            ),
        }
        times: dict[str, dict[str, list[float]]] = {d: {t: [] for t in TOOLS} for d in ("up", "down", "copy")}
        for run in range(args.runs):
            # Rotate who goes first, so no tool always inherits another's page cache and writeback.
            order = TOOLS[run % len(TOOLS) :] + TOOLS[: run % len(TOOLS)]
            for tool in order:
                server.settle()
                times["up"][tool].append(up[tool]())
                server.s3.delete_object(Bucket=bucket, Key="obj.bin")
            up["ferry"]()  # every tool downloads the same multipart object
            for tool in order:
                server.settle()
                times["down"][tool].append(get[tool]())
                if down.stat().st_size != size:
                    raise SystemExit(f"bench: {tool} downloaded the wrong size")
                down.unlink()
            for tool in order:
                server.settle()
                times["copy"][tool].append(copy[tool]())
                if server.s3.head_object(Bucket=bucket, Key="copy.bin")["ContentLength"] != size:
                    raise SystemExit(f"bench: {tool} copied the wrong size")
                server.s3.delete_object(Bucket=bucket, Key="copy.bin")
            server.s3.delete_object(Bucket=bucket, Key="obj.bin")
            for direction, by_tool in times.items():
                line = ", ".join(f"{t} {v[-1]:.2f}s" for t, v in by_tool.items())
                print(f"run {run + 1}/{args.runs} {direction}: {line}", flush=True)

    print(f"\n{format_size(size)} object, median of {args.runs} runs, ferry -p {args.parallel}")
    print(f"{'':8}" + "".join(f"{t + ' MiB/s':>14}" for t in TOOLS) + f"{'ferry/curl':>12}{'ferry/best':>12}")
    for direction, by_tool in times.items():
        rate = {t: size / statistics.median(v) / (1 << 20) for t, v in by_tool.items()}
        best_peer = max(rate["aws"], rate["rclone"])
        cells = "".join(f"{rate[t]:>14.0f}" for t in TOOLS)
        print(f"{direction:8}{cells}{rate['ferry'] / rate['curl']:>12.2f}{rate['ferry'] / best_peer:>12.2f}")
    print("(ferry/best: ferry's speed over the faster of the AWS CLI and rclone)")


if __name__ == "__main__":
    main()
