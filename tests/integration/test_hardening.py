"""Hostile input against the service and the CLI: internal addresses, endless bodies, huge requests, planted
symlinks, world-readable state. Each test reproduces what a careless ferry let through."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from tests.conftest import MiB
from tests.support.hostile import Hostile, body, redirect
from tests.support.service import Service, api_for, assert_error, create, free_port, node

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.support.emulators"]  # nginx

SECRET = b"internal-only answer"
INTERNAL = "127.0.0.2"
"""A loopback address the guarded service must refuse: the RGW it needs is on 127.0.0.1, allowed alone."""


@pytest.fixture
def internal():
    server = Hostile(host=INTERNAL, routes={"/secret": body(SECRET)}).start()
    yield server
    server.stop()


@pytest.fixture
def guarded(tmp_path, home):
    """A service that may reach 127.0.0.1 (the RGW) and no other internal address."""
    service = Service(
        home=home, data_dir=tmp_path / "guarded", serve_args=["--allow-network", "127.0.0.1/32"]
    ).start()
    yield service
    service.stop()


def test_the_service_refuses_internal_addresses_in_url_lists_redirects_and_endpoints(
    guarded, tmp_path, home, internal, rgw, s3, bucket
):
    port = internal.port
    bouncer = Hostile(routes={"/go": redirect(internal.url("/secret"))}).start()
    try:
        lines = [
            f"{internal.url('/secret')}\tdirect",
            f"http://2130706434:{port}/secret\tdecimal",  # 127.0.0.2 as one number
            f"http://0177.0.0.2:{port}/secret\toctal",
            f"http://[::ffff:127.0.0.2]:{port}/secret\tmapped",
            f"{bouncer.url('/go')}\tredirected",  # an allowed host that redirects inside
        ]
        seen: list[str] = []
        api = api_for(guarded, seen)
        src = {"cloud_type": "URLSource", "url_list": lines}
        group = api.wait(create(api, src, node(rgw, bucket, save_prefix="in"), task_type="URL_LIST"))
        assert (group["status_name"], group["fail_num"], group["success_num"]) == ("failed", 5, 0), group
        reasons = [obj["reason"] for obj in api.failed(group["group_id"])["objects"]]
        assert len(reasons) == 5 and all("does not connect to internal addresses" in r for r in reasons)
        assert internal.requests == []  # never reached, not even by the redirect
        assert bouncer.requests  # the allowed host was asked
        assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0

        # Endpoints naming internal addresses are refused when the group is created ...
        for endpoint in (
            "http://169.254.169.254",
            "http://[fd00:ec2::254]",
            f"http://0177.0.0.2:{port}",
            "http://2130706434",
            "http://10.0.0.1:9000",
        ):
            body_ = assert_error(
                api.post(
                    "/taskgroups",
                    json={"src_node": node(rgw, bucket, endpoint=endpoint), "dst_node": node(rgw, bucket)},
                ),
                400,
                "OMS.0064",
            )
            assert "internal addresses" in body_["error_msg"], endpoint
    finally:
        bouncer.stop()


def test_an_endpoint_resolving_inside_fails_alike_whatever_listens_there(tmp_path, home, internal, rgw):
    """Named endpoints are judged by the address they resolve to, when connecting: a closed port, a plain
    HTTP server and a real S3 server all give the one reason (the endpoint field is no port scanner)."""
    service = Service(
        home=home, data_dir=tmp_path / "other", serve_args=["--allow-network", f"{INTERNAL}/32"]
    )
    service.start()
    try:
        api = api_for(service, [])
        reasons = set()
        for port in (free_port(), internal.port, int(rgw.endpoint.rsplit(":", 1)[1])):
            endpoint = f"http://localhost:{port}"
            group = api.wait(
                create(api, node(rgw, "src-b", endpoint=endpoint), node(rgw, "dst-b", endpoint=endpoint))
            )
            assert group["status_name"] == "failed", group
            reasons.add(group["error_reason"]["error_msg"].replace(str(port), "PORT"))
        assert len(reasons) == 1 and "does not connect to internal addresses" in reasons.pop()
        assert internal.requests == []
    finally:
        service.stop()


def test_the_cli_still_reaches_what_its_user_names(tmp_path, home, internal):
    from tests.support.service import ferry_run

    result = ferry_run(home, "cp", internal.url("/secret"), str(tmp_path / "got"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "got").read_bytes() == SECRET


def test_an_endless_answer_to_a_range_is_not_read_into_memory(tmp_path, home):
    """A 206 for one byte followed by 300 MiB: ferry reads the byte it asked for and one more, then fails
    the object (before, it read the whole body into memory and then complained of its length)."""
    import subprocess
    import sys

    from tests.support.hostile import endless_range
    from tests.support.service import ferry_env

    # ferry runs under a parent of its own that reports its children's peak memory: the test's own
    # children (earlier services) would count in this process's figure
    measured = (
        "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)"
    )
    sent: list[int] = []
    server = Hostile(routes={"/one-byte": endless_range(sent)}).start()
    try:
        command = [sys.executable, "-c", measured, sys.executable, "-m", "ferry", "cp"]
        result = subprocess.run(
            [*command, server.url("/one-byte"), str(tmp_path / "got")],
            env=ferry_env(home),
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
    finally:
        server.stop()
    *messages, peak_kib = result.stderr.strip().splitlines()
    assert result.returncode != 0
    stderr = "\n".join(messages)
    assert "sent more bytes than the range" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "got").exists()
    assert sum(sent) < 64 * 1024 * 1024, sent  # the client hung up; it did not drain 300 MiB
    assert int(peak_kib) / 1024 < 250, peak_kib


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_large_bodies_get_413_before_they_are_read_and_projects_are_bounded(tmp_path, home, rgw, bucket):
    import httpx

    service = Service(
        home=home,
        data_dir=tmp_path / "small",
        serve_args=["--allow-private-endpoints", "--max-groups", "2", "--max-tasks", "3"],
    )
    service.start()
    try:
        api = api_for(service, [])
        assert service.process is not None
        before = rss_mib(service.process.pid)
        big = b'{"description": "' + b"x" * (9 * 1024 * 1024) + b'"}'
        announced = api.post("/taskgroups", content=big, headers={"Content-Type": "application/json"})
        assert_error(announced, 413, "FERRY.0413")

        def stream():  # no Content-Length: counted as it arrives
            chunk = b" " * (1024 * 1024)
            for _ in range(64):
                yield chunk

        try:
            chunked = api.post("/taskgroups", content=stream(), headers={"Content-Type": "application/json"})
            assert_error(chunked, 413, "FERRY.0413")
        except httpx.TransportError:
            pass  # the service answered and closed while the body was still being sent
        assert rss_mib(service.process.pid) - before < 40
        # A small body is still served; the project limits hold: two groups, and three tasks in all.
        src = node(rgw, bucket, object_key=["a/", "b/"])
        create(api, src, node(rgw, bucket, save_prefix="x"), task_type="PREFIX")
        body = assert_error(
            api.post("/taskgroups", json={"src_node": src, "dst_node": node(rgw, bucket)}), 400, "FERRY.0022"
        )
        assert "at most 3" in body["error_msg"]
        create(api, node(rgw, bucket, object_key=["c/"]), node(rgw, bucket, save_prefix="y"))
        body = assert_error(
            api.post("/taskgroups", json={"src_node": node(rgw, bucket), "dst_node": node(rgw, bucket)}),
            400,
            "FERRY.0022",
        )
        assert "2 task groups" in body["error_msg"]
    finally:
        service.stop()


# --- downloads never write through a link ---------------------------------------------------------------


def old_temp_name(path: Path) -> Path:
    """Where ferry used to put a download's temporary file: derived from the destination alone."""
    tag = hashlib.sha256(str(path.absolute()).encode()).hexdigest()[:12]
    return path.parent / f".{path.name[:100]}.{tag}.ferry-tmp"


