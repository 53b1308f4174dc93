"""Benchmark: the peak memory of ``ferry check`` as the object count grows. Two synthetic stores list N
objects each, generated on the fly in key order with single-part ETags (one in a thousand differs at the
destination, one in a thousand is missing there, and the destination has as many extras), so what is
measured is ferry's own bookkeeping — the merge-join, the journal, the result files — not a server's
speed. Each count runs in a fresh process; peak RSS comes from getrusage.
Usage: python bench/check_memory.py [--counts 10000,100000,1000000]"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from ferry.storage.base import Capabilities, ObjectInfo
from ferry.tasks.check import CHECK_KINDS, CheckRun, CheckSettings, run_check
from ferry.tasks.filters import ObjectFilter
from ferry.tasks.journal import TaskJournal
from ferry.tasks.plan import ListingPlan
from ferry.tasks.reports import ReportWriter
from ferry.tasks.settings import TaskSettings


class Synthetic:
    """A bucket of ``count`` objects ``k/0000000`` ... that exist only while they are listed."""

    capabilities = Capabilities(
        multipart=True, server_side_copy=False, lists_parts=True, stages_locally=False
    )

    def __init__(self, count: int, destination: bool) -> None:
        self.count, self.destination = count, destination

    def url(self, key: str) -> str:
        return f"mem://b/{key}"

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        for i in range(self.count):
            if self.destination and i % 1000 == 7:
                continue  # missing at the destination
            key = f"{prefix}{i:07d}"
            tag = hashlib.md5(f"{i}{'x' if self.destination and i % 1000 == 3 else ''}".encode()).hexdigest()
            yield ObjectInfo(key, 100, 0.0, tag)
            if self.destination and i % 1000 == 5:
                yield ObjectInfo(f"{key}-extra", 1, 0.0, tag)


def measure(count: int, work: Path) -> dict[str, float]:
    settings = TaskSettings()
    journal = TaskJournal.create(work, str(uuid.uuid4()), "copy", "mem://a/k", "mem://b/k", settings, {})
    journal.lock()
    reports = ReportWriter(work / "out", journal.task_id, command="check", kinds=CHECK_KINDS)
    run = CheckRun(
        journal,
        Synthetic(count, False),  # type: ignore[arg-type]
        Synthetic(count, True),  # type: ignore[arg-type]
        ListingPlan("k", "k"),
        CheckSettings(),
        ObjectFilter.build([], [], None, False),
        reports,
    )
    began = time.monotonic()
    summary = run_check(run)
    elapsed = time.monotonic() - began
    reports.close()
    journal.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": elapsed,
        "rss_mib": rss,
        **{k: getattr(summary, k) for k in ("missing", "differ", "extra", "same")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--counts", default="10000,100000")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(int(args.child[0]), Path(args.child[1]))))
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="ferry-bench-check-") as tmp:
        for count in sorted(int(c) for c in args.counts.split(",")):
            done = subprocess.run(
                [sys.executable, __file__, "--child", str(count), str(Path(tmp) / str(count))],
                capture_output=True, text=True, check=False, env=dict(os.environ),
            )  # fmt: skip
            if done.returncode != 0:
                raise SystemExit(f"bench: {count} objects: {done.stderr.strip()[-800:]}")
            result = json.loads(done.stdout)
            rows.append((count, result))
            print(f"{count:>9} objects: {result['seconds']:.1f}s, peak RSS {result['rss_mib']:.0f} MiB "
                  f"(missing {result['missing']}, differ {result['differ']}, extra {result['extra']}, "
                  f"same {result['same']})", flush=True)  # fmt: skip
    first, last = rows[0], rows[-1]
    print(f"\npeak RSS grew {last[1]['rss_mib'] / first[1]['rss_mib']:.2f}x while the object count grew "
          f"{last[0] / first[0]:.0f}x")  # fmt: skip


if __name__ == "__main__":
    main()
