"""A small HTTP/1.1 client for the S3 direct path (:mod:`ferry.storage.s3fast`): keep-alive connections
from a pool shared by threads, each request written in one send, answers framed by Content-Length or
chunked encoding and read whole.

Why not urllib3: for an answer of 16 KiB, urllib3 and ``http.client`` (which parses every header block with
the ``email`` package) spent about 1.3 ms of CPU per request here, against 0.12 ms for the same exchange on
a plain socket. And why ``TCP_QUICKACK``: the Ceph RGW writes an answer's headers and its body separately;
with Nagle's algorithm on the server's socket and delayed acknowledgements on ours, every answer with a body
waited about 40 ms for our ACK of its headers (44 ms per sequential 16 KiB GET, 1.5 ms with the ACK sent at
once). Asking the kernel to acknowledge at once while an answer is awaited removes the stall whatever the
server does.

The client is deliberately narrow: no proxies, no redirects, no ``Expect: 100-continue``, no compression;
the S3 store sends only the requests it can carry this way and keeps botocore for the rest. Connections are
made through :mod:`ferry.storage.netguard` when the service's guard is installed, like every other
connection of the service.
"""

from __future__ import annotations

import re
import select
import socket
import struct
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

_QUICKACK = getattr(socket, "TCP_QUICKACK", None)
_MAX_LINE = 65536
_MAX_HEADERS = 200
_MAX_INTERIM = 20
_HEX = b"0123456789abcdefABCDEF"
_INLINE_BODY = 1 << 16
_RECEIVE = 1 << 16
_MAX_HEAD = 1 << 20
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_HTTP = b"HTTP/1."
"""Bodies up to this size go in the same send as the request head; larger ones follow it."""


class WireError(ConnectionError):
    """The peer broke HTTP/1.1 framing, or closed the connection mid-answer."""