@pytest.mark.parametrize("size", [1 * MiB, 12 * MiB], ids=["single", "multipart"])
def test_a_link_planted_at_the_temporary_name_is_not_written_through(ferry, tmp_path, s3, bucket, size):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"a" * size)
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    dest = tmp_path / "dl" / "obj"
    dest.parent.mkdir()
    old_temp_name(dest).symlink_to(victim)
    run = ferry("cp", f"rgw://{bucket}/obj", str(dest), "--threshold", "8MiB", "--part-size", "5MiB")
    assert run.returncode == 0, run.stderr
    assert victim.read_bytes() == b"precious"
    assert dest.read_bytes() == b"a" * size and not dest.is_symlink()


def test_a_link_inside_the_destination_folder_is_not_followed(ferry, tmp_path, s3, bucket):
    for key in ("link/x", "link/big", "ok/y"):
        s3.put_object(
            Bucket=bucket, Key=f"t/{key}", Body=key.encode() * (1 if key != "link/big" else 400_000)
        )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    dl = tmp_path / "dl"
    dl.mkdir()
    (dl / "link").symlink_to(elsewhere)
    run = ferry("cp", "-r", f"rgw://{bucket}/t/", str(dl), "--threshold", "1MiB", "--part-size", "1MiB")
    assert run.returncode != 0
    assert list(elsewhere.iterdir()) == []
    assert (dl / "ok" / "y").read_bytes() == b"ok/y"
    assert "is a symbolic link" in run.stdout + run.stderr and "Traceback" not in run.stderr


