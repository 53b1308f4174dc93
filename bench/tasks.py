"""Benchmark: tasks beside the AWS CLI and rclone on the same RGW in the same run — 2,000 objects of
16 KiB uploaded and downloaded, and a 1 GiB bucket-to-bucket copy. Each tool runs with its own defaults;
who goes first alternates between runs. Prints medians and ferry's speed relative to the better peer.
Usage: python bench/tasks.py [--objects 2000] [--object-size 16KiB] [--copy-size 1GiB] [--runs 3]
[--jobs N] [--only SCENARIO]"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

from ferry.units import format_size, parse_size
from peers import Server, aws_cmd, download_folder, ferry_cmd, rclone_cmd, timed

TOOLS = ("ferry", "aws", "rclone")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--object-size", default="16KiB")
    parser.add_argument("--copy-size", default="1GiB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", default=None, help="ferry -j (default: ferry's own)")
    parser.add_argument("--only", default=None, help="one scenario: small-up, small-down or copy")
    args = parser.parse_args()
    object_size, copy_size = parse_size(args.object_size), parse_size(args.copy_size)

    with tempfile.TemporaryDirectory(prefix="ferry-bench-") as tmp:
        work = Path(tmp)
        server = Server(work)
        bucket, bucket2 = server.bucket("ferry-bench"), server.bucket("ferry-bench-2")
        tree = work / "tree"
        tree.mkdir()
        for i in range(args.objects):
            (tree / f"d{i % 20:02d}").mkdir(exist_ok=True)
            (tree / f"d{i % 20:02d}" / f"o{i:05d}.bin").write_bytes(os.urandom(object_size))
        jobs = ["-j", args.jobs] if args.jobs else []
        ferry_cp = ferry_cmd("cp", "-q", "-f", *jobs)
        aws_cp = aws_cmd("s3", "cp", "--only-show-errors")
        fe, ae, re_ = server.ferry_env, server.aws_env, server.rclone_env

        def small_up(tool: str) -> float:
            dest = f"small-up-{tool}/"
            cmd = {
                "ferry": ([*ferry_cp, "-r", str(tree), f"bench://{bucket}/{dest}"], fe),
                "aws": ([*aws_cp, "--recursive", str(tree), f"s3://{bucket}/{dest}"], ae),
                "rclone": (rclone_cmd("copy", str(tree), f"bench:{bucket}/{dest}"), re_),
            }[tool]  # fmt: skip
            elapsed = timed(*cmd)
            server.empty(bucket, dest)
            return elapsed

        def small_down(tool: str) -> float:
            dest = download_folder(work, tool)
            cmd = {
                "ferry": ([*ferry_cp, "-r", f"bench://{bucket}/small-src/", str(dest)], fe),
                "aws": ([*aws_cp, "--recursive", f"s3://{bucket}/small-src/", str(dest)], ae),
                "rclone": (rclone_cmd("copy", f"bench:{bucket}/small-src", str(dest)), re_),
            }[tool]  # fmt: skip
            elapsed = timed(*cmd)
            if sum(1 for _ in dest.rglob("*.bin")) != args.objects:
                raise SystemExit(f"bench: {tool} did not download every object")
            return elapsed

        def copy(tool: str) -> float:
            key = f"copy-{tool}.bin"
            cmd = {
                "ferry": ([*ferry_cp, f"bench://{bucket}/big-src.bin", f"bench://{bucket2}/{key}"], fe),
                "aws": ([*aws_cp, f"s3://{bucket}/big-src.bin", f"s3://{bucket2}/{key}"], ae),
                "rclone": (rclone_cmd("copyto", f"bench:{bucket}/big-src.bin", f"bench:{bucket2}/{key}"),
                           re_),
            }[tool]  # fmt: skip
            elapsed = timed(*cmd)
            if server.s3.head_object(Bucket=bucket2, Key=key)["ContentLength"] != copy_size:
                raise SystemExit(f"bench: {tool}'s copy has the wrong size")
            server.s3.delete_object(Bucket=bucket2, Key=key)
            return elapsed

        scenarios: dict[str, Callable[[str], float]] = {
            "small-up": small_up,
            "small-down": small_down,
            "copy": copy,
        }
        if args.only:
            scenarios = {args.only: scenarios[args.only]}
        if "small-down" in scenarios:
            timed([*ferry_cp, "-r", str(tree), f"bench://{bucket}/small-src/"], fe)
        if "copy" in scenarios:
            big = work / "big.bin"
            with open(big, "wb") as handle:
                for done in range(0, copy_size, 1 << 20):
                    handle.write(os.urandom(min(1 << 20, copy_size - done)))
            timed([*ferry_cp, str(big), f"bench://{bucket}/big-src.bin"], fe)
            big.unlink()

        times: dict[str, dict[str, list[float]]] = {s: {t: [] for t in TOOLS} for s in scenarios}
        for run in range(args.runs):
            order = TOOLS[run % 3 :] + TOOLS[: run % 3]
            for name, scenario in scenarios.items():
                for tool in order:
                    server.settle()
                    times[name][tool].append(scenario(tool))
                line = ", ".join(f"{t} {times[name][t][-1]:.2f}s" for t in TOOLS)
                print(f"run {run + 1}/{args.runs} {name}: {line}", flush=True)
        server.empty(bucket, "small-src/")
        server.empty(bucket, "big-src.bin")

    print(f"\nmedian of {args.runs} runs; {args.objects} objects of {format_size(object_size)}, copy of "
          f"{format_size(copy_size)}; ferry {' '.join(jobs) or 'defaults'}")  # fmt: skip
    print(f"{'':12}" + "".join(f"{t:>10}" for t in TOOLS) + f"{'ferry/best peer':>18}")
    for name, by_tool in times.items():
        medians = {t: statistics.median(v) for t, v in by_tool.items()}
        best_peer = min(medians["aws"], medians["rclone"])
        cells = "".join(f"{medians[t]:>9.2f}s" for t in TOOLS)
        print(f"{name:12}{cells}{best_peer / medians['ferry']:>17.2f}x")
    print("(ferry/best peer: above 1.00x means ferry was faster than both peers)")


if __name__ == "__main__":
    main()
