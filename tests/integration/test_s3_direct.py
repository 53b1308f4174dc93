"""The S3 store's direct path for whole small objects (PUT, ranged GET, CopyObject signed by ferry itself)
against the real RGW: the same bytes, metadata and errors as the botocore path it stands in for, and the
same retries when the network fails mid-request."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tests.conftest import ferry_env, write_remotes
from tests.support.faultproxy import FaultProxy, Rule

from ferry.config import RemoteConfig
from ferry.errors import FerryError
from ferry.storage.base import WriteOptions
from ferry.storage.s3 import ClientSettings, S3Connection, S3Store

pytestmark = pytest.mark.integration

KEYS = [
    "plain.bin",
    "dir/sub/with space+plus%25~tilde.bin",
    "ünïcödé/ключ.txt",
    "a=b&c;d,e'(f)!*.bin",
    "dir/",
]


def stores(rgw, bucket: str, *, secret: str | None = None, second: bool = False) -> tuple[S3Store, S3Store]:
    """The same bucket through the direct path and through botocore alone."""
    remote = RemoteConfig(
        name="rgw",
        endpoint=rgw.endpoint,
        access_key=rgw.access_key_2 if second else rgw.access_key,
        secret_key=secret or (rgw.secret_key_2 if second else rgw.secret_key),
        region="us-east-1",
    )
    direct = S3Store(S3Connection(remote, ClientSettings()), bucket, "rgw")
    plain = S3Store(S3Connection(remote, ClientSettings()), bucket, "rgw")
    plain._direct = None
    assert direct._direct is not None, "the direct path was not chosen for a path-style endpoint"
    return direct, plain


def outcome(call: Callable[[], object]) -> tuple[str, str]:
    try:
        call()
    except FerryError as exc:
        return type(exc).__name__, str(exc)
    return "ok", ""


@pytest.mark.parametrize("key", KEYS)
def test_bytes_and_metadata_round_trip_like_botocore(rgw, s3, bucket, bucket2, key):
    direct, plain = stores(rgw, bucket)
    data = b"" if key.endswith("/") else os.urandom(16 * 1024 + 7)
    options = WriteOptions(
        metadata={"md5chksum": "abc", "owner": "ferry"}, content_type="text/x-test", cache_control="max-age=5"
    )
    md5 = hashlib.md5(data).hexdigest()
    etag = direct.put(key, data, options, md5_hex=md5)
    head = s3.head_object(Bucket=bucket, Key=key)
    assert etag == head["ETag"].strip('"') == md5
    assert head["Metadata"] == {"md5chksum": "abc", "owner": "ferry"}
    assert head["ContentType"] == "text/x-test" and head["CacheControl"] == "max-age=5"
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data
    if data:
        assert direct.read_range(key, 0, len(data), if_match=etag) == data
        assert direct.read_range(key, 5, 100) == plain.read_range(key, 5, 100) == data[5:105]
    target, _ = stores(rgw, bucket2)
    copied = target.copy_object(key, direct, key, None, etag)
    assert copied == md5
    assert s3.get_object(Bucket=bucket2, Key=key)["Body"].read() == data
    assert s3.head_object(Bucket=bucket2, Key=key)["Metadata"] == head["Metadata"]
    replaced = target.copy_object(key + "-new", direct, key, WriteOptions(metadata={"x": "y"}), None)
    assert replaced == md5
    assert s3.head_object(Bucket=bucket2, Key=key + "-new")["Metadata"] == {"x": "y"}


def test_errors_are_the_same_one_line_messages_as_botocore(rgw, s3, bucket, other_bucket):
    direct, plain = stores(rgw, bucket)
    s3.put_object(Bucket=bucket, Key="there.bin", Body=b"0123456789")
    etag = s3.head_object(Bucket=bucket, Key="there.bin")["ETag"].strip('"')
    missing_direct, missing_plain = stores(rgw, "no-such-bucket-h14")
    foreign_direct, foreign_plain = stores(rgw, other_bucket)
    wrong_direct, wrong_plain = stores(rgw, bucket, secret="not-the-secret")
    cases: list[tuple[str, Callable[[S3Store], object], S3Store, S3Store]] = [
        ("no such bucket: put", lambda s: s.put("k", b"x", WriteOptions()), missing_direct, missing_plain),
        ("no such bucket: get", lambda s: s.read_range("k", 0, 1), missing_direct, missing_plain),
        ("access denied: put", lambda s: s.put("k", b"x", WriteOptions()), foreign_direct, foreign_plain),
        ("access denied: get", lambda s: s.read_range("k", 0, 1), foreign_direct, foreign_plain),
        ("wrong key: put", lambda s: s.put("k", b"x", WriteOptions()), wrong_direct, wrong_plain),
        ("wrong key: get", lambda s: s.read_range("there.bin", 0, 1), wrong_direct, wrong_plain),
        ("no such key", lambda s: s.read_range("absent.bin", 0, 1), direct, plain),
        ("changed source", lambda s: s.read_range("there.bin", 0, 10, if_match="0" * 32), direct, plain),
        ("short read", lambda s: s.read_range("there.bin", 0, 20), direct, plain),
        ("copy, changed source", lambda s: s.copy_object("c", s, "there.bin", None, "0" * 32), direct, plain),
        ("copy, no source", lambda s: s.copy_object("c", s, "absent.bin", None, None), direct, plain),
        ("copy, etag", lambda s: s.copy_object("c", s, "there.bin", None, etag), direct, plain),
    ]
    for name, call, fast, slow in cases:
        got, expected = outcome(lambda: call(fast)), outcome(lambda: call(slow))  # noqa: B023 - called here
        assert got == expected, name
        assert "\n" not in got[1] and "Traceback" not in got[1], name
    assert outcome(lambda: missing_direct.put("k", b"x", WriteOptions()))[0] == "BucketMissingError"
    assert outcome(lambda: foreign_direct.put("k", b"x", WriteOptions()))[0] == "BucketError"
    assert outcome(lambda: wrong_direct.put("k", b"x", WriteOptions()))[0] == "CredentialsError"


@pytest.fixture
def proxy(rgw):
    with FaultProxy(rgw.endpoint) as running:
        yield running


def test_faults_mid_request_are_retried_and_the_bytes_arrive_whole(
    tmp_path: Path, ferry, rgw, s3, bucket, proxy
):
    config = write_remotes(
        tmp_path / "flaky.toml", rgw, extra={"flaky": proxy.url}, defaults="read_timeout = 2"
    )
    tree = tmp_path / "tree"
    tree.mkdir()
    files = {f"o{i:02d}.bin": os.urandom(16 * 1024) for i in range(12)}
    for name, data in files.items():
        (tree / name).write_bytes(data)
    proxy.add_rule(Rule("reset_request", method="PUT", path_contains="o03.bin", times=1, name="reset-up"))
    proxy.add_rule(
        Rule(
            "status", method="PUT", path_contains="o07.bin", times=1, status=503, code="SlowDown", name="503"
        )
    )
    up = ferry("cp", "-r", str(tree), f"flaky://{bucket}/t/", config_path=config)
    assert up.returncode == 0, up.stderr
    for name, data in files.items():
        assert s3.get_object(Bucket=bucket, Key=f"t/{name}")["Body"].read() == data
    proxy.add_rule(Rule("reset_response", method="GET", path_contains="o05.bin", times=1, name="reset-down"))
    down = tmp_path / "down"
    got = ferry("cp", "-r", f"flaky://{bucket}/t/", str(down), config_path=config)
    assert got.returncode == 0, got.stderr
    assert {p.name: p.read_bytes() for p in down.rglob("*.bin")} == files
    proxy.add_rule(
        Rule("reset_response", method="PUT", path_contains="c/o09.bin", times=1, name="reset-copy")
    )
    copied = ferry("cp", "-r", f"flaky://{bucket}/t/", f"flaky://{bucket}/c/", config_path=config)
    assert copied.returncode == 0, copied.stderr
    for name, data in files.items():
        assert s3.get_object(Bucket=bucket, Key=f"c/{name}")["Body"].read() == data
    assert {"reset-up", "503", "reset-down", "reset-copy"} <= {f.name for f in proxy.fired}


def test_small_copies_and_downloads_ask_no_head_when_the_listing_said_enough(
    tmp_path, ferry, rgw, s3, bucket, proxy
):
    config = write_remotes(tmp_path / "counted.toml", rgw, extra={"counted": proxy.url})
    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f"src/o{i}.bin", Body=os.urandom(4096), Metadata={"n": str(i)})
    proxy.reset_stats()
    copied = ferry("cp", "-r", f"counted://{bucket}/src/", f"counted://{bucket}/dst/", config_path=config)
    assert copied.returncode == 0, copied.stderr
    methods = [r.method for r in proxy.requests]
    assert "HEAD" not in methods and methods.count("PUT") == 5, methods
    for i in range(5):  # the source's metadata is kept
        assert s3.head_object(Bucket=bucket, Key=f"dst/o{i}.bin")["Metadata"] == {"n": str(i)}
    proxy.reset_stats()
    down = ferry("cp", "-r", f"counted://{bucket}/dst/", str(tmp_path / "down"), config_path=config)
    assert down.returncode == 0, down.stderr
    methods = [r.method for r in proxy.requests]
    assert "HEAD" not in methods and methods.count("GET") == 6, methods  # a listing and five objects


def test_listings_are_the_same_as_botocore_across_pages_and_odd_keys(rgw, s3, bucket):
    keys = [f"p/many/{i:05d}" for i in range(1003)] + [f"p/{key}" for key in KEYS] + ["p+q/x", "other/y"]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: s3.put_object(Bucket=bucket, Key=key, Body=key.encode()), keys))
    direct, plain = stores(rgw, bucket)
    for prefix in ("p/", "", "p/ünïcödé/", "p/dir/sub/with space+", "absent/"):
        assert list(direct.list(prefix)) == list(plain.list(prefix)), prefix
    assert len(list(direct.list("p/many/"))) == 1003
    missing_direct, missing_plain = stores(rgw, "no-such-bucket-h14")
    assert outcome(lambda: list(missing_direct.list("p/"))) == outcome(lambda: list(missing_plain.list("p/")))
    assert outcome(lambda: list(missing_direct.list("p/")))[0] == "BucketMissingError"


def test_one_object_commands_move_the_bytes_without_loading_botocore(tmp_path, config, home, s3, bucket):
    """A one-object upload, download and copy on a plain remote (endpoint and keys in ferry's config)
    go through the direct path alone — HEAD included — so botocore, most of a command's start, is never
    imported (nor Typer and its click, SQLAlchemy, or ssl for a plain-HTTP endpoint); a delete (botocore's) in
    the same process still works, its client made when needed."""
    data = os.urandom(70_000)
    (tmp_path / "one.bin").write_bytes(data)
    script = (
        "import sys\n"
        "from ferry.cli.main import main\n"
        "codes = [main(['cp', '-q', '-f', sys.argv[1], sys.argv[2] + '/up.bin']),\n"
        "         main(['cp', '-q', '-f', sys.argv[2] + '/up.bin', sys.argv[3]]),\n"
        "         main(['cp', '-q', '-f', sys.argv[2] + '/up.bin', sys.argv[2] + '/copy.bin'])]\n"
        "heavy = ('botocore', 'typer', 'click', 'sqlalchemy', 'ssl')\n"
        "print(codes, [name for name in heavy if name in sys.modules])\n"
        "from ferry.storage import StoreOpener\n"
        "from ferry.config import load_config\n"
        "from ferry.urls import parse_location\n"
        "store, key = StoreOpener(load_config()).open(parse_location(sys.argv[2] + '/copy.bin'))\n"
        "store.delete(key)\n"
        "print('botocore' in sys.modules)\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            str(tmp_path / "one.bin"),
            f"rgw://{bucket}",
            str(tmp_path / "back.bin"),
        ],
        env=ferry_env(config, home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == ["[0, 0, 0] []", "True"], done.stdout + done.stderr
    assert (tmp_path / "back.bin").read_bytes() == data
    assert s3.get_object(Bucket=bucket, Key="up.bin")["Body"].read() == data
    assert s3.list_objects_v2(Bucket=bucket, Prefix="copy.bin").get("KeyCount") == 0


def _at_a_terminal(args: list[str], env: dict[str, str], answer: bytes) -> tuple[int, str]:
    """Run ferry with a terminal as its standard input and output; answer its question with ``answer``."""
    import pty
    import select
    import time

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ferry", *args], stdin=follower, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    seen, answered, deadline = b"", False, time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the process ended and closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            if not answered and b"Overwrite?" in seen:
                os.write(leader, answer)
                answered = True
            if proc.poll() is not None and not ready:
                break
        return proc.wait(timeout=30), seen.decode(errors="replace")
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()


def test_an_existing_file_is_replaced_only_when_the_person_at_the_terminal_says_so(
    tmp_path, config, home, s3, bucket
):
    """At a terminal, a one-object download onto an existing file asks first (the question is Typer's,
    loaded only then): "n" leaves the file as it was and exits 9, "y" replaces it."""
    data = os.urandom(20_000)
    s3.put_object(Bucket=bucket, Key="asked.bin", Body=data)
    local = tmp_path / "asked.bin"
    local.write_bytes(b"keep me")
    args = ["cp", f"rgw://{bucket}/asked.bin", str(local)]
    code, shown = _at_a_terminal(args, ferry_env(config, home), b"n\n")
    assert "exists. Overwrite?" in shown and code == 9, shown
    assert local.read_bytes() == b"keep me"
    code, shown = _at_a_terminal(args, ferry_env(config, home), b"y\n")
    assert code == 0 and "Result:            succeeded" in shown, shown
    assert local.read_bytes() == data