class TooLarge(WireError):
    """An answer's body is larger than the caller accepts."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]
    """Lower-case names; repeated headers joined with ``", "``."""
    data: bytes


class Connection:
    """One keep-alive connection. Not thread-safe: a pool hands it to one thread at a time.

    Answers are read through a buffer of this class's own: a head is found and split whole (a dozen
    ``readline`` calls per answer through a buffered file were most of this client's CPU), a body is
    received straight into its final buffer."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buf = bytearray()
        """What arrived and is not consumed yet."""
        self.answered = False
        """Whether any byte of an answer arrived on it (then a failed request must not be sent again)."""

    def close(self) -> None:
        self.sock.close()

    def dropped(self) -> bool:
        """Whether the peer closed (or wrote to) this idle connection: a readable idle socket is not
        reusable. One non-blocking poll."""
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        return bool(poller.poll(0))

    def exchange(
        self, head: bytes, body: bytes | None, *, no_body: bool, max_body: int
    ) -> tuple[Answer, bool]:
        """Send one request and read its answer: the answer, and whether the connection may be reused."""
        try:
            return self._exchange(head, body, no_body, max_body)
        except BlockingIOError:  # the kernel's timeout of a plain connection (see _kernel_timeouts)
            raise TimeoutError("timed out") from None

    def _exchange(self, head: bytes, body: bytes | None, no_body: bool, max_body: int) -> tuple[Answer, bool]:
        self.answered = False
        sock = self.sock
        if body is not None and len(body) > _INLINE_BODY:
            sock.sendall(head)
            sock.sendall(body)
        else:
            sock.sendall(head + body if body else head)
        if _QUICKACK is not None:
            sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
        for _ in range(_MAX_INTERIM + 1):
            status, version, headers = self._read_head()
            if status >= 200 or status == 101:
                break  # 1xx interim answers (a 100 Continue nobody asked for) are skipped
        else:
            raise WireError(f"more than {_MAX_INTERIM} interim (1xx) answers")
        keep = _keeps_alive(version, headers)
        if no_body or status in (204, 304) or 100 <= status < 200:
            return Answer(status, headers, b""), keep and not self._buf
        if "chunked" in headers.get("transfer-encoding", "").lower():
            data = self._read_chunked(max_body)
            return Answer(status, headers, data), keep and not self._buf
        length_text = headers.get("content-length")
        if length_text is None:
            return Answer(status, headers, self._read_to_close(max_body)), False
        try:
            length = int(length_text.split(",")[0].strip())
        except ValueError:
            raise WireError(f"malformed Content-Length {length_text[:40]!r}") from None
        if length < 0:
            raise WireError(f"malformed Content-Length {length_text[:40]!r}")
        if length > max_body:
            raise TooLarge(f"an answer of {length} bytes where at most {max_body} were expected")
        data = self._read_exactly(length)
        return Answer(status, headers, data), keep and not self._buf  # bytes beyond the answer: not reused

    def _receive(self) -> None:
        """More bytes into the buffer; the peer closing is a :class:`WireError`."""
        chunk = self.sock.recv(_RECEIVE)
        if not chunk:
            raise WireError(
                "the server closed the connection before answering"
                if not self.answered
                else "the server closed the connection mid-answer"
            )
        self.answered = True
        self._buf += chunk

    def _readline(self) -> bytes:
        """One line, its end included (within a chunked body)."""
        searched = 0
        while (end := self._buf.find(b"\n", searched)) < 0:
            if len(self._buf) > _MAX_LINE:
                raise WireError("an answer line longer than 64 KiB")
            searched = len(self._buf)
            self._receive()
        if end >= _MAX_LINE:
            raise WireError("an answer line longer than 64 KiB")
        line = bytes(self._buf[: end + 1])
        del self._buf[: end + 1]
        return line

    def _read_head(self) -> tuple[int, str, dict[str, str]]:
        """A status line and its headers, up to the blank line that ends them."""
        searched = 0
        while (found := _HEAD_END.search(self._buf, searched)) is None:
            if len(self._buf) > _MAX_HEAD or not _HTTP.startswith(self._buf[:7]):
                break  # too long, or not HTTP at all (a greeting that waits for us): said below at once
            searched = max(0, len(self._buf) - 3)
            self._receive()
        end = found.end() if found is not None else len(self._buf)
        lines = bytes(self._buf[:end]).split(b"\n")
        status_line = lines[0].rstrip(b"\r")
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise WireError(f"not an HTTP/1.1 answer: {status_line[:60]!r}")
        if len(lines) > _MAX_HEADERS + 3:
            raise WireError(f"more than {_MAX_HEADERS} header lines")
        if any(len(line) > _MAX_LINE for line in lines):
            raise WireError("an answer line longer than 64 KiB")
        if found is None:
            raise WireError("an answer head larger than 1 MiB")
        del self._buf[:end]
        headers: dict[str, str] = {}
        for line in lines[1:-2]:
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep:
                raise WireError(f"a malformed header line: {line[:60]!r}")
            name = name.strip().lower()
            value = value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        return int(parts[1]), parts[0].decode("latin-1"), headers

    def _read_exactly(self, length: int) -> bytes:
        have = len(self._buf)
        if have >= length:
            data = bytes(self._buf[:length])
            del self._buf[:length]
            return data
        body = bytearray(length)
        body[:have] = self._buf
        self._buf.clear()
        view = memoryview(body)
        got = have
        while got < length:
            n = self.sock.recv_into(view[got:])
            if not n:
                raise WireError(f"the server closed the connection after {got} of {length} bytes")
            self.answered = True
            got += n
        return bytes(body)

    def _read_chunked(self, max_body: int) -> bytes:
        pieces: list[bytes] = []
        total = 0
        while True:
            size_line = self._readline().split(b";", 1)[0].strip()
            if not size_line or size_line.strip(_HEX):  # int() would take "-1", "+a", "0x1" or "1_0"
                raise WireError(f"a malformed chunk size {size_line[:20]!r}")
            size = int(size_line, 16)
            if size == 0:
                while self._readline() not in (b"\r\n", b"\n"):
                    pass  # trailers
                return b"".join(pieces)
            total += size
            if total > max_body:
                raise TooLarge(f"an answer of more than {max_body} bytes")
            pieces.append(self._read_exactly(size))
            if self._readline() not in (b"\r\n", b"\n"):
                raise WireError("a chunk longer than its size")

    def _read_to_close(self, max_body: int) -> bytes:
        while len(self._buf) <= max_body:
            chunk = self.sock.recv(_RECEIVE)
            if not chunk:
                break
            self._buf += chunk
        if len(self._buf) > max_body:
            raise TooLarge(f"an answer of more than {max_body} bytes")
        data = bytes(self._buf)
        self._buf.clear()
        return data


