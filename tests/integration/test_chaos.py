"""A short chaos campaign inside the test suite: about 20 seeded faults (kills, pauses, resets, 503/500,
stalls, lost CompleteMultipartUpload answers, flipped journal or record bytes) across uploads, downloads,
a streamed copy and a single-object cp; every object checked from the servers' own view afterwards.
``make chaos`` runs the long one (docs/reliability.md)."""

import os
import random
import time

import pytest
from tests.chaos.campaign import Campaign
from tests.chaos.workloads import Sources
from tests.chaos.world import World

pytestmark = pytest.mark.integration

SEED = int(os.environ.get("CHAOS_SEED", "20"))


@pytest.mark.timeout(600)
def test_a_short_campaign_loses_and_corrupts_nothing(tmp_path):
    world = World.start()
    sources = Sources.prepare(world, tmp_path / "sources", random.Random(SEED), small=30, medium=2, large=1)
    campaign = Campaign(
        world,
        sources,
        tmp_path / "runs",
        SEED,
        fault_budget=20,
        deadline=time.monotonic() + 240,
        faults_per_run=8,
        keep=tmp_path / "kept",
        kinds=["upload", "download", "stream-copy", "single-upload", "url-list"],
    )
    try:
        results = campaign.run_all(tmp_path / "results.jsonl")
    finally:
        sources.remove()
    assert sum(r.faults for r in results) >= 20 or len(results) >= 5
    assert sum(r.objects_checked for r in results) >= 30
    anomalies = {(r.run, r.workload): (r.anomalies, r.notes) for r in results if any(r.anomalies.values())}
    assert anomalies == {}
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert len(lines) == len(results)
