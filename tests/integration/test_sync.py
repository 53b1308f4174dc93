"""`ferry sync` against the real RGW: new and changed objects copied, with --delete exactly the objects the
source no longer has removed, after the copies; --dry-run and --max-delete change nothing; a source listing
that fails half-way (a fault injected by the proxy) deletes nothing, and a recover then finishes."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from tests.conftest import make_file, write_remotes
from tests.integration.test_tasks import keys, task_id_of
from tests.support.faultproxy import FaultProxy, Rule

pytestmark = pytest.mark.integration


def test_sync_delete_removes_exactly_what_the_source_lost(tmp_path, ferry, s3, bucket):
    src = tmp_path / "tree"
    for rel in ["a/1.txt", "a/2.txt", "b.txt", "keep.log", "c/3.txt"]:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        make_file(src / rel, 100)
    first = ferry("sync", str(src), f"rgw://{bucket}/m")
    assert first.returncode == 0, first.stderr
    assert keys(s3, bucket, "m/") == ["a/1.txt", "a/2.txt", "b.txt", "c/3.txt", "keep.log"]

    (src / "a/2.txt").unlink()
    (src / "c/3.txt").unlink()
    (src / "c").rmdir()
    (src / "keep.log").unlink()
    make_file(src / "new.txt", 5)
    (src / "b.txt").write_bytes(b"changed")

    dry = ferry("sync", str(src), f"rgw://{bucket}/m", "--delete", "--exclude", "*.log", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would delete: m/a/2.txt" in dry.stdout and "would delete: m/c/3.txt" in dry.stdout
    assert "keep.log" not in dry.stdout
    assert "2 objects (200 B) would be deleted" in dry.stdout
    assert keys(s3, bucket, "m/") == ["a/1.txt", "a/2.txt", "b.txt", "c/3.txt", "keep.log"]

    guarded = ferry(
        "sync", str(src), f"rgw://{bucket}/m", "--delete", "--exclude", "*.log", "--max-delete", "1"
    )
    assert guarded.returncode == 8, guarded.stderr
    assert "more than --max-delete 1: nothing was deleted" in guarded.stderr
    assert keys(s3, bucket, "m/") == ["a/1.txt", "a/2.txt", "b.txt", "c/3.txt", "keep.log", "new.txt"]

    task_id = task_id_of(guarded)
    done = ferry("sync", "--recover", task_id, "--max-delete", "2", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["deleted"] == 2
    assert keys(s3, bucket, "m/") == ["a/1.txt", "b.txt", "keep.log", "new.txt"]  # *.log: never deleted
    assert s3.get_object(Bucket=bucket, Key="m/b.txt")["Body"].read() == b"changed"


def test_a_source_listing_failing_half_way_deletes_nothing(tmp_path, ferry, rgw, s3, bucket):
    names = [f"k/{i:05d}" for i in range(1005)]  # two listing pages
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=b"x"), names))
    local = tmp_path / "mirror"
    with FaultProxy(rgw.endpoint) as proxy:
        config = write_remotes(tmp_path / "flaky.toml", rgw, extra={"flaky": proxy.url})
        first = ferry("sync", f"flaky://{bucket}/k", str(local), "-q", config_path=config)
        assert first.returncode == 0, first.stderr
        assert len(list(local.iterdir())) == 1005
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k/00000"}, {"Key": "k/01004"}]})

        # the planning listing passes; the delete half's second page of the source listing fails
        proxy.add_rule(Rule("status", method="GET", path_contains="continuation-token", skip=1, status=500))
        cut = ferry(
            "sync", f"flaky://{bucket}/k", str(local), "--delete", "--retries", "0", config_path=config
        )
        assert cut.returncode != 0 and "Traceback" not in cut.stderr
        assert len(list(local.iterdir())) == 1005  # nothing deleted

        proxy.clear_rules()
        again = ferry("sync", "--recover", task_id_of(cut), config_path=config)
        assert again.returncode == 0, again.stderr
        assert "Deleted count:      2" in again.stdout
        assert sorted(p.name for p in local.iterdir()) == [n[2:] for n in names[1:-1]]
