"""Throughput samples: few per group however long the run, the whole run covered, no byte lost."""

from __future__ import annotations

import itertools
import uuid

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from ferry.service import samples, states
from ferry.service.db import GroupSample, Task, TaskGroup, open_database


@given(st.integers(min_value=0, max_value=100_000))
def test_thinning_keeps_the_ends_and_halves_what_is_over_the_limit(count):
    drop = samples.thinned(count)
    if count <= samples.MAX_SAMPLES:
        assert drop == []
        return
    dropped = set(drop)
    kept = [n for n in range(count) if n not in dropped]
    assert kept[0] == 0 and kept[-1] == count - 1
    assert len(kept) <= count // 2 + 2
    if count <= 2 * samples.MAX_SAMPLES - 2:  # thinning happens as soon as one sample is over the limit
        assert len(kept) <= samples.MAX_SAMPLES
    assert all(b - a <= 2 for a, b in itertools.pairwise(kept))  # no gap wider than one dropped


@given(st.floats(min_value=0, max_value=1e9), st.floats(min_value=0, max_value=1e7))
def test_the_step_grows_with_the_run_and_never_falls_below_the_base(first, length):
    step = samples.step(first, first + length)
    assert step >= samples.BASE_STEP
    assert length / step <= samples.MAX_SAMPLES / 2 + 1e-6


@given(
    st.lists(
        st.tuples(st.floats(min_value=0.001, max_value=1e5), st.integers(min_value=0, max_value=2**40)),
        max_size=50,
    )
)
def test_speeds_are_the_bytes_between_samples_over_the_time_between_them(steps):
    points, t, moved = [], 1_700_000_000.0, 0
    for dt, more in steps:
        t, moved = t + dt, moved + more
        points.append((t, moved))
    speeds = samples.speeds(points)
    assert len(speeds) == len(points)
    assert all(v >= 0 for v in speeds)
    # Speed times duration gives back every byte moved after the first sample.
    total = sum(v * (b[0] - a[0]) for v, a, b in zip(speeds[1:], points, points[1:], strict=False))
    if len(points) > 1:
        assert abs(total - (points[-1][1] - points[0][1])) <= 1e-6 * max(1, points[-1][1])


def _group(session, status: str, clock: float) -> str:
    group_id = str(uuid.uuid4())
    node = {"cloud_type": "Ceph", "bucket": "b"}
    session.add(
        TaskGroup(
            id=group_id,
            project_id="p",
            status=status,
            description="",
            task_type="PREFIX",
            src_node=node,
            dst_node=node,
            settings={},
            retry_count=0,
            created_at=clock,
            updated_at=clock,
        )
    )
    session.flush()
    counters = dict.fromkeys(
        ("total_num", "success_num", "fail_num", "skip_num", "total_size", "success_size", "fail_size"), 0
    )
    session.add(
        Task(
            id=str(uuid.uuid4()),
            number=uuid.uuid4().int % 2**62,
            group_id=group_id,
            project_id="p",
            position=0,
            name="",
            source={"prefix": ""},
            status=status,
            run_mode="continue",
            skip_size=0,
            transferred_size=0,
            run_transferred_size=0,
            speed=0.0,
            runs=1,
            created_at=clock,
            updated_at=clock,
            **counters,
        )
    )
    return group_id


def test_a_run_of_three_days_keeps_a_bounded_number_of_samples_over_all_of_it(tmp_path):
    database = open_database(None, tmp_path / "svc")
    start = 1_700_000_000.0
    with database.session() as session:
        group_id = _group(session, states.EXECUTING, start)
    rate = 50 * 2**20  # 50 MiB/s, steady
    clock, end = start, start + 3 * 86400
    while clock < end:  # the mirror ticks once a second; every 5 minutes here keeps the test quick
        with database.session() as session:
            session.execute(
                Task.__table__.update()
                .where(Task.group_id == group_id)
                .values(transferred_size=int((clock - start) * rate))
            )
        samples.record_due(database, clock)
        clock += 300
    with database.session() as session:
        session.execute(
            Task.__table__.update().where(Task.group_id == group_id).values(status=states.SUCCEEDED)
        )
        group = session.get(TaskGroup, group_id)
        assert group is not None
        group.status, group.updated_at = states.SUCCEEDED, clock
    assert samples.record_due(database, clock + 1) == 1  # the last one, after the end
    assert samples.record_due(database, clock + 2) == 0
    with database.session() as session:
        rows = samples.group_samples(session, group_id)
        stored = session.scalars(select(GroupSample.time).where(GroupSample.group_id == group_id)).all()
    assert len(rows) == len(stored) <= samples.MAX_SAMPLES
    assert len(rows) >= samples.MAX_SAMPLES // 4
    assert rows[0]["time"] == round(start * 1000) and rows[0]["transferred_size"] == 0
    assert rows[-1]["time"] == round((clock + 1) * 1000)
    gaps = [b["time"] - a["time"] for a, b in itertools.pairwise(rows)]
    assert max(gaps) <= 3 * 86400 * 1000 / 100  # spread over the whole run, no hole
    steady = [row["speed"] for row in rows[1:-1]]
    assert all(abs(v - rate) <= rate * 0.01 for v in steady)
    database.dispose()


def test_samples_go_with_their_group(tmp_path):
    database = open_database(None, tmp_path / "svc")
    with database.session() as session:
        group_id = _group(session, states.EXECUTING, 1000.0)
    assert samples.record_due(database, 1000.0) == 1
    assert samples.record_due(database, 1001.0) == 0  # not due yet
    assert samples.record_due(database, 1002.5) == 1
    with database.session() as session:
        group = session.get(TaskGroup, group_id)
        session.delete(group)
    with database.session() as session:
        assert session.scalars(select(GroupSample)).all() == []
    database.dispose()
