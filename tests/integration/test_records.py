"""Part records that cannot be trusted: damaged, or describing a source that has since changed. Each is
detected, reported, its stale upload aborted, and the object sent again whole and correct."""

import pytest
from tests.conftest import make_file, sha256_file, sha256_object, uploads_left
from tests.integration.test_resume import SIZE, finish, kill_midway

pytestmark = pytest.mark.integration


def only_record(home, kind):
    records = list((home / "checkpoint" / kind).glob("*.rec"))
    assert len(records) == 1
    return records[0]


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text.replace('"part_size":5242880', '"part_size":5242881'),
        lambda text: text[: len(text) // 2] + "#" + text[len(text) // 2 + 1 :],
        lambda text: "\x00" * len(text),
    ],
    ids=["edited-header", "flipped-byte", "zeroed"],
)
def test_damaged_upload_record_is_discarded_and_its_upload_aborted(
    tmp_path, ferry, config, home, s3, bucket, damage
):
    source = tmp_path / "big.bin"
    digest = make_file(source, SIZE)
    kill_midway([str(source), f"rgw://{bucket}/big.bin"], config, home, "upload")
    [stale] = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    record = only_record(home, "upload")
    record.write_text(damage(record.read_text(errors="replace")), errors="replace")

    run = finish(ferry, str(source), f"rgw://{bucket}/big.bin")
    assert "damaged" in run.stderr
    assert run.transferred() == SIZE  # started over
    assert sha256_object(s3, bucket, "big.bin") == digest
    assert stale["UploadId"] not in [
        u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    ]
    assert uploads_left(s3, bucket) == []


def test_source_file_changed_between_runs(tmp_path, ferry, config, home, s3, bucket):
    source = tmp_path / "big.bin"
    make_file(source, SIZE)
    kill_midway([str(source), f"rgw://{bucket}/big.bin"], config, home, "upload")
    digest = make_file(source, SIZE)  # same size, new bytes, new mtime

    run = finish(ferry, str(source), f"rgw://{bucket}/big.bin")
    assert "changed since the last run" in run.stderr
    assert run.transferred() == SIZE
    assert sha256_object(s3, bucket, "big.bin") == digest
    assert uploads_left(s3, bucket) == []


def test_source_object_changed_between_download_runs(tmp_path, ferry, config, home, s3, bucket):
    source = tmp_path / "v1.bin"
    make_file(source, SIZE)
    s3.upload_file(str(source), bucket, "obj.bin")
    target = tmp_path / "out.bin"
    kill_midway([f"rgw://{bucket}/obj.bin", str(target)], config, home, "download")
    digest = make_file(source, SIZE)
    s3.upload_file(str(source), bucket, "obj.bin")

    run = finish(ferry, f"rgw://{bucket}/obj.bin", str(target))
    assert "changed since the last run" in run.stderr
    assert sha256_file(target) == digest
    assert [p.name for p in tmp_path.glob("*.ferry-tmp")] == []


def test_damaged_download_record_starts_over_without_leaving_temp_files(
    tmp_path, ferry, config, home, s3, bucket
):
    source = tmp_path / "v1.bin"
    digest = make_file(source, SIZE)
    s3.upload_file(str(source), bucket, "obj.bin")
    target = tmp_path / "out.bin"
    kill_midway([f"rgw://{bucket}/obj.bin", str(target)], config, home, "download")
    record = only_record(home, "download")
    record.write_text("not a record\n")

    run = finish(ferry, f"rgw://{bucket}/obj.bin", str(target))
    assert "damaged" in run.stderr
    assert sha256_file(target) == digest
    assert [p.name for p in tmp_path.glob("*.ferry-tmp")] == []
