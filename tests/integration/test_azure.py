"""Azure Blob Storage against a real Azurite (started by scripts/azurite.sh): round trips at the block
boundaries, SIGKILL then resume, recursive tasks and --recover, Azure <-> S3 (RGW) copies streamed through
this machine, and bad connection strings."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import pytest
from tests.conftest import MiB, make_file, sha256_file, sha256_object, spawn_ferry, write_remotes
from tests.support.azurite import block_lists, sha256_blob

import ferry as ferry_lib

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.support.emulators"]  # azurite, container

THRESHOLD = 256 * 1024
PART = MiB
FLAGS = ["--threshold", "256KiB", "--part-size", "1MiB"]
ACCOUNT_KEY_PART = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq"


@pytest.fixture(autouse=True)
def azure_env(monkeypatch, azurite):
    """``az://`` reads the connection string from the environment; the ferry children inherit it."""
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)


@pytest.fixture
def config(tmp_path, rgw, azurite) -> Path:
    """The usual RGW remotes, plus ``azr``: Azurite as a named remote of type azure."""
    path = write_remotes(tmp_path / "config.toml", rgw)
    with path.open("a") as handle:
        handle.write(f'[remotes.azr]\ntype = "azure"\nconnection_string = "{azurite.connection_string}"\n')
    return path


def parts_recorded(area: Path) -> int:
    return sum(max(0, r.read_text(errors="replace").count("\n") - 1) for r in area.glob("*.rec"))


def kill_after_parts(config, home, kind, args, min_parts, timeout=60.0) -> int:
    """Run ``ferry cp ARGS`` slowed by --bwlimit, SIGKILL it once ``min_parts`` parts are recorded; return
    how many parts the record holds."""
    proc = spawn_ferry(config, home, "cp", *args)
    area = home / "checkpoint" / kind
    deadline = time.monotonic() + timeout
    try:
        while parts_recorded(area) < min_parts:
            if proc.poll() is not None:
                pytest.fail(f"ferry ended before it could be killed: {proc.stderr.read().decode()}")
            assert time.monotonic() < deadline, "no part was recorded in time"
            time.sleep(0.05)
        proc.kill()
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -9
    return parts_recorded(area)


def error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith("ferry: error:")]


