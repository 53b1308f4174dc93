"""ferry.oss.resumable_upload against the real RGW: the seed's oss2 example ported line by line,
interrupted and resumed, restarted after the file changed and after the checkpoint was damaged,
cancelled with and without deleting the upload, without a checkpoint, and with oss2's headers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tests.conftest import MiB, make_file, sha256_file, sha256_object, uploads_left

from ferry import oss
from ferry.errors import InterruptedTransfer, UsageError

pytestmark = pytest.mark.integration

# The seed's Python example, with `import oss2` changed and its placeholders filled. RGW refuses parts
# under 5 MiB (as S3 does; OSS takes 100 KB), so its 100*1024 part size and threshold are 5 MiB here.
SEED_EXAMPLE = """\
# -*- coding: utf-8 -*-
import sys
from ferry import oss as oss2
from ferry.oss import EnvironmentVariableCredentialsProvider
auth = oss2.ProviderAuth(EnvironmentVariableCredentialsProvider())
bucket = oss2.Bucket(auth, sys.argv[1], sys.argv[2])

def percentage(consumed_bytes, total_bytes):
    if total_bytes:
        rate = int(100 * (float(consumed_bytes) / float(total_bytes)))
        print('\\r{0}% '.format(rate), end='')
        sys.stdout.flush()
result = oss2.resumable_upload(bucket, 'exampledir/exampleobject.txt', sys.argv[3],
                      store=oss2.ResumableStore(root=sys.argv[4]),
                      multipart_threshold=5*1024*1024,
                      part_size=5*1024*1024,
                      progress_callback=percentage,
                      num_threads=4)