_AS_IS = (ConnectionError, TimeoutError)
"""Failures the stores already classify as the network's: timeouts, refused or reset connections."""


def _network_error(exc: OSError) -> OSError:
    """Any other failure to talk to the server (a name that does not resolve, a TLS failure) as an error
    of the network."""
    return WireError(" ".join(str(exc).split()) or type(exc).__name__)


def _keeps_alive(version: str, headers: dict[str, str]) -> bool:
    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    if version == "HTTP/1.0":
        return "keep-alive" in tokens
    return "close" not in tokens


class Pool:
    """Keep-alive connections to one host, shared by threads; at most ``max_idle`` kept between requests
    (more are opened when every kept one is busy, as urllib3's non-blocking pools do)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None,
        connect_timeout: float,
        read_timeout: float,
        max_idle: int,
    ) -> None:
        self.host, self.port = host, port
        self._tls = tls
        self._connect_timeout, self._read_timeout = connect_timeout, read_timeout
        self._max_idle = max_idle
        self._idle: list[Connection] = []
        self._lock = threading.Lock()

    def request(
        self, method: str, target: str, headers: dict[str, str], body: bytes | None, *, max_body: int
    ) -> Answer:
        """Send a request and read its whole answer. A kept connection the server had closed meanwhile
        is replaced once, when it was closed or reset before any byte of an answer came (the request was not
        taken up); a request that timed out is not sent again here (the server may be working on it)."""
        lines = [f"{method} {target} HTTP/1.1"]
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        if body is not None or method in ("PUT", "POST"):
            lines.append(f"content-length: {len(body) if body else 0}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        no_body = method == "HEAD"
        try:
            return self._exchange(head, body, no_body, max_body)
        except OSError as exc:
            if isinstance(exc, _AS_IS):
                raise
            raise _network_error(exc) from exc

    def _exchange(self, head: bytes, body: bytes | None, no_body: bool, max_body: int) -> Answer:
        for attempt in range(2):
            conn, reused = self._take()
            try:
                answer, keep = conn.exchange(head, body, no_body=no_body, max_body=max_body)
            except BaseException as exc:
                conn.close()
                retry = isinstance(exc, ConnectionError) and not isinstance(exc, TooLarge)
                if retry and reused and not conn.answered and attempt == 0:
                    continue  # closed or reset as the request came; a timeout is not sent twice
                raise
            if keep:
                self._give(conn)
            else:
                conn.close()
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _take(self) -> tuple[Connection, bool]:
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self._connect(), False
            if conn.dropped():
                conn.close()
                continue
            return conn, True

    def _give(self, conn: Connection) -> None:
        with self._lock:
            if len(self._idle) < self._max_idle:
                self._idle.append(conn)
                return
        conn.close()

    def _connect(self) -> Connection:
        from ferry.storage import netguard

        address = (self.host, self.port)
        if netguard.active() is not None:
            sock = netguard.guarded_connection(address, self._connect_timeout)
        else:
            sock = socket.create_connection(address, self._connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_hostname=self.host)
                sock.settimeout(self._read_timeout)
            else:
                _kernel_timeouts(sock, self._read_timeout)
        except BaseException:
            sock.close()
            raise
        return Connection(sock)


def _kernel_timeouts(sock: socket.socket, seconds: float) -> None:
    """Make a plain connection blocking, its timeouts the kernel's (``SO_RCVTIMEO``, ``SO_SNDTIMEO``): a
    timed out call fails with ``EAGAIN``, which :meth:`Connection.exchange` reports as a timeout.

    Why: with a Python timeout, every send and receive is a ``poll`` and then the call, each letting go of
    the GIL; among sixteen threads moving small objects each let-go is a hand-off to another thread, so the
    polls were two of the five calls per request that did so. TLS keeps Python's timeouts (its reads must
    retry after a partial record, which the ``ssl`` module does only in that mode)."""
    sock.settimeout(None)
    whole = int(seconds)
    value = struct.pack("@ll", whole, int((seconds - whole) * 1_000_000))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)
