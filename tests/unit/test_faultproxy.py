"""Tests of the fault-injecting proxy against a small real HTTP server, over real sockets."""

from __future__ import annotations

import hashlib
import http.client
import json
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
try:
    from tests.support.faultproxy import FaultProxy, Firing, Rule, load_rules
except ImportError:  # pragma: no cover - only without pyproject's pythonpath / cwd on sys.path
    sys.path.insert(0, str(REPO))
    from tests.support.faultproxy import FaultProxy, Firing, Rule, load_rules

BLOB = random.Random(20240521).randbytes(3 * 1024 * 1024 + 17)
PIECE = 100 * 1024


# --------------------------------------------------------------------------- the upstream


class Upstream(ThreadingHTTPServer):
    daemon_threads = True
    hits: list[tuple[str, str, int]]  # (method, path, client port)
    lock: threading.Lock

    def note(self, method: str, path: str, port: int) -> None:
        with self.lock:
            self.hits.append((method, path, port))

    def paths(self) -> list[str]:
        with self.lock:
            return [p for _m, p, _port in self.hits]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10
    server: Upstream

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _note(self) -> None:
        self.server.note(self.command, self.path, self.client_address[1])

    def _send(self, status: int, body: bytes, ctype: str = "application/octet-stream") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._note()
        if self.path == "/headers":
            body = json.dumps([[k, v] for k, v in self.headers.items()]).encode()
            self._send(200, body, "application/json")
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(BLOB), PIECE):
                piece = BLOB[i : i + PIECE]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/close":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(BLOB)
            self.close_connection = True
        else:
            self._send(200, BLOB)

    def do_HEAD(self) -> None:
        self._note()
        self.send_response(200)
        self.send_header("Content-Length", str(len(BLOB)))
        self.end_headers()

    def do_PUT(self) -> None:
        self._note()
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        if chunked:
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            body = b"".join(parts)
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        answer = {
            "sha256": hashlib.sha256(body).hexdigest(),
            "length": len(body),
            "chunked": chunked,
            "expect": self.headers.get("Expect"),
        }
        self._send(200, json.dumps(answer).encode(), "application/json")


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    server = Upstream(("127.0.0.1", 0), Handler)
    server.hits = []
    server.lock = threading.Lock()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def upstream_url(upstream: Upstream) -> str:
    with upstream.lock:
        upstream.hits.clear()
    return f"http://127.0.0.1:{upstream.server_address[1]}"


@pytest.fixture
def proxy(upstream_url: str) -> Iterator[FaultProxy]:
    with FaultProxy(upstream_url, timeout=10) as p:
        yield p


def connect(proxy: FaultProxy, timeout: float = 5.0) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=timeout)


def get(conn: http.client.HTTPConnection, path: str, method: str = "GET") -> tuple[int, bytes]:
    conn.request(method, path)
    resp = conn.getresponse()
    return resp.status, resp.read()


def put(conn: http.client.HTTPConnection, path: str, body: Any, **kw: Any) -> dict[str, Any]:
    conn.request("PUT", path, body=body, **kw)
    resp = conn.getresponse()
    assert resp.status == 200
    result: dict[str, Any] = json.loads(resp.read())
    return result


# --------------------------------------------------------------------------- forwarding


def test_forwarding_is_byte_identical_on_one_keep_alive_connection(
    proxy: FaultProxy, upstream: Upstream
) -> None:
    payload = random.Random(7).randbytes(1024 * 1024 + 3)
    conn = connect(proxy)
    assert get(conn, "/blob") == (200, BLOB)

    conn.request("HEAD", "/blob")
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Content-Length") == str(len(BLOB))
    assert resp.read() == b""

    answer = put(conn, "/bucket/key?partNumber=1", payload)
    assert answer == {
        "sha256": hashlib.sha256(payload).hexdigest(),
        "length": len(payload),
        "chunked": False,
        "expect": None,
    }
    pieces = [payload[i : i + 70_000] for i in range(0, len(payload), 70_000)]
    answer = put(conn, "/bucket/chunked", iter(pieces), encode_chunked=True)
    assert answer["chunked"] is True
    assert answer["sha256"] == hashlib.sha256(payload).hexdigest()

    assert get(conn, "/chunked") == (200, BLOB)
    conn.close()

    # one client connection, and one upstream connection reused for all of it
    assert proxy.connections == 1
    assert len({port for _m, _p, port in upstream.hits}) == 1
    records = proxy.requests
    assert [(r.method, r.path, r.status) for r in records] == [
        ("GET", "/blob", 200),
        ("HEAD", "/blob", 200),
        ("PUT", "/bucket/key?partNumber=1", 200),
        ("PUT", "/bucket/chunked", 200),
        ("GET", "/chunked", 200),
    ]
    assert records[0].resp_bytes == len(BLOB)
    assert records[1].resp_bytes == 0
    assert records[2].req_bytes == records[3].req_bytes == len(payload)
    assert proxy.bytes_up == 2 * len(payload)
    assert proxy.bytes_down == sum(r.resp_bytes for r in records)
    assert proxy.fired == []


