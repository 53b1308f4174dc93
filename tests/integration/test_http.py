"""HTTP(S) sources against a real nginx (scripts/nginx.sh): URL lists into the real RGW, SIGKILL then
--recover, refused URLs and malformed lines as failed objects, CDN type A signing, and the key kept secret."""

import json
import re
import sqlite3
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from tests.conftest import (
    MiB,
    Run,
    ferry_cmd,
    ferry_env,
    make_file,
    sha256_object,
    spawn_ferry,
    uploads_left,
    write_remotes,
)
from tests.support.faultproxy import FaultProxy, Rule

from ferry.errors import BucketError, NotFoundError, SourceChangedError, TransferError, UnsupportedError
from ferry.storage.base import WriteOptions
from ferry.storage.cdnsign import TypeASigner
from ferry.storage.http import HttpSource
from ferry.tasks.reports import unescape_field

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.support.emulators"]  # nginx, site

FLAGS = ["--threshold", "6MiB", "--part-size", "5MiB"]
WRONG_KEY = "not-the-right-key-5c2e9a"


def run_ferry(config, home, *args, env=None, timeout=180) -> Run:
    environment = ferry_env(config, home)
    environment.pop("FERRY_CDN_AUTH_KEY", None)
    environment.update(env or {})
    done = subprocess.run(
        ferry_cmd(*args),
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def count(run, name):
    found = re.search(rf"{name}:\s+(\d+)", run.stdout)
    assert found, f"no {name!r} in:\n{run.stdout}\n{run.stderr}"
    return int(found.group(1))


def task_id_of(text):
    ids = {line.split(": ", 1)[1].strip() for line in text.splitlines() if line.startswith("Task id: ")}
    assert len(ids) == 1, text
    return ids.pop()


def keys(s3, bucket, prefix=""):
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return sorted(o["Key"] for o in listed)


def failed_rows(out: Path, task_id: str) -> list[list[str]]:
    rows = []
    for report in out.glob(f"cp_failed_report_*_{task_id}.txt*"):
        rows += [[unescape_field(f) for f in line.split("\t")] for line in report.read_text().splitlines()]
    return rows


def write_list(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_url_list_of_a_dozen_files_arrives_identical(tmp_path, nginx, site, config, home, s3, bucket):
    sizes = {
        "empty.txt": 0,
        "one.txt": 1,
        "a/b/c.txt": 1000,
        "with space.txt": 2000,
        "ü 中.txt": 3000,
        "percent%.txt": 4000,
        "x1.bin": 100_000,
        "x2.bin": 200_000,
        "x3.bin": 300_000,
        "deep/er/x4.bin": 1 * MiB,
        "big1.bin": 11 * MiB,
        "big2.bin": 13 * MiB + 123,
    }
    digests = {}
    lines = ["# a dozen files", ""]
    for name, size in sizes.items():
        path = nginx.www / site / name
        path.parent.mkdir(parents=True, exist_ok=True)
        digests[name] = make_file(path, size)
        # Raw spaces and non-ASCII as some lists have them, escaped as others do.
        shown = name if name in ("with space.txt", "ü 中.txt") else quote(name)
        lines.append(f"{nginx.url}/{site}/{shown}\tdst/{name}")
    listing = write_list(tmp_path / "urls.txt", lines)

    run = run_ferry(config, home, "cp", "--url-list", str(listing), f"rgw://{bucket}/pre", *FLAGS, "-j", "3")
    assert run.returncode == 0, run.stderr
    assert count(run, "Succeed count") == 12 and count(run, "Failed count") == 0
    assert count(run, "Succeed bytes") == sum(sizes.values())
    assert keys(s3, bucket) == sorted(f"pre/dst/{name}" for name in sizes)
    for name, digest in digests.items():
        assert sha256_object(s3, bucket, f"pre/dst/{name}") == digest, name
    # The large ones went as parts, each part a ranged GET answered 206.
    assert s3.head_object(Bucket=bucket, Key="pre/dst/big2.bin")["ETag"].strip('"').endswith("-3")
    ranged = [line for line in nginx.access_log.read_text().splitlines() if f"GET /{site}/big2.bin " in line]
    assert len(ranged) == 3 and all('" 206 ' in line for line in ranged)


def parts_recorded(area: Path) -> int:
    return sum(max(0, r.read_text(errors="replace").count("\n") - 1) for r in area.glob("*.rec"))


def start_and_kill(config, home, listing, destination, min_parts=2):
    """Start a URL-list task slowed by --bwlimit and SIGKILL it once ``min_parts`` parts are recorded."""
    proc = spawn_ferry(
        config, home, "cp", "--url-list", str(listing), destination, *FLAGS, "-p", "2", "--bwlimit", "6MiB"
    )
    deadline = time.monotonic() + 60
    try:
        while parts_recorded(home / "checkpoint" / "copy") < min_parts:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no part was recorded in time"
            time.sleep(0.05)
        proc.kill()
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -9
    return task_id_of(out.decode())


def test_sigkill_mid_transfer_then_recover_moves_fewer_bytes(tmp_path, nginx, site, config, home, s3, bucket):
    names = {"big.bin": 30 * MiB + 7, "s1.txt": 10, "s2.txt": 20_000}
    digests = {name: make_file(nginx.www / site / name, size) for name, size in names.items()}
    listing = write_list(tmp_path / "urls.txt", [f"{nginx.url}/{site}/{n}\t{n}" for n in names])

    task_id = start_and_kill(config, home, listing, f"rgw://{bucket}/k")
    assert uploads_left(s3, bucket) == ["k/big.bin"]  # an unfinished upload, parts already on the server

    again = run_ferry(config, home, "cp", "--recover", task_id, "--bwlimit", "1000MiB")
    assert again.returncode == 0, again.stderr
    assert task_id_of(again.stdout) == task_id
    assert count(again, "Transferred bytes") < sum(names.values())
    for name, digest in digests.items():
        assert sha256_object(s3, bucket, f"k/{name}") == digest
    assert uploads_left(s3, bucket) == []
    assert list((home / "checkpoint" / "copy").glob("*.rec")) == []


def test_a_source_changed_between_runs_starts_again(tmp_path, nginx, site, config, home, s3, bucket):
    path = nginx.www / site / "big.bin"
    make_file(path, 14 * MiB)
    listing = write_list(tmp_path / "urls.txt", [f"{nginx.url}/{site}/big.bin\tbig.bin"])
    task_id = start_and_kill(config, home, listing, f"rgw://{bucket}", min_parts=1)

    time.sleep(1.1)  # nginx's ETag holds the modification time in seconds
    new_digest = make_file(path, 14 * MiB)
    again = run_ferry(config, home, "cp", "--recover", task_id, "--bwlimit", "1000MiB")
    assert again.returncode == 0, again.stderr
    assert "changed since the last run" in again.stderr
    assert count(again, "Transferred bytes") == 14 * MiB  # nothing of the old content was kept
    assert sha256_object(s3, bucket, "big.bin") == new_digest
    assert uploads_left(s3, bucket) == []


def test_refused_urls_and_malformed_lines_are_reported_the_rest_arrives(
    tmp_path, nginx, site, config, home, s3, bucket
):
    for name in ("ok1.txt", "ok2.txt", "ok3.txt"):
        (nginx.www / site / name).write_text(name)
    base = f"{nginx.url}/{site}"
    listing = write_list(
        tmp_path / "urls.txt",
        [
            "# line 1 is a comment",
            f"{base}/ok1.txt\tok1.txt",
            f"{base}/missing.txt\tmissing.txt",
            f"{nginx.url}/private/{site}/x.txt\tprivate.txt",
            "just some text without a tab",
            f"ftp://example.com/{site}/f.txt\tftp.txt",
            f"{base}/ok2.txt\t",
            f"{base}/ok2.txt\t../escape.txt",
            f"{base}/ok2.txt\tok2.txt",
            "",
            f"{base}/ok3.txt\tok3.txt",
        ],
    )
    out = tmp_path / "reports"
    run = run_ferry(config, home, "cp", "--url-list", str(listing), f"rgw://{bucket}", "-o", str(out))
    assert run.returncode == 8, run.stderr
    assert count(run, "Succeed count") == 3 and count(run, "Failed count") == 6
    assert keys(s3, bucket) == ["ok1.txt", "ok2.txt", "ok3.txt"]
    assert "Traceback" not in run.stderr
    task_id = task_id_of(run.stdout)

    reasons = {row[1]: row[-1] for row in failed_rows(out, task_id)}
    assert len(reasons) == 6
    assert "no such object (HTTP 404" in reasons[f"{base}/missing.txt"]
    assert "access denied (HTTP 403" in reasons[f"{nginx.url}/private/{site}/x.txt"]
    by_line = {
        reason.split(":", 1)[0]: reason for reason in reasons.values() if reason.startswith("URL list")
    }
    assert "no tab" in by_line["URL list line 5"]
    assert "bad URL scheme 'ftp'" in by_line["URL list line 6"]
    assert "empty destination key" in by_line["URL list line 7"]
    assert "unsafe destination key" in by_line["URL list line 8"]
    for reason in reasons.values():
        assert reason in run.stderr

    # Fix one cause and recover: only that object moves; the malformed lines stay failed.
    (nginx.www / site / "missing.txt").write_text("found")
    again = run_ferry(config, home, "cp", "--recover", task_id, "-o", str(out))
    assert again.returncode == 8, again.stderr
    assert count(again, "Succeed count") == 1 and count(again, "Failed count") == 5
    assert count(again, "Transferred bytes") == len("found")
    assert s3.get_object(Bucket=bucket, Key="missing.txt")["Body"].read() == b"found"
    assert not any("escape" in k for k in keys(s3, bucket))


def test_cdn_signing_right_and_wrong_key_and_the_key_stays_secret(
    tmp_path, nginx, site, config, home, s3, bucket
):
    root = nginx.www / "signed" / site
    names = {"small.txt": 1000, "sp ace ü.bin": 5000, "big.bin": 11 * MiB}
    digests = {name: make_file(root / name, size) for name, size in names.items()}
    urls = {name: f"{nginx.url}/signed/{site}/{quote(name)}" for name in names}
    listing = write_list(tmp_path / "urls.txt", [f"{url}\tsigned/{name}" for name, url in urls.items()])
    out = tmp_path / "reports"
    runs = []

    unsigned = run_ferry(config, home, "cp", urls["small.txt"], f"rgw://{bucket}/one.txt")
    runs.append(unsigned)
    assert unsigned.returncode == 4, unsigned.stderr
    assert "access denied (HTTP 403" in unsigned.stderr and "--cdn-auth-key" in unsigned.stderr

    wrong = run_ferry(
        config, home, "cp", "--url-list", str(listing), f"rgw://{bucket}", *FLAGS, "-o", str(out),
        "--cdn-auth-key", WRONG_KEY,
    )  # fmt: skip
    runs.append(wrong)
    assert wrong.returncode == 8, wrong.stderr
    assert count(wrong, "Failed count") == 3
    assert wrong.stderr.count("the CDN refused the signed request") == 3
    assert keys(s3, bucket) == []
    task_id = task_id_of(wrong.stdout)

    # The recover takes the key again, here from the environment; nothing of it was kept.
    right = run_ferry(
        config, home, "cp", "--recover", task_id, "-o", str(out), env={"FERRY_CDN_AUTH_KEY": nginx.key}
    )
    runs.append(right)
    assert right.returncode == 0, right.stderr
    assert count(right, "Succeed count") == 3
    for name, digest in digests.items():
        assert sha256_object(s3, bucket, f"signed/{name}") == digest

    single = run_ferry(
        config, home, "cp", urls["big.bin"], f"rgw://{bucket}/single.bin", *FLAGS, "--cdn-auth-key", nginx.key
    )
    runs.append(single)
    assert single.returncode == 0, single.stderr
    assert sha256_object(s3, bucket, "single.bin") == digests["big.bin"]

    with sqlite3.connect(next((home / "checkpoint" / "tasks").glob("*.db"))) as db:
        [(settings, plan)] = db.execute("SELECT settings, plan FROM ferry_tasks").fetchall()
    kept = json.loads(settings)
    assert json.loads(plan)["type"] == "url_list"
    assert not any("cdn" in name or "auth" in name for name in kept)
    for secret in (nginx.key, WRONG_KEY):
        for run in runs:
            assert secret not in run.stdout and secret not in run.stderr
        for folder in (home, out):
            for path in folder.rglob("*"):
                if path.is_file():
                    assert secret.encode() not in path.read_bytes(), path


def test_network_faults_are_retried_and_a_lasting_one_is_reported(
    tmp_path, nginx, site, rgw, home, s3, bucket
):
    names = {"big.bin": 12 * MiB, "a.txt": 5000, "b.txt": 6000}
    digests = {name: make_file(nginx.www / site / name, size) for name, size in names.items()}
    config = write_remotes(tmp_path / "c.toml", rgw, defaults="read_timeout = 2\nretries = 3")
    out = tmp_path / "reports"
    with FaultProxy(nginx.url) as proxy:
        proxy.add_rule(Rule("status", method="GET", path_contains="/big.bin", times=1, status=503))
        proxy.add_rule(Rule("reset_response", method="GET", path_contains="/big.bin", times=1))
        proxy.add_rule(Rule("status", method="GET", path_contains="/a.txt", times=1, status=500))
        proxy.add_rule(Rule("stall", method="GET", path_contains="/a.txt", times=1, seconds=20))
        proxy.add_rule(Rule("status", path_contains="/b.txt", status=503, name="lasting"))
        listing = write_list(tmp_path / "urls.txt", [f"{proxy.url}/{site}/{n}\t{n}" for n in names])
        run = run_ferry(
            config, home, "cp", "--url-list", str(listing), f"rgw://{bucket}", *FLAGS, "-o", str(out)
        )
        fired = [f.rule for f in proxy.fired]
    assert run.returncode == 8, run.stderr
    assert count(run, "Succeed count") == 2 and count(run, "Failed count") == 1
    assert len([r for r in fired if r != "lasting"]) == 4  # 503, reset mid-body, 500, stall: all retried
    for name in ("big.bin", "a.txt"):
        assert sha256_object(s3, bucket, name) == digests[name]
    [row] = failed_rows(out, task_id_of(run.stdout))
    assert row[1].endswith("/b.txt") and "HTTP 503" in row[-1] and "gave up after 4 attempts" in row[-1]
    assert keys(s3, bucket) == ["a.txt", "big.bin"]


def test_the_http_source_against_nginx(nginx, site):
    """The store itself: HEAD and its GET fallback, reads pinned by ETag or by Last-Modified, a server
    without ranges, a changed object, refusals, and no writing."""
    data = {}
    for where in ("", "noetag/", "nohead/", "noranges/"):
        path = nginx.www / f"{where}{site}" / "f.bin"
        path.write_bytes(bytes(range(256)) * 40)
        data[where] = path
    source = HttpSource()
    for where in ("", "noetag/", "nohead/"):
        url = f"{nginx.url}/{where}{site}/f.bin"
        info = source.stat(url)
        assert info.size == 10240 and info.mtime > 0
        assert (info.etag is None) == (where == "noetag/")
        assert source.read_range(url, 1000, 300, if_match=info.etag) == data[where].read_bytes()[1000:1300]
        time.sleep(1.1)
        data[where].write_bytes(b"x" * 10240)  # same size, another content and time
        with pytest.raises(SourceChangedError):
            source.read_range(url, 0, 100, if_match=info.etag)

    url = f"{nginx.url}/noranges/{site}/f.bin"
    info = source.stat(url)
    assert source.read_range(url, 0, info.size, if_match=info.etag) == data["noranges/"].read_bytes()
    with pytest.raises(TransferError, match="does not serve byte ranges"):
        source.read_range(url, 100, 100, if_match=info.etag)

    with pytest.raises(NotFoundError, match="HTTP 404"):
        source.stat(f"{nginx.url}/{site}/nothing.bin")
    with pytest.raises(BucketError, match="HTTP 403"):
        source.stat(f"{nginx.url}/private/{site}/f.bin")
    signed = HttpSource(signer=TypeASigner(nginx.key))
    (nginx.www / "signed" / site / "s.txt").write_text("signed")
    assert signed.read_range(f"{nginx.url}/signed/{site}/s.txt", 0, 6) == b"signed"
    with pytest.raises(UnsupportedError, match="read-only"):
        source.put(f"{nginx.url}/{site}/new.bin", b"x", WriteOptions())
    with pytest.raises(UnsupportedError, match="read-only"):
        source.create_multipart(f"{nginx.url}/{site}/new.bin", 1, WriteOptions())


def test_urls_go_through_the_proxy_the_environment_names(tmp_path, nginx, site, config, home, s3, bucket):
    """HTTP_PROXY reaches hosts this machine cannot resolve (the proxy, a real one on loopback, forwards
    to nginx); NO_PROXY keeps the RGW direct."""
    names = {"big.bin": 12 * MiB, "small.txt": 5000}
    digests = {name: make_file(nginx.www / site / name, size) for name, size in names.items()}
    with FaultProxy(nginx.url) as proxy:
        listing = write_list(
            tmp_path / "urls.txt", [f"http://files.example.invalid/{site}/{n}\t{n}" for n in names]
        )
        environment = {"http_proxy": proxy.url, "HTTP_PROXY": proxy.url}
        environment |= {"no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost"}
        run = run_ferry(
            config, home, "cp", "--url-list", str(listing), f"rgw://{bucket}", *FLAGS, env=environment
        )
        targets = [r.path for r in proxy.requests]
    assert run.returncode == 0, run.stderr
    for name, digest in digests.items():
        assert sha256_object(s3, bucket, name) == digest
    assert targets and all(t.startswith(f"http://files.example.invalid/{site}/") for t in targets), targets
    assert len([t for t in targets if t.endswith("/big.bin")]) >= 3  # HEAD and its ranged GETs, proxied
