"""Google Cloud Storage against gcp-storage-emulator (started by scripts/gcs-emulator.sh) and, for cross-cloud
copies, the real Ceph RGW: round trips at the multipart boundaries, SIGKILL then resume of a resumable
session, recursive tasks and --recover, GCS <-> S3 copies, the library API, and bad key files."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.conftest import (
    MiB,
    Run,
    ferry_cmd,
    ferry_env,
    make_file,
    sha256_file,
    sha256_object,
    spawn_ferry,
    write_remotes,
)
from tests.support.gcs import gcs_keys, sha256_gcs

import ferry as ferry_api
from ferry.config import RemoteConfig
from ferry.storage.base import WriteOptions
from ferry.storage.gcs import GCSStore, parse_upload_id
from ferry.storage.gcs_auth import make_connection
from ferry.storage.s3 import ClientSettings
from ferry.transfer.parts import split

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.support.emulators"]  # emulator, gcs, gbucket

KiB = 1024
SMALL = ["--threshold", "256KiB", "--part-size", "512KiB"]


@pytest.fixture
def config(tmp_path, rgw, emulator) -> Path:
    """The RGW remotes of every test, and ``gcs``: the emulator."""
    path = write_remotes(tmp_path / "config.toml", rgw)
    with path.open("a") as handle:
        handle.write(f'[remotes.gcs]\ntype = "gcs"\nendpoint = "{emulator.endpoint}"\n')
    return path


def run_ferry(config: Path, home: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    environ = ferry_env(config, home)
    environ.update(env or {})
    done = subprocess.run(
        ferry_cmd(*args), env=environ, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    return Run(done.returncode, done.stdout, done.stderr)


def records(home: Path, kind: str) -> list[Path]:
    return list((home / "checkpoint" / kind).glob("*.rec"))


def parts_recorded(home: Path, kind: str) -> int:
    return sum(max(0, r.read_text(errors="replace").count("\n") - 1) for r in records(home, kind))


def kill_after_parts(proc: subprocess.Popen[bytes], home: Path, kind: str, parts: int) -> int:
    """SIGKILL ``proc`` once ``parts`` parts are recorded; return how many were."""
    deadline = time.monotonic() + 60
    try:
        while parts_recorded(home, kind) < parts:
            if proc.poll() is not None:
                pytest.fail(f"ferry ended before it could be killed: {proc.stderr.read().decode()}")
            assert time.monotonic() < deadline, "no part was recorded in time"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return parts_recorded(home, kind)


# --- round trips ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size",
    [0, 1, 256 * KiB - 1, 256 * KiB, 256 * KiB + 1, 1024 * KiB, 3 * 512 * KiB + 1234],
    ids=["empty", "1B", "threshold-1", "threshold", "threshold+1", "2-parts-exact", "4-parts"],
)
def test_round_trip_at_the_multipart_boundaries(tmp_path, ferry, gcs, gbucket, size):
    source = tmp_path / "src.bin"
    digest = make_file(source, size)

    up = ferry("cp", str(source), f"gcs://{gbucket}/dir/obj.bin", *SMALL, "--verify-md5")
    assert up.returncode == 0, up.stderr
    assert sha256_gcs(gcs, gbucket, "dir/obj.bin") == digest
    assert up.transferred() == size
    if size >= 256 * KiB:
        assert "Parts:" in up.stdout

    back = tmp_path / "back.bin"
    down = ferry("cp", f"gcs://{gbucket}/dir/obj.bin", str(back), *SMALL, "--verify-md5")
    assert down.returncode == 0, down.stderr
    assert sha256_file(back) == digest


def test_a_part_size_off_the_256kib_grid_is_rounded_up(tmp_path, ferry, gcs, gbucket):
    source = tmp_path / "src.bin"
    digest = make_file(source, 1000 * KiB)
    run = ferry(
        "cp", str(source), f"gcs://{gbucket}/odd.bin", "--threshold", "256KiB", "--part-size", "300KiB"
    )
    assert run.returncode == 0, run.stderr
    assert "2 of 512.00 KiB" in run.stdout  # 300 KiB is no chunk size GCS takes: 512 KiB parts
    assert sha256_gcs(gcs, gbucket, "odd.bin") == digest


def test_gs_urls_use_storage_emulator_host_and_need_credentials_otherwise(
    tmp_path, home, emulator, gcs, gbucket
):
    empty_config = tmp_path / "none.toml"
    empty_config.write_text("")
    source = tmp_path / "f.bin"
    digest = make_file(source, 300 * KiB)
    host = emulator.endpoint.removeprefix("http://")

    run = run_ferry(
        empty_config, home, "cp", str(source), f"gs://{gbucket}/f.bin", env={"STORAGE_EMULATOR_HOST": host}
    )
    assert run.returncode == 0, run.stderr
    assert sha256_gcs(gcs, gbucket, "f.bin") == digest

    bare = run_ferry(
        empty_config,
        home,
        "cp",
        f"gs://{gbucket}/f.bin",
        str(tmp_path / "x.bin"),
        env={"STORAGE_EMULATOR_HOST": "", "GOOGLE_APPLICATION_CREDENTIALS": ""},
    )
    assert bare.returncode == 5
    assert "GOOGLE_APPLICATION_CREDENTIALS" in bare.stderr
    assert len(bare.stderr.strip().splitlines()) == 1


def test_library_api_uploads_and_downloads(tmp_path, config, home, gcs, gbucket, monkeypatch):
    monkeypatch.setenv("FERRY_HOME", str(home))
    source = tmp_path / "lib.bin"
    digest = make_file(source, 1536 * KiB + 7)
    seen: list[tuple[int, int]] = []
    up = ferry_api.resumable_upload(
        source,
        f"gcs://{gbucket}/lib.bin",
        threshold="256KiB",
        part_size="512KiB",
        verify_md5=True,
        config=config,
        progress_callback=lambda done, total: seen.append((done, total)),
    )
    assert up.multipart and up.parts_total == 4 and "md5" in up.verified
    assert seen and seen[-1] == (source.stat().st_size, source.stat().st_size)
    assert sha256_gcs(gcs, gbucket, "lib.bin") == digest

    back = tmp_path / "lib-back.bin"
    ferry_api.resumable_download(
        f"gcs://{gbucket}/lib.bin", back, threshold="256KiB", verify_md5=True, config=config
    )
    assert sha256_file(back) == digest


# --- SIGKILL, then the same command -----------------------------------------------------------------------

KILL_SIZE = 10 * MiB + 4321
KILL_FLAGS = ["--threshold", "1MiB", "--part-size", "1MiB"]


def test_upload_resumes_at_the_offset_the_session_confirms(tmp_path, ferry, config, home, gcs, gbucket):
    source = tmp_path / "big.bin"
    digest = make_file(source, KILL_SIZE)
    args = [str(source), f"gcs://{gbucket}/big.bin", *KILL_FLAGS]
    proc = spawn_ferry(config, home, "cp", *args, "--bwlimit", "4MiB")
    done = kill_after_parts(proc, home, "upload", 3)
    assert done < 10, "the kill should land mid-transfer"
    assert gcs_keys(gcs, gbucket) == []  # nothing is visible before the upload completes

    run = ferry("cp", *args)
    assert run.returncode == 0, run.stderr
    assert 0 < run.transferred() <= KILL_SIZE - done * MiB
    assert "done by an earlier run" in run.stdout
    assert sha256_gcs(gcs, gbucket, "big.bin") == digest
    assert records(home, "upload") == []


def test_a_source_changed_after_a_kill_starts_the_object_again(tmp_path, ferry, config, home, gcs, gbucket):
    source = tmp_path / "big.bin"
    make_file(source, KILL_SIZE)
    args = [str(source), f"gcs://{gbucket}/big.bin", *KILL_FLAGS]
    kill_after_parts(spawn_ferry(config, home, "cp", *args, "--bwlimit", "4MiB"), home, "upload", 2)
    digest = make_file(source, KILL_SIZE)  # same size, other bytes

    run = ferry("cp", *args)
    assert run.returncode == 0, run.stderr
    assert "changed since the last run" in run.stdout + run.stderr
    assert run.transferred() == KILL_SIZE
    assert sha256_gcs(gcs, gbucket, "big.bin") == digest


def open_store(emulator, bucket: str) -> GCSStore:
    """A store as a new ferry process would open it: nothing known of any session yet."""
    remote = RemoteConfig(name="gcs", type="gcs", endpoint=emulator.endpoint)
    return GCSStore(make_connection(remote, ClientSettings()), bucket, "gcs")


def test_a_new_process_goes_on_from_the_offset_the_session_confirms_even_mid_part(
    tmp_path, emulator, gcs, gbucket
):
    """What a SIGKILL can leave behind, made exactly: part 1 recorded; part 2 held by the server although
    its answer never came back; 300 KiB of part 3 persisted. A new store on the same session holds parts 1
    and 2, skips part 2, sends only the rest of part 3, and the object is byte-identical."""
    part = 512 * KiB
    data = os.urandom(3 * part + 1000)
    store = open_store(emulator, gbucket)
    upload_id = store.create_multipart("mid.bin", len(data), WriteOptions())
    spans = split(len(data), part)
    store.upload_part("mid.bin", upload_id, spans[0], data[: spans[0].end])
    uri, total = parse_upload_id(upload_id)
    for start, end in ((spans[1].offset, spans[1].end), (spans[2].offset, spans[2].offset + 300 * KiB)):
        answer = requests.put(
            uri, data=data[start:end], headers={"Content-Range": f"bytes {start}-{end - 1}/*"}, timeout=10
        )
        assert answer.status_code == 308

    later = open_store(emulator, gbucket)
    held = later.list_parts("mid.bin", upload_id, total, part)
    assert held is not None and sorted(held) == [1, 2]
    for span in spans[1:]:  # part 2 again, as an engine retrying a part whose answer was lost would
        later.upload_part("mid.bin", upload_id, span, data[span.offset : span.end])
    generation = later.complete_multipart("mid.bin", upload_id, [])
    blob = gcs.bucket(gbucket).get_blob("mid.bin")
    assert str(blob.generation) == generation
    assert blob.download_as_bytes() == data


def test_an_aborted_session_leaves_no_object(emulator, gcs, gbucket):
    store = open_store(emulator, gbucket)
    upload_id = store.create_multipart("gone.bin", 2 * 256 * KiB, WriteOptions())
    store.upload_part("gone.bin", upload_id, split(2 * 256 * KiB, 256 * KiB)[0], os.urandom(256 * KiB))
    store.abort_multipart("gone.bin", upload_id)
    store.abort_multipart("gone.bin", upload_id)  # already gone: no error
    assert gcs_keys(gcs, gbucket) == []


def test_copy_object_rewrites_on_the_server(emulator, gcs, gbucket):
    data = os.urandom(100 * KiB)
    gcs.bucket(gbucket).blob("orig.bin").upload_from_string(data)
    store = open_store(emulator, gbucket)
    etag = store.stat("orig.bin").etag
    store.copy_object("copy.bin", store, "orig.bin", None, etag)
    assert gcs.bucket(gbucket).blob("copy.bin").download_as_bytes() == data
    assert store.stat("copy.bin").md5_hex() == store.stat("orig.bin").md5_hex()


# --- tasks ---------------------------------------------------------------------------------------------


def make_tree(root: Path) -> dict[str, str]:
    files = {
        "a/b/c.txt": 10,
        "a/empty.txt": 0,
        "a/big.bin": 1300 * KiB,
        "with space/ü.txt": 1000,
        "top.txt": 1,
    }
    digests = {}
    for rel, size in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        digests[rel] = make_file(root / rel, size)
    (root / "empty-dir").mkdir()
    return digests


def test_recursive_upload_and_back(tmp_path, ferry, gcs, gbucket):
    src = tmp_path / "tree"
    digests = make_tree(src)

    up = ferry("cp", "-r", str(src), f"gcs://{gbucket}/pre", *SMALL, "-j", "3")
    assert up.returncode == 0, up.stderr
    assert gcs_keys(gcs, gbucket, "pre/") == sorted([*digests, "empty-dir/"])

    back = tmp_path / "back"
    down = ferry("cp", "-r", f"gcs://{gbucket}/pre/", str(back), *SMALL)
    assert down.returncode == 0, down.stderr
    for rel, digest in digests.items():
        assert sha256_file(back / rel) == digest
    assert (back / "empty-dir").is_dir()


def test_sigkill_in_a_task_then_recover(tmp_path, ferry, config, home, gcs, gbucket):
    src = tmp_path / "many"
    src.mkdir()
    digests = {f"f{i:02d}.bin": make_file(src / f"f{i:02d}.bin", 300 * KiB) for i in range(16)}
    digests["large.bin"] = make_file(src / "large.bin", 3 * MiB)
    proc = spawn_ferry(
        config, home, "cp", "-r", str(src), f"gcs://{gbucket}/m", *SMALL, "-j", "2", "--bwlimit", "2MiB"
    )

    def done_count() -> int:
        journals = list((home / "checkpoint" / "tasks").glob("*.db"))
        if not journals:
            return 0
        try:
            with sqlite3.connect(journals[0], timeout=10) as db:
                query = "SELECT COUNT(*) FROM ferry_objects WHERE state = 'done'"
                return int(db.execute(query).fetchone()[0])
        except sqlite3.OperationalError:  # the journal is still being created ("no such table")
            return 0

    deadline = time.monotonic() + 60
    while done_count() < 4:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.kill()
    out, _ = proc.communicate()
    task_id = out.decode().split("Task id: ", 1)[1].split()[0]
    before = done_count()
    assert before < len(digests)

    again = ferry("cp", "--recover", task_id)
    assert again.returncode == 0, again.stderr
    assert _count(again, "Succeed count") == len(digests) - before  # done ones are not touched
    assert _count(again, "Transferred bytes") < 16 * 300 * KiB + 3 * MiB
    for name, digest in digests.items():
        assert sha256_gcs(gcs, gbucket, f"m/{name}") == digest


def _count(run: Run, name: str) -> int:
    for line in run.stdout.splitlines():
        if line.strip().startswith(f"{name}:"):
            return int(line.split(":", 1)[1].split()[0])
    raise AssertionError(f"no {name!r} in:\n{run.stdout}")


# --- GCS <-> S3 ----------------------------------------------------------------------------------------


def test_copies_between_gcs_and_s3_stream_through_the_client(tmp_path, ferry, s3, bucket, gcs, gbucket):
    source = tmp_path / "x.bin"
    digest = make_file(source, 12 * MiB + 5)
    gcs.bucket(gbucket).blob("x.bin").upload_from_filename(str(source))
    flags = ["--threshold", "5MiB", "--part-size", "5MiB", "--verify-md5"]  # RGW's parts: 5 MiB at least

    to_s3 = ferry("cp", f"gcs://{gbucket}/x.bin", f"rgw://{bucket}/from-gcs.bin", *flags)
    assert to_s3.returncode == 0, to_s3.stderr
    assert "server-side" not in to_s3.stdout
    assert sha256_object(s3, bucket, "from-gcs.bin") == digest

    to_gcs = ferry("cp", f"rgw://{bucket}/from-gcs.bin", f"gcs://{gbucket}/from-s3.bin", *flags)
    assert to_gcs.returncode == 0, to_gcs.stderr
    assert sha256_gcs(gcs, gbucket, "from-s3.bin") == digest


def test_s3_to_gcs_copy_resumes_after_sigkill(tmp_path, ferry, config, home, s3, bucket, gcs, gbucket):
    source = tmp_path / "big.bin"
    digest = make_file(source, KILL_SIZE)
    s3.upload_file(str(source), bucket, "big.bin")
    args = [f"rgw://{bucket}/big.bin", f"gcs://{gbucket}/copied.bin", *KILL_FLAGS]
    done = kill_after_parts(spawn_ferry(config, home, "cp", *args, "--bwlimit", "4MiB"), home, "copy", 3)
    assert done < 10

    run = ferry("cp", *args)
    assert run.returncode == 0, run.stderr
    assert 0 < run.transferred() <= KILL_SIZE - done * MiB
    assert sha256_gcs(gcs, gbucket, "copied.bin") == digest
    assert records(home, "copy") == []


# --- bad key files -------------------------------------------------------------------------------------

FAKE_KEY = "-----BEGIN PRIVATE KEY-----\nTOPSECRETTOPSECRETTOPSECRET\n-----END PRIVATE KEY-----\n"
SERVICE_ACCOUNT = {"type": "service_account", "client_email": "ferry@example.invalid", "token_uri": "x"}


@pytest.mark.parametrize(
    ("content", "how", "cause"),
    [
        (None, "config", "No such file or directory"),
        ("", "directory", "Is a directory"),
        ('{"type": "service_account", "private_key": ', "config", "not valid JSON"),
        (
            json.dumps({"type": "authorized_user", "client_secret": "TOPSECRET"}),
            "env",
            "not a service-account key",
        ),
        (
            json.dumps({**SERVICE_ACCOUNT, "private_key": FAKE_KEY}),
            "env",
            "not a usable service-account key",
        ),
    ],
    ids=["missing", "a-directory", "malformed-json", "not-a-service-account", "bad-private-key"],
)
def test_bad_key_files_give_one_clear_line(tmp_path, home, rgw, emulator, gbucket, content, how, cause):
    key = tmp_path / "key.json"
    if how == "directory":
        key.mkdir()
    elif content is not None:
        key.write_text(content)
    config = write_remotes(tmp_path / "config.toml", rgw)
    env = {"GOOGLE_APPLICATION_CREDENTIALS": str(key)} if how in ("env", "directory") else {}
    with config.open("a") as handle:
        handle.write(f'[remotes.gcs]\ntype = "gcs"\nendpoint = "{emulator.endpoint}"\n')
        if how == "config":
            handle.write(f'json_auth_file = "{key}"\n')

    run = run_ferry(config, home, "cp", f"gcs://{gbucket}/x.bin", str(tmp_path / "x.bin"), env=env)
    assert run.returncode == 5, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert str(key) in lines[0] and cause in lines[0]
    assert "Traceback" not in run.stderr and "TOPSECRET" not in run.stderr
    assert not (tmp_path / "x.bin").exists()


def test_a_valid_key_file_is_loaded_and_the_emulator_still_spoken_to_without_it(
    tmp_path, home, config, gcs, gbucket
):
    """The key file's code path with a well-formed key (made here): it loads, and an http:// endpoint gets
    no token (none is ever sent over plain HTTP), so the upload works against the emulator."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    key = tmp_path / "key.json"
    key.write_text(json.dumps({**SERVICE_ACCOUNT, "private_key": pem, "project_id": "ferry-test"}))
    source = tmp_path / "f.bin"
    digest = make_file(source, 10 * KiB)

    run = run_ferry(
        config,
        home,
        "cp",
        str(source),
        f"gcs://{gbucket}/f.bin",
        env={"GOOGLE_APPLICATION_CREDENTIALS": str(key)},
    )
    assert run.returncode == 0, run.stderr
    assert sha256_gcs(gcs, gbucket, "f.bin") == digest
    assert pem.splitlines()[1] not in run.stdout + run.stderr


@pytest.mark.parametrize(
    ("section", "phrase"),
    [
        ('type = "gcs"\naccess_key = "x"\n', "is of type gcs: 'access_key' does not apply"),
        (
            'endpoint = "http://127.0.0.1:1"\njson_auth_file = "/k.json"\n',
            'json_auth_file needs type = "gcs"',
        ),
    ],
    ids=["s3-key-on-gcs", "key-file-on-s3"],
)
def test_config_keys_of_the_wrong_kind_are_refused(tmp_path, home, section, phrase):
    config = tmp_path / "config.toml"
    config.write_text(f"[remotes.bad]\n{section}")
    run = run_ferry(config, home, "cp", "gs://bucket/x", str(tmp_path / "x"))
    assert run.returncode == 3
    assert phrase in run.stderr and len(run.stderr.strip().splitlines()) == 1
