"""Batch tasks (`cp -r`) against the real RGW: every direction, failures then --recover, SIGKILL then
--recover, untrusted keys, filters, bad input."""

import re
import sqlite3
import time
from pathlib import Path

import pytest
from tests.conftest import MiB, make_file, sha256_file, sha256_object, spawn_ferry, write_remotes
from tests.support.faultproxy import FaultProxy, Rule

pytestmark = pytest.mark.integration


def make_tree(root: Path) -> dict[str, str]:
    """Nested folders, empty files, an empty folder, unicode and spaces, one multipart file."""
    files = {
        "a/b/c.txt": 10,
        "a/empty.txt": 0,
        "a/big.bin": 13 * MiB,
        "with space/f g.txt": 100,
        "ünï/ü.txt": 1000,
        "top.txt": 1,
    }
    digests = {}
    for rel, size in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        digests[rel] = make_file(path, size)
    (root / "empty-dir").mkdir()
    return digests


def keys(client, bucket, prefix=""):
    listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return sorted(o["Key"][len(prefix) :] for o in listed)


def task_id_of(run):
    ids = [line.split(": ", 1)[1] for line in run.stdout.splitlines() if line.startswith("Task id: ")]
    assert ids and len(set(ids)) == 1 and len(ids[0]) == 36, run.stdout
    return ids[0]


def count(run, name):
    found = re.search(rf"{name}:\s+(\d+)", run.stdout)
    assert found, run.stdout
    return int(found.group(1))


FLAGS = ["--threshold", "6MiB", "--part-size", "5MiB"]


def test_recursive_upload_download_and_copies(tmp_path, ferry, s3, rgw, bucket, bucket2, other_bucket):
    src = tmp_path / "tree"
    digests = make_tree(src)
    expected = sorted([*digests, "empty-dir/"])

    up = ferry("cp", "-r", str(src), f"rgw://{bucket}/pre", *FLAGS, "-j", "3")
    assert up.returncode == 0, up.stderr
    assert count(up, "Succeed count") == 7 and count(up, "Failed count") == 0
    task_id_of(up)
    assert keys(s3, bucket, "pre/") == expected
    for rel, digest in digests.items():
        assert sha256_object(s3, bucket, f"pre/{rel}") == digest

    back = tmp_path / "back"
    down = ferry("cp", "-r", f"rgw://{bucket}/pre", str(back), *FLAGS)
    assert down.returncode == 0, down.stderr
    for rel, digest in digests.items():
        assert sha256_file(back / rel) == digest
    assert (back / "empty-dir").is_dir()

    server = ferry("cp", "-r", f"rgw://{bucket}/pre/", f"rgw://{bucket2}/copy/", *FLAGS)
    assert server.returncode == 0, server.stderr
    assert keys(s3, bucket2, "copy/") == expected
    streamed = ferry("cp", "-r", f"rgw://{bucket}/pre", f"rgw2://{other_bucket}", *FLAGS)
    assert streamed.returncode == 0, streamed.stderr
    other = rgw.client(second=True)
    assert keys(other, other_bucket) == expected
    assert sha256_object(other, other_bucket, "a/big.bin") == digests["a/big.bin"]


def test_failed_objects_then_recover_moves_only_those(tmp_path, ferry, rgw, s3, bucket):
    src = tmp_path / "tree"
    sizes = {}
    for i in range(12):
        name = f"bad-{i}.txt" if i % 4 == 0 else f"good-{i}.txt"
        sizes[name] = 1000 + i
        make_file(src / name, sizes[name]) if src.exists() else (
            src.mkdir(),
            make_file(src / name, sizes[name]),
        )
    with FaultProxy(rgw.endpoint) as proxy:
        config = write_remotes(tmp_path / "flaky.toml", rgw, extra={"flaky": proxy.url})
        proxy.add_rule(Rule("refuse", method="PUT", path_contains="/bad-", status=403, code="AccessDenied"))
        out = tmp_path / "reports"
        first = ferry("cp", "-r", str(src), f"flaky://{bucket}/t", "-o", str(out), config_path=config)
        assert first.returncode == 8, first.stderr
        task_id = task_id_of(first)
        assert count(first, "Failed count") == 3 and count(first, "Succeed count") == 9
        assert f"ferry cp --recover {task_id}" in first.stderr
        assert "ferry: 12 objects to move: " in first.stderr
        assert first.stderr.count("ferry: failed:") == 3 and "access denied" in first.stderr

        [failed_report] = out.glob(f"cp_failed_report_*_{task_id}.txt")
        rows = failed_report.read_text().splitlines()
        assert sorted(row.split("\t")[1].rsplit("/", 1)[1] for row in rows) == [
            "bad-0.txt",
            "bad-4.txt",
            "bad-8.txt",
        ]
        assert all("access denied" in row for row in rows)
        [succeed_report] = out.glob(f"cp_succeed_report_*_{task_id}.txt")
        assert len(succeed_report.read_text().splitlines()) == 9

        proxy.clear_rules()
        proxy.reset_stats()
        again = ferry("cp", "--recover", task_id, "--clear", config_path=config)
        assert again.returncode == 0, again.stderr
        assert list(out.glob("cp_failed_report_*")) == []  # --clear, once the task succeeded
        assert len(list(out.glob("cp_succeed_report_*"))) == 2
        assert task_id_of(again) == task_id
        assert count(again, "Succeed count") == 3 and count(again, "Failed count") == 0
        assert "ferry: 3 objects to move: " in again.stderr
        bad_bytes = sum(size for name, size in sizes.items() if name.startswith("bad"))
        assert count(again, "Transferred bytes") == bad_bytes
        assert sorted(r.path.rsplit("/", 1)[1] for r in proxy.requests if r.method == "PUT") == sorted(
            n for n in sizes if n.startswith("bad")
        )
    assert keys(s3, bucket, "t/") == sorted(sizes)

    # "recover until it exits 0" loops must end: a recover of a task that succeeded is a no-op, exit 0
    done = ferry("cp", "--recover", task_id, config_path=config)
    assert done.returncode == 0, done.stderr
    assert f"Task {task_id} already succeeded: there is nothing to recover" in done.stdout
    assert len(list(out.glob("cp_succeed_report_*"))) == 2  # nothing ran: no new result file


