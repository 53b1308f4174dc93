"""Part records, in a file or in a database: what is written is read back; damage is noticed; a torn last
line is not damage; a fenced database write is refused as a whole."""

import pytest
from sqlalchemy import create_engine, update

from ferry.errors import RecordDamagedError, TransferError
from ferry.storage.base import PartResult
from ferry.transfer.record import FileRecordSlot, FileRecordStore, RecordHeader, RecordLock, record_path
from ferry.transfer.record_db import METADATA, PART_RECORDS, PARTS, DbRecordStore


def header(**changes):
    values = dict(
        kind="upload",
        source="/data/a.bin",
        destination="s3://bkt/a.bin",
        upload_id="u-1",
        size=100,
        part_size=40,
        fingerprint={"size": 100, "mtime": 1.5, "etag": None},
    )
    values.update(changes)
    return RecordHeader(**values)


@pytest.fixture(params=["file", "db"])
def store(request, tmp_path):
    if request.param == "file":
        return FileRecordStore(tmp_path)
    engine = create_engine(f"sqlite:///{tmp_path / 'records.db'}")
    METADATA.create_all(engine)
    return DbRecordStore(engine)


def test_round_trip(store):
    record = store.slot("upload", "src", "dst").create(header())
    record.add(PartResult(1, "e1", "crc1"))
    record.add(PartResult(3, "e3"))
    record.close()
    loaded = store.slot("upload", "src", "dst").load()
    assert loaded.header == record.header
    assert loaded.parts == {1: PartResult(1, "e1", "crc1"), 3: PartResult(3, "e3")}


def test_missing_record_is_none(store):
    assert store.slot("upload", "nothing", "here").load() is None


def test_discarded_record_is_gone(store):
    slot = store.slot("copy", "s", "d")
    slot.create(header(kind="copy")).add(PartResult(1, "e1"))
    slot.discard()
    assert store.slot("copy", "s", "d").load() is None


def test_a_new_record_replaces_the_old_whole(store):
    slot = store.slot("upload", "s", "d")
    slot.create(header(upload_id="old")).add(PartResult(1, "e1"))
    slot.close()
    slot.create(header(upload_id="new")).close()
    loaded = store.slot("upload", "s", "d").load()
    assert (loaded.header.upload_id, loaded.parts) == ("new", {})


def test_areas_are_separate_and_stable(tmp_path):
    a = record_path(tmp_path, "upload", "s", "d")
    assert a == record_path(tmp_path, "upload", "s", "d")
    assert a.parent.name == "upload"
    assert record_path(tmp_path, "download", "s", "d").parent.name == "download"
    assert record_path(tmp_path, "upload", "s", "d2") != a


def test_torn_last_line_is_ignored(tmp_path):
    path = tmp_path / "r.rec"
    record = FileRecordSlot(path).create(header())
    record.add(PartResult(1, "e1"))
    record.close()
    with open(path, "a") as handle:
        handle.write('{"n":2,"etag":"e2"')  # a crash in the middle of an append
    assert set(FileRecordSlot(path).load().parts) == {1}


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text.replace("u-1", "u-2", 1),  # header edited
        lambda text: text.replace('"e1"', '"e9"'),  # a part line edited
        lambda text: "garbage\n",
        lambda text: "",
        lambda text: text[:10] + "\n",
    ],
)
def test_damage_is_detected(tmp_path, damage):
    path = tmp_path / "r.rec"
    record = FileRecordSlot(path).create(header())
    record.add(PartResult(1, "e1"))
    record.close()
    path.write_text(damage(path.read_text()))
    with pytest.raises(RecordDamagedError, match="damaged"):
        FileRecordSlot(path).load()


@pytest.mark.parametrize("table", ["header", "part"])
def test_damaged_rows_are_detected(tmp_path, table):
    engine = create_engine(f"sqlite:///{tmp_path / 'records.db'}")
    METADATA.create_all(engine)
    store = DbRecordStore(engine)
    store.slot("upload", "s", "d").create(header()).add(PartResult(1, "e1"))
    with engine.begin() as connection:
        if table == "header":
            rows = connection.execute(PART_RECORDS.select()).all()
            edited = rows[0].header.replace("u-1", "u-2")
            connection.execute(update(PART_RECORDS).values(header=edited))
        else:
            rows = connection.execute(PARTS.select()).all()
            connection.execute(update(PARTS).values(entry=rows[0].entry.replace("e1", "e9")))
    with pytest.raises(RecordDamagedError, match="damaged"):
        store.slot("upload", "s", "d").load()


def test_upload_id_of_a_damaged_record_can_still_be_read(store):
    slot = store.slot("upload", "s", "d")
    slot.create(header(upload_id="stale-upload")).close()
    if isinstance(store, FileRecordStore):
        path = slot.path
        path.write_text(path.read_text().replace('"size":100', '"size":101', 1))
    else:
        with store.engine.begin() as connection:
            text = connection.execute(PART_RECORDS.select()).one().header
            connection.execute(update(PART_RECORDS).values(header=text.replace('"size":100', '"size":101')))
    with pytest.raises(RecordDamagedError):
        slot.load()
    assert slot.peek_upload_id() == "stale-upload"
    assert slot.written_at() is not None


def test_a_fenced_write_is_refused_and_leaves_nothing(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'records.db'}")
    METADATA.create_all(engine)
    allowed = {"yes": True}

    def fence(connection):
        if not allowed["yes"]:
            raise TransferError("fenced")

    store = DbRecordStore(engine, fence)
    record = store.slot("upload", "s", "d").create(header())
    record.add(PartResult(1, "e1"))
    allowed["yes"] = False
    with pytest.raises(TransferError, match="fenced"):
        record.add(PartResult(2, "e2"))
    with pytest.raises(TransferError, match="fenced"):
        store.slot("upload", "s", "d").discard()
    assert set(store.slot("upload", "s", "d").load().parts) == {1}


def test_second_lock_is_refused(tmp_path):
    path = tmp_path / "r.rec"
    first, second = RecordLock(path), RecordLock(path)
    first.acquire()
    with pytest.raises(TransferError, match="another ferry process"):
        second.acquire()
    first.release()
    second.acquire()
    second.release(remove=True)
