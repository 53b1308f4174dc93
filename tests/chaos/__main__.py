"""``python -m tests.chaos``: run a seeded campaign and append one JSON line per run to the results."""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tests.chaos.campaign import Campaign
from tests.chaos.faults import PrivateRgw
from tests.chaos.workloads import Sources
from tests.chaos.world import World


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--faults", type=int, default=20, help="stop once this many faults were injected")
    parser.add_argument("--minutes", type=float, default=5.0, help="stop starting runs after this long")
    parser.add_argument("--faults-per-run", type=int, default=8)
    parser.add_argument("--small", type=int, default=150, help="small objects in the data set")
    parser.add_argument("--medium", type=int, default=4)
    parser.add_argument("--large", type=int, default=1)
    parser.add_argument("--kinds", default=None, help="comma-separated workload kinds (default: all)")
    parser.add_argument(
        "--keep", type=Path, default=Path("/tmp/ferry-chaos-kept"), help="files of runs with anomalies"
    )
    parser.add_argument(
        "--private-rgw",
        default=None,
        metavar="DIR:PORT",
        help="run the storage-server restart fault on a radosgw of its own (e.g. /tmp/chaos-rgw:7580)",
    )
    parser.add_argument("--out", type=Path, default=Path("chaos-results.jsonl"))
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a new one in /tmp)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    base = args.work or Path(tempfile.mkdtemp(prefix="ferry-chaos-"))
    base.mkdir(parents=True, exist_ok=True)
    world = World.start()
    private = None
    if args.private_rgw:
        folder, _, port = args.private_rgw.rpartition(":")
        private = PrivateRgw(Path(folder), int(port))
        private.start()
        world.private_s3 = private.endpoint
    sources = Sources.prepare(
        world, base / "sources", random.Random(args.seed), args.small, args.medium, args.large
    )
    campaign = Campaign(
        world,
        sources,
        base / "runs",
        args.seed,
        args.faults,
        started + args.minutes * 60,
        faults_per_run=args.faults_per_run,
        log=sys.stderr,
        keep=args.keep,
        kinds=args.kinds.split(",") if args.kinds else None,
        private=private,
    )
    try:
        results = campaign.run_all(args.out)
    finally:
        sources.remove()
        if private is not None:
            private.stop()
        shutil.rmtree(base, ignore_errors=True)
    totals = {
        "runs": len(results),
        "faults": sum(r.faults for r in results),
        "objects_checked": sum(r.objects_checked for r in results),
        "anomalies": sum(sum(r.anomalies.values()) for r in results),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(totals))
    return 1 if totals["anomalies"] else 0


if __name__ == "__main__":
    sys.exit(main())
