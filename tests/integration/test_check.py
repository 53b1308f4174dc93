"""`ferry check` against the real RGW: a tree copied, then one object deleted, one overwritten with other
bytes of the same size and one extra added; check finds exactly those, `cp --recover` of the check fixes
them, and check then exits 0."""

import json
import os
from pathlib import Path

import pytest
from tests.conftest import MiB, make_file

pytestmark = pytest.mark.integration

FLAGS = ["--threshold", "6MiB", "--part-size", "5MiB"]


def make_tree(root: Path) -> None:
    for rel, size in {"a/b.txt": 10, "a.txt": 20, "big.bin": 13 * MiB, "ü/x": 7, "z": 0}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        make_file(path, size)


def report_rows(summary: dict, kind: str) -> list[list[str]]:
    rows = []
    for path in summary["reports"].get(kind, []):
        rows += [line.rstrip("\n").split("\t")[1:] for line in Path(path).read_text().splitlines()]
    return rows


def check_json(ferry, *args):
    run = ferry("check", *args, "--json")
    return run, json.loads(run.stdout)


def test_check_finds_missing_changed_and_extra_and_recover_fixes_them(tmp_path, ferry, s3, bucket, bucket2):
    src = tmp_path / "tree"
    make_tree(src)
    assert ferry("cp", "-r", str(src), f"rgw://{bucket}/pre", *FLAGS).returncode == 0
    assert ferry("cp", "-r", f"rgw://{bucket}/pre", f"rgw://{bucket2}/copy", *FLAGS).returncode == 0

    run, summary = check_json(ferry, str(src), f"rgw://{bucket}/pre")
    assert run.returncode == 0, run.stderr
    # big.bin went up multipart without --verify-md5: no MD5 anywhere for it, and the summary says so
    assert summary["match"] and summary["same"] == 5 and summary["same_by_size_only"] == 1

    s3.delete_object(Bucket=bucket2, Key="copy/a/b.txt")
    s3.put_object(Bucket=bucket2, Key="copy/a.txt", Body=b"y" * 20)  # the same size, other bytes
    s3.put_object(Bucket=bucket2, Key="copy/extra", Body=b"e")
    run, summary = check_json(ferry, f"rgw://{bucket}/pre", f"rgw://{bucket2}/copy")
    assert run.returncode == 8, run.stderr
    assert "the trees differ: 1 missing, 1 differing, 1 extra" in run.stderr
    assert (summary["missing"], summary["differ"], summary["extra"], summary["same"]) == (1, 1, 1, 3)
    assert [r[0] for r in report_rows(summary, "missing")] == ["pre/a/b.txt"]
    assert report_rows(summary, "differ")[0][0] == "pre/a.txt"
    assert report_rows(summary, "differ")[0][-1] == "differs at destination: md5"
    assert [r[0] for r in report_rows(summary, "extra")] == ["copy/extra"]

    fix = ferry("cp", "--recover", summary["task_id"])
    assert fix.returncode == 0, fix.stderr
    assert "Succeed count:      2" in fix.stdout
    run, summary = check_json(ferry, f"rgw://{bucket}/pre", f"rgw://{bucket2}/copy", "--one-way")
    assert run.returncode == 0, run.stderr
    assert summary["same"] == 5 and summary["extra"] == 0
    assert s3.get_object(Bucket=bucket2, Key="copy/a.txt")["Body"].read() == (src / "a.txt").read_bytes()


def test_a_same_size_change_without_any_hash_is_found_by_download(tmp_path, ferry, s3, bucket):
    src = tmp_path / "tree"
    make_tree(src)
    assert ferry("cp", "-r", str(src), f"rgw://{bucket}/pre", *FLAGS).returncode == 0
    # a multipart object without md5chksum metadata: neither listing nor HEAD gives its MD5
    body = os.urandom(13 * MiB)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="pre/big.bin")["UploadId"]
    parts = []
    for number, start in enumerate(range(0, len(body), 7 * MiB), 1):
        etag = s3.upload_part(
            Bucket=bucket,
            Key="pre/big.bin",
            UploadId=upload,
            PartNumber=number,
            Body=body[start : start + 7 * MiB],
        )["ETag"]
        parts.append({"ETag": etag, "PartNumber": number})
    s3.complete_multipart_upload(
        Bucket=bucket, Key="pre/big.bin", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    back = tmp_path / "back"
    assert ferry("cp", "-r", f"rgw://{bucket}/pre", str(back), *FLAGS).returncode == 0
    (back / "big.bin").write_bytes(os.urandom(13 * MiB))

    run, summary = check_json(ferry, f"rgw://{bucket}/pre", str(back))
    assert run.returncode == 0, run.stderr
    assert summary["same_by_size_only"] == 1  # said, never hidden

    run, summary = check_json(ferry, f"rgw://{bucket}/pre", str(back), "--download")
    assert run.returncode == 8, run.stderr
    assert summary["differ"] == 1 and summary["same"] == 4
    assert report_rows(summary, "differ")[0][-1] == "differs at destination: content"

    fix = ferry("cp", "--recover", summary["task_id"])
    assert fix.returncode == 0, fix.stderr
    assert (back / "big.bin").read_bytes() == body


def test_check_bad_input(tmp_path, ferry, bucket):
    run = ferry("check", str(tmp_path / "nope"), f"rgw://{bucket}/x")
    assert run.returncode == 3 and "is not a directory" in run.stderr and "Traceback" not in run.stderr
    run = ferry("check", str(tmp_path))
    assert run.returncode == 3 and "check needs a source and a destination" in run.stderr
    run = ferry("check", str(tmp_path), "rgw://no-such-bucket-h16/x")
    assert run.returncode == 4, run.stderr
