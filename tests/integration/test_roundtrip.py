"""Round trips through the real RGW at the multipart boundaries: bytes identical in every direction."""

import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from tests.conftest import MiB, make_file, sha256_file, sha256_object, uploads_left

pytestmark = pytest.mark.integration

THRESHOLD = 6 * MiB
PART = 5 * MiB
SIZES = {
    "empty": 0,
    "one-byte": 1,
    "threshold-1": THRESHOLD - 1,
    "threshold": THRESHOLD,
    "threshold+1": THRESHOLD + 1,
    "parts-with-short-tail": 3 * PART + 123_457,
}
FLAGS = ["--threshold", "6MiB", "--copy-threshold", "6MiB", "--part-size", "5MiB", "-p", "3"]
FLAGS += ["--verify-length", "--verify-md5"]


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_upload_download_and_both_copies(tmp_path, ferry, s3, bucket, other_bucket, rgw, size):
    source = tmp_path / "source.bin"
    digest = make_file(source, size)

    up = ferry("cp", str(source), f"rgw://{bucket}/dir/obj.bin", *FLAGS)
    assert up.returncode == 0, up.stderr
    assert up.transferred() == size
    assert sha256_object(s3, bucket, "dir/obj.bin") == digest
    head = s3.head_object(Bucket=bucket, Key="dir/obj.bin")
    assert head["ContentLength"] == size
    assert "md5chksum" in head["Metadata"]

    down = ferry("cp", f"rgw://{bucket}/dir/obj.bin", str(tmp_path / "back.bin"), *FLAGS)
    assert down.returncode == 0, down.stderr
    assert sha256_file(tmp_path / "back.bin") == digest
    assert "md5" in down.stdout.split("Verified:")[1]

    server = ferry("cp", f"rgw://{bucket}/dir/obj.bin", f"rgw://{bucket}/copy/obj.bin", *FLAGS)
    assert server.returncode == 0, server.stderr
    assert "server-side" in server.stdout
    assert sha256_object(s3, bucket, "copy/obj.bin") == digest

    streamed = ferry("cp", f"rgw://{bucket}/dir/obj.bin", f"rgw2://{other_bucket}/obj.bin", *FLAGS)
    assert streamed.returncode == 0, streamed.stderr
    assert "server-side" not in streamed.stdout
    assert sha256_object(rgw.client(second=True), other_bucket, "obj.bin") == digest

    assert uploads_left(s3, bucket) == []
    assert list(tmp_path.glob("*.ferry-tmp")) == []


def test_library_api_with_progress_callback(tmp_path, config, s3, bucket, home, monkeypatch):
    import ferry

    monkeypatch.setenv("FERRY_HOME", str(home))
    source = tmp_path / "api.bin"
    digest = make_file(source, 4 * PART + 1)
    seen = []
    result = ferry.resumable_upload(
        source,
        f"rgw://{bucket}/api.bin",
        part_size=PART,
        threshold=THRESHOLD,
        num_threads=2,
        progress_callback=lambda done, total: seen.append((done, total)),
        config=config,
    )
    assert result.transferred == 4 * PART + 1
    assert result.parts_total == 5
    assert sha256_object(s3, bucket, "api.bin") == digest
    assert seen[0] == (0, 4 * PART + 1)
    assert seen[-1] == (4 * PART + 1, 4 * PART + 1)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)

    back = tmp_path / "api-back.bin"
    ferry.resumable_download(
        f"rgw://{bucket}/api.bin", back, part_size=PART, threshold=THRESHOLD, config=config
    )
    assert sha256_file(back) == digest

    result = ferry.resumable_copy(f"rgw://{bucket}/api.bin", f"rgw://{bucket}/api-copy.bin", config=config)
    assert result.server_side
    assert not result.multipart  # below the copy threshold (4 GiB): one CopyObject, however large
    assert sha256_object(s3, bucket, "api-copy.bin") == digest
    parts = ferry.resumable_copy(
        f"rgw://{bucket}/api.bin", f"rgw://{bucket}/api-parts.bin", threshold=THRESHOLD, config=config
    )
    assert parts.server_side and parts.multipart  # an explicit threshold governs copies too (obsutil's)
    assert sha256_object(s3, bucket, "api-parts.bin") == digest


