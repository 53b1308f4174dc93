"""`-u` (incremental), `--dry-run` and `--json` on tasks, and a bandwidth limit shared by a task's objects,
against the real RGW."""

import json
import os
import time

import pytest
from tests.conftest import MiB, make_file, sha256_file, write_remotes
from tests.integration.test_tasks import count, keys, task_id_of
from tests.support.faultproxy import FaultProxy, Rule

pytestmark = pytest.mark.integration


def test_incremental_upload_and_download_move_only_what_changed(tmp_path, ferry, s3, bucket):
    src = tmp_path / "src"
    src.mkdir()
    sizes = {f"f{i}.bin": 1000 + i for i in range(6)}
    for name, size in sizes.items():
        make_file(src / name, size)
    first = ferry("cp", "-r", str(src), f"rgw://{bucket}/u")
    assert first.returncode == 0, first.stderr

    again = ferry("cp", "-r", str(src), f"rgw://{bucket}/u", "-u")
    assert again.returncode == 0, again.stderr
    assert count(again, "Transferred bytes") == 0 and count(again, "Skip count") == 6

    make_file(src / "f1.bin", 3000)  # a new size
    make_file(src / "new.bin", 500)  # new to the destination
    later = time.time() + 5
    os.utime(src / "f2.bin", (later, later))  # same size, but newer than the object
    changed = ferry("cp", "-r", str(src), f"rgw://{bucket}/u", "-u")
    assert changed.returncode == 0, changed.stderr
    assert count(changed, "Succeed count") == 3 and count(changed, "Skip count") == 4
    assert count(changed, "Transferred bytes") == 3000 + 500 + sizes["f2.bin"]
    assert s3.head_object(Bucket=bucket, Key="u/f1.bin")["ContentLength"] == 3000

    back = tmp_path / "back"
    down = ferry("cp", "-r", f"rgw://{bucket}/u", str(back))
    assert down.returncode == 0, down.stderr
    s3.put_object(Bucket=bucket, Key="u/f3.bin", Body=b"x" * 77)  # changed on the server
    down_again = ferry("cp", "-r", f"rgw://{bucket}/u", str(back), "-u")
    assert down_again.returncode == 0, down_again.stderr
    assert count(down_again, "Transferred bytes") == 77 and count(down_again, "Skip count") == 6
    assert (back / "f3.bin").read_bytes() == b"x" * 77
    for name in sizes:
        if name != "f3.bin":
            assert sha256_file(back / name) == sha256_file(src / name)

    one = ferry("cp", str(src / "f0.bin"), f"rgw://{bucket}/u/f0.bin", "-u")
    assert one.returncode == 0 and "skipped: the destination is up to date" in one.stdout
    assert one.transferred() == 0


def test_dry_run_of_a_new_task_lists_and_changes_nothing(tmp_path, ferry, home, s3, bucket):
    src = tmp_path / "src"
    src.mkdir()
    make_file(src / "a.txt", 10)
    make_file(src / "b.txt", 20)
    s3.put_object(Bucket=bucket, Key="d/a.txt", Body=(src / "a.txt").read_bytes())

    plain = ferry("cp", "-r", str(src), f"rgw://{bucket}/d", "--dry-run", "-u")
    assert plain.returncode == 0, plain.stderr
    assert "would upload" in plain.stdout and "b.txt" in plain.stdout
    assert "would skip" in plain.stdout and "1 objects (20 B) would move, 1 are up to date" in plain.stdout

    as_json = ferry("cp", "-r", str(src), f"rgw://{bucket}/d", "--dry-run", "--json")
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert sorted(r["destination"] for r in rows[:-1]) == ["d/a.txt", "d/b.txt"]
    assert rows[-1]["summary"]["move"] == {"count": 2, "bytes": 30}

    assert keys(s3, bucket, "d/") == ["a.txt"]  # nothing was written
    assert json.loads(ferry("task", "list", "--json").stdout) == []  # and no task was created