# --- ferry's state is private ------------------------------------------------------------------------------


def modes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): oct(p.stat().st_mode & 0o777) for p in [root, *root.rglob("*")]}


def test_state_folders_are_0700_and_their_files_0600_whatever_the_umask(tmp_path, config, bucket):
    import os
    import subprocess
    import sys

    home = tmp_path / "fresh-home"  # not there yet: ferry creates it
    out = tmp_path / "reports"
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a").write_bytes(b"a" * 1000)
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    env = {**os.environ, "FERRY_CONFIG": str(config), "FERRY_HOME": str(home)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-c",
                "import os, sys; os.umask(0o022); from ferry.cli.main import main; "
                "sys.exit(main(sys.argv[1:]))",
                *args,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    done = run("cp", "-r", str(tree), f"rgw://{bucket}/t/", "--output-dir", str(out))
    assert done.returncode == 0, done.stderr
    token = run("token", "create", "--project", "p", "--data-dir", str(shared))
    assert token.returncode == 0, token.stderr
    for root in (home, out):
        found = modes(root)
        assert len(found) >= 2, found
        wrong = {
            name: mode
            for name, mode in found.items()
            if mode != ("0o700" if (root / name).is_dir() else "0o600")
        }
        assert wrong == {}, wrong
    assert oct(shared.stat().st_mode & 0o777) == "0o755"  # a folder ferry did not create keeps its mode
    assert {mode for name, mode in modes(shared).items() if name != "."} == {"0o600"}


# --- secrets need not be on the command line ---------------------------------------------------------------


def test_secrets_from_standard_input_or_a_file_and_a_warning_for_one_on_the_command_line(tmp_path, home):
    import subprocess
    import sys

    from tests.support.service import ferry_env

    service = Service(home=home, data_dir=tmp_path / "svc").start()
    try:
        token = service.token("proj-1")

        def group_list(*args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "ferry",
                    "group",
                    "list",
                    "--server",
                    service.url,
                    "--project",
                    "proj-1",
                    *args,
                ],
                env=ferry_env(home, env),
                input=stdin,
                capture_output=True,
                text=True,
                timeout=60,
            )

        piped = group_list("--token", "-", stdin=token + "\n")
        assert piped.returncode == 0, piped.stderr
        assert "warning" not in piped.stderr
        secret_file = tmp_path / "token"
        secret_file.write_text(token + "\n")
        from_file = group_list(FERRY_TOKEN_FILE=str(secret_file))
        assert from_file.returncode == 0, from_file.stderr
        assert "warning" not in from_file.stderr
        flag_file = group_list("--token-file", str(secret_file))  # every secret flag has its -file twin
        assert flag_file.returncode == 0 and "warning" not in flag_file.stderr, flag_file.stderr
        no_name = group_list("--token-file")
        assert no_name.returncode == 3 and "--token-file needs a file name" in no_name.stderr
        typed = group_list("--token", token)
        assert typed.returncode == 0, typed.stderr
        warnings = [line for line in typed.stderr.splitlines() if "warning" in line]
        assert len(warnings) == 1 and "--token on the command line is visible" in warnings[0]
        assert token not in typed.stderr
        missing = group_list(FERRY_TOKEN_FILE=str(tmp_path / "nope"))
        assert (
            missing.returncode == 3
            and missing.stderr.count("\n") == 1
            and "FERRY_TOKEN_FILE" in missing.stderr
        )
    finally:
        service.stop()


# --- one destination key, one writer -----------------------------------------------------------------------


