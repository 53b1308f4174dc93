"""A task journal with flipped bytes is reported as damaged, or still reads: it never fails any other way.

The chaos campaign found a flip that SQLite's ``quick_check`` lets through (an index no longer matching its
table: ``integrity_check`` says "row 79 missing from index"): the open succeeded, and a later query died
with a traceback ("database disk image is malformed") on every recover, instead of one line naming the
damaged journal."""

import random
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ferry.tasks.journal import JournalDamagedError, PlannedObject, TaskJournal
from ferry.tasks.settings import TaskSettings
from ferry.tasks.states import ObjectState


@pytest.fixture(scope="module")
def journal_file(tmp_path_factory):
    directory = tmp_path_factory.mktemp("journal")
    task_id = str(uuid.uuid4())
    journal = TaskJournal.create(
        directory, task_id, "upload", "/src", "s3://b/dst", TaskSettings.from_options({})
    )
    journal.add_planned(
        PlannedObject(f"dir/key-{i:05d}", f"dst/key-{i:05d}", i, 1_700_000_000.0 + i, f"etag{i}")
        for i in range(400)
    )
    journal.finish_listing()
    for obj in list(journal.objects())[:150]:
        journal.mark(obj.seq, ObjectState.DONE, transferred=obj.size)
    journal.close()
    return directory, task_id


def read_everything(directory: Path, task_id: str) -> None:
    with TaskJournal.open(directory, task_id) as journal:
        journal.info()
        journal.counts()
        pending = list(journal.objects())
        list(journal.objects((ObjectState.DONE,)))
        if pending:
            journal.mark(pending[0].seq, ObjectState.DONE, transferred=0)


@settings(max_examples=100)
@given(seed=st.integers(0, 2**32 - 1), flips=st.integers(1, 4))
def test_flipped_bytes_are_damage_or_nothing(journal_file, seed, flips):
    directory, task_id = journal_file
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder)
        shutil.copytree(directory, copy, dirs_exist_ok=True)
        path = copy / "tasks" / f"{task_id}.db"
        data = bytearray(path.read_bytes())
        for offset in rng.sample(range(len(data)), flips):
            data[offset] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(data))
        try:
            read_everything(copy, task_id)
        except JournalDamagedError as exc:
            assert "damaged" in str(exc) and "\n" not in str(exc)


def test_a_damaged_schema_text_is_a_damaged_journal_in_one_line(journal_file):
    """A flipped byte inside a table's CREATE statement: SQLite refuses the file while connecting ("malformed
    database schema ... unrecognized token", a message spanning lines). Found by the property test above."""
    directory, task_id = journal_file
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder)
        shutil.copytree(directory, copy, dirs_exist_ok=True)
        path = copy / "tasks" / f"{task_id}.db"
        data = path.read_bytes()
        statement = data.index(b"CREATE TABLE ferry_tasks")
        spot = data.index(b" NOT NULL", statement)
        path.write_bytes(data[:spot] + b"`" + data[spot + 1 :])
        with pytest.raises(JournalDamagedError) as caught:
            read_everything(copy, task_id)
        message = str(caught.value)
        assert message.startswith(f"the journal of task {task_id} is damaged (malformed database schema")
        assert "\n" not in message and message.endswith(f": {path}")
