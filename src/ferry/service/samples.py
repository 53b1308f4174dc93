"""Throughput samples of task groups: how many bytes each group had moved, over time.

A sample holds the group's cumulative ``transferred_size`` (every run of every task), so the throughput
between any two samples is their difference over the time between them, and dropping a sample loses
resolution, never bytes. The worker's mirror thread calls :func:`record_due` once a second: a running
group gets a sample when its last one is older than its step, which grows with the length of its run
(:func:`step`); a group that just stopped, failed or finished gets a last one. When a group holds more than
:data:`MAX_SAMPLES`, every other one is dropped (:func:`thinned`), so a run of days keeps a few hundred rows
spread over all of it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ferry.service import states
from ferry.service.db import Database, GroupSample, Task, TaskGroup, now

MAX_SAMPLES = 480
BASE_STEP = 2.0
"""Seconds between two samples of a run younger than ``BASE_STEP * MAX_SAMPLES / 2`` (8 minutes)."""
SETTLE = 10.0
"""A group that left the running states this recently may still get its last sample."""


def step(first: float, last: float) -> float:
    """The seconds a group waits between samples: at most about ``MAX_SAMPLES / 2`` per span so far."""
    return max(BASE_STEP, (last - first) / (MAX_SAMPLES / 2))


def thinned(count: int) -> list[int]:
    """Which of ``count`` time-ordered samples to drop: every other one, never the first nor the last."""
    if count <= MAX_SAMPLES:
        return []
    return list(range(1, count - 1, 2))


def record_due(database: Database, clock: float | None = None) -> int:
    """Add the samples that are due; answers how many were added."""
    try:
        return _record(database, now() if clock is None else clock)
    except IntegrityError:  # a group deleted meanwhile: the next tick does without it
        return 0


def _record(database: Database, moment: float) -> int:
    added = 0
    with database.session() as session:
        groups = session.execute(
            select(TaskGroup.id, TaskGroup.status, TaskGroup.updated_at).where(
                or_(TaskGroup.status.in_(states.ACTIVE), TaskGroup.updated_at >= moment - SETTLE)
            )
        ).all()
        if not groups:
            return 0
        ids = [row[0] for row in groups]
        moved = dict(
            session.execute(
                select(Task.group_id, func.coalesce(func.sum(Task.transferred_size), 0))
                .where(Task.group_id.in_(ids))
                .group_by(Task.group_id)
            ).all()
        )
        spans = {
            row[0]: (row[1], row[2], row[3])
            for row in session.execute(
                select(
                    GroupSample.group_id,
                    func.min(GroupSample.time),
                    func.max(GroupSample.time),
                    func.count(GroupSample.id),
                )
                .where(GroupSample.group_id.in_(ids))
                .group_by(GroupSample.group_id)
            ).all()
        }
        for group_id, status, updated_at in groups:
            span = spans.get(group_id)
            if span is None:
                due = True
            elif status in states.ACTIVE:
                due = moment - span[1] >= step(span[0], span[1])
            else:  # settled: one last sample, taken after the status changed
                due = span[1] < updated_at
            if not due:
                continue
            session.add(
                GroupSample(group_id=group_id, time=moment, transferred_size=int(moved.get(group_id, 0)))
            )
            added += 1
            if span is not None and span[2] + 1 > MAX_SAMPLES:
                session.flush()
                _thin(session, group_id)
    return added


def _thin(session: Session, group_id: str) -> None:
    ids = list(
        session.scalars(
            select(GroupSample.id).where(GroupSample.group_id == group_id).order_by(GroupSample.time)
        )
    )
    drop = [ids[n] for n in thinned(len(ids))]
    if drop:
        session.execute(delete(GroupSample).where(GroupSample.id.in_(drop)))


def speeds(points: Sequence[tuple[float, int]]) -> list[float]:
    """The average speed (bytes/s) from each sample's predecessor to it; 0 for the first, and where the
    count went down (a task was deleted)."""
    out = [0.0]
    for (t0, b0), (t1, b1) in itertools.pairwise(points):
        out.append(max(0.0, (b1 - b0) / (t1 - t0)) if t1 > t0 else 0.0)
    return out[: len(points)]


def group_samples(session: Session, group_id: str) -> list[dict[str, Any]]:
    """The samples of a group, oldest first, as the API answers them (times in epoch milliseconds)."""
    points = [
        (float(t), int(b))
        for t, b in session.execute(
            select(GroupSample.time, GroupSample.transferred_size)
            .where(GroupSample.group_id == group_id)
            .order_by(GroupSample.time)
        ).all()
    ]
    return [
        {"time": round(t * 1000), "transferred_size": b, "speed": round(v, 1)}
        for (t, b), v in zip(points, speeds(points), strict=True)
    ]
