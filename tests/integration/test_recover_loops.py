""" "Run it again until it exits 0" must end, whichever way a user runs ferry: a recover, a resume or a
single-object ``cp`` of work that an earlier run already finished (because it was killed, or lost the
server's answer, just after the end) says so and exits 0, with the destination's bytes right."""

import json

import pytest
from tests.conftest import MiB, make_file, sha256_object, uploads_left, write_remotes
from tests.support.faultproxy import FaultProxy, Rule

pytestmark = pytest.mark.integration


@pytest.fixture
def proxy(rgw):
    with FaultProxy(rgw.endpoint) as running:
        yield running


def test_single_cp_again_after_the_complete_answer_was_lost(tmp_path, ferry, rgw, proxy, s3, bucket):
    """The server completed the upload but ferry never heard it (both tries of CompleteMultipartUpload lost
    their answer). Ceph RGW then answers ListParts with NoSuchKey, not NoSuchUpload: that once failed every
    later run with "no such object", so a retry loop never ended."""
    config = write_remotes(tmp_path / "flaky.toml", rgw, extra={"flaky": proxy.url}, defaults="retries = 1")
    source = tmp_path / "big.bin"
    digest = make_file(source, 12 * MiB + 5)
    proxy.add_rule(Rule("reset_response", "POST", "uploadId=", times=2, name="lost-ack"))
    flags = ["--threshold", "8MiB", "--part-size", "5MiB", "-f"]

    lost = ferry("cp", str(source), f"flaky://{bucket}/big.bin", *flags, config_path=config)
    assert lost.returncode != 0 and "Traceback" not in lost.stderr
    assert [f.name for f in proxy.fired] == ["lost-ack", "lost-ack"]
    assert sha256_object(s3, bucket, "big.bin") == digest  # the server did complete it

    again = ferry("cp", str(source), f"flaky://{bucket}/big.bin", *flags, config_path=config)
    assert again.returncode == 0, again.stderr
    assert "completed by an earlier run" in again.stderr
    assert sha256_object(s3, bucket, "big.bin") == digest and uploads_left(s3, bucket) == []

    once_more = ferry("cp", str(source), f"flaky://{bucket}/big.bin", *flags, config_path=config)
    assert once_more.returncode == 0, once_more.stderr
    assert sha256_object(s3, bucket, "big.bin") == digest and uploads_left(s3, bucket) == []


def test_single_cp_again_after_the_upload_was_aborted(tmp_path, ferry, rgw, proxy, s3, bucket):
    """A recorded upload that someone aborted (RGW: NoSuchKey on ListParts) starts the object again."""
    config = write_remotes(tmp_path / "flaky.toml", rgw, extra={"flaky": proxy.url}, defaults="retries = 0")
    source = tmp_path / "big.bin"
    digest = make_file(source, 11 * MiB)
    proxy.add_rule(Rule("status", "PUT", "partNumber=2", times=1, status=500, code="InternalError"))
    flags = ["--threshold", "8MiB", "--part-size", "5MiB", "-p", "1", "-f"]
    failed = ferry("cp", str(source), f"flaky://{bucket}/big.bin", *flags, config_path=config)
    assert failed.returncode != 0
    for upload in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]:
        s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])

    again = ferry("cp", str(source), f"flaky://{bucket}/big.bin", *flags, config_path=config)
    assert again.returncode == 0, again.stderr
    assert "no longer exists; starting this object again" in again.stderr
    assert sha256_object(s3, bucket, "big.bin") == digest and uploads_left(s3, bucket) == []


def test_task_resume_and_recover_of_a_succeeded_task_do_nothing(tmp_path, ferry, s3, bucket):
    folder = tmp_path / "src"
    folder.mkdir()
    for i in range(3):
        (folder / f"f{i}.txt").write_bytes(b"x" * (i + 1))
    first = ferry("cp", "-r", f"{folder}/", f"rgw://{bucket}/", "-q")
    assert first.returncode == 0, first.stderr
    task_id = first.stdout.split("Task id:")[1].split()[0]
    stamps = {o["Key"]: o["LastModified"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}

    for argv in (
        ["task", "resume", task_id],
        ["cp", "--recover", task_id],
        ["task", "resume", task_id, "-q"],
    ):
        done = ferry(*argv)
        assert done.returncode == 0, done.stderr
        assert f"Task {task_id} already succeeded: there is nothing to recover" in done.stdout
        assert done.stderr == ""
    as_json = ferry("cp", "--recover", task_id, "--json")
    assert as_json.returncode == 0
    assert json.loads(as_json.stdout) == {"task_id": task_id, "state": "succeeded", "recovered": False}
    assert {o["Key"]: o["LastModified"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]} == stamps


@pytest.mark.parametrize("retries", [0, 1])
def test_an_upload_whose_creation_answer_was_lost_is_not_left_behind(
    tmp_path, ferry, rgw, proxy, s3, bucket, retries
):
    """The server started a multipart upload but ferry never heard its id (the answer to
    CreateMultipartUpload was lost, or ferry was killed before recording it). A retry in the same run, or
    the next run, must abort that upload: nothing else ever would, and its parts would stay billed (found
    by the chaos campaign: a service killed just after starting a large copy left one behind)."""
    config = write_remotes(
        tmp_path / "flaky.toml", rgw, extra={"flaky": proxy.url}, defaults=f"retries = {retries}"
    )
    source = tmp_path / "big.bin"
    digest = make_file(source, 11 * MiB)
    proxy.add_rule(Rule("reset_response", "POST", "?uploads", times=1, name="lost-create"))
    flags = ["--threshold", "8MiB", "--part-size", "5MiB", "-f"]

    first = ferry("cp", str(source), f"flaky://{bucket}/big.bin", *flags, config_path=config)
    assert [f.name for f in proxy.fired] == ["lost-create"]
    if retries == 0:
        assert first.returncode != 0 and "Traceback" not in first.stderr
        assert len(uploads_left(s3, bucket)) == 1  # the server did start it
        again = ferry("cp", str(source), f"flaky://{bucket}/big.bin", *flags, config_path=config)
        assert again.returncode == 0, again.stderr
    else:
        assert first.returncode == 0, first.stderr
    assert sha256_object(s3, bucket, "big.bin") == digest
    assert uploads_left(s3, bucket) == []
