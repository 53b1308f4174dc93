"""A catalogue of bad input: CLI flags, config values, API bodies, URL-list lines and object keys. Each must
give one clear line naming the cause, the documented exit code (3 for the CLI) or HTTP status (400, 413),
no traceback, and leave the destination as it was."""

from __future__ import annotations

import io
import json
import sys

import pytest
from tests.conftest import write_remotes
from tests.support.service import Service, api_for, node

from ferry.cli.main import main
from ferry.tasks.keys import UnsafeKeyError, safe_local_path
from ferry.tasks.urllist import parse_lines

pytestmark = pytest.mark.integration

BIG = "9" * 400

SIZE_VALUES = [BIG, "-1", "abc", "1e9", "", "0x10", "5XB", "1.5", "1.5B", f"{BIG}MiB", "12 34", "∞"]
SIZE_FLAGS = ["--threshold", "--part-size", "--bwlimit", "--copy-threshold"]

CLI_CASES: list[list[str]] = [
    *[[flag, value] for flag in SIZE_FLAGS for value in SIZE_VALUES],
    *[["--parallel", v] for v in ("0", "-1", "257", "abc", BIG, "1.5")],
    *[["--retries", v] for v in ("-1", "101", "x", BIG)],
    *[["-r", "-j", v] for v in ("0", "99999", "x")],
    *[["-r", "--time-range", v] for v in ("abc", "2024-13-01", "20240101-20230101", "-", "9" * 30)],
    *[["--meta", v] for v in ("a", ":v", "k\x00:v", "a b:c")],
    ["--payer", "bogus"],
    ["--bogus"],
    ["--include", "*", "--bogus-too"],
    ["--part-size", "1KiB"],
    ["--part-size", "6GiB"],
    ["--bwlimit", "100"],
    ["-o", "out"],  # -o without -r
    ["--mf"],
    ["--clear"],
    *[[*flags] for flags in (["--include", "*.txt"], ["--exclude", "x"], ["-j", "2"], ["-L"])],
    ["--time-range", "20240101-20240102"],
]
"""Flags added to ``cp SRC rgw://BUCKET/dst/obj``."""

LOCATION_CASES: list[tuple[list[str], int]] = [
    (["cp"], 3),
    (["cp", "only-one"], 3),
    (["cp", "SRC", "rgw://"], 3),
    (["cp", "SRC", "nosuchremote://bucket/key"], 3),
    (["cp", "SRC", "rgw://ab/key"], 3),
    (["cp", "SRC", "rgw://" + "b" * 64 + "/key"], 3),
    (["cp", "SRC", "rgw://no-such-bucket-of-ferry/key"], 4),
    (["cp", "/no/such/file", "rgw://BUCKET/dst/obj"], 1),
    (["cp", "-r", "SRC", "rgw://BUCKET/dst/"], 3),  # -r needs a folder
    (["cp", "--url-list", "/no/such/list", "rgw://BUCKET/dst/"], 1),
    (["cp", "--url-list", "DIR", "rgw://BUCKET/dst/"], 1),
    (["cp", "SRC", "DIR2"], 7),  # both local
    (["cp", "http://127.0.0.1:1/x", "rgw://BUCKET/dst/obj", "--threshold", "-5"], 3),
    (["task", "show", "no-such-task"], 2),
    (["task", "resume", "no-such-task"], 2),
    (["nosuchcommand"], 3),
]
"""Whole command lines, and the exit code the README documents for each (1 not found, 2 no such task, 3 bad
arguments, 4 bucket missing, 7 unsupported)."""

CONFIG_CASES: list[str] = [
    '[defaults]\nparallel = "many"\n',
    "[defaults]\nparallel = 1.5\n",
    "[defaults]\nparallel = true\n",
    "[defaults]\ncheckpoint_dir = 5\n",
    '[defaults]\ncheckpoint_dir = ""\n',
    "[defaults]\nread_timeout = -1\n",
    "[defaults]\nread_timeout = 0\n",
    '[defaults]\nconnect_timeout = "x"\n',
    "[defaults]\nconnect_timeout = 1e300\n",
    "[defaults]\nthreshold = 5\n",
    f'[defaults]\nthreshold = "{BIG}"\n',
    "[defaults]\nretries = 1.5\n",
    "[defaults]\nretries = -3\n",
    "[defaults]\nnosuchkey = 1\n",
    "defaults = 5\n",
    "[defaults\n",
    "[remotes.rgw]\nendpoint = 5\n",
    "remotes = 5\n",
]


@pytest.fixture
def cli(tmp_path, monkeypatch, config):
    """Run ``ferry`` in this process: (exit code, stdout, stderr). The suite is hundreds of runs."""
    home = tmp_path / "home"
    monkeypatch.setenv("FERRY_HOME", str(home))
    monkeypatch.setenv("FERRY_CONFIG", str(config))
    monkeypatch.delenv("FERRY_CDN_AUTH_KEY", raising=False)

    def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        try:
            code = main(args)
        except BaseException as exc:
            out, err = capsys.readouterr()
            return -1, out, f"{err}\nescaped {type(exc).__name__}: {exc}"
        out, err = capsys.readouterr()
        return code, out, err

    return run


