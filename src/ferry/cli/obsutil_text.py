"""What a task run prints, in obsutil's shapes: the parameter block before the run, the plain progress line
for logs and pipes, and the closing block, with obsutil's units (``70B``, ``7.20MB``, ``2.02 KB/s``).

Example (a recover, standard output not a terminal)::

    Start at 2024-10-08 01:10:07.380968 +0000 UTC

    Parallel:      5                   Jobs:          5
    Threshold:     50.00MB             PartSize:      auto
    VerifyLength:  false               VerifyMd5:     false
    CheckpointDir: /home/u/.ferry/checkpoint

    Task id: a628d6da-c562-4a1f-b687-4fa125de0dc3
    OutputDir: /home/u/.ferry/output
    TempFileDir: beside each downloaded file

    [========================================================] 100.00% tps:35.71 2.02 KB/s 7.20MB/7.20MB 0s
    Succeed count:      1         Failed count:       0
    Succeed bytes:      7549747 (7.20MB)
    Transferred bytes:  7549747 (7.20MB)
    Metrics [max cost:90 ms, min cost:45 ms, average cost:63.80 ms, average tps:35.71, transferred size:...]

    Task id: a628d6da-c562-4a1f-b687-4fa125de0dc3
"""

from __future__ import annotations

import datetime
import sys
from dataclasses import dataclass
from typing import TextIO

from ferry.tasks import runner

_UNITS = ("KB", "MB", "GB", "TB", "PB")
BAR_WIDTH = 56


def obsutil_size(n: float) -> str:
    """obsutil's size: ``70B``, ``2.02KB``, ``7.20MB`` (binary units, as obsutil counts them)."""
    if n < 1024:
        return f"{int(n)}B"
    for unit in _UNITS:
        n /= 1024
        if n < 1024 or unit == _UNITS[-1]:
            return f"{n:.2f}{unit}"
    raise AssertionError("unreachable")


def obsutil_speed(per_second: float) -> str:
    """obsutil's speed: ``2.02 KB/s``, ``512 B/s``."""
    if per_second < 1024:
        return f"{per_second:.2f} B/s"
    text = obsutil_size(per_second)
    return f"{text[:-2]} {text[-2:]}/s"


def go_duration(seconds: float) -> str:
    """A duration as obsutil shows one: ``0s``, ``45s``, ``2m5s``, ``1h0m3s``."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def start_line(now: datetime.datetime | None = None) -> str:
    moment = now or datetime.datetime.now(datetime.UTC)
    return f"Start at {moment.strftime('%Y-%m-%d %H:%M:%S.%f')} +0000 UTC"


@dataclass(frozen=True)
class Parameters:
    parallel: int
    jobs: int
    threshold: int
    part_size: int | None
    verify_length: bool
    verify_md5: bool
    checkpoint_dir: str
    task_id: str
    output_dir: str
    temp_dir: str | None


def parameter_block(p: Parameters, now: datetime.datetime | None = None) -> str:
    """The block obsutil prints before a task runs."""

    def pair(label: str, value: object, label2: str, value2: object) -> str:
        return f"{label:<15}{value!s:<20}{label2:<15}{value2}"

    def flag(value: bool) -> str:
        return "true" if value else "false"

    part = "auto" if p.part_size is None else obsutil_size(p.part_size)
    return "\n".join(
        [
            start_line(now),
            "",
            pair("Parallel:", p.parallel, "Jobs:", p.jobs),
            pair("Threshold:", obsutil_size(p.threshold), "PartSize:", part),
            pair("VerifyLength:", flag(p.verify_length), "VerifyMd5:", flag(p.verify_md5)),
            f"CheckpointDir: {p.checkpoint_dir}",
            "",
            f"Task id: {p.task_id}",
            f"OutputDir: {p.output_dir}",
            f"TempFileDir: {p.temp_dir or 'beside each downloaded file'}",
            "",
        ]
    )


def progress_line(done: int, total: int, moved: int, objects: int, elapsed: float) -> str:
    """``[====----] 42.00% tps:35.71 2.02 KB/s 3.02MB/7.20MB 4s``: bytes done of all (earlier runs'
    included), objects finished per second, this run's speed, and the time left at that speed."""
    fraction = min(1.0, done / total) if total else 1.0
    filled = int(BAR_WIDTH * fraction)
    bar = "=" * filled + "-" * (BAR_WIDTH - filled)
    elapsed = max(elapsed, 1e-9)
    speed = moved / elapsed
    left = (total - done) / speed if speed > 0 and total > done else 0.0
    return (
        f"[{bar}] {fraction * 100:.2f}% tps:{objects / elapsed:.2f} {obsutil_speed(speed)} "
        f"{obsutil_size(done)}/{obsutil_size(total)} {go_duration(left)}"
    )


def print_task_summary(outcome: runner.TaskOutcome, stream: TextIO | None = None) -> None:
    """The closing block of obsutil's task commands (ferry adds the skip count and the bytes this run
    moved)."""
    out = stream or sys.stdout
    costs = outcome.costs
    done = outcome.succeeded + outcome.failed
    tps = done / outcome.elapsed if outcome.elapsed > 0 else 0.0
    lines = [f"Succeed count:      {outcome.succeeded:<10}Failed count:       {outcome.failed}"]
    if outcome.skipped:
        lines.append(f"Skip count:         {outcome.skipped} (up to date, not moved)")
    if outcome.deleted:
        lines.append(f"Deleted count:      {outcome.deleted} (not at the source)")
    lines += [
        f"Succeed bytes:      {outcome.succeed_bytes} ({obsutil_size(outcome.succeed_bytes)})",
        f"Transferred bytes:  {outcome.transferred} ({obsutil_size(outcome.transferred)})",
        f"Metrics [max cost:{costs.longest * 1e3:.0f} ms, min cost:{costs.shortest * 1e3:.0f} ms, "
        f"average cost:{costs.average * 1e3:.2f} ms, average tps:{tps:.2f}, "
        f"transferred size:{obsutil_size(outcome.transferred)}]",
        "",
        f"Task id: {outcome.task_id}",
    ]
    print("\n".join(lines), file=out, flush=True)
