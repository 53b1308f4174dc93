"""Task journals: every planned object and its state survive the process; damage and concurrency are
refused clearly; planning a huge task streams instead of holding it in memory."""

import multiprocessing
import os
import signal
import tracemalloc
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ferry.errors import TaskNotFoundError, TransferError
from ferry.tasks.journal import JournalDamagedError, PlannedObject, TaskJournal, list_tasks, remove_task
from ferry.tasks.runner import CostStats


def planned(n, start=0):
    for i in range(start, start + n):
        yield PlannedObject(f"dir/key-{i:07d}", f"dst/key-{i:07d}", i, 1_700_000_000.0 + i, f"etag{i}")


def new_task(tmp_path, **options):
    task_id = str(uuid.uuid4())
    return task_id, TaskJournal.create(tmp_path, task_id, "upload", "/src", "s3://b/dst", options)


def test_plan_run_and_reopen(tmp_path):
    task_id, journal = new_task(tmp_path, parallel=4)
    assert journal.add_planned(planned(2500)) == 2500
    assert journal.add_planned(planned(10, start=2495)) == 5  # a re-listing adds only what is new
    journal.finish_listing()
    objects = list(journal.objects())
    assert [o.seq for o in objects] == sorted(o.seq for o in objects)
    assert objects[0].source_key == "dir/key-0000000" and len(objects) == 2505
    journal.mark(objects[0].seq, "done", transferred=7)
    journal.mark(objects[1].seq, "failed", reason="AccessDenied")
    journal.mark(objects[2].seq, "skipped", reason="unchanged (-u)")
    journal.close()

    with TaskJournal.open(tmp_path, task_id) as again:
        info = again.info()
        assert (info.kind, info.source, info.destination, info.options) == (
            "upload",
            "/src",
            "s3://b/dst",
            {"parallel": 4},
        )
        assert info.listing_complete and info.state == "running"
        counts = again.counts()
        assert (counts["done"].count, counts["failed"].count, counts["skipped"].count) == (1, 1, 1)
        assert counts["pending"].count == 2502
        [failed] = list(again.objects(("failed",)))
        assert failed.reason == "AccessDenied" and failed.attempts == 1
        remaining = list(again.objects())
        assert len(remaining) == 2503  # pending and failed, not done or skipped


def test_unknown_and_malformed_task_ids(tmp_path):
    with pytest.raises(TaskNotFoundError, match="no task"):
        TaskJournal.open(tmp_path, str(uuid.uuid4()))
    with pytest.raises(TaskNotFoundError, match="36-character UUID"):
        TaskJournal.open(tmp_path, "../../etc/passwd")


def test_damaged_journal_is_reported(tmp_path):
    task_id, journal = new_task(tmp_path)
    journal.add_planned(planned(10))
    journal.close()
    path = tmp_path / "tasks" / f"{task_id}.db"
    for suffix in ("-wal", "-shm"):
        (tmp_path / "tasks" / f"{task_id}.db{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(JournalDamagedError, match="damaged"):
        TaskJournal.open(tmp_path, task_id)


def test_second_process_is_refused_and_remove_waits_for_it(tmp_path):
    task_id, journal = new_task(tmp_path)
    journal.lock()
    with (
        TaskJournal.open(tmp_path, task_id) as other,
        pytest.raises(TransferError, match="another ferry process"),
    ):
        other.lock()
    with pytest.raises(TransferError, match="another ferry process"):
        remove_task(tmp_path, task_id)
    journal.close()
    assert [info.task_id for info in list_tasks(tmp_path)] == [task_id]
    remove_task(tmp_path, task_id)
    assert list(list_tasks(tmp_path)) == []
    assert list((tmp_path / "tasks").iterdir()) == []


def _mark_then_die(directory, task_id, n):
    journal = TaskJournal.open(directory, task_id)
    for obj in list(journal.objects())[:n]:
        journal.mark(obj.seq, "done", transferred=obj.size)
    os.kill(os.getpid(), signal.SIGKILL)


def test_marks_survive_sigkill(tmp_path):
    task_id, journal = new_task(tmp_path)
    journal.add_planned(planned(100))
    journal.close()
    child = multiprocessing.get_context("fork").Process(target=_mark_then_die, args=(tmp_path, task_id, 37))
    child.start()
    child.join(30)
    assert child.exitcode == -signal.SIGKILL
    with TaskJournal.open(tmp_path, task_id) as again:
        assert again.counts()["done"].count == 37


def test_planning_streams_without_holding_the_task_in_memory(tmp_path):
    _, journal = new_task(tmp_path)
    tracemalloc.start()
    try:
        assert journal.add_planned(planned(200_000)) == 200_000
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024  # 200k objects would be tens of MiB as Python objects
    assert sum(1 for _ in journal.objects()) == 200_000
    journal.close()


def test_requeue_puts_chosen_states_back_but_not_unsafe_keys(tmp_path):
    _, journal = new_task(tmp_path)
    journal.add_planned(planned(4))
    journal.add_planned([PlannedObject("../evil", "", 1, 0.0, None, "unsafe key")])
    first, second, third, _fourth = (o for o in journal.objects() if o.dest_key)
    journal.mark(first.seq, "done")
    journal.mark(second.seq, "failed", reason="503")
    journal.mark(third.seq, "skipped", reason="up to date")
    assert journal.requeue(("done", "failed")) == 2
    counts = journal.counts()
    assert counts["pending"].count == 3 and counts["skipped"].count == 1
    assert counts["failed"].count == 1  # the unsafe key stays failed: no retry can help it
    assert [o.reason for o in journal.objects(("pending",))] == [None, None, None]


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=50))
def test_cost_stats_match_the_list_they_replace(costs):
    stats = CostStats()
    for cost in costs:
        stats.add(cost)
    assert stats.count == len(costs)
    assert stats.longest == max(costs) and stats.shortest == min(costs)
    assert stats.average == pytest.approx(sum(costs) / len(costs))