def one_line_error(code: int, err: str, expected: int = 3) -> str | None:
    """Why the answer to a bad input is not a clean refusal, or ``None``."""
    lines = [line for line in err.splitlines() if line.strip()]
    if code != expected:
        return f"exit {code}, expected {expected}: {err!r}"
    if "Traceback" in err or "escaped" in err:
        return f"traceback: {err!r}"
    errors = [line for line in lines if line.startswith("ferry: error: ")]
    if len(errors) != 1 or len(lines) != 1:
        return f"not one error line: {err!r}"
    return None


def untouched(s3, bucket: str) -> bool:
    return s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


def test_cli_flags_and_locations(cli, capsys, tmp_path, s3, bucket):
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 1000)
    (tmp_path / "dir").mkdir()
    names = {"SRC": str(src), "DIR": str(tmp_path / "dir"), "DIR2": str(tmp_path / "dir2"), "BUCKET": bucket}
    problems = []
    cases = [(["cp", str(src), f"rgw://{bucket}/dst/obj", *flags], 3) for flags in CLI_CASES]
    cases += [([_fill(arg, names) for arg in case], code) for case, code in LOCATION_CASES]
    for args, expected in cases:
        code, _, err = cli(args, capsys)
        problem = one_line_error(code, err, expected)
        if problem:
            problems.append(f"{args!r}: {problem}")
    assert not problems, "\n".join(problems)
    assert untouched(s3, bucket) and not (tmp_path / "dir2").exists()
    assert len(cases) >= 100


def _fill(arg: str, names: dict[str, str]) -> str:
    for name, value in names.items():
        if arg == name:
            return value
        arg = arg.replace(f"://{name}/", f"://{value}/")
    return arg


def test_config_values(cli, capsys, tmp_path, monkeypatch, rgw, s3, bucket):
    src = tmp_path / "src.bin"
    src.write_bytes(b"x")
    problems = []
    for n, text in enumerate(CONFIG_CASES):
        path = write_remotes(tmp_path / f"c{n}.toml", rgw)
        remotes = path.read_text().removeprefix("[defaults]\n")
        path.write_text(text + remotes if text.startswith("[defaults]\n") else text)
        monkeypatch.setenv("FERRY_CONFIG", str(path))
        code, _, err = cli(["cp", str(src), f"rgw://{bucket}/dst/obj"], capsys)
        problem = one_line_error(code, err)
        if problem:
            problems.append(f"{text!r}: {problem}")
    assert not problems, "\n".join(problems)
    assert untouched(s3, bucket)


def _api_bodies(rgw, bucket: str) -> list[tuple[str, object]]:
    good = {"src_node": node(rgw, bucket), "dst_node": node(rgw, bucket, save_prefix="d")}

    def with_src(**changes: object) -> dict:
        return {**good, "src_node": {**good["src_node"], **changes}}

    def with_transfer(**changes: object) -> dict:
        return {**good, "transfer": changes}

    bodies: list[tuple[str, object]] = [
        ("array", [good]),
        ("string", "hello"),
        ("number", 5),
        ("null", None),
        ("empty", {}),
        ("no src", {"dst_node": good["dst_node"]}),
        ("no dst", {"src_node": good["src_node"]}),
        ("src not object", {**good, "src_node": "x"}),
        ("unknown field", {**good, "bogus": 1}),
        ("task_type", {**good, "task_type": "BOGUS"}),
        ("description <", {**good, "description": "<script>"}),
        ("description long", {**good, "description": "d" * 300}),
        ("overwrite", {**good, "overwrite": "sometimes"}),
        ("check", {**good, "consistency_check": "vibes"}),
        ("migrate_since", {**good, "migrate_since": "yesterday"}),
        ("migrate_since big", {**good, "migrate_since": int(BIG)}),
        ("cloud_type", with_src(cloud_type="Bogus")),
        ("cloud_type number", with_src(cloud_type=5)),
        ("no bucket", with_src(bucket=None)),
        ("bucket long", with_src(bucket="b" * 2000)),
        ("endpoint ftp", with_src(endpoint="ftp://h/")),
        ("endpoint bare", with_src(endpoint="http://")),
        ("endpoint port", with_src(endpoint="http://h:99999")),
        ("endpoint port text", with_src(endpoint="http://h:port")),
        ("endpoint password", with_src(endpoint="http://user:pw@h")),
        ("endpoint metadata", with_src(endpoint="http://169.254.169.254")),
        ("endpoint ula", with_src(endpoint="http://[fd00:ec2::254]")),
        ("endpoint decimal", with_src(endpoint="http://2130706434")),
        ("endpoint octal", with_src(endpoint="http://0177.0.0.2")),
        ("endpoint private", with_src(endpoint="http://10.1.2.3:9000")),
        ("endpoint long", with_src(endpoint="http://" + "h" * 2000)),
        ("no ak", with_src(ak=None)),
        ("sk long", with_src(sk="s" * 500)),
        ("object_key not list", with_src(object_key="a")),
        ("object_key overlap", with_src(object_key=["a/", "a/b/"])),
        ("list no keys", {**good, "task_type": "LIST"}),
        ("url list on S3", {**good, "task_type": "URL_LIST"}),
        (
            "url source empty",
            {**good, "src_node": {"cloud_type": "URLSource", "url_list": []}, "task_type": "URL_LIST"},
        ),
        ("url source as dst", {**good, "dst_node": {"cloud_type": "URLSource"}}),
        (
            "url_list not list",
            {**good, "src_node": {"cloud_type": "URLSource", "url_list": "x"}, "task_type": "URL_LIST"},
        ),
        ("threshold huge", with_transfer(threshold=BIG)),
        ("threshold text", with_transfer(threshold="abc")),
        ("part_size huge", with_transfer(part_size=BIG)),
        ("part_size small", with_transfer(part_size="1KiB")),
        ("bwlimit huge", with_transfer(bwlimit=BIG)),
        ("parallel text", with_transfer(parallel="many")),
        ("parallel zero", with_transfer(parallel=0)),
        ("parallel huge", with_transfer(parallel=int(BIG))),
        ("jobs huge", with_transfer(jobs=10**9)),
        ("retries negative", with_transfer(retries=-1)),
        ("transfer unknown", with_transfer(bogus=1)),
    ]
    return bodies