def test_sigkill_in_a_batch_then_recover(tmp_path, ferry, config, home, s3, bucket):
    src = tmp_path / "many"
    src.mkdir()
    digests = {f"f{i:02d}.bin": make_file(src / f"f{i:02d}.bin", 2 * MiB) for i in range(24)}
    digests["large.bin"] = make_file(src / "large.bin", 30 * MiB)
    proc = spawn_ferry(
        config, home, "cp", "-r", str(src), f"rgw://{bucket}/m", *FLAGS, "-j", "2", "--bwlimit", "6MiB"
    )

    def done_count():
        journals = list((home / "checkpoint" / "tasks").glob("*.db"))
        if not journals:
            return 0
        with sqlite3.connect(journals[0]) as db:
            return db.execute("SELECT COUNT(*) FROM ferry_objects WHERE state = 'done'").fetchone()[0]

    deadline = time.monotonic() + 60
    while done_count() < 6:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.kill()
    out, _ = proc.communicate()
    task_id = out.decode().split("Task id: ", 1)[1].split()[0]
    before = done_count()
    assert before < len(digests)

    again = ferry("cp", "--recover", task_id, "--bwlimit", "1000MiB")
    assert again.returncode == 0, again.stderr
    assert count(again, "Succeed count") == len(digests) - before  # done ones are not touched
    total = sum(2 * MiB for _ in range(24)) + 30 * MiB
    assert count(again, "Transferred bytes") < total
    for name, digest in digests.items():
        assert sha256_object(s3, bucket, f"m/{name}") == digest


def test_untrusted_keys_never_escape_the_destination(tmp_path, ferry, s3, bucket):
    for key in (
        "../../escape-1",
        "/abs-escape",
        "a/../../escape-2",
        "ok.txt",
        "dir/",
        "sub/ok2.txt",
        "col",
        "col/inner",
    ):
        s3.put_object(Bucket=bucket, Key=key, Body=b"data")
    dest = tmp_path / "deep" / "dest"
    run = ferry("cp", "-r", f"rgw://{bucket}", str(dest))
    assert run.returncode == 8
    assert count(run, "Failed count") == 4  # three unsafe keys and one collision of a file with a folder
    assert run.stderr.count("unsafe key") == 3
    assert (dest / "ok.txt").read_bytes() == b"data"
    assert (dest / "sub" / "ok2.txt").read_bytes() == b"data"
    assert (dest / "dir").is_dir()
    everything = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")}
    assert not any("escape" in p for p in everything)
    assert not list(Path("/").glob("abs-escape"))


def test_filters_choose_the_objects(tmp_path, ferry, s3, bucket):
    src = tmp_path / "f"
    for rel in ("keep.txt", "drop.log", "logs/a.txt", "logs/b.log", "tmp/x.txt", "star*.txt"):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(rel)
    # A local file is judged by its absolute path: /.../f/tmp/x.txt
    run = ferry("cp", "-r", str(src), f"rgw://{bucket}", "--include", "*.txt", "--exclude", "*/f/tmp/*")
    assert run.returncode == 0, run.stderr
    assert keys(s3, bucket) == ["keep.txt", "logs/a.txt", "star*.txt"]
    relative = ferry("cp", "-r", str(src), f"rgw://{bucket}/r", "--include", "logs/*")
    assert relative.returncode == 0 and count(relative, "Succeed count") == 0  # not a path from the root
    absolute = ferry("cp", "-r", str(src), f"rgw://{bucket}/r", "--include", f"{src}/logs/*")
    assert absolute.returncode == 0 and keys(s3, bucket, "r/") == ["logs/a.txt", "logs/b.log"]
    only_star = ferry("cp", "-r", str(src), f"rgw://{bucket}/s", "--include", "*/star\\*.txt")
    assert only_star.returncode == 0
    assert keys(s3, bucket, "s/") == ["star*.txt"]
    assert "ferry: 1 object to move: " in only_star.stderr
    future = ferry("cp", "-r", str(src), f"rgw://{bucket}/later", "--time-range", "20990101-*")
    assert future.returncode == 0 and count(future, "Succeed count") == 0
    assert keys(s3, bucket, "later/") == []