print('\\ntransferred', result.transferred)
"""


def _bucket(rgw, name: str) -> oss.Bucket:
    return oss.Bucket(oss.Auth(rgw.access_key, rgw.secret_key), rgw.endpoint, name)


def _records(root: Path) -> list[Path]:
    return list(root.rglob("*.rec"))


def test_the_seed_example_killed_then_resumed(tmp_path, rgw, s3, bucket):
    size = 200 * MiB
    local = tmp_path / "examplefile.txt"
    digest = make_file(local, size)
    script = tmp_path / "example.py"
    script.write_text(SEED_EXAMPLE)
    root = tmp_path / "store"
    env = {**os.environ, "OSS_ACCESS_KEY_ID": rgw.access_key, "OSS_ACCESS_KEY_SECRET": rgw.secret_key}
    args = [sys.executable, str(script), rgw.endpoint, bucket, str(local), str(root)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def parts_done() -> int:
        found = _records(root)
        return max(0, len(found[0].read_text().splitlines()) - 1) if found else 0

    deadline = time.monotonic() + 60
    while parts_done() < 12:  # of 40
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.kill()
    proc.communicate()
    assert uploads_left(s3, bucket) == ["exampledir/exampleobject.txt"]

    again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "100% " in again.stdout
    transferred = int(again.stdout.rsplit("transferred", 1)[1])
    assert 0 < transferred < 0.8 * size
    assert sha256_object(s3, bucket, "exampledir/exampleobject.txt") == digest
    assert _records(root) == [] and uploads_left(s3, bucket) == []


def _cancel_after(fraction: float) -> tuple[threading.Event, oss.Callable[[int, int | None], None]]:
    stop = threading.Event()

    def progress(consumed: int, total: int | None) -> None:
        if total and consumed >= fraction * total:
            stop.set()

    return stop, progress


def test_restarted_when_the_file_changed_and_when_the_checkpoint_is_damaged(tmp_path, rgw, s3, bucket):
    local = tmp_path / "f.bin"
    make_file(local, 40 * MiB)
    checkpoint = tmp_path / "cp" / "f.bin.ucp"  # setCheckpointFile
    kw = {
        "multipart_threshold": 5 * MiB,
        "part_size": 5 * MiB,
        "num_threads": 2,
        "checkpoint_file": checkpoint,
    }
    b = _bucket(rgw, bucket)

    stop, progress = _cancel_after(0.3)
    with pytest.raises(InterruptedTransfer):
        oss.resumable_upload(b, "k", local, progress_callback=progress, stop=stop,
                             delete_upload_on_cancelling=False, **kw)  # fmt: skip
    assert checkpoint.exists() and uploads_left(s3, bucket) == ["k"]

    digest = make_file(local, 40 * MiB)  # the file changed: every part again
    changed = oss.resumable_upload(b, "k", local, **kw)
    assert changed.transferred == 40 * MiB and changed.parts_resumed == 0
    assert sha256_object(s3, bucket, "k") == digest
    assert not checkpoint.exists() and uploads_left(s3, bucket) == []

    stop, progress = _cancel_after(0.3)
    with pytest.raises(InterruptedTransfer):
        oss.resumable_upload(b, "k2", local, progress_callback=progress, stop=stop,
                             delete_upload_on_cancelling=False, **kw)  # fmt: skip
    text = bytearray(checkpoint.read_bytes())
    text[len(text) // 2] ^= 0x01  # one flipped bit: its checksum no longer matches
    checkpoint.write_bytes(bytes(text))
    damaged = oss.resumable_upload(b, "k2", local, **kw)
    assert damaged.transferred == 40 * MiB and damaged.parts_resumed == 0
    assert sha256_object(s3, bucket, "k2") == digest
    assert uploads_left(s3, bucket) == []  # the damaged checkpoint's upload was aborted

    # resumed when nothing changed
    stop, progress = _cancel_after(0.5)
    with pytest.raises(InterruptedTransfer):
        oss.resumable_upload(b, "k3", local, progress_callback=progress, stop=stop,
                             delete_upload_on_cancelling=False, **kw)  # fmt: skip
    resumed = oss.resumable_upload(b, "k3", local, **kw)
    assert resumed.parts_resumed > 0 and resumed.transferred < 40 * MiB
    assert sha256_object(s3, bucket, "k3") == digest


def test_cancelling_deletes_the_upload_by_default_and_checkpoints_can_be_off(tmp_path, rgw, s3, bucket):
    local = tmp_path / "f.bin"
    digest = make_file(local, 30 * MiB)
    store = oss.ResumableStore(root=tmp_path)
    kw = {"multipart_threshold": 5 * MiB, "part_size": 5 * MiB, "store": store}
    b = _bucket(rgw, bucket)
    stop, progress = _cancel_after(0.3)
    with pytest.raises(InterruptedTransfer):
        oss.resumable_upload(b, "k", local, progress_callback=progress, stop=stop, **kw)
    assert uploads_left(s3, bucket) == [] and _records(store.path) == []
    again = oss.resumable_upload(b, "k", local, **kw)
    assert again.transferred == 30 * MiB and sha256_object(s3, bucket, "k") == digest

    stop, progress = _cancel_after(0.3)
    with pytest.raises(InterruptedTransfer):
        oss.resumable_upload(b, "n", local, progress_callback=progress, stop=stop, enable_checkpoint=False,
                             delete_upload_on_cancelling=False, **kw)  # fmt: skip
    assert uploads_left(s3, bucket) == [] and _records(store.path) == []  # nothing to resume from
    plain = oss.resumable_upload(b, "n", local, enable_checkpoint=False, **kw)
    assert plain.multipart and sha256_object(s3, bucket, "n") == digest
    assert _records(store.path) == []


def test_oss2_defaults_headers_and_bad_input(tmp_path, rgw, s3, bucket, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # the default store is ~/.py-oss-upload
    local = tmp_path / "small.txt"
    local.write_text("hello")
    b = _bucket(rgw, bucket)
    seen = []
    result = oss.resumable_upload(
        b,
        "dir/small.txt",
        local,
        headers={
            "Content-Type": "text/plain",
            "Cache-Control": "no-cache",
            "x-oss-object-acl": "public-read",
            "x-oss-storage-class": "Standard",
            "x-oss-meta-team": "blue",
        },
        progress_callback=lambda done, total: seen.append((done, total)),
    )
    assert not result.multipart  # below oss2's 10 MiB threshold: one request
    assert seen[-1] == (5, 5)
    head = s3.head_object(Bucket=bucket, Key="dir/small.txt")
    assert head["ContentType"] == "text/plain" and head["CacheControl"] == "no-cache"
    assert head["Metadata"] == {"team": "blue"}
    grants = s3.get_object_acl(Bucket=bucket, Key="dir/small.txt")["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("AllUsers") for g in grants)

    big = tmp_path / "big.bin"
    digest = make_file(big, 12 * MiB)
    parts = oss.resumable_upload(b, "big", big)
    assert parts.multipart and parts.part_size == 10 * MiB  # oss2's defaults
    assert sha256_object(s3, bucket, "big") == digest
    assert not list((tmp_path / ".py-oss-upload").rglob("*.rec"))

    with pytest.raises(UsageError, match="x-oss-server-side-encryption"):
        oss.resumable_upload(b, "x", local, headers={"x-oss-server-side-encryption": "AES256"})
    with pytest.raises(UsageError, match="no such file"):
        oss.resumable_upload(b, "x", tmp_path / "missing")
    with pytest.raises(UsageError, match="not a bucket URL"):
        oss.Bucket.from_url(str(tmp_path))
    assert sha256_file(local) and "x" not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
