"""SIGKILL in the middle of a transfer, then the same command again: it resumes (fewer bytes move), the
result is byte-identical, nothing is left behind (no multipart upload, no temporary file, no record)."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from tests.conftest import MiB, make_file, sha256_file, sha256_object, spawn_ferry, uploads_left

pytestmark = pytest.mark.integration

SIZE = 40 * MiB + 4321
FLAGS = ["--threshold", "6MiB", "--copy-threshold", "6MiB", "--part-size", "5MiB", "-p", "2"]


def parts_recorded(area: Path) -> int:
    lines = 0
    for record in area.glob("*.rec"):
        lines += max(0, record.read_text(errors="replace").count("\n") - 1)
    return lines


def kill_midway(args, config, home, kind, min_parts=2, timeout=60.0):
    """Start ``ferry cp ARGS`` slowed by --bwlimit and SIGKILL it once ``min_parts`` parts are recorded."""
    proc = spawn_ferry(config, home, "cp", *args, *FLAGS, "--bwlimit", "8MiB")
    area = home / "checkpoint" / kind
    deadline = time.monotonic() + timeout
    try:
        while parts_recorded(area) < min_parts:
            if proc.poll() is not None:
                pytest.fail(f"ferry ended before it could be killed: {proc.stderr.read().decode()}")
            if time.monotonic() > deadline:
                pytest.fail("no part was recorded in time")
            time.sleep(0.05)
        proc.kill()
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -9
    done = parts_recorded(area)
    assert min_parts <= done < 9, "the kill should land mid-transfer"
    return done


def finish(ferry, *args):
    run = ferry("cp", *args, *FLAGS)
    assert run.returncode == 0, run.stderr
    return run


def assert_resumed(run, parts_done):
    assert run.transferred() <= SIZE - parts_done * 5 * MiB
    assert run.transferred() > 0
    assert "done by an earlier run" in run.stdout


def test_upload_resumes_after_sigkill(tmp_path, ferry, config, home, s3, bucket):
    source = tmp_path / "big.bin"
    digest = make_file(source, SIZE)
    done = kill_midway([str(source), f"rgw://{bucket}/big.bin"], config, home, "upload")
    assert len(uploads_left(s3, bucket)) == 1  # the unfinished upload is there to resume

    plan = ferry("cp", str(source), f"rgw://{bucket}/big.bin", *FLAGS, "--dry-run")
    assert plan.returncode == 0, plan.stderr
    assert f"{done} parts are already done and would not be sent again" in plan.stdout
    assert len(uploads_left(s3, bucket)) == 1

    run = finish(ferry, str(source), f"rgw://{bucket}/big.bin")
    assert_resumed(run, done)
    assert sha256_object(s3, bucket, "big.bin") == digest
    assert uploads_left(s3, bucket) == []
    assert list((home / "checkpoint" / "upload").glob("*.rec")) == []


def test_download_resumes_after_sigkill_and_never_shows_a_partial_file(
    tmp_path, ferry, config, home, s3, bucket
):
    source = tmp_path / "big.bin"
    digest = make_file(source, SIZE)
    s3.upload_file(str(source), bucket, "big.bin")
    target = tmp_path / "out" / "big.bin"
    done = kill_midway([f"rgw://{bucket}/big.bin", str(target)], config, home, "download")
    assert not target.exists()
    assert len(list(target.parent.glob("*.ferry-tmp"))) == 1

    run = finish(ferry, f"rgw://{bucket}/big.bin", str(target))
    assert_resumed(run, done)
    assert sha256_file(target) == digest
    assert list(target.parent.glob("*.ferry-tmp")) == []


@pytest.mark.parametrize("server_side", [True, False], ids=["server-side", "streamed"])
def test_copy_resumes_after_sigkill(
    tmp_path, ferry, config, home, rgw, s3, bucket, bucket2, other_bucket, server_side
):
    source = tmp_path / "big.bin"
    digest = make_file(source, SIZE)
    s3.upload_file(str(source), bucket, "big.bin")
    if server_side:
        destination, client, dst_bucket = f"rgw://{bucket2}/copied.bin", s3, bucket2
    else:
        destination, client, dst_bucket = (
            f"rgw2://{other_bucket}/copied.bin",
            rgw.client(second=True),
            other_bucket,
        )
    done = kill_midway([f"rgw://{bucket}/big.bin", destination], config, home, "copy")

    run = finish(ferry, f"rgw://{bucket}/big.bin", destination)
    assert_resumed(run, done)
    assert ("server-side" in run.stdout) == server_side
    assert sha256_object(client, dst_bucket, "copied.bin") == digest
    assert uploads_left(client, dst_bucket) == []


def test_second_process_on_the_same_transfer_is_refused(tmp_path, ferry, config, home, bucket):
    source = tmp_path / "big.bin"
    make_file(source, SIZE)
    proc = spawn_ferry(
        config, home, "cp", str(source), f"rgw://{bucket}/big.bin", *FLAGS, "--bwlimit", "4MiB"
    )
    try:
        deadline = time.monotonic() + 30
        while not list((home / "checkpoint" / "upload").glob("*.lock")) and time.monotonic() < deadline:
            time.sleep(0.05)
        second = ferry("cp", str(source), f"rgw://{bucket}/big.bin", *FLAGS)
        assert second.returncode == 6
        assert "another ferry process is working on this transfer" in second.stderr
    finally:
        proc.kill()
        proc.wait()


def test_ctrl_c_stops_with_exit_9_and_the_same_command_resumes(tmp_path, ferry, config, home, s3, bucket):
    source = tmp_path / "big.bin"
    digest = make_file(source, SIZE)
    proc = spawn_ferry(
        config, home, "cp", str(source), f"rgw://{bucket}/big.bin", *FLAGS, "--bwlimit", "8MiB"
    )
    area = home / "checkpoint" / "upload"
    deadline = time.monotonic() + 60
    while parts_recorded(area) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 9
    assert "interrupted; run the same command again to resume" in err.decode()
    assert "Traceback" not in err.decode()

    run = finish(ferry, str(source), f"rgw://{bucket}/big.bin")
    assert run.transferred() < SIZE
    assert sha256_object(s3, bucket, "big.bin") == digest


@pytest.mark.parametrize("other_filesystem", [False, True], ids=["same-fs", "tmpfs"])
def test_temp_dir_holds_unfinished_downloads(tmp_path, ferry, config, home, s3, bucket, other_filesystem):
    source = tmp_path / "big.bin"
    digest = make_file(source, SIZE)
    s3.upload_file(str(source), bucket, "big.bin")
    temp_dir = tmp_path / "temp"
    temp_dir.mkdir()
    if (
        other_filesystem
        and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(temp_dir)]).returncode
    ):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        target = tmp_path / "out" / "big.bin"
        args = [f"rgw://{bucket}/big.bin", str(target), "--temp-dir", str(temp_dir)]
        kill_midway(args, config, home, "download")
        assert len(list(temp_dir.glob("*.ferry-tmp"))) == 1
        assert not target.exists()

        run = finish(ferry, *args)
        assert run.transferred() < SIZE
        assert sha256_file(target) == digest
        assert list(temp_dir.iterdir()) == []
        assert [p.name for p in target.parent.iterdir()] == ["big.bin"]
    finally:
        if other_filesystem:
            subprocess.run(["umount", str(temp_dir)], check=False)


# --- what a killed download left beside its destination -------------------------------------------------


def test_a_killed_runs_temporary_file_goes_when_its_destination_is_downloaded_again(
    ferry, tmp_path, s3, bucket
):
    for name in ("a.bin", "c.bin"):
        s3.put_object(Bucket=bucket, Key=f"t/{name}", Body=name.encode() * 1000)
    dl = tmp_path / "dl"
    dl.mkdir()
    left = {  # as a killed run leaves them: one for a file downloaded again, one for a file that is not
        "a": dl / ".a.bin.0123456789abcdef.ferry-tmp",
        "b": dl / ".b.bin.fedcba9876543210.ferry-tmp",
    }
    for path in left.values():
        path.write_bytes(b"half a download")
    (dl / ".a.bin.notes").write_text("a user's own file")
    run = ferry("cp", "-r", f"rgw://{bucket}/t/", str(dl))
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in dl.iterdir()) == sorted([".a.bin.notes", left["b"].name, "a.bin", "c.bin"])
    assert (dl / "a.bin").read_bytes() == b"a.bin" * 1000


@pytest.mark.parametrize(
    "stem", ["x" * 120, "界" * 80], ids=["alike-past-100-characters", "240-bytes-of-utf8"]
)
def test_long_names_alike_at_the_start_download_together_intact(ferry, tmp_path, s3, bucket, stem):
    names = [f"{stem}-one", f"{stem}-two"]
    data = {name: os.urandom(7 * MiB + i) for i, name in enumerate(names)}
    for name, body in data.items():
        s3.put_object(Bucket=bucket, Key=f"long/{name}", Body=body)
    dl = tmp_path / "dl"
    run = ferry("cp", "-r", f"rgw://{bucket}/long/", str(dl), *FLAGS)  # parts of both written at once
    assert run.returncode == 0, run.stderr
    assert {p.name: p.read_bytes() for p in dl.iterdir()} == data
