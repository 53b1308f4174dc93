"""obsutil's command lines and semantics, against the real RGW: each spelling of the seeds' syntax lines,
recover of download and bucket-to-bucket tasks, -cpd, -config, -u with -recover, -crr, -vmd5 on copies,
and a 1 GiB server-side copy killed half-way and resumed per part."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from tests.conftest import MiB, make_file, sha256_file, sha256_object, spawn_ferry, write_remotes
from tests.integration.test_tasks import count, keys, task_id_of
from tests.support.faultproxy import FaultProxy, Rule

pytestmark = pytest.mark.integration


def tree(root: Path) -> dict[str, str]:
    files = {"a.jpg": 3 * MiB, "b.txt": 100, "sub/c.jpg": 2000, "sub/d.log": 10}
    digests = {}
    for rel, size in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        digests[rel] = make_file(root / rel, size)
    return digests


def test_obsutil_spellings_upload_then_download_task_recovered_with_u_cpd_and_config(
    tmp_path, ferry, rgw, bucket
):
    src = tmp_path / "src"
    digests = tree(src)
    out, cpd, temp = tmp_path / "out", tmp_path / "cpd", tmp_path / "temp"
    obsutil_conf = write_remotes(
        tmp_path / "obsutil.toml",
        rgw,
        defaults="defaultJobs = 2\ndefaultParallels = 2\ndefaultPartSize = '1MB'",
    )
    up = ferry(
        "cp", str(src), f"rgw://{bucket}/p", "-r", "-f", "-j=2", "-p=3", "-threshold=1MB", "-ps=auto",
        "-include=*.jpg", "-vlength", "-vmd5", f"-o={out}", f"-cpd={cpd}", f"-config={obsutil_conf}",
        "-mf", "-acl=private", "-sc=standard", "-meta=team:blue",
    )  # fmt: skip
    assert up.returncode == 0, up.stderr
    assert count(up, "Succeed count") == 2
    task_id = task_id_of(up)
    assert list(out.glob(f"cp_succeed_report_*_{task_id}.txt"))
    assert list((cpd / "tasks").glob(f"{task_id}*"))  # the journal lives in -cpd

    # A download task with one object blocked (a folder where the file must go), recovered with -u.
    dest = tmp_path / "down"
    (dest / "sub" / "c.jpg").mkdir(parents=True)
    down = ferry(
        "cp", f"rgw://{bucket}/p", str(dest), "-r", "-f", f"-o={out}", f"-cpd={cpd}", f"-tempFileDir={temp}",
        f"-config={obsutil_conf}",
    )  # fmt: skip
    assert down.returncode == 8, down.stderr
    down_id = task_id_of(down)
    assert count(down, "Failed count") == 1, down.stderr
    assert list(out.glob(f"cp_failed_report_*_{down_id}.txt"))
    (dest / "sub" / "c.jpg").rmdir()
    without_cpd = ferry("cp", f"-recover={down_id}", "-f", f"-o={out}")
    assert without_cpd.returncode == 2, without_cpd.stderr
    assert "has result files" in without_cpd.stderr and "no journal" in without_cpd.stderr
    look = ferry("cp", f"-recover={down_id}", "-dryRun", f"-cpd={cpd}")
    assert look.returncode == 0, look.stderr
    assert "would download: p/sub/c.jpg" in look.stdout and not (dest / "sub" / "c.jpg").exists()
    again = ferry("cp", f"-recover={down_id}", "-f", "-u", f"-cpd={cpd}", f"-o={out}", "-clear")
    assert again.returncode == 0, again.stderr
    assert task_id_of(again) == down_id
    assert count(again, "Succeed count") == 1
    assert sha256_file(dest / "sub" / "c.jpg") == digests["sub/c.jpg"]
    assert sha256_file(dest / "a.jpg") == digests["a.jpg"]
    assert not list(out.glob(f"cp_failed_report_*_{down_id}.txt"))  # -clear
    assert not list(temp.glob("**/*.part")) if temp.exists() else True

    # -u on a fresh task: everything is current, nothing moves
    same = ferry("cp", f"rgw://{bucket}/p", str(dest), "-r", "-f", "-u", f"-cpd={cpd}")
    assert same.returncode == 0, same.stderr
    assert count(same, "Succeed count") == 0 or "Skip count" in same.stdout


@pytest.mark.parametrize("flag", ["-j=0", "-p=0", "-j=-1", "-p=-3", "-j", "-p"])
def test_zero_or_negative_jobs_and_parallels_are_errors(tmp_path, ferry, bucket, s3, flag):
    src = tmp_path / "s"
    src.mkdir()
    (src / "f.txt").write_text("x")
    args = [flag, "0"] if "=" not in flag else [flag]
    for extra in (["-r", str(src), f"rgw://{bucket}/t"], [str(src / "f.txt"), f"rgw://{bucket}/one"]):
        if flag.startswith("-j") and "-r" not in extra:
            continue  # -j belongs to tasks
        run = ferry("cp", *extra, *args)
        assert run.returncode == 3, (run.stdout, run.stderr)
        assert "invalid" in run.stderr and "Traceback" not in run.stderr
    assert keys(s3, bucket) == []


def test_bucket_to_bucket_task_recovered_with_crr(tmp_path, ferry, rgw, s3, bucket, bucket2):
    names = [f"good-{i}.bin" for i in range(4)] + ["bad-1.bin", "bad-2.bin"]
    for name in names:
        s3.put_object(Bucket=bucket, Key=f"in/{name}", Body=name.encode() * 1000)
    with FaultProxy(rgw.endpoint) as proxy:
        config = write_remotes(tmp_path / "flaky.toml", rgw, extra={"flaky": proxy.url})
        proxy.add_rule(Rule("refuse", method="PUT", path_contains="/bad-", status=403, code="AccessDenied"))
        first = ferry(
            "cp", f"rgw://{bucket}/in", f"flaky://{bucket2}/out", "-r", "-f", "-crr", config_path=config
        )
        assert first.returncode == 8, first.stderr
        task_id = task_id_of(first)
        assert count(first, "Failed count") == 2
        proxy.clear_rules()
        proxy.reset_stats()
        again = ferry("cp", f"-recover={task_id}", "-f", "-vlength", config_path=config)
        assert again.returncode == 0, again.stderr
        assert count(again, "Succeed count") == 2
        # -crr: the bytes went through this machine (PUTs with bodies, no x-amz-copy-source)
        puts = [r for r in proxy.requests if r.method == "PUT"]
        assert len(puts) == 2
    assert keys(s3, bucket2, "out/") == sorted(names)


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_vmd5_on_copies_compares_something_real(tmp_path, ferry, s3, bucket, bucket2):
    data = b"x" * (7 * MiB + 3)
    s3.put_object(Bucket=bucket, Key="single", Body=data)
    one = ferry("cp", f"rgw://{bucket}/single", f"rgw://{bucket2}/single", "-vmd5")
    assert one.returncode == 0, one.stderr
    assert "Verified:          md5" in one.stdout

    # a multipart source without md5chksum: nothing to compare, and it says so
    upload = s3.create_multipart_upload(Bucket=bucket, Key="multi")
    part = s3.upload_part(Bucket=bucket, Key="multi", UploadId=upload["UploadId"], PartNumber=1, Body=data)
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="multi",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    blind = ferry("cp", f"rgw://{bucket}/multi", f"rgw://{bucket2}/multi", "-vmd5")
    assert blind.returncode == 0, blind.stderr
    assert "md5" not in blind.stdout.split("Verified:", 1)[-1] if "Verified:" in blind.stdout else True
    assert "no MD5 was compared" in blind.stderr
    out = tmp_path / "out"
    task = ferry("cp", f"rgw://{bucket}", f"rgw://{bucket2}/t", "-r", "-vmd5", "-include=multi", f"-o={out}")
    assert task.returncode == 0, task.stderr
    [warning] = out.glob("cp_warning_report_*.txt")
    assert "multi" in warning.read_text() and "no MD5 was compared" in warning.read_text()

    # md5chksum on a multipart source; the copy goes in parts (-threshold), so the destination's ETag is
    # not an MD5 and its bytes are read back
    import base64

    b64 = base64.b64encode(bytes.fromhex(_md5(data))).decode()
    s3.copy_object(
        Bucket=bucket, Key="multi", CopySource={"Bucket": bucket, "Key": "multi"},
        Metadata={"md5chksum": b64}, MetadataDirective="REPLACE",
    )  # fmt: skip
    parts = ferry(
        "cp", f"rgw://{bucket}/multi", f"rgw://{bucket2}/parts", "-vmd5", "-threshold=5MB", "-ps=5MB"
    )
    assert parts.returncode == 0, parts.stderr
    assert "Parts:             2 of 5.00 MiB" in parts.stdout
    assert "Verified:          md5" in parts.stdout

    # a source whose md5chksum lies: the copy is refused and the destination deleted
    s3.put_object(Bucket=bucket, Key="liar", Body=b"abc", Metadata={"md5chksum": b64})
    liar = ferry("cp", f"rgw://{bucket}/liar", f"rgw://{bucket2}/liar", "-vmd5")
    assert liar.returncode != 0 and "MD5 mismatch" in liar.stderr
    assert "liar" not in keys(s3, bucket2)


def test_a_1gib_server_side_copy_killed_half_way_resumes_per_part(
    tmp_path, ferry, config, home, s3, bucket, bucket2
):
    size = 1024 * MiB
    chunk = bytes(range(256)) * (64 * MiB // 256)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")
    parts = []
    digest = hashlib.sha256()
    for n in range(1, 17):
        body = chunk[n:] + chunk[:n]  # no two parts alike
        digest.update(body)
        etag = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload["UploadId"], PartNumber=n, Body=body)
        parts.append({"PartNumber": n, "ETag": etag["ETag"]})
    s3.complete_multipart_upload(
        Bucket=bucket, Key="big", UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    args = ("cp", f"rgw://{bucket}/big", f"rgw://{bucket2}/big", "-threshold=52428800", "-p=2")
    proc = spawn_ferry(config, home, *args)
    records = home / "checkpoint" / "copy"

    def parts_done() -> int:
        found = list(records.glob("*.rec")) if records.exists() else []
        return max(0, len(found[0].read_text().splitlines()) - 1) if found else 0

    deadline = time.monotonic() + 120
    while parts_done() < 8:
        assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.kill()
    proc.communicate()
    again = ferry(*args)
    assert again.returncode == 0, again.stderr
    assert again.transferred() < 0.6 * size
    assert "done by an earlier run" in again.stdout
    assert sha256_object(s3, bucket2, "big") == digest.hexdigest()
    assert not list(records.glob("*.rec"))
    for b in (bucket, bucket2):
        s3.delete_object(Bucket=b, Key="big")
