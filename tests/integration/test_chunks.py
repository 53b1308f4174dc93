"""Chunk claims, leases and fencing on both databases the journal works on (SQLite and PostgreSQL): a live
lease refuses a second attempt; once a newer attempt holds a chunk, every write of the older one is refused
and changes nothing; a stop request reaches the running attempt when it renews."""

from __future__ import annotations

import pytest

from ferry.errors import TaskNotFoundError
from ferry.service.db import Database
from ferry.storage.base import PartResult
from ferry.tasks import chunks
from ferry.tasks.journal import PlannedObject, TaskJournal
from ferry.tasks.settings import TaskSettings
from ferry.tasks.states import ObjectState
from ferry.transfer.record import RecordHeader
from ferry.transfer.record_db import DbRecordStore

TASK = "0b1c2d3e-0000-4000-8000-000000000001"


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'service.db'}")
    else:
        database = Database(request.getfixturevalue("pg_database"))
    database.migrate()
    yield database.engine
    database.dispose()


def planned_task(engine) -> TaskJournal:
    journal = TaskJournal.create_shared(engine, TASK, "copy", "s3://a/", "s3://b/", TaskSettings(), {})
    journal.add_planned(PlannedObject(f"k{n}", f"k{n}", 10, 0.0, None) for n in range(5))
    journal.finish_listing()
    return journal


def test_a_live_lease_refuses_a_second_attempt_and_an_expired_one_does_not(engine):
    journal = planned_task(engine)
    [number] = journal.chunks_to_run()
    first = chunks.claim(engine, TASK, number, "w1", lease=60)
    with pytest.raises(chunks.Busy):
        chunks.claim(engine, TASK, number, "w2", lease=60)
    assert chunks.summary(engine, TASK).workers == ("w1",)
    chunks.release(engine, first, chunks.ChunkState.QUEUED, 0)
    second = chunks.claim(engine, TASK, number, "w2", lease=0)  # already expired when taken
    third = chunks.claim(engine, TASK, number, "w3", lease=60)
    assert (first.attempt, second.attempt, third.attempt) == (1, 2, 3)


def test_an_older_attempt_can_change_nothing_once_a_newer_one_holds_the_chunk(engine):
    journal = planned_task(engine)
    [number] = journal.chunks_to_run()
    old = chunks.claim(engine, TASK, number, "w1", lease=0)
    old_journal = journal.fenced(chunks.fence(old))
    [first, *rest] = list(journal.objects(chunk=number))
    old_journal.mark(first.seq, ObjectState.DONE, transferred=10)  # still the holder: accepted
    header = RecordHeader("copy", "a", "b", "upload-1", 100, 10, {"size": 100})
    old_record = DbRecordStore(engine, chunks.fence(old)).slot("copy", "a", "b").create(header)
    old_record.add(PartResult(1, "e1"))

    new = chunks.claim(engine, TASK, number, "w2", lease=60)
    with pytest.raises(chunks.FencedError):
        old_journal.mark(rest[0].seq, ObjectState.DONE, transferred=10)
    with pytest.raises(chunks.FencedError):
        old_record.add(PartResult(2, "e2"))
    with pytest.raises(chunks.FencedError):
        chunks.renew(engine, old, 999)
    with pytest.raises(chunks.FencedError):
        chunks.release(engine, old, chunks.ChunkState.DONE, 999)

    counts = journal.counts()
    assert counts[ObjectState.DONE].count == 1 and counts[ObjectState.PENDING].count == 4
    assert set(DbRecordStore(engine).slot("copy", "a", "b").load().parts) == {1}
    new_journal = journal.fenced(chunks.fence(new))
    for obj in rest:
        new_journal.mark(obj.seq, ObjectState.DONE, transferred=10)
    chunks.release(engine, new, chunks.ChunkState.DONE, 40)
    assert journal.counts()[ObjectState.DONE].count == 5
    assert journal.chunks_to_run() == []


def test_a_stop_request_reaches_the_attempt_when_it_renews(engine):
    journal = planned_task(engine)
    [number] = journal.chunks_to_run()
    held = chunks.claim(engine, TASK, number, "w1", lease=60)
    assert chunks.renew(engine, held, 5) == chunks.ChunkState.RUNNING
    assert chunks.request_stop(engine, TASK) == 1
    assert chunks.renew(engine, held, 7) == chunks.ChunkState.STOPPING
    chunks.release(engine, held, chunks.ChunkState.QUEUED, 7)
    assert chunks.summary(engine, TASK).transferred == 7


def test_a_restarted_service_frees_the_chunks_of_its_own_cluster(engine):
    journal = planned_task(engine)
    [number] = journal.chunks_to_run()
    chunks.claim(engine, TASK, number, "host:/data", lease=600)
    assert chunks.expire_leases(engine, "someone-else") == 0
    assert chunks.expire_leases(engine, "host:/data") == 1
    assert chunks.claim(engine, TASK, number, "host:/data", lease=60).attempt == 2


def test_a_deleted_task_has_no_chunk_to_claim(engine):
    with pytest.raises(TaskNotFoundError):
        chunks.claim(engine, TASK, 1, "w1")