def test_two_url_list_lines_naming_one_destination_key(ferry, tmp_path):
    server = Hostile(routes={"/a": body(b"A" * MiB), "/b": body(b"B" * (3 * MiB))}).start()
    try:
        listing = tmp_path / "urls.txt"
        listing.write_text(f"{server.url('/a')}\tsame\n# a comment\n{server.url('/b')}\tsame\n")
        dl = tmp_path / "dl"
        for _ in range(3):  # the runs that used to interleave the two objects' bytes
            run = ferry("cp", "--url-list", str(listing), str(dl), "--output-dir", str(tmp_path / "out"))
            assert run.returncode != 0 and "Traceback" not in run.stderr
        assert (dl / "same").read_bytes() == b"A" * MiB
    finally:
        server.stop()
    failed = "".join(p.read_text() for p in (tmp_path / "out").glob("*failed_report*"))
    assert "URL list line 3: line 1 already names the same destination key" in failed


# --- what an upload leaves out ------------------------------------------------------------------------------


def keys_of(s3, bucket: str, prefix: str) -> set[str]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {obj["Key"][len(prefix) :] for obj in listed}


def warnings_in(out: Path) -> str:
    return "".join(p.read_text() for p in out.glob("*warning_report*"))


def test_links_are_followed_only_with_copy_links_and_only_ferrys_own_temporary_files_are_left_out(
    ferry, tmp_path, s3, bucket
):
    outside = tmp_path / "shadow"
    outside.write_text("not yours")
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "innocent.txt").symlink_to(outside)
    (tree / "report.ferry-tmp").write_text("a user's own file")
    (tree / ".big.bin.0123456789abcdef.ferry-tmp").write_text("ferry's unfinished download")
    out = tmp_path / "out"
    run = ferry("cp", "-r", str(tree), f"rgw://{bucket}/t/", "-o", str(out))
    assert run.returncode == 0, run.stderr
    assert keys_of(s3, bucket, "t/") == {"report.ferry-tmp"}
    warned = warnings_in(out)
    assert "innocent.txt" in warned and "symbolic link" in warned and "-L" in warned
    assert ".big.bin.0123456789abcdef.ferry-tmp" in warned and "temporary file" in warned

    run = ferry("cp", "-r", "-L", str(tree), f"rgw://{bucket}/l/", "-o", str(tmp_path / "out2"))
    assert run.returncode == 0, run.stderr
    assert keys_of(s3, bucket, "l/") == {"report.ferry-tmp", "innocent.txt"}
    assert s3.get_object(Bucket=bucket, Key="l/innocent.txt")["Body"].read() == b"not yours"