def test_recover_dry_run_shows_the_failed_objects_and_keeps_the_journal(tmp_path, ferry, rgw, s3, bucket):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("ok-1.txt", "ok-2.txt", "no-1.txt"):
        make_file(src / name, 100)
    with FaultProxy(rgw.endpoint) as proxy:
        config = write_remotes(tmp_path / "flaky.toml", rgw, extra={"flaky": proxy.url})
        proxy.add_rule(Rule("refuse", method="PUT", path_contains="/no-", status=403, code="AccessDenied"))
        first = ferry("cp", "-r", str(src), f"flaky://{bucket}/r", config_path=config)
        assert first.returncode == 8
        task_id = task_id_of(first)
        proxy.clear_rules()
        proxy.reset_stats()
        preview = ferry("cp", "--recover", task_id, "--dry-run", config_path=config)
        assert preview.returncode == 0, preview.stderr
        assert preview.stdout.count("would upload") == 1 and "no-1.txt" in preview.stdout
        assert [r for r in proxy.requests if r.method == "PUT"] == []

        shown = json.loads(ferry("task", "show", task_id, "--json").stdout)
        assert shown["counts"]["failed"]["count"] == 1 and shown["state"] == "failed"
        done = ferry("cp", "--recover", task_id, "--json", config_path=config)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)  # stdout is one JSON document and nothing else
    assert summary["task_id"] == task_id and summary["state"] == "succeeded"
    assert summary["succeeded"] == 1 and summary["transferred"] == 100
    assert keys(s3, bucket, "r/") == ["no-1.txt", "ok-1.txt", "ok-2.txt"]


def test_bandwidth_limit_holds_for_the_whole_task(tmp_path, ferry, bucket):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(4):
        make_file(src / f"f{i}.bin", 1 * MiB)
    began = time.monotonic()
    run = ferry("cp", "-r", str(src), f"rgw://{bucket}/bw", "-j", "4", "--bwlimit", "1MiB")
    elapsed = time.monotonic() - began
    assert run.returncode == 0, run.stderr
    # 4 MiB at 1 MiB/s: the first grant starts at once, the rest wait their turn. A limit per object
    # would let all four through in about a second.
    assert elapsed >= 2.5, elapsed


def test_requester_pays_reaches_every_request(tmp_path, ferry, rgw, s3, bucket):
    src = tmp_path / "src"
    src.mkdir()
    make_file(src / "a.bin", 7 * MiB)  # multipart: create, parts, complete all carry it
    make_file(src / "b.txt", 10)
    with FaultProxy(rgw.endpoint) as proxy:
        config = write_remotes(tmp_path / "seen.toml", rgw, extra={"seen": proxy.url})
        one = ferry("cp", str(src / "b.txt"), f"seen://{bucket}/one.txt", "--payer", "requester",
                    config_path=config)  # fmt: skip
        task = ferry("cp", "-r", str(src), f"seen://{bucket}/t", "--payer", "requester",
                     "--threshold", "6MiB", "--part-size", "5MiB", config_path=config)  # fmt: skip
        assert one.returncode == 0 and task.returncode == 0, task.stderr
        assert len(proxy.requests) >= 5
        assert all(r.headers.get("x-amz-request-payer") == "requester" for r in proxy.requests)
        proxy.reset_stats()
        plain = ferry("cp", str(src / "b.txt"), f"seen://{bucket}/two.txt", config_path=config)
        assert plain.returncode == 0
        assert not any("x-amz-request-payer" in r.headers for r in proxy.requests)
    assert keys(s3, bucket, "t/") == ["a.bin", "b.txt"]

    bad = ferry("cp", str(src / "b.txt"), f"rgw://{bucket}/bad.txt", "--payer", "owner")
    assert bad.returncode == 3 and "invalid --payer 'owner'" in bad.stderr


def test_a_missing_bucket_stops_the_task_and_a_recover_finishes_it(tmp_path, ferry, rgw, s3):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(60):
        make_file(src / f"f{i:02d}.txt", 100)
    missing = f"t-missing-{os.getpid()}-{int(time.time())}"
    with FaultProxy(rgw.endpoint) as proxy:
        config = write_remotes(tmp_path / "seen.toml", rgw, extra={"seen": proxy.url})
        first = ferry("cp", "-r", str(src), f"seen://{missing}/p", "-j", "4", config_path=config)
        assert first.returncode == 4, first.stderr
        assert "the task stopped: bucket" in first.stderr and "does not exist" in first.stderr
        assert f"ferry cp --recover {task_id_of(first)}" in first.stderr
        # it stopped at the first refusal instead of sending every object to the same fate
        assert sum(1 for r in proxy.requests if r.method == "PUT") <= 8
        s3.create_bucket(Bucket=missing)
        try:
            again = ferry("cp", "--recover", task_id_of(first), config_path=config)
            assert again.returncode == 0, again.stderr
            assert len(keys(s3, missing, "p/")) == 60
        finally:
            for key in keys(s3, missing):
                s3.delete_object(Bucket=missing, Key=key)
            s3.delete_bucket(Bucket=missing)
