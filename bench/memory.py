"""Benchmark: a task's peak memory as its object count grows. A tree of empty files (1,000 per folder) is
listed into a task journal, and the task's scheduler then runs over every object. The run's destination
is a sink that accepts and discards each object — what is measured is ferry's own bookkeeping (listing,
journal, queue), which must stay flat, not a server's speed. Each count runs in a fresh process; peak RSS
comes from getrusage. Usage: python bench/memory.py [--counts 10000,100000,1000000]"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from ferry.storage.base import Capabilities, ObjectInfo, WriteOptions
from ferry.storage.local import LocalStore
from ferry.tasks import runner
from ferry.tasks.filters import ObjectFilter
from ferry.tasks.journal import TaskJournal
from ferry.transfer.options import TransferOptions

PER_FOLDER = 1000


class DiscardSink(LocalStore):
    """A destination that takes every object and keeps none (a bucket-like store: not local)."""

    capabilities = Capabilities(
        multipart=False, server_side_copy=False, lists_parts=False, stages_locally=False
    )

    def stat(self, key: str) -> ObjectInfo:
        raise AssertionError("not used")

    def put(self, key: str, data: bytes, options: WriteOptions, *, md5_hex: str | None = None) -> str:
        return ""


def make_tree(root: Path, count: int) -> None:
    for i in range(count):
        folder = root / f"d{i // PER_FOLDER:05d}"
        if i % PER_FOLDER == 0:
            folder.mkdir(parents=True)
        (folder / f"f{i:07d}").touch()


def measure(tree: Path, work: Path) -> dict[str, float]:
    """Runs in the child: plan, then run, reporting peak RSS after each."""
    journal = TaskJournal.create(work, str(uuid.uuid4()), "upload", str(tree), "sink://b/p", {})
    began = time.monotonic()
    runner.plan(journal, LocalStore(), str(tree), DiscardSink(), "p", ObjectFilter.build([], [], None, False))
    planned = time.monotonic() - began
    after_plan = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    began = time.monotonic()
    outcome = runner.run(
        journal, LocalStore(), DiscardSink(), TransferOptions(checkpoint_dir=work), 16,
        runner.TaskProgress(), threading.Event(),
    )  # fmt: skip
    ran = time.monotonic() - began
    if outcome.failed:
        raise SystemExit(f"bench: {outcome.failed} objects failed")
    after_run = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"plan_s": planned, "run_s": ran, "rss_plan_mib": after_plan, "rss_run_mib": after_run,
            "done": outcome.succeeded}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--counts", default="10000,100000,1000000")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(Path(args.child[0]), Path(args.child[1]))))
        return
    counts = sorted(int(c) for c in args.counts.split(","))
    rows = []
    with tempfile.TemporaryDirectory(prefix="ferry-bench-mem-") as tmp:
        for count in counts:
            tree, work = Path(tmp) / f"tree-{count}", Path(tmp) / f"work-{count}"
            make_tree(tree, count)
            done = subprocess.run(
                [sys.executable, __file__, "--child", str(tree), str(work)],
                capture_output=True, text=True, check=False, env=dict(os.environ),
            )  # fmt: skip
            if done.returncode != 0:
                raise SystemExit(f"bench: {count} objects: {done.stderr.strip()[-800:]}")
            result = json.loads(done.stdout)
            rows.append((count, result))
            print(f"{count:>9} objects: plan {result['plan_s']:.1f}s, run {result['run_s']:.1f}s, "
                  f"peak RSS {result['rss_plan_mib']:.0f} MiB after planning, "
                  f"{result['rss_run_mib']:.0f} MiB after running", flush=True)  # fmt: skip
            subprocess.run(["rm", "-rf", str(tree), str(work)], check=True)
    first, last = rows[0], rows[-1]
    print(f"\npeak RSS grew {last[1]['rss_run_mib'] / first[1]['rss_run_mib']:.2f}x while the object count "
          f"grew {last[0] / first[0]:.0f}x")  # fmt: skip


if __name__ == "__main__":
    main()