def test_metadata_acl_and_storage_class_reach_the_object(tmp_path, ferry, s3, bucket):
    source = tmp_path / "page.html"
    source.write_text("<p>hi</p>")
    run = ferry(
        "cp",
        str(source),
        f"rgw://{bucket}/",
        "--meta",
        "owner:ops#Project:ferry",
        "--acl",
        "public-read",
        "--storage-class",
        "standard",
    )
    assert run.returncode == 0, run.stderr
    head = s3.head_object(Bucket=bucket, Key="page.html")
    assert head["Metadata"] == {"owner": "ops", "project": "ferry"}
    assert head["ContentType"] == "text/html"
    grants = s3.get_object_acl(Bucket=bucket, Key="page.html")["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("AllUsers") and g["Permission"] == "READ" for g in grants)


def test_dry_run_changes_nothing(tmp_path, ferry, s3, bucket):
    source = tmp_path / "dry.bin"
    make_file(source, 12 * MiB)
    run = ferry(
        "cp",
        str(source),
        f"rgw://{bucket}/dry.bin",
        "--dry-run",
        "--threshold",
        "6MiB",
        "--part-size",
        "5MiB",
    )
    assert run.returncode == 0, run.stderr
    assert "would move 12.00 MiB in 3 parts of 5.00 MiB" in run.stdout
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    assert uploads_left(s3, bucket) == []


def test_destination_folder_keeps_the_name(tmp_path, ferry, s3, bucket):
    source = tmp_path / "name.txt"
    source.write_bytes(b"x" * 10)
    assert ferry("cp", str(source), f"rgw://{bucket}/some/dir/").returncode == 0
    assert s3.head_object(Bucket=bucket, Key="some/dir/name.txt")["ContentLength"] == 10
    out = tmp_path / "out"
    out.mkdir()
    assert ferry("cp", f"rgw://{bucket}/some/dir/name.txt", str(out)).returncode == 0
    assert (out / "name.txt").read_bytes() == b"x" * 10


def test_md5_that_cannot_be_known_is_said_once_and_length_still_checked(tmp_path, ferry, s3, bucket):
    source = tmp_path / "plain.bin"
    digest = make_file(source, 3 * PART)
    s3.upload_file(str(source), bucket, "plain.bin")  # boto3's own multipart upload: no md5chksum
    run = ferry("cp", f"rgw://{bucket}/plain.bin", str(tmp_path / "out.bin"), *FLAGS)
    assert run.returncode == 0, run.stderr
    assert run.stderr.count("cannot verify the MD5") == 1
    assert "Verified:          length" in run.stdout
    assert sha256_file(tmp_path / "out.bin") == digest


@pytest.mark.parametrize("size", [1000, 3 * PART], ids=["single", "multipart"])
def test_copies_keep_the_source_metadata_and_content_type(
    tmp_path, ferry, s3, rgw, bucket, other_bucket, size
):
    source = tmp_path / "doc.json"
    make_file(source, size)
    assert ferry("cp", str(source), f"rgw://{bucket}/doc.json", "--meta", "team:data", *FLAGS).returncode == 0
    original = s3.head_object(Bucket=bucket, Key="doc.json")
    for destination, client, dst_bucket in (
        (f"rgw://{bucket}/same.json", s3, bucket),
        (f"rgw2://{other_bucket}/other.json", rgw.client(second=True), other_bucket),
    ):
        run = ferry("cp", f"rgw://{bucket}/doc.json", destination, *FLAGS)
        assert run.returncode == 0, run.stderr
        copied = client.head_object(Bucket=dst_bucket, Key=destination.rsplit("/", 1)[1])
        assert copied["Metadata"] == original["Metadata"]
        assert copied["Metadata"]["team"] == "data"
        assert copied["ContentType"] == "application/json"


def test_progress_bar_on_a_terminal(tmp_path, config, home, bucket):
    """Run under a pseudo-terminal (util-linux `script`): a live bar with speed is drawn, then the summary."""
    import shlex
    import shutil
    import subprocess

    from tests.conftest import ferry_cmd, ferry_env

    if shutil.which("script") is None:
        pytest.skip("util-linux script is not installed")
    source = tmp_path / "tty.bin"
    make_file(source, 20 * MiB)
    command = shlex.join(
        ferry_cmd("cp", str(source), f"rgw://{bucket}/tty.bin", *FLAGS, "--bwlimit", "10MiB")
    )
    done = subprocess.run(
        ["script", "-q", "-e", "-c", command, "/dev/null"],
        env={**ferry_env(config, home), "COLUMNS": "120", "TERM": "xterm"},
        capture_output=True,
        timeout=120,
    )
    screen = done.stdout.decode("utf-8", "replace")
    assert done.returncode == 0, screen
    assert "━" in screen  # the bar
    assert "MB/s" in screen or "MiB/s" in screen
    assert "Transferred bytes: 20971520" in screen


def test_a_folder_of_2000_small_files_downloads_byte_identical(tmp_path, ferry, s3, bucket):
    objects = {f"f{n:04d}.txt": os.urandom(n % 700) for n in range(2000)}
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: s3.put_object(Bucket=bucket, Key=f"many/{n}", Body=objects[n]), objects))
    run = ferry("cp", "-r", f"rgw://{bucket}/many/", str(tmp_path / "dl"), "-p", "8")
    assert run.returncode == 0, run.stderr
    assert {p.name: p.read_bytes() for p in (tmp_path / "dl").iterdir()} == objects
