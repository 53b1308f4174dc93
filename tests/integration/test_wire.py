"""ferry's own HTTP/1.1 client (:mod:`ferry.storage.wire`, the S3 direct path's) against a scripted server
on a loopback socket: answers framed every way come back whole, kept connections are reused only when the
server allows it, and every way a server can misbehave ends in a bounded, one-line error of the network."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.conftest import write_remotes

from ferry.config import RemoteConfig
from ferry.errors import RetryableError
from ferry.storage.s3 import ClientSettings, S3Connection, S3Store
from ferry.storage.wire import Pool, TooLarge, WireError

pytestmark = pytest.mark.integration

Step = Callable[[socket.socket, bytes], bool]
"""What the server does with one request it read: answers or not, and says whether to read another on
the same connection."""


def send(data: bytes, *, close: bool = False, then_hang: bool = False, piecewise: bool = False) -> Step:
    """Answer with ``data`` (``piecewise``: a byte per segment, the socket flushed between them)."""

    def step(conn: socket.socket, request: bytes) -> bool:
        if piecewise:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(len(data)):
                conn.sendall(data[i : i + 1])
                time.sleep(0.001)
        else:
            conn.sendall(data)
        return hang(conn, request) if then_hang else not close

    return step


def drop(conn: socket.socket, request: bytes) -> bool:
    """Close without answering."""
    return False


def hang(conn: socket.socket, request: bytes) -> bool:
    """Say nothing more until the client gives up and closes."""
    with contextlib.suppress(OSError):
        conn.recv(1)
    return False


class Scripted:
    """A raw HTTP server on 127.0.0.1 answering requests, in the order they come, with ``steps``; once they
    run out it closes each connection. ``greeting`` is sent to every connection as it is accepted (and the
    connection closed), for clients that speak first in another protocol."""

    def __init__(self, *steps: Step, greeting: bytes | None = None) -> None:
        self.steps = list(steps)
        self.greeting = greeting
        self.accepts = 0
        self.requests: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def pool(self, read_timeout: float = 5.0, tls: ssl.SSLContext | None = None) -> Pool:
        return Pool("127.0.0.1", self.port, tls=tls, connect_timeout=2, read_timeout=read_timeout, max_idle=4)

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepts += 1
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(10)
            if self.greeting is not None:
                conn.sendall(self.greeting)
                return
            reader = conn.makefile("rb")
            while True:
                lines = [reader.readline()]
                while lines[-1] not in (b"\r\n", b""):
                    lines.append(reader.readline())
                if lines[-1] == b"":
                    return  # the client closed
                head = b"".join(lines[:-1])
                sized = [h for h in head.lower().split(b"\r\n") if h.startswith(b"content-length:")]
                request = head + b"\r\n" + reader.read(int(sized[0].split(b":")[1]) if sized else 0)
                with self._lock:
                    self.requests.append(request)
                    step = self.steps.pop(0) if self.steps else drop
                if not step(conn, request):
                    return


@pytest.fixture
def scripted() -> Iterator[Callable[..., Scripted]]:
    made: list[Scripted] = []

    def make(*steps: Step, greeting: bytes | None = None) -> Scripted:
        made.append(Scripted(*steps, greeting=greeting))
        return made[-1]

    yield make
    for server in made:
        server.close()


def get(pool: Pool, path: str = "/x", max_body: int = 1 << 20):
    return pool.request("GET", path, {"host": "h"}, None, max_body=max_body)


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def test_chunked_and_sized_answers_come_back_whole_with_their_headers(scripted):
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Amz-Meta-Tag: one\r\nx-amz-meta-tag: two\r\n\r\n"
        b"5;name=value\r\nhello\r\n6\r\n world\r\n1A\r\n" + b"z" * 26 + b"\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    interim = b"HTTP/1.1 100 Continue\r\n\r\n"  # skipped
    sized = interim + b'HTTP/1.1 206 Partial Content\r\nContent-Length: 11\r\nETag: "e"\r\n\r\nhello world'
    server = scripted(send(chunked), send(sized))
    pool = server.pool()
    first = get(pool)
    assert (first.status, first.data) == (200, b"hello world" + b"z" * 26)
    assert first.headers["x-amz-meta-tag"] == "one, two"
    second = get(pool)
    assert (second.status, second.data, second.headers["etag"]) == (206, b"hello world", '"e"')
    assert server.accepts == 1  # the trailer was read to its end: the next answer came on the same connection


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ],
    ids=["connection-close", "http-1.0"],
)
def test_a_connection_the_server_does_not_keep_is_not_reused(scripted, answer):
    server = scripted(send(answer), send(answer))  # the server leaves it open: reusing it would work here
    pool = server.pool()
    assert get(pool).data == get(pool).data == b"ok"
    assert server.accepts == 2


def test_an_idle_connection_the_server_closed_is_replaced_and_the_request_sent_again(scripted):
    server = scripted(send(OK, close=True), send(OK), drop, send(OK))
    pool = server.pool()
    assert get(pool).data == b"ok"
    assert get(pool, "/second").data == b"ok"  # the closed idle connection is noticed before sending
    assert get(pool, "/third").data == b"ok"  # closed as the request came: sent once more
    assert server.accepts == 3
    assert [r.split(b" ")[1] for r in server.requests] == [b"/x", b"/second", b"/third", b"/third"]


def test_a_server_closing_mid_body_is_a_network_error_and_the_request_is_not_sent_twice(scripted):
    cut = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part"
    server = scripted(send(OK), send(cut, close=True))
    pool = server.pool()
    get(pool)
    with pytest.raises(ConnectionError, match="after 11 of 100 bytes"):
        get(pool, "/cut")
    assert len(server.requests) == 2 and server.accepts == 1


def test_a_body_larger_than_accepted_is_refused_unread(scripted):
    server = scripted(
        send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n", then_hang=True),
        send(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 5000, close=True),
    )
    pool = server.pool(read_timeout=3)
    started = time.monotonic()
    with pytest.raises(TooLarge):
        get(pool, max_body=1000)
    assert time.monotonic() - started < 1  # nothing of the body was waited for
    with pytest.raises(TooLarge):
        get(pool, max_body=1000)  # no length: read to the close, bounded the same way


def test_a_server_that_is_not_http_and_waits_is_told_apart_at_once(scripted):
    """An SSH server greets and then waits for the client: its first line is enough to refuse it."""
    server = scripted(send(b"SSH-2.0-OpenSSH_9.6\r\n", then_hang=True))
    started = time.monotonic()
    with pytest.raises(WireError, match=re.escape("not an HTTP/1.1 answer: b'SSH-2.0-OpenSSH_9.6'")):
        get(server.pool(read_timeout=5))
    assert time.monotonic() - started < 1


def test_answers_that_arrive_a_byte_at_a_time_are_read_whole(scripted):
    """The head and the body split across many small segments, a header line and the blank line that
    ends the head included."""
    answer = b"HTTP/1.1 200 OK\r\nX-Amz-Meta-A: 1\r\nContent-Length: 5\r\n\r\nhello"
    server = scripted(send(answer, piecewise=True), send(answer, piecewise=True))
    pool = server.pool(read_timeout=5)
    first, second = get(pool), get(pool)
    assert (first.status, first.headers["x-amz-meta-a"], first.data) == (200, "1", b"hello")
    assert second.data == b"hello" and server.accepts == 1


@pytest.mark.parametrize("reused", [False, True], ids=["new", "kept"])
def test_a_server_that_never_answers_times_out_once(scripted, reused):
    server = scripted(*[send(OK)] * reused, hang)
    pool = server.pool(read_timeout=0.5)
    if reused:
        get(pool)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        get(pool, "/silent")
    assert 0.4 < time.monotonic() - started < 0.9
    assert [r.split(b" ")[1] for r in server.requests].count(b"/silent") == 1


@pytest.mark.parametrize(
    "answer",
    [
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon on this line\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X-Many: 1\r\n" * 201 + b"Content-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70 * 1024 + b"\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n" + b"x" * 5000,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\n" * 21 + OK,
    ],
    ids=[
        "not-http",
        "no-colon",
        "201-headers",
        "70-KiB-line",
        "negative-chunk",
        "chunk-size-not-hex",
        "endless-1xx",
    ],
)
def test_a_broken_answer_is_a_one_line_wire_error(scripted, answer):
    server = scripted(send(answer, close=True))
    with pytest.raises(WireError) as caught:
        get(server.pool(read_timeout=2))
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 200


def test_an_unknown_host_and_tls_to_a_plain_port_are_network_errors(scripted):
    with pytest.raises(WireError):
        get(Pool("no-such-host.invalid", 80, tls=None, connect_timeout=2, read_timeout=2, max_idle=1))
    plain = scripted(greeting=b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
    with pytest.raises(WireError) as caught:
        get(plain.pool(tls=ssl.create_default_context()))
    assert "\n" not in str(caught.value)


def test_ferry_cp_retries_a_500_from_the_server_and_sends_the_same_bytes_again(
    scripted, ferry, rgw, tmp_path: Path
):
    data = os.urandom(20_000)
    error = b"<Error><Code>InternalError</Code><Message>try again</Message></Error>"
    stored = f'HTTP/1.1 200 OK\r\nETag: "{hashlib.md5(data).hexdigest()}"\r\nContent-Length: 0\r\n\r\n'
    server = scripted(
        send(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: %d\r\n\r\n%s" % (len(error), error)),
        send(stored.encode()),
    )
    config = write_remotes(tmp_path / "c.toml", rgw, extra={"scripted": f"http://127.0.0.1:{server.port}"})
    (tmp_path / "f.bin").write_bytes(data)
    run = ferry("cp", str(tmp_path / "f.bin"), "scripted://bucket/f.bin", config_path=config, timeout=60)
    assert run.returncode == 0, run.stderr
    assert [r.split(b"\r\n")[0] for r in server.requests] == [b"PUT /bucket/f.bin HTTP/1.1"] * 2
    assert [r.split(b"\r\n\r\n", 1)[1] for r in server.requests] == [data, data]


def test_the_s3_store_reports_a_cut_answer_an_unknown_host_and_tls_mismatch_as_network_errors(scripted):
    cut = b"HTTP/1.1 206 Partial Content\r\nContent-Length: 100\r\n\r\nonly a part"
    server = scripted(send(cut, close=True))
    plain = scripted(greeting=b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
    endpoints = [
        f"http://127.0.0.1:{server.port}",
        "http://no-such-host.invalid",
        f"https://127.0.0.1:{plain.port}",
    ]
    for endpoint in endpoints:
        remote = RemoteConfig(name="r", endpoint=endpoint, access_key="a", secret_key="s", region="us-east-1")
        store = S3Store(S3Connection(remote, ClientSettings()), "bucket", "r")
        assert store._direct is not None, endpoint
        with pytest.raises(RetryableError) as caught:
            store.read_range("k.bin", 0, 100)
        assert "network error" in str(caught.value) and "\n" not in str(caught.value), endpoint
    assert len(server.requests) == 1