def test_a_folder_1500_levels_deep_is_listed_without_recursion(ferry, tmp_path, s3, bucket):
    import os

    tree = tmp_path / "deep"
    tree.mkdir()
    (tree / "top").write_text("top")
    fd = os.open(tree, os.O_RDONLY)
    for _ in range(1500):  # pathlib's mkdir(parents=True) is itself recursive
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(os.open("f", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    os.close(fd)
    try:
        run = ferry("cp", "-r", str(tree), f"rgw://{bucket}/deep/", "-o", str(tmp_path / "out"))
    finally:
        remove_chain(tree)  # pytest's own clean-up (shutil.rmtree) would recurse 1,500 levels
    assert "Traceback" not in run.stderr and "RecursionError" not in run.stderr
    assert "top" in keys_of(s3, bucket, "deep/")


def remove_chain(top: Path) -> None:
    """Delete a tree of one folder per level, bottom up, without recursion."""
    import os

    chain = [str(top)]
    while True:
        folders = [e.path for e in os.scandir(chain[-1]) if e.is_dir(follow_symlinks=False)]
        for entry in os.scandir(chain[-1]):
            if not entry.is_dir(follow_symlinks=False):
                os.unlink(entry.path)
        if not folders:
            break
        chain.append(folders[0])
    for folder in reversed(chain):
        os.rmdir(folder)


# --- untrusted keys on the terminal -------------------------------------------------------------------------


def test_a_key_with_control_characters_is_shown_escaped(ferry, tmp_path, s3, bucket):
    key = "t/evil\x1b[2K\rSucceed count: 999"
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    try:
        run = ferry("cp", "-r", f"rgw://{bucket}/t/", str(tmp_path / "dl"), "--dry-run")
    finally:
        s3.delete_object(Bucket=bucket, Key=key)  # a bulk delete (the fixture's) cannot carry ESC in XML
    assert run.returncode == 0, run.stderr
    assert "\x1b" not in run.stdout + run.stderr and "\r" not in run.stdout + run.stderr
    assert "evil\\x1b[2K\\x0dSucceed count: 999" in run.stdout


# --- TLS and expiring tokens --------------------------------------------------------------------------------


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_the_service_speaks_tls_and_tokens_expire(tmp_path, home):
    import time

    import httpx
    from tests.support.service import ferry_run

    cert, key = self_signed(tmp_path)
    service = Service(
        home=home,
        data_dir=tmp_path / "tls",
        serve_args=["--allow-private-endpoints", "--tls-cert", str(cert), "--tls-key", str(key)],
    ).start()
    try:
        assert service.url.startswith("https://")
        with pytest.raises(httpx.TransportError):  # plain HTTP is not answered
            httpx.get(
                service.url.replace("https://", "http://") + "/openapi.json", timeout=5, trust_env=False
            )
        made = ferry_run(
            home,
            "token",
            "create",
            "--project",
            "p",
            "--data-dir",
            str(service.data_dir),
            "--expires-in",
            "2",
        )
        assert made.returncode == 0, made.stderr
        api = api_for(service, [], project="p", token=made.stdout.strip())
        assert api.get("/taskgroups").status_code == 200
        time.sleep(2.5)
        expired = assert_error(api.get("/taskgroups"), 401, "FERRY.0012")
        assert "expired" in expired["error_msg"]
        bad = ferry_run(
            home,
            "token",
            "create",
            "--project",
            "p",
            "--data-dir",
            str(service.data_dir),
            "--expires-in",
            "soon",
        )
        assert bad.returncode == 3 and "--expires-in" in bad.stderr
    finally:
        service.stop()
    half = ferry_run(home, "serve", "--tls-cert", str(cert), "--data-dir", str(tmp_path / "half"))
    assert half.returncode == 3 and "go together" in half.stderr


def test_unreachable_endpoints_give_one_reason_whatever_is_there(tmp_path, home, rgw, bucket, nginx):
    """Allowed addresses that do not answer as the expected server — a closed port, nginx (HTTP but not
    S3), TLS to a plain-HTTP port — fail with one generic reason for the caller; only the service's own log
    has the cause. Wrong keys at a real S3 server may still say so. URL-list hosts alike."""
    service = Service(home=home, data_dir=tmp_path / "svc").start()  # --allow-private-endpoints
    try:
        api = api_for(service, [])
        closed = free_port()
        nginx_port = int(nginx.url.rsplit(":", 1)[1])
        reasons = {}
        for name, endpoint in (
            ("closed", f"http://127.0.0.1:{closed}"),
            ("nginx", nginx.url),
            ("tls", f"https://127.0.0.1:{nginx_port}"),
            ("dns", "http://no-such-host.invalid"),
        ):
            group = api.wait(
                create(
                    api, node(rgw, "src-b", endpoint=endpoint), node(rgw, bucket), transfer={"retries": 1}
                ),
                timeout=120,
            )
            assert group["status_name"] == "failed", group
            reasons[name] = group["error_reason"]["error_msg"]
        assert len(set(reasons.values())) == 1, reasons
        assert "could not be reached or did not answer as an S3 server" in reasons["closed"]
        assert str(closed) not in reasons["closed"] and str(nginx_port) not in reasons["nginx"]
        log = service.log()
        assert "talking to" in log or "Connection refused" in log  # the operator keeps the cause

        wrong = api.wait(create(api, node(rgw, bucket, sk="not-the-secret-key"), node(rgw, bucket)))
        assert "credentials were refused" in wrong["error_reason"]["error_msg"], wrong

        lines = [f"http://127.0.0.1:{closed}/a.txt\ta.txt", f"https://127.0.0.1:{nginx_port}/b.txt\tb.txt"]
        group_id = create(
            api,
            {"cloud_type": "URLSource", "url_list": lines},
            node(rgw, bucket),
            task_type="URL_LIST",
            transfer={"retries": 1},
        )
        assert api.wait(group_id, timeout=120)["status_name"] == "failed"
        failed = {obj["dest_key"]: obj["reason"] for obj in api.failed(group_id)["objects"]}
        assert failed["a.txt"].split(": ", 1)[1] == failed["b.txt"].split(": ", 1)[1], failed
        assert "could not be reached or did not answer as an HTTP server" in failed["a.txt"]
    finally:
        service.stop()
