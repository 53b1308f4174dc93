"""The migration service on a Dask cluster, on one machine as if on several: PostgreSQL, a Dask scheduler,
three ``ferry worker`` processes each with a data directory of its own, and the service submitting chunks.

A worker killed with a large object in flight, and the service itself killed mid-group, lose nothing: every
object arrives byte-identical, nothing extra, no multipart upload left behind, the large object resumed
from its part records in the database, and no object moved by two attempts at once."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.engine import make_url
from tests.conftest import MiB
from tests.support.cluster import Cluster, pg
from tests.support.service import (
    Service,
    api_for,
    create,
    digests,
    ferry_run,
    free_port,
    node,
    put_objects,
    retry_keys,
)
from tests.support.tcpproxy import TcpProxy

LEASE = "4"  # seconds: a killed worker's chunk is free again soon
LARGE = 100 * MiB
TRANSFER = {"threshold": "16MiB", "part_size": "8MiB", "parallel": 2, "jobs": 8, "bwlimit": "25MiB"}


@pytest.fixture
def cluster(tmp_path, pg_database):
    cluster = Cluster(tmp_path, pg_database, lease=LEASE)
    cluster.start_scheduler()
    yield cluster
    cluster.stop()


def running_large_chunk(db_url: str, at_least: int) -> tuple[str, int] | None:
    """(worker, chunk) of a running one-object chunk of a large object that has moved ``at_least`` bytes."""
    with pg(db_url) as conn:
        row = conn.execute(
            "SELECT worker, number FROM ferry_chunks WHERE state = 'running' AND objects = 1"
            " AND bytes >= %s AND transferred >= %s ORDER BY transferred DESC LIMIT 1",
            (LARGE, at_least),
        ).fetchone()
    return (str(row[0]), int(row[1])) if row else None


def wait_group(api, group_id: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        group = api.group(group_id)
        if group["status_name"] not in ("waiting", "executing", "stopping"):
            return group
        assert time.monotonic() < deadline, group
        time.sleep(0.5)


def test_a_worker_killed_mid_upload_loses_nothing_and_the_object_resumes(
    cluster, tmp_path, home, rgw, s3, bucket, other_bucket
):
    objects = {f"small/{n:04}.txt": 200 + n % 300 for n in range(2000)}
    objects.update({f"large/{n}.bin": LARGE + n for n in range(3)})
    source = put_objects(s3, bucket, objects)

    service = Service(home=home, data_dir=tmp_path / "svc", db_url=cluster.db_url, workers=2)
    service.args = ["--scheduler", cluster.address]
    service.start()
    try:
        for name in ("w1", "w2", "w3"):
            cluster.start_worker(name)
        cluster.wait_workers(3)
        api = api_for(service, [])
        group_id = create(api, node(rgw, bucket), node(rgw, other_bucket, second=True), transfer=TRANSFER)

        deadline = time.monotonic() + 120
        while (victim := running_large_chunk(cluster.db_url, 20 * MiB)) is None:
            assert time.monotonic() < deadline, api.group(group_id)
            time.sleep(0.2)
        worker, chunk = victim
        cluster.kill(worker)

        group = wait_group(api, group_id, 300)
        assert group["status_name"] == "succeeded", group
        assert digests(rgw.client(second=True), other_bucket) == source  # all there, identical, none extra
        uploads = rgw.client(second=True).list_multipart_uploads(Bucket=other_bucket)
        assert uploads.get("Uploads", []) == []
        with pg(cluster.db_url) as conn:
            moved, attempts = conn.execute(
                "SELECT transferred, attempt FROM ferry_chunks WHERE number = %s", (chunk,)
            ).fetchone()
            most = conn.execute("SELECT MAX(attempts) FROM ferry_objects").fetchone()[0]
            workers = {row[0] for row in conn.execute("SELECT DISTINCT worker FROM ferry_chunks")}
        assert attempts >= 2  # another worker took the chunk over
        assert moved < 1.5 * LARGE, moved  # resumed from its parts, not restarted
        assert most == 1  # no object was recorded by two attempts
        assert len(workers - {worker}) >= 2  # the survivors shared the work
        for name in {"w1", "w2", "w3"} - {worker}:
            assert "chunk" in cluster.log(name)  # one line per chunk
    finally:
        service.stop()


def test_the_service_killed_mid_group_continues_after_a_restart(
    cluster, tmp_path, home, rgw, s3, bucket, other_bucket
):
    objects = {f"small/{n:04}.txt": 300 + n for n in range(600)}
    objects.update({"large/0.bin": LARGE})
    source = put_objects(s3, bucket, objects)
    service = Service(home=home, data_dir=tmp_path / "svc", db_url=cluster.db_url, workers=2)
    service.args = ["--scheduler", cluster.address]
    service.start()
    try:
        for name in ("w1", "w2"):
            cluster.start_worker(name)
        cluster.wait_workers(2)
        api = api_for(service, [])
        group_id = create(api, node(rgw, bucket), node(rgw, other_bucket, second=True), transfer=TRANSFER)
        deadline = time.monotonic() + 120
        while running_large_chunk(cluster.db_url, 10 * MiB) is None:
            assert time.monotonic() < deadline, api.group(group_id)
            time.sleep(0.2)
        service.kill()

        service.start()
        api = api_for(service, [], token=api.http.headers["X-Auth-Token"])
        group = api.group(group_id)
        assert (
            group["status_name"] == "failed"
            and group["error_reason"]["error_msg"] == "credentials not available after restart"
        )
        credentials = retry_keys(rgw, migrate_failed_object=True)
        assert api.put(f"/taskgroups/{group_id}/retry", json=credentials).status_code == 200
        group = wait_group(api, group_id, 300)
        assert group["status_name"] == "succeeded", group
        assert digests(rgw.client(second=True), other_bucket) == source
        assert rgw.client(second=True).list_multipart_uploads(Bucket=other_bucket).get("Uploads", []) == []
        with pg(cluster.db_url) as conn:
            most = conn.execute("SELECT MAX(attempts) FROM ferry_objects").fetchone()[0]
            rows = [str(r) for r in conn.execute("SELECT * FROM ferry_part_records")]
        assert most == 1  # no chunk ran twice at once: no object was recorded twice
        assert [s for s in (rgw.secret_key, rgw.secret_key_2) for r in rows if s in r] == []
    finally:
        service.stop()


def test_a_worker_cut_off_from_the_database_is_fenced_off_and_its_chunk_redone(
    cluster, tmp_path, home, rgw, s3, bucket, other_bucket
):
    objects = {f"small/{n:04}.txt": 100 + n % 50 for n in range(1500)}
    objects["large/0.bin"] = LARGE
    source = put_objects(s3, bucket, objects)
    service = Service(home=home, data_dir=tmp_path / "svc", db_url=cluster.db_url, workers=2)
    service.args = ["--scheduler", cluster.address]
    service.start()
    url = make_url(cluster.db_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    try:
        cluster.start_worker("w1", url.set(port=proxy.port).render_as_string(hide_password=False))
        cluster.start_worker("w2")
        cluster.wait_workers(2)
        api = api_for(service, [])
        group_id = create(api, node(rgw, bucket), node(rgw, other_bucket, second=True), transfer=TRANSFER)
        deadline = time.monotonic() + 120
        while (held := chunks_of(cluster.db_url, "w1")) == []:
            assert time.monotonic() < deadline, api.group(group_id)
            time.sleep(0.2)
        proxy.cut()  # w1 keeps running, but its lease can no longer be renewed
        time.sleep(float(LEASE) + 4)
        proxy.heal()

        group = wait_group(api, group_id, 300)
        assert group["status_name"] == "succeeded", group
        assert digests(rgw.client(second=True), other_bucket) == source
        assert rgw.client(second=True).list_multipart_uploads(Bucket=other_bucket).get("Uploads", []) == []
        with pg(cluster.db_url) as conn:
            attempts = dict(conn.execute("SELECT number, attempt FROM ferry_chunks").fetchall())
            most = conn.execute("SELECT MAX(attempts) FROM ferry_objects").fetchone()[0]
        assert all(attempts[number] >= 2 for number in held), (held, attempts)  # redone by a new attempt
        assert most == 1  # no object recorded twice
        log = cluster.log("w1")
        noticed = ("has not answered for a lease", "fenced off", "the database did not record an outcome")
        assert any(words in log for words in noticed), log[-3000:]
    finally:
        proxy.close()
        service.stop()


def test_a_group_waits_for_a_worker_and_runs_when_one_joins(
    cluster, tmp_path, home, rgw, s3, bucket, other_bucket
):
    source = put_objects(s3, bucket, {f"k{n}": 100 + n for n in range(20)})
    service = Service(home=home, data_dir=tmp_path / "svc", db_url=cluster.db_url, workers=2)
    service.args = ["--scheduler", cluster.address]
    service.start()
    try:
        api = api_for(service, [])
        group_id = create(api, node(rgw, bucket), node(rgw, other_bucket, second=True))
        time.sleep(3)
        group = api.group(group_id)
        assert group["status_name"] in ("waiting", "executing") and group["workers_connected"] == 0, group
        shown = ferry_run(
            home,
            "group",
            "show",
            group_id,
            env={
                "FERRY_SERVER": service.url,
                "FERRY_TOKEN": api.http.headers["X-Auth-Token"],
                "FERRY_PROJECT": api.project,
            },
        )
        assert "no worker is connected" in shown.stdout, shown.stdout + shown.stderr
        cluster.start_worker("w1")
        group = wait_group(api, group_id, 120)
        assert group["status_name"] == "succeeded", group
        assert digests(rgw.client(second=True), other_bucket) == source
    finally:
        service.stop()


def chunks_of(db_url: str, worker: str) -> list[int]:
    """The chunks ``worker`` is running (each having moved something)."""
    with pg(db_url) as conn:
        rows = conn.execute(
            "SELECT number FROM ferry_chunks WHERE state = 'running' AND worker = %s AND transferred > 0",
            (worker,),
        ).fetchall()
    return [int(row[0]) for row in rows]


def test_bad_scheduler_and_database_are_one_line_errors(tmp_path, home, pg_database):
    port = free_port()
    done = ferry_run(home, "worker", "--scheduler", f"tcp://127.0.0.1:{port}", "--db", pg_database)
    assert done.returncode != 0
    assert "holds no ferry service schema" in done.stderr and "Traceback" not in done.stderr
    done = ferry_run(home, "worker", "--scheduler", f"tcp://127.0.0.1:{port}")
    assert done.returncode != 0 and "needs the service's database" in done.stderr
    bad_db = "postgresql://nobody:wrong@127.0.0.1:1/none"
    # From the environment: typed on the command line, a URL with a password adds a warning line.
    done = ferry_run(home, "worker", "--scheduler", f"tcp://127.0.0.1:{port}", env={"FERRY_DB": bad_db})
    assert done.returncode != 0 and "cannot use" in done.stderr and "wrong" not in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    args = ["serve", "--port", str(free_port()), "--data-dir", str(tmp_path / "svc")]
    done = ferry_run(home, *args, "--scheduler", f"tcp://127.0.0.1:{port}", timeout=60)
    assert done.returncode != 0 and "does not answer" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