def test_filters_match_the_key_from_the_bucket_root_and_recover_applies_its_own(tmp_path, ferry, s3, bucket):
    """obsutil's rule: for obs://bucket/src1/src2/test.txt the pattern meets src1/src2/test.txt. Filters
    given to a recover choose what that recover attempts; the rest keep their state for a later one."""
    for key in ("src1/src2/test.txt", "src1/src2/b.jpg", "src1/src2/c.jpg", "src1/other.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    dest = tmp_path / "down"
    relative = ferry("cp", "-r", f"rgw://{bucket}/src1", str(tmp_path / "rel"), "--include", "src2/*")
    assert relative.returncode == 0 and count(relative, "Succeed count") == 0
    # Block two of the three downloads: a folder where each file must go.
    (dest / "src2" / "b.jpg").mkdir(parents=True)
    (dest / "src2" / "test.txt").mkdir(parents=True)
    first = ferry("cp", "-r", f"rgw://{bucket}/src1", str(dest), "--include", "src1/src2/*")
    assert first.returncode == 8, first.stdout
    task_id = task_id_of(first)
    assert count(first, "Succeed count") == 1 and count(first, "Failed count") == 2
    assert not (dest / "other.txt").exists()  # outside the include, never planned
    (dest / "src2" / "b.jpg").rmdir()
    (dest / "src2" / "test.txt").rmdir()

    jpgs = ferry("cp", "--recover", task_id, "--include", "*.jpg")
    assert jpgs.returncode == 8, jpgs.stderr  # test.txt is still to do
    assert count(jpgs, "Succeed count") == 1 and count(jpgs, "Failed count") == 0
    assert (dest / "src2" / "b.jpg").read_bytes() == b"src1/src2/b.jpg"
    assert not (dest / "src2" / "test.txt").exists()
    rest = ferry("cp", "--recover", task_id)
    assert rest.returncode == 0, rest.stderr
    assert count(rest, "Succeed count") == 1
    assert (dest / "src2" / "test.txt").read_bytes() == b"src1/src2/test.txt"


@pytest.mark.parametrize(
    ("args", "code", "phrase"),
    [
        (["--recover", "00000000-0000-4000-8000-000000000000"], 2, "no task"),
        (["--recover", "not-a-task"], 2, "36-character UUID"),
        (["-r", "SRC", "rgw://BUCKET/x", "--time-range", "2024-01"], 3, "invalid --time-range"),
        (["-r", "SRC", "rgw://BUCKET/x", "--part-size", "1KB"], 3, "out of range"),
        (["SRC", "rgw://BUCKET/x", "--include", "*.txt"], 3, "add -r"),
        (["-r", "SRC/f.txt", "rgw://BUCKET/x"], 3, "is not a directory"),
    ],
)
def test_task_bad_input(tmp_path, ferry, s3, bucket, args, code, phrase):
    src = tmp_path / "src"
    src.mkdir()
    (src / "f.txt").write_text("x")
    args = [a.replace("SRC", str(src)).replace("BUCKET", bucket) for a in args]
    run = ferry("cp", *args)
    assert run.returncode == code, (run.stdout, run.stderr)
    assert phrase in run.stderr and "Traceback" not in run.stderr
    assert keys(s3, bucket) == []


def test_task_list_show_resume_rm(tmp_path, ferry, rgw, s3, bucket):
    import json

    src = tmp_path / "t"
    src.mkdir()
    (src / "ok.txt").write_text("fine")
    (src / "no.txt").write_text("refused")
    with FaultProxy(rgw.endpoint) as proxy:
        config = write_remotes(tmp_path / "flaky.toml", rgw, extra={"flaky": proxy.url})
        proxy.add_rule(Rule("refuse", method="PUT", path_contains="/no.txt", status=403, code="AccessDenied"))
        first = ferry("cp", "-r", str(src), f"flaky://{bucket}", config_path=config)
        assert first.returncode == 8
        task_id = task_id_of(first)

        [listed] = json.loads(ferry("task", "list", "--json").stdout)
        assert listed["task_id"] == task_id and listed["state"] == "failed"
        assert listed["counts"]["done"]["count"] == 1 and listed["counts"]["failed"]["count"] == 1
        shown = json.loads(ferry("task", "show", task_id, "--json").stdout)
        [failure] = shown["failed_objects"]
        assert failure["source"].endswith("no.txt") and "access denied" in failure["reason"]
        assert task_id in ferry("task", "list").stdout

        proxy.clear_rules()
        resumed = ferry("task", "resume", task_id, config_path=config)
        assert resumed.returncode == 0, resumed.stderr
        assert count(resumed, "Succeed count") == 1
    assert keys(s3, bucket) == ["no.txt", "ok.txt"]

    assert ferry("task", "rm", task_id).returncode == 0
    gone = ferry("task", "show", task_id)
    assert gone.returncode == 2 and "no task" in gone.stderr
    assert json.loads(ferry("task", "list", "--json").stdout) == []