def test_response_delimited_by_close(proxy: FaultProxy) -> None:
    conn = connect(proxy)
    assert get(conn, "/close") == (200, BLOB)
    # http.client reconnects after the close; the proxy serves the new connection
    assert get(conn, "/blob") == (200, BLOB)
    conn.close()
    assert proxy.connections == 2


def test_headers_pass_unchanged_and_expect_continue_is_answered(proxy: FaultProxy) -> None:
    headers = [
        ("Host", "bucket.example:9999"),
        ("X-Amz-Date", "20240101T000000Z"),
        ("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD"),
        ("Authorization", "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host;x-amz-date, Signature=0"),
    ]
    conn = connect(proxy)
    conn.putrequest("GET", "/headers", skip_host=True, skip_accept_encoding=True)
    for name, value in headers:
        conn.putheader(name, value)
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 200
    assert json.loads(resp.read()) == [list(h) for h in headers]
    conn.close()

    # Expect: 100-continue over a raw socket: the proxy answers 100 before the body is sent
    body = b"x" * 100_000
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(
            b"PUT /bucket/obj HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n"
            % len(body)
        )
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        result = json.loads(answer.read())
    assert result["sha256"] == hashlib.sha256(body).hexdigest()
    assert result["expect"] is None  # not forwarded: the proxy already answered it


def test_upstream_down_gives_502(upstream_url: str) -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        dead_port = placeholder.getsockname()[1]
    with FaultProxy(f"http://127.0.0.1:{dead_port}", timeout=2) as p:
        conn = connect(p)
        status, body = get(conn, "/blob")
        assert status == 502
        assert b"<Code>BadGateway</Code>" in body
        conn.close()


# --------------------------------------------------------------------------- faults


def test_status_fault_answers_s3_xml_and_keeps_the_connection(proxy: FaultProxy, upstream: Upstream) -> None:
    proxy.add_rule(
        Rule(action="status", method="GET", path_contains="/blob", status=503, code="SlowDown", times=1)
    )
    proxy.add_rule(
        Rule(action="status", method="PUT", path_contains="partNumber=3", status=500, code="InternalError")
    )
    proxy.add_rule(Rule(action="refuse", method="HEAD", name="deny-head"))
    conn = connect(proxy)

    conn.request("GET", "/blob")
    resp = conn.getresponse()
    body = resp.read()
    assert resp.status == 503
    assert resp.getheader("Content-Type") == "application/xml"
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>')
    assert body.endswith(b"<RequestId>fault</RequestId></Error>")
    assert get(conn, "/blob") == (200, BLOB)  # times=1: second attempt goes through

    conn.request("PUT", "/b/k?partNumber=3&uploadId=u", body=b"z" * 500_000)
    resp = conn.getresponse()
    assert (resp.status, b"<Code>InternalError</Code>" in resp.read()) == (500, True)

    conn.request("HEAD", "/blob")
    resp = conn.getresponse()
    assert (resp.status, resp.read()) == (403, b"")

    assert put(conn, "/b/k?partNumber=4&uploadId=u", b"ok")["length"] == 2  # connection still in sync
    conn.close()

    assert upstream.paths() == ["/blob", "/b/k?partNumber=4&uploadId=u"]
    assert proxy.fired == [
        Firing(0, "GET", "/blob"),
        Firing(1, "PUT", "/b/k?partNumber=3&uploadId=u"),
        Firing("deny-head", "HEAD", "/blob"),
    ]
    assert [f.name for f in proxy.fired] == ["0", "1", "deny-head"]
    outcomes = [(r.outcome, r.status) for r in proxy.requests]
    assert outcomes == [("status", 503), (200, 200), ("status", 500), ("refuse", 403), (200, 200)]
    assert proxy.requests[2].req_bytes == 500_000
    assert proxy.connections == 1


