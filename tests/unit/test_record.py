"""Part records: what is written is read back; damage is noticed; a torn last line is not damage."""

import pytest

from ferry.errors import RecordDamagedError, TransferError
from ferry.storage.base import PartResult
from ferry.transfer.record import PartRecord, RecordHeader, RecordLock, record_path


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


def test_round_trip(tmp_path):
    path = record_path(tmp_path, "upload", "src", "dst")
    record = PartRecord.create(path, header())
    record.add(PartResult(1, "e1", "crc1"))
    record.add(PartResult(3, "e3"))
    record.close()
    loaded = PartRecord.load(path)
    assert loaded.header == record.header
    assert loaded.parts == {1: PartResult(1, "e1", "crc1"), 3: PartResult(3, "e3")}


def test_missing_record_is_none(tmp_path):
    assert PartRecord.load(tmp_path / "none.rec") is None


def test_areas_are_separate_and_stable(tmp_path):
    a = record_path(tmp_path, "upload", "s", "d")
    assert a == record_path(tmp_path, "upload", "s", "d")
    assert a.parent.name == "upload"
    assert record_path(tmp_path, "download", "s", "d").parent.name == "download"
    assert record_path(tmp_path, "upload", "s", "d2") != a


def test_torn_last_line_is_ignored(tmp_path):
    path = tmp_path / "r.rec"
    record = PartRecord.create(path, header())
    record.add(PartResult(1, "e1"))
    record.close()
    with open(path, "a") as handle:
        handle.write('{"n":2,"etag":"e2"')  # a crash in the middle of an append
    assert set(PartRecord.load(path).parts) == {1}


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
    record = PartRecord.create(path, header())
    record.add(PartResult(1, "e1"))
    record.close()
    path.write_text(damage(path.read_text()))
    with pytest.raises(RecordDamagedError, match="damaged"):
        PartRecord.load(path)


def test_upload_id_of_a_damaged_record_can_still_be_read(tmp_path):
    path = tmp_path / "r.rec"
    PartRecord.create(path, header(upload_id="stale-upload")).close()
    path.write_text(path.read_text().replace('"size":100', '"size":101', 1))
    with pytest.raises(RecordDamagedError):
        PartRecord.load(path)
    assert PartRecord.peek_upload_id(path) == "stale-upload"


def test_second_lock_is_refused(tmp_path):
    path = tmp_path / "r.rec"
    first, second = RecordLock(path), RecordLock(path)
    first.acquire()
    with pytest.raises(TransferError, match="another ferry process"):
        second.acquire()
    first.release()
    second.acquire()
    second.release(remove=True)