def test_api_bodies(tmp_path, home, rgw, s3, bucket):
    service = Service(home=home, data_dir=tmp_path / "svc", serve_args=["--allow-network", "127.0.0.1/32"])
    service.start()
    try:
        api = api_for(service, [])
        problems = []
        bodies = _api_bodies(rgw, bucket)
        raw = [
            ("not json", b"{not json"),
            ("truncated", b'{"src_node": {'),
            ("bad utf-8", b'{"description": "\xff\xfe"}'),
            ("deep nesting", b"[" * 5000 + b"]" * 5000),
            ("big number", b'{"migrate_since": 1' + b"0" * 5000 + b"}"),
        ]
        answers = [(name, api.post("/taskgroups", json=body)) for name, body in bodies]
        answers += [
            (name, api.post("/taskgroups", content=data, headers={"Content-Type": "application/json"}))
            for name, data in raw
        ]
        answers += [
            ("retry unknown", api.put("/taskgroups/nope/retry", json={})),
            ("list limit", api.get("/taskgroups", params={"limit": BIG})),
            ("list offset", api.get("/taskgroups", params={"offset": -1})),
            ("list status", api.get("/taskgroups", params={"status": "x" * 5000})),
        ]
        for name, response in answers:
            expected = 400  # a body over the limit (413) is test_hardening's
            try:
                body = response.json()
            except json.JSONDecodeError:
                problems.append(f"{name}: not JSON: {response.text[:200]!r}")
                continue
            if response.status_code != expected:
                problems.append(f"{name}: HTTP {response.status_code}, expected {expected}: {body}")
            elif (
                set(body) != {"error_code", "error_msg"} or "\n" in body["error_msg"] or not body["error_msg"]
            ):
                problems.append(f"{name}: not one error line: {body}")
        assert not problems, "\n".join(problems)
        assert api.get("/taskgroups").json()["count"] == 0
        assert untouched(s3, bucket)
        assert "Traceback" not in service.log()
        assert len(answers) >= 60
    finally:
        service.stop()


URL_LINES = [
    "http://h/x",
    "ftp://h/x\tk",
    "h/x\tk",
    "http://h/x\t",
    "http://h/x\t../up",
    "http://h/x\t/abs",
    "http://h/x\ta//b",
    "http://h/x\tdir/",
    "http://h/x\ta\tb",
    "http://h/dir/\tk",
    "http://u:p@h/x\tk",
    "http://h/x\tk\udcff",
    "http://\tk",
    "http://h:99999/x\tk",
    "http://h:port/x\tk",
    "http://h/x\t.",
    "http://h/x\ta/./b",
    "http://h/x\t" + "c" * 300,
    "http://h/x\tk\x00",
    "javascript:alert(1)\tk",
    "file:///etc/passwd\tk",
    "\tk",
]


def test_url_list_lines():
    entries = list(parse_lines(URL_LINES))
    assert len(entries) == len(URL_LINES)
    for number, entry in enumerate(entries, 1):
        assert entry.problem is not None, entry
        assert entry.problem.startswith(f"URL list line {number}: ") and "\n" not in entry.problem
        assert entry.url == "" and entry.key == ""


UNSAFE_KEYS = [
    "..",
    "../x",
    "a/../../x",
    "/abs",
    "a//b",
    "a/./b",
    ".",
    "x\x00y",
    "a/" + "c" * 300,
    "",
    "/",
    "./",
]


def test_object_keys():
    for key in UNSAFE_KEYS:
        with pytest.raises(UnsafeKeyError) as caught:
            safe_local_path("/dest", key)
        assert str(caught.value) and "\n" not in str(caught.value)


def test_the_catalogue_holds_at_least_150_cases():
    total = len(CLI_CASES) + len(LOCATION_CASES) + len(CONFIG_CASES) + 60 + len(URL_LINES) + len(UNSAFE_KEYS)
    assert total >= 150, total