def test_reset_request_aborts_before_anything_reaches_upstream(proxy: FaultProxy, upstream: Upstream) -> None:
    body = b"q" * (2 * 1024 * 1024)
    proxy.add_rule(Rule(action="reset_request", method="PUT", path_contains="uploadId", times=1))
    conn = connect(proxy)
    with pytest.raises(ConnectionError):
        conn.request("PUT", "/b/k?partNumber=1&uploadId=x", body=body)
        conn.getresponse().read()
    conn.close()
    assert upstream.paths() == []
    [rec] = proxy.requests
    assert (rec.fault, rec.status, rec.req_bytes) == ("reset_request", None, len(body) // 2)

    conn = connect(proxy)  # the retry goes through
    assert put(conn, "/b/k?partNumber=1&uploadId=x", body)["length"] == len(body)
    conn.close()

    # a chunked body is cut in its first chunk
    proxy.add_rule(Rule(action="reset_request", path_contains="/chunked-upload", times=1))
    conn = connect(proxy)
    with pytest.raises(ConnectionError):
        put(conn, "/chunked-upload", iter([body[:300_000], body[300_000:]]), encode_chunked=True)
    conn.close()
    assert proxy.requests[-1].req_bytes == 150_000
    assert upstream.paths() == ["/b/k?partNumber=1&uploadId=x"]


def test_reset_response_cuts_the_body(proxy: FaultProxy, upstream: Upstream) -> None:
    proxy.add_rule(Rule(action="reset_response", method="GET", path_contains="/blob", times=1))
    proxy.add_rule(Rule(action="reset_response", method="PUT", times=1))
    conn = connect(proxy)
    conn.request("GET", "/blob")
    resp = conn.getresponse()
    assert resp.status == 200
    with pytest.raises((http.client.IncompleteRead, ConnectionError)):
        resp.read()
    conn.close()
    [rec] = proxy.requests
    assert (rec.fault, rec.status, rec.resp_bytes) == ("reset_response", 200, len(BLOB) // 2)

    # a response without a body is cut in its head: the upstream applied the PUT, the client never hears
    conn = connect(proxy)
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        put(conn, "/b/k", b"payload")
    conn.close()
    assert upstream.paths() == ["/blob", "/b/k"]

    conn = connect(proxy)
    assert get(conn, "/blob") == (200, BLOB)
    conn.close()


def test_stall_times_out_the_client_and_stop_is_prompt(upstream_url: str) -> None:
    p = FaultProxy(upstream_url, timeout=10).start()
    p.add_rule(Rule(action="stall", seconds=30, path_contains="/blob"))
    conn = connect(p, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        get(conn, "/blob")
    assert 0.9 < time.monotonic() - started < 3
    idle = connect(p)
    assert get(idle, "/headers")[0] == 200  # an idle keep-alive connection stays open

    started = time.monotonic()
    p.stop()
    assert time.monotonic() - started < 1.5
    assert not [t for t in threading.enumerate() if t.name.startswith("faultproxy")]
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        get(idle, "/headers")  # http.client reconnects: refused, nobody listens any more
    conn.close()
    idle.close()
    assert [r.fault for r in p.requests] == ["stall", None]


def test_times_skip_method_and_clear(proxy: FaultProxy) -> None:
    index = proxy.add_rule(Rule(action="status", path_contains="/blob", method="get", skip=1, times=2))
    assert index == 0
    conn = connect(proxy)
    statuses = [get(conn, "/blob")[0] for _ in range(4)]
    assert statuses == [200, 503, 503, 200]
    assert proxy.remaining(0) == 0
    assert len(proxy.fired) == 2
    assert get(conn, "/blob", method="HEAD")[0] == 200  # exhausted

    proxy.add_rule(Rule(action="status", method="PUT", code="SlowDown"))  # forever, PUT only
    assert get(conn, "/headers")[0] == 200
    for _ in range(3):
        conn.request("PUT", "/x", body=b"1")
        assert b"<Code>SlowDown</Code>" in conn.getresponse().read()
    proxy.clear_rules()
    assert put(conn, "/x", b"1")["length"] == 1

    proxy.reset_stats()
    assert (proxy.requests, proxy.fired, proxy.bytes_up, proxy.bytes_down) == ([], [], 0, 0)
    conn.close()


def test_rules_from_json_and_validation(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(
        json.dumps(
            [
                {"action": "status", "status": 503, "code": "SlowDown", "path_contains": "partNumber=2"},
                {"action": "stall", "seconds": 2.5, "times": 1, "skip": 3, "method": "GET"},
            ]
        )
    )
    rules = load_rules(path)
    assert rules[0].error()[:2] == (503, "SlowDown")
    assert rules[1] == Rule(action="stall", seconds=2.5, times=1, skip=3, method="GET")
    assert Rule(action="refuse").error()[:2] == (403, "AccessDenied")
    with pytest.raises(ValueError, match="unknown fault action"):
        Rule(action="explode")
    with pytest.raises(ValueError, match="unknown rule field"):
        Rule.from_dict({"action": "status", "tiems": 1})


def test_standalone_process(upstream_url: str, tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"action": "status", "status": 500, "code": "InternalError", "times": 1}]))
    cmd = [sys.executable, "-m", "tests.support.faultproxy", "--upstream", upstream_url, "--port", "0"]
    proc = subprocess.Popen([*cmd, "--rules", str(rules)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        assert get(conn, "/blob")[0] == 500
        assert get(conn, "/blob") == (200, BLOB)
        conn.close()
    finally:
        proc.terminate()
        assert proc.wait(timeout=5) == 0
