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
from ferry.tasks.journal import (
    ChunkPolicy,
    JournalDamagedError,
    PlannedObject,
    TaskJournal,
    list_tasks,
    remove_task,
)
from ferry.tasks.runner import CostStats
from ferry.tasks.settings import TaskSettings


def planned(n, start=0):
    for i in range(start, start + n):
        yield PlannedObject(f"dir/key-{i:07d}", f"dst/key-{i:07d}", i, 1_700_000_000.0 + i, f"etag{i}")


def new_task(tmp_path, **options):
    task_id = str(uuid.uuid4())
    settings = TaskSettings.from_options(options)
    return task_id, TaskJournal.create(tmp_path, task_id, "upload", "/src", "s3://b/dst", settings)


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
        assert (info.kind, info.source, info.destination, info.settings) == (
            "upload",
            "/src",
            "s3://b/dst",
            TaskSettings(parallel=4),
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
        assert journal.add_planned(planned(50_000)) == 50_000
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024  # 50k objects would be over 10 MiB as Python objects
    assert sum(1 for _ in journal.objects()) == 50_000
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


def _raw(journal_dir, task_id):
    """The journal file opened behind ferry's back, as damage would reach it."""
    import sqlite3

    return sqlite3.connect(journal_dir / "tasks" / f"{task_id}.db", isolation_level=None)


def test_a_row_whose_plan_was_altered_is_never_moved_and_one_whose_state_was_is_moved_again(tmp_path):
    task_id, journal = new_task(tmp_path)
    journal.add_planned(planned(3))
    first, second, third = journal.objects()
    journal.mark(second.seq, "done", transferred=1)
    journal.mark(third.seq, "done", transferred=1)
    journal.close()
    raw = _raw(tmp_path, task_id)
    raw.execute("UPDATE ferry_objects SET dest_key = '../../etc/passwd' WHERE seq = ?", (first.seq,))
    raw.execute("UPDATE ferry_objects SET state = 'dome' WHERE seq = ?", (second.seq,))  # a flipped byte
    raw.execute("UPDATE ferry_objects SET reason = 'x' WHERE seq = ?", (third.seq,))
    raw.close()
    with TaskJournal.open(tmp_path, task_id) as again:
        damaged, unknown = list(again.objects())
        assert damaged.seq == first.seq and "damaged" in (damaged.damage or "")
        assert unknown.seq == second.seq and unknown.state == "pending" and unknown.damage is None
        assert again.counts()["pending"].count == 2  # the unknown state counts as what a run makes of it
        # a done row whose state digest no longer matches its reason is not taken for done either
        assert [o.seq for o in again.objects(("done",))] == []


def test_a_task_row_that_was_altered_is_reported_damaged(tmp_path):
    task_id, journal = new_task(tmp_path)
    journal.close()
    raw = _raw(tmp_path, task_id)
    raw.execute("UPDATE ferry_tasks SET destination = 's3://other/dst'")
    raw.close()
    with pytest.raises(JournalDamagedError, match="damaged"):
        TaskJournal.open(tmp_path, task_id)


def chunk_sizes(journal):
    rows = {}
    for obj in journal.objects(("pending", "done", "failed", "skipped")):
        rows.setdefault(obj.chunk, []).append(obj.size)
    return [rows[n] for n in sorted(rows)]


def test_objects_are_grouped_into_chunks_by_count_and_bytes_and_a_large_one_alone(tmp_path):
    _, journal = new_task(tmp_path)
    policy = ChunkPolicy(objects=3, bytes=100, alone_from=60)
    sizes = [10, 10, 10, 10, 70, 40, 40, 30, 5]
    journal.add_planned((PlannedObject(f"k{i}", f"d{i}", size, 0.0) for i, size in enumerate(sizes)), policy)
    journal.finish_listing()
    assert chunk_sizes(journal) == [[10, 10, 10], [10], [70], [40, 40], [30, 5]]
    journal.close()


def test_a_second_planning_run_continues_the_open_chunk(tmp_path):
    _, journal = new_task(tmp_path)
    policy = ChunkPolicy(objects=4, bytes=1000, alone_from=1000)
    journal.add_planned((PlannedObject(f"k{i}", f"d{i}", 1, 0.0) for i in range(6)), policy)
    # the process died before the listing was finished: the next run lists again from the start
    journal.add_planned((PlannedObject(f"k{i}", f"d{i}", 1, 0.0) for i in range(9)), policy)
    journal.finish_listing()
    assert [len(c) for c in chunk_sizes(journal)] == [4, 4, 1]
    assert [o.seq for o in journal.objects()] == list(range(1, 10))
    journal.close()


@given(st.lists(st.integers(min_value=0, max_value=300), max_size=60), st.integers(1, 5))
def test_chunks_cover_every_object_once_within_their_bounds(tmp_path_factory, sizes, per_chunk):
    directory = tmp_path_factory.mktemp("chunks")
    _, journal = new_task(directory)
    policy = ChunkPolicy(objects=per_chunk, bytes=400, alone_from=250)
    journal.add_planned((PlannedObject(f"k{i}", f"d{i}", s, 0.0) for i, s in enumerate(sizes)), policy)
    chunks = chunk_sizes(journal)
    journal.close()
    assert [s for chunk in chunks for s in chunk] == sizes  # every object once, in order
    for chunk in chunks:
        assert len(chunk) <= per_chunk
        assert sum(chunk) <= 400 or len(chunk) == 1
        assert all(s < 250 for s in chunk) or len(chunk) == 1


def test_a_journal_written_by_the_previous_version_is_upgraded_in_place(tmp_path):
    import json
    import sqlite3

    task_id = str(uuid.uuid4())
    (tmp_path / "tasks").mkdir()
    raw = sqlite3.connect(tmp_path / "tasks" / f"{task_id}.db", isolation_level=None)
    raw.executescript(
        """
        CREATE TABLE task (id TEXT PRIMARY KEY, kind TEXT NOT NULL, source TEXT NOT NULL,
            destination TEXT NOT NULL, options TEXT NOT NULL, created REAL NOT NULL,
            updated REAL NOT NULL, state TEXT NOT NULL, listing_complete INTEGER NOT NULL DEFAULT 0,
            schema_version INTEGER NOT NULL);
        CREATE TABLE objects (seq INTEGER PRIMARY KEY, source_key TEXT NOT NULL UNIQUE,
            dest_key TEXT NOT NULL,
            size INTEGER NOT NULL, mtime REAL NOT NULL, etag TEXT, state TEXT NOT NULL DEFAULT 'pending',
            reason TEXT, transferred INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
            updated REAL);
        """
    )
    options = {"threshold": "10MiB", "jobs": 3, "include": ["*.jpg"], "meta": "a:b"}
    raw.execute(
        "INSERT INTO task VALUES (?, 'download', 's3://bkt/photos', '/tmp/photos', ?, 1, 2, 'failed', 1, 1)",
        (task_id, json.dumps(options)),
    )
    raw.executemany(
        "INSERT INTO objects (source_key, dest_key, size, mtime, etag, state, reason) VALUES (?,?,?,?,?,?,?)",
        [
            ("photos/a.jpg", "/tmp/photos/a.jpg", 5, 10.0, "e1", "done", None),
            ("photos/b.jpg", "/tmp/photos/b.jpg", 6, 11.0, "e2", "failed", "503 SlowDown"),
        ],
    )
    raw.close()
    with TaskJournal.open(tmp_path, task_id) as journal:
        info = journal.info()
        assert info.settings == TaskSettings(
            threshold=10 * 1024 * 1024, jobs=3, include=("*.jpg",), metadata={"a": "b"}
        )
        assert (info.kind, info.state, info.listing_complete) == ("download", "failed", True)
        assert info.plan == {"type": "listing", "root": "photos", "dest_root": "/tmp/photos", "folder": True}
        [failed] = journal.objects()
        assert (failed.source_key, failed.reason) == ("photos/b.jpg", "503 SlowDown")
        journal.add_planned([PlannedObject("photos/c.jpg", "/tmp/photos/c.jpg", 1, 1.0)])
        assert [o.seq for o in journal.objects()] == [2, 3]  # new objects continue the old numbering


@given(
    st.builds(
        TaskSettings,
        threshold=st.none() | st.integers(0, 1 << 40),
        parallel=st.none() | st.integers(1, 256),
        jobs=st.none() | st.integers(1, 1000),
        include=st.lists(st.text(min_size=1, max_size=8), max_size=3).map(tuple),
        time_range=st.none() | st.just("20240101-*"),
        metadata=st.dictionaries(st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True), st.just("v")),
        verify_md5=st.booleans(),
        modified_after=st.none() | st.floats(0, 2e9),
    )
)
def test_settings_read_back_exactly_as_kept(settings):
    assert TaskSettings.from_json(settings.to_json()) == settings


def test_a_recover_flag_overrides_a_kept_setting_and_an_unset_one_never_clears_it():
    kept = TaskSettings(jobs=3, verify_md5=True, include=("*.jpg",))
    given = TaskSettings.from_options({"jobs": 8, "verify_md5": False, "include": None, "bwlimit": "1MiB"})
    assert kept.overridden(given) == TaskSettings(
        jobs=8, verify_md5=True, include=("*.jpg",), bwlimit=1024 * 1024
    )