# --- round trips -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size",
    [0, 1, THRESHOLD - 1, THRESHOLD, THRESHOLD + 1, 3 * PART + 123],
    ids=["empty", "1B", "threshold-1", "threshold", "threshold+1", "4-parts"],
)
def test_round_trip_at_the_block_boundaries(tmp_path, ferry, container, size):
    source = tmp_path / "data.txt"
    digest = make_file(source, size)
    up = ferry("cp", str(source), f"az://{container.container_name}/dir/data.txt", *FLAGS, "--verify-md5")
    assert up.returncode == 0, up.stderr
    assert up.transferred() == size
    assert sha256_blob(container, "dir/data.txt") == digest

    props = container.get_blob_client("dir/data.txt").get_blob_properties()
    assert props.size == size
    assert props.content_settings.content_type == "text/plain"
    committed, uncommitted = block_lists(container, "dir/data.txt")
    multipart = size >= THRESHOLD and size > 0
    assert len(committed) == (-(-size // PART) if multipart else 0)  # staged blocks, committed at the end
    assert len({len(b) for b in committed}) <= 1  # Azure wants block ids of one length
    assert uncommitted == []

    target = tmp_path / "back" / "data.txt"
    down = ferry("cp", f"azr://{container.container_name}/dir/data.txt", str(target), *FLAGS, "--verify-md5")
    assert down.returncode == 0, down.stderr
    assert sha256_file(target) == digest
    assert "md5" in down.stdout.split("Verified:", 1)[1].splitlines()[0]


def test_library_api_on_azure(tmp_path, config, home, monkeypatch, container):
    monkeypatch.setenv("FERRY_HOME", str(home))
    source = tmp_path / "lib.bin"
    digest = make_file(source, 2 * MiB + 5)
    cfg = ferry_lib.load_config(config)
    seen: list[tuple[int, int]] = []
    url = f"azr://{container.container_name}/lib.bin"
    result = ferry_lib.resumable_upload(
        source,
        url,
        part_size="1MiB",
        threshold="1MiB",
        verify_md5=True,
        config=cfg,
        progress_callback=lambda done, total: seen.append((done, total)),
    )
    assert result.multipart and result.parts_total == 3 and result.transferred == 2 * MiB + 5
    assert seen[-1] == (2 * MiB + 5, 2 * MiB + 5)
    back = tmp_path / "lib-back.bin"
    ferry_lib.resumable_download(url, back, part_size="1MiB", threshold="1MiB", verify_md5=True, config=cfg)
    assert sha256_file(back) == digest


# --- SIGKILL and resume ----------------------------------------------------------------------------------

SIZE = 12 * MiB + 777
PARTS = 13


def test_upload_resumes_after_sigkill_without_resending_staged_blocks(
    tmp_path, ferry, config, home, container
):
    source = tmp_path / "big.bin"
    digest = make_file(source, SIZE)
    url = f"az://{container.container_name}/big.bin"
    args = [str(source), url, *FLAGS, "-p", "2"]
    done = kill_after_parts(config, home, "upload", [*args, "--bwlimit", "2MiB"], min_parts=3)
    assert 3 <= done < PARTS, "the kill should land mid-transfer"

    committed, uncommitted = block_lists(container, "big.bin")
    assert committed == [] and len(uncommitted) >= done  # staged on the server, not yet a blob
    assert [b.name for b in container.list_blobs()] == []  # nothing half-written is visible

    run = ferry("cp", *args)
    assert run.returncode == 0, run.stderr
    assert 0 < run.transferred() <= SIZE - done * PART
    assert "done by an earlier run" in run.stdout
    assert sha256_blob(container, "big.bin") == digest
    committed, uncommitted = block_lists(container, "big.bin")
    assert len(committed) == PARTS and uncommitted == []
    assert list((home / "checkpoint" / "upload").glob("*.rec")) == []


def test_staged_blocks_discarded_by_another_writer_are_sent_again(tmp_path, ferry, config, home, container):
    """Another client's commit to the same name discards our uncommitted blocks; the resume finds them gone
    (the block list is asked, not the record trusted) and sends them again."""
    source = tmp_path / "big.bin"
    digest = make_file(source, SIZE)
    args = [str(source), f"azr://{container.container_name}/big.bin", *FLAGS, "-p", "2"]
    done = kill_after_parts(config, home, "upload", [*args, "--bwlimit", "2MiB"], min_parts=2)
    assert done < PARTS
    other_writer = container.get_blob_client("big.bin")
    other_writer.stage_block("x" * 55, b"someone else")  # block ids of one blob must be of one length
    other_writer.commit_block_list(["x" * 55])
    assert block_lists(container, "big.bin")[1] == []

    run = ferry("cp", *args)
    assert run.returncode == 0, run.stderr
    assert run.transferred() == SIZE
    assert sha256_blob(container, "big.bin") == digest


def test_download_from_azure_resumes_after_sigkill(tmp_path, ferry, config, home, container):
    source = tmp_path / "big.bin"
    digest = make_file(source, SIZE)
    with source.open("rb") as handle:
        container.get_blob_client("big.bin").upload_blob(handle)
    target = tmp_path / "out" / "big.bin"
    args = [f"azr://{container.container_name}/big.bin", str(target), *FLAGS, "-p", "2"]
    done = kill_after_parts(config, home, "download", [*args, "--bwlimit", "2MiB"], min_parts=3)
    assert done < PARTS
    assert not target.exists()

    run = ferry("cp", *args)
    assert run.returncode == 0, run.stderr
    assert 0 < run.transferred() <= SIZE - done * PART
    assert sha256_file(target) == digest


# --- tasks -----------------------------------------------------------------------------------------------


def make_tree(root: Path) -> dict[str, str]:
    files = {"a/b/c.txt": 10, "a/empty.txt": 0, "a/big.bin": 3 * MiB + 1, "with space/ü.txt": 1000, "top": 1}
    digests = {}
    for rel, size in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        digests[rel] = make_file(root / rel, size)
    (root / "empty-dir").mkdir()
    return digests


def test_recursive_copy_to_azure_and_back(tmp_path, ferry, container):
    src = tmp_path / "tree"
    digests = make_tree(src)
    name = container.container_name
    up = ferry("cp", "-r", str(src), f"az://{name}/pre", *FLAGS, "-j", "3")
    assert up.returncode == 0, up.stderr
    assert re.search(r"Succeed count:\s+6\b", up.stdout) and re.search(r"Failed count:\s+0\b", up.stdout)
    listed = sorted(b.name for b in container.list_blobs(name_starts_with="pre/"))
    assert listed == sorted([f"pre/{rel}" for rel in digests] + ["pre/empty-dir/"])
    for rel, digest in digests.items():
        assert sha256_blob(container, f"pre/{rel}") == digest

    back = tmp_path / "back"
    down = ferry("cp", "-r", f"azr://{name}/pre", str(back), *FLAGS)
    assert down.returncode == 0, down.stderr
    for rel, digest in digests.items():
        assert sha256_file(back / rel) == digest
    assert (back / "empty-dir").is_dir()


def done_in_journal(home: Path) -> int:
    journals = list((home / "checkpoint" / "tasks").glob("*.db"))
    if not journals:
        return 0
    try:
        with sqlite3.connect(journals[0]) as db:
            return db.execute("SELECT COUNT(*) FROM ferry_objects WHERE state = 'done'").fetchone()[0]
    except sqlite3.OperationalError:  # the journal is still being created
        return 0


def test_killed_task_to_azure_is_finished_by_recover(tmp_path, ferry, config, home, container):
    src = tmp_path / "many"
    src.mkdir()
    digests = {f"f{i:02d}.bin": make_file(src / f"f{i:02d}.bin", 512 * 1024) for i in range(10)}
    digests["large.bin"] = make_file(src / "large.bin", 4 * MiB + 3)
    total = 10 * 512 * 1024 + 4 * MiB + 3
    flags = ["--threshold", "1MiB", "--part-size", "1MiB", "-j", "2"]
    proc = spawn_ferry(
        config, home, "cp", "-r", str(src), f"azr://{container.container_name}/m", *flags, "--bwlimit", "1MiB"
    )
    deadline = time.monotonic() + 60
    while done_in_journal(home) < 3:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.kill()
    out, _ = proc.communicate()
    task_id = out.decode().split("Task id: ", 1)[1].split()[0]
    before = done_in_journal(home)
    assert before < len(digests)

    again = ferry("cp", "--recover", task_id, "--bwlimit", "1000MiB")
    assert again.returncode == 0, again.stderr
    assert f"Task id: {task_id}" in again.stdout
    summary = " ".join(again.stdout.split())
    assert f"Succeed count: {len(digests) - before}" in summary  # done objects are not touched
    transferred = int(summary.split("Transferred bytes: ", 1)[1].split()[0])
    assert 0 < transferred < total
    for name, digest in digests.items():
        assert sha256_blob(container, f"m/{name}") == digest

    nothing = ferry("cp", "--recover", task_id)  # a no-op that says so: recover loops end
    assert nothing.returncode == 0 and "already succeeded" in nothing.stdout
    written = [p for p in home.rglob("*") if p.is_file()]
    assert written and not [p for p in written if ACCOUNT_KEY_PART.encode() in p.read_bytes()]


# --- Azure <-> S3 ----------------------------------------------------------------------------------------

CROSS_SIZE = 16 * MiB + 99
CROSS_FLAGS = ["--threshold", "5MiB", "--part-size", "5MiB", "-p", "2"]  # RGW's smallest part is 5 MiB


def test_azure_to_s3_copy_killed_and_resumed(tmp_path, ferry, config, home, container, s3, bucket):
    source = tmp_path / "big.bin"
    digest = make_file(source, CROSS_SIZE)
    with source.open("rb") as handle:
        container.get_blob_client("big.bin").upload_blob(handle, metadata={"origin": "azure"})
    args = [f"azr://{container.container_name}/big.bin", f"rgw://{bucket}/big.bin", *CROSS_FLAGS]
    done = kill_after_parts(config, home, "copy", [*args, "--bwlimit", "4MiB"], min_parts=1)
    assert done < 4

    run = ferry("cp", *args)
    assert run.returncode == 0, run.stderr
    assert "server-side" not in run.stdout  # streamed through this machine
    assert 0 < run.transferred() <= CROSS_SIZE - done * 5 * MiB
    assert sha256_object(s3, bucket, "big.bin") == digest
    assert s3.head_object(Bucket=bucket, Key="big.bin")["Metadata"]["origin"] == "azure"
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_s3_to_azure_copy_keeps_bytes_type_and_metadata(tmp_path, ferry, container, s3, bucket):
    source = tmp_path / "big.bin"
    digest = make_file(source, 6 * MiB + 1)
    s3.upload_file(
        str(source), bucket, "big.bin", ExtraArgs={"ContentType": "image/png", "Metadata": {"origin": "s3"}}
    )
    run = ferry("cp", f"rgw://{bucket}/big.bin", f"az://{container.container_name}/copy.bin", *FLAGS)
    assert run.returncode == 0, run.stderr
    assert sha256_blob(container, "copy.bin") == digest
    props = container.get_blob_client("copy.bin").get_blob_properties()
    assert props.content_settings.content_type == "image/png"
    assert props.metadata["origin"] == "s3"

    # and Azure to Azure, streamed (no server-side copy on Azure)
    again = ferry("cp", f"az://{container.container_name}/copy.bin", f"azr://{container.container_name}/c2")
    assert again.returncode == 0, again.stderr
    assert sha256_blob(container, "c2") == digest


# --- bad connection strings ------------------------------------------------------------------------------


def azure_config(tmp_path: Path, connection_string: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(f'[remotes.azbad]\ntype = "azure"\nconnection_string = "{connection_string}"\n')
    return path


def test_wrong_account_key_is_one_line_naming_the_cause(tmp_path, ferry, azurite, container):
    source = tmp_path / "f.txt"
    make_file(source, 100)
    wrong_key = azurite.connection_string.replace(ACCOUNT_KEY_PART, "A" * len(ACCOUNT_KEY_PART))
    assert wrong_key != azurite.connection_string
    run = ferry(
        "cp",
        str(source),
        f"azbad://{container.container_name}/f.txt",
        config_path=azure_config(tmp_path, wrong_key),
    )
    assert run.returncode == 5, run.stderr
    [line] = error_lines(run.stderr)
    assert "credentials were refused" in line
    assert "AAAAAAAAAAAA" not in run.stderr + run.stdout and "AccountKey" not in run.stderr


@pytest.mark.parametrize(
    ("connection_string", "code", "phrase"),
    [
        ("this-is-a-secret-but-not-a-connection-string", 3, "is malformed"),
        ("AccountName=devstoreaccount1;BlobEndpoint=http://127.0.0.1:10000/x", 3, "neither an AccountKey"),
        ("AccountName=a;AccountKey=sekrit!!;BlobEndpoint=http://127.0.0.1:10000/a", 5, "not valid base64"),
        ("AccountName=a;AccountKey=c2VrcmV0;BlobEndpoint=ftp://127.0.0.1/a", 3, "not an http(s) URL"),
    ],
    ids=["garbage", "no-key", "key-not-base64", "bad-endpoint"],
)
def test_malformed_connection_string(tmp_path, ferry, connection_string, code, phrase):
    source = tmp_path / "f.txt"
    make_file(source, 10)
    run = ferry(
        "cp",
        str(source),
        "azbad://some-container/f.txt",
        config_path=azure_config(tmp_path, connection_string),
    )
    assert run.returncode == code, run.stderr
    [line] = error_lines(run.stderr)
    assert phrase in line and "remote 'azbad'" in line
    for secret in ("this-is-a-secret", "sekrit", "c2VrcmV0"):
        assert secret not in run.stderr + run.stdout


@pytest.mark.parametrize(
    ("flags", "code", "phrase"),
    [
        (["--meta", "not-an-identifier:1"], 3, "Azure refuses the metadata name 'not-an-identifier'"),
        (["--acl", "public-read"], 7, "no per-object ACL"),
        (["--storage-class", "GLACIER"], 3, "unknown Azure access tier"),
    ],
    ids=["metadata-name", "acl", "tier"],
)
def test_what_azure_cannot_store_is_refused_before_any_byte_moves(
    tmp_path, ferry, container, flags, code, phrase
):
    source = tmp_path / "f.bin"
    make_file(source, 2 * MiB)
    run = ferry("cp", str(source), f"az://{container.container_name}/f.bin", *FLAGS, *flags)
    assert run.returncode == code, run.stderr
    [line] = error_lines(run.stderr)
    assert phrase in line
    assert block_lists(container, "f.bin") == ([], [])


def test_no_connection_string_for_az_urls(tmp_path, ferry, monkeypatch):
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    source = tmp_path / "f.txt"
    make_file(source, 10)
    run = ferry("cp", str(source), "az://some-container/f.txt")
    assert run.returncode == 5
    [line] = error_lines(run.stderr)
    assert "AZURE_STORAGE_CONNECTION_STRING" in line


def test_missing_container_and_missing_blob(tmp_path, ferry):
    source = tmp_path / "f.txt"
    make_file(source, 10)
    run = ferry("cp", str(source), "az://no-such-container/f.txt")
    assert run.returncode == 4
    [line] = error_lines(run.stderr)
    assert "container 'no-such-container' does not exist" in line
    missing = ferry("cp", "az://no-such-container/f.txt", str(tmp_path / "x"))
    assert missing.returncode == 4


def test_unreachable_endpoint_is_a_network_error(tmp_path, ferry, azurite):
    unreachable = azurite.connection_string.replace("127.0.0.1:10000", "127.0.0.1:9")
    source = tmp_path / "f.txt"
    make_file(source, 10)
    config = azure_config(tmp_path, unreachable)
    run = ferry("cp", str(source), "azbad://some-container/f.txt", "--retries", "1", config_path=config)
    assert run.returncode == 6
    [line] = error_lines(run.stderr)
    assert "network error talking to http://127.0.0.1:9" in line and "Connection refused" in line
    assert ACCOUNT_KEY_PART not in run.stderr
