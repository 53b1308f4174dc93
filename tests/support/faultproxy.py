"""Fault-injecting HTTP/1.1 reverse proxy for integration tests.

Why this exists
---------------
ferry's retry, resume and idempotency logic is only worth something if it
survives the failures real object stores and networks produce: connections
reset in the middle of an upload part, downloads cut short, ``503 SlowDown``
throttling, requests that hang until the client's read timeout fires.  Mocking
botocore (or stubbing its responses) would test our assumptions about botocore
rather than botocore itself: it skips the HTTP connection pool, urllib3's
retry and "connection dropped" detection, ``Expect: 100-continue`` handling,
body re-seeking on retry and SigV4 re-signing.  So the faults are injected
*on the wire*: this module is a real proxy over real sockets that sits on
loopback between an S3 client (plain http, path-style, SigV4) and a real S3
server (e.g. Ceph RGW), forwards bytes unchanged and, when a :class:`Rule`
matches a request, misbehaves in a precisely controlled way.

Forwarding is transparent: the request line and header block are forwarded
exactly as received (so the SigV4 signature, which covers ``Host``,
``x-amz-*``, ``content-md5``, ``content-length`` ... stays valid), and the
request body is relayed byte for byte, whether it is framed by
``Content-Length`` or ``Transfer-Encoding: chunked``.  The only header ever
removed is ``Expect: 100-continue`` (not signed by botocore): the proxy
answers ``100 Continue`` to the client itself before reading the body, which
lets faults that never reach the upstream still consume the body.

Fault actions (see :class:`Rule`):

``reset_request``
    read about half of the request body, then abort the client connection
    with a TCP RST.  Nothing reaches the upstream.
``reset_response``
    forward the request, send the client the response head and about half of
    the response body, then RST.  If the response has no body (e.g. the
    response to a PUT, or any HEAD), only half of the response *head* is sent,
    so the client sees a broken response although the upstream applied the
    request -- the "lost acknowledgement" case.
``status`` / ``refuse``
    do not forward; drain the request body and answer an S3-style XML error
    (default ``503 SlowDown`` / ``403 AccessDenied``).  The connection stays
    usable.
``stall``
    read the whole request, wait ``seconds`` (interrupted by :meth:`FaultProxy.stop`),
    then close the connection without answering.

Usage in-process::

    with FaultProxy("http://127.0.0.1:7480") as proxy:
        proxy.add_rule(Rule(action="status", method="PUT", path_contains="partNumber=2", times=1))
        client = boto3.client("s3", endpoint_url=proxy.url, ...)
        ...
        assert [f.path for f in proxy.fired] == [...]

Standalone::

    python -m tests.support.faultproxy --upstream http://127.0.0.1:7480 --port 0 [--rules rules.json]

prints the chosen port on the first line of stdout and serves until SIGINT or
SIGTERM.  ``rules.json`` holds a list of objects with the :class:`Rule` field
names.
"""

from __future__ import annotations

import argparse
import contextlib
import http
import json
import select
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Final, NamedTuple
from urllib.parse import urlsplit

__all__ = [
    "ACTIONS",
    "FaultProxy",
    "Firing",
    "RequestRecord",
    "Rule",
    "load_rules",
]

#: Size of the blocks bodies are relayed in.
CHUNK: Final = 256 * 1024
#: Longest accepted request/status/header line.
MAX_LINE: Final = 64 * 1024
#: Most header lines accepted in one message.
MAX_HEADERS: Final = 256

ACTIONS: Final = frozenset({"reset_request", "reset_response", "status", "stall", "refuse"})

_DEFAULT_ERRORS: Final[dict[str, tuple[int, str]]] = {
    "status": (503, "SlowDown"),
    "refuse": (403, "AccessDenied"),
}


# --------------------------------------------------------------------------- rules and records


@dataclass(frozen=True)
class Rule:
    """One fault: which requests it applies to and what to do to them.

    Matching: ``method`` (case-insensitive, ``None`` = any) and
    ``path_contains`` (substring of the request target, i.e. the path *with*
    its query string such as ``/bucket/key?partNumber=3&uploadId=...``;
    ``None`` = any).  Of the matching requests the first ``skip`` pass
    untouched, then the rule fires on the next ``times`` of them (``None`` =
    forever).  Rules are tried in the order they were added; the first one
    that matches and still has firings left fires.  A request let through by
    ``skip`` is still offered to the later rules.

    ``status``/``code``/``message`` shape the error of the ``status`` and
    ``refuse`` actions; ``seconds`` is the length of a ``stall``; ``name``
    (optional) is what :attr:`FaultProxy.fired` reports instead of the rule's
    index.
    """

    action: str
    method: str | None = None
    path_contains: str | None = None
    times: int | None = None
    skip: int = 0
    status: int | None = None
    code: str | None = None
    message: str | None = None
    seconds: float = 30.0
    name: str | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown fault action {self.action!r}; expected one of {sorted(ACTIONS)}")
        if self.times is not None and self.times < 0:
            raise ValueError("times must be >= 0 or None")
        if self.skip < 0:
            raise ValueError("skip must be >= 0")
        if self.seconds < 0:
            raise ValueError("seconds must be >= 0")
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status code, not {self.status}")

    def matches(self, method: str, path: str) -> bool:
        """Whether the matcher (not the counters) selects this request."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path_contains is None or self.path_contains in path

    def error(self) -> tuple[int, str, str]:
        """``(status, code, message)`` answered by ``status``/``refuse`` faults."""
        default_status, default_code = _DEFAULT_ERRORS.get(self.action, (503, "SlowDown"))
        status = self.status if self.status is not None else default_status
        code = self.code if self.code is not None else default_code
        message = self.message if self.message is not None else f"Injected fault ({code}) by faultproxy"
        return status, code, message

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rule:
        """Build a rule from a JSON-style mapping with the field names of this class."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown rule field(s) {sorted(unknown)}; known: {sorted(known)}")
        if "action" not in data:
            raise ValueError("a rule needs an 'action'")
        return cls(**dict(data))


def load_rules(source: str | Path | Iterable[Mapping[str, Any]]) -> list[Rule]:
    """Rules from a JSON file path or an already decoded list of objects."""
    if isinstance(source, str | Path):
        data = json.loads(Path(source).read_text(encoding="utf-8"))
    else:
        data = list(source)
    if not isinstance(data, list):
        raise ValueError("rules must be a JSON list of objects")
    rules: list[Rule] = []
    for item in data:
        if not isinstance(item, Mapping):
            raise ValueError(f"a rule must be an object, not {item!r}")
        rules.append(Rule.from_dict(item))
    return rules


@dataclass
class RequestRecord:
    """What happened to one request that went through the proxy.

    A record is added to :attr:`FaultProxy.requests` as soon as the request
    head has been read, and its fields are updated *before* the corresponding
    bytes are sent on, so once a client has its response the record is final.

    ``req_bytes``: request body bytes received from the client (payload only,
    without chunked framing).  ``status``: status code sent to the client
    (``None`` if no complete status line was sent).  ``fault``: the action of
    the rule that fired, or ``None``; ``rule``: that rule's name or index.
    ``resp_bytes``: response body bytes sent to the client (including
    generated error bodies).  ``error``: short description of a transport
    failure or of the fault, if any.
    """

    method: str
    path: str
    req_bytes: int = 0
    status: int | None = None
    fault: str | None = None
    resp_bytes: int = 0
    rule: int | str | None = None
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    """The request's headers, lower-case names."""

    @property
    def outcome(self) -> int | str | None:
        """The fault name if one fired, otherwise the status code."""
        return self.fault if self.fault is not None else self.status


class Firing(NamedTuple):
    """A fault that fired: rule name (or index if unnamed), method, path."""

    rule: int | str
    method: str
    path: str

    @property
    def name(self) -> str:
        """The rule's name, or its index as a string for an unnamed rule."""
        return str(self.rule)


@dataclass
class _RuleState:
    rule: Rule
    matched: int = 0
    fired: int = 0


# --------------------------------------------------------------------------- wire helpers


class _PeerError(Exception):
    """Reading from / writing to one side failed (EOF, reset, timeout, stop)."""

    def __init__(self, side: str, detail: str) -> None:
        super().__init__(f"{side}: {detail}")
        self.side = side


class _BadMessage(Exception):
    """Unparseable HTTP from one side."""


class _Reader:
    """Minimal buffered reader over a socket, raising :class:`_PeerError`."""

    def __init__(self, sock: socket.socket, side: str) -> None:
        self.sock = sock
        self.side = side
        self.buf = bytearray()

    def _recv(self, n: int) -> bytes:
        try:
            data = self.sock.recv(n)
        except OSError as exc:
            raise _PeerError(self.side, f"{type(exc).__name__}: {exc}") from exc
        return data

    def readline(self, eof_ok: bool = False) -> bytes:
        """One line including its LF.  At clean EOF: ``b""`` if ``eof_ok`` and nothing buffered."""
        start = 0
        while True:
            idx = self.buf.find(b"\n", start)
            if idx >= 0:
                line = bytes(self.buf[: idx + 1])
                del self.buf[: idx + 1]
                return line
            if len(self.buf) > MAX_LINE:
                raise _BadMessage(f"{self.side}: line too long")
            start = len(self.buf)
            data = self._recv(CHUNK)
            if not data:
                if eof_ok and not self.buf:
                    return b""
                raise _PeerError(self.side, "connection closed mid-message")
            self.buf += data

    def read_some(self, n: int) -> bytes:
        """Up to ``n`` (>0) bytes; ``b""`` only at EOF."""
        if self.buf:
            data = bytes(self.buf[:n])
            del self.buf[:n]
            return data
        return self._recv(min(n, CHUNK))

    @property
    def buffered(self) -> int:
        return len(self.buf)


class _Writer:
    """Coalesces small writes to a socket (or discards them when ``sock`` is None)."""

    def __init__(self, sock: socket.socket | None, side: str) -> None:
        self.sock = sock
        self.side = side
        self.pending: list[bytes] = []
        self.pending_len = 0

    def write(self, data: bytes) -> None:
        if self.sock is None or not data:
            return
        if len(data) >= CHUNK // 4:
            self.flush()
            self._send(data)
            return
        self.pending.append(data)
        self.pending_len += len(data)
        if self.pending_len >= CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            data = b"".join(self.pending)
            self.pending.clear()
            self.pending_len = 0
            self._send(data)

    def _send(self, data: bytes) -> None:
        assert self.sock is not None
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise _PeerError(self.side, f"{type(exc).__name__}: {exc}") from exc


@dataclass
class _Head:
    """Start line and header block of a request or response."""

    start_line: bytes
    lines: list[bytes]  # raw header lines, CRLF included, in order
    headers: dict[str, str]  # lower-case name -> value (repeated headers joined with ", ")

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def raw(self, drop: Iterable[str] = ()) -> bytes:
        dropped = {d.lower() for d in drop}
        if not dropped:
            return self.start_line + b"".join(self.lines) + b"\r\n"
        kept = [ln for ln in self.lines if _header_name(ln) not in dropped]
        return self.start_line + b"".join(kept) + b"\r\n"

    def tokens(self, name: str) -> list[str]:
        value = self.headers.get(name, "")
        return [t.strip().lower() for t in value.split(",") if t.strip()]


def _header_name(line: bytes) -> str:
    return line.split(b":", 1)[0].strip().decode("latin-1").lower()


def _read_head(reader: _Reader, eof_ok: bool) -> _Head | None:
    """Read a start line plus headers; ``None`` at clean EOF before the first byte."""
    line = reader.readline(eof_ok=eof_ok)
    while line in (b"\r\n", b"\n"):  # tolerate stray CRLF between keep-alive messages
        line = reader.readline(eof_ok=eof_ok)
    if not line:
        return None
    lines: list[bytes] = []
    headers: dict[str, str] = {}
    while True:
        hl = reader.readline()
        if hl in (b"\r\n", b"\n"):
            break
        if len(lines) >= MAX_HEADERS:
            raise _BadMessage(f"{reader.side}: too many header lines")
        if hl[:1] in (b" ", b"\t") and lines:  # obsolete line folding: keep raw, extend value
            lines.append(hl)
            continue
        name, sep, value = hl.partition(b":")
        if not sep or not name.strip():
            raise _BadMessage(f"{reader.side}: malformed header line {hl[:80]!r}")
        lines.append(hl)
        key = name.strip().decode("latin-1").lower()
        val = value.strip().decode("latin-1")
        headers[key] = f"{headers[key]}, {val}" if key in headers else val
    return _Head(line, lines, headers)


# Body framings
_NONE: Final = "none"
_LENGTH: Final = "length"
_CHUNKED: Final = "chunked"
_UNTIL_CLOSE: Final = "close"


def _framing(head: _Head, *, request: bool) -> tuple[str, int]:
    te = head.tokens("transfer-encoding")
    if te:
        if te[-1] == _CHUNKED:
            return _CHUNKED, 0
        if request:
            raise _BadMessage("request transfer-encoding without final chunked")
        return _UNTIL_CLOSE, 0
    cl = head.header("content-length")
    if cl is not None:
        values = {v.strip() for v in cl.split(",")}
        if len(values) != 1 or not next(iter(values)).isdigit():
            raise _BadMessage(f"bad content-length {cl!r}")
        return _LENGTH, int(next(iter(values)))
    return (_NONE, 0) if request else (_UNTIL_CLOSE, 0)


Progress = Callable[[int], None]


def _no_progress(n: int) -> None:
    pass


def _relay_length(
    src: _Reader, dst: _Writer, n: int, limit: int | None = None, progress: Progress = _no_progress
) -> int:
    """Relay ``n`` body bytes (stop after ``limit`` if given); return bytes relayed.

    ``progress`` is told about every block *before* it is written on.
    """
    todo = n if limit is None else min(n, limit)
    done = 0
    while done < todo:
        data = src.read_some(min(CHUNK, todo - done))
        if not data:
            raise _PeerError(src.side, f"connection closed after {done} of {n} body bytes")
        progress(len(data))
        dst.write(data)
        done += len(data)
    return done


def _relay_chunked(src: _Reader, dst: _Writer, cut: bool = False, progress: Progress = _no_progress) -> int:
    """Relay a chunked body with its framing unchanged; return payload bytes.

    With ``cut``, stop after half of the first chunk's data has been relayed.
    """
    payload = 0
    while True:
        if src.buffered == 0:
            dst.flush()  # about to block on the source: don't sit on pending output
        size_line = src.readline()
        size_text = size_line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise _BadMessage(f"{src.side}: bad chunk size line {size_line[:80]!r}") from None
        if size < 0:
            raise _BadMessage(f"{src.side}: negative chunk size")
        dst.write(size_line)
        if size == 0:
            if not cut:
                while True:  # trailer section up to the empty line
                    line = src.readline()
                    dst.write(line)
                    if line in (b"\r\n", b"\n"):
                        break
            dst.flush()
            return payload
        if cut:
            return payload + _relay_length(src, dst, size, size // 2, progress)
        payload += _relay_length(src, dst, size, progress=progress)
        crlf = src.readline()
        if crlf not in (b"\r\n", b"\n"):
            raise _BadMessage(f"{src.side}: chunk data not followed by CRLF")
        dst.write(crlf)


def _relay_until_close(
    src: _Reader, dst: _Writer, cut: bool = False, progress: Progress = _no_progress
) -> int:
    """Relay until the source closes (with ``cut``: half of the first block, then stop)."""
    done = 0
    while True:
        data = src.read_some(CHUNK)
        if not data:
            dst.flush()
            return done
        if cut:
            data = data[: len(data) // 2]
        progress(len(data))
        dst.write(data)
        done += len(data)
        if cut:
            dst.flush()
            return done


def _relay_body(
    src: _Reader, dst: _Writer, framing: tuple[str, int], cut: bool = False, progress: Progress = _no_progress
) -> int:
    """Relay one body of the given framing; with ``cut`` only about half of it."""
    kind, n = framing
    if kind == _LENGTH:
        done = _relay_length(src, dst, n, n // 2 if cut else None, progress)
    elif kind == _CHUNKED:
        done = _relay_chunked(src, dst, cut, progress)
    elif kind == _UNTIL_CLOSE:
        done = _relay_until_close(src, dst, cut, progress)
    else:
        done = 0
    dst.flush()
    return done


def _drain(
    src: _Reader, framing: tuple[str, int], cut: bool = False, progress: Progress = _no_progress
) -> int:
    """Read and discard a body."""
    return _relay_body(src, _Writer(None, "void"), framing, cut, progress)


def _abort(sock: socket.socket) -> None:
    """Close ``sock`` with a TCP RST instead of a FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Injected Fault"


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --------------------------------------------------------------------------- the proxy


class _Upstream:
    """One upstream connection, owned by one client-connection thread."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = _Reader(sock, "upstream")
        self.writer = _Writer(sock, "upstream")

    def dropped(self) -> bool:
        """True if the idle connection was closed by the upstream (readable while idle)."""
        if self.reader.buffered > 0:
            return True  # unsolicited bytes: the connection is out of sync
        try:
            poller = select.poll()
            poller.register(self.sock, select.POLLIN)
            return bool(poller.poll(0))
        except (OSError, ValueError):
            return True


class FaultProxy:
    """Threaded HTTP/1.1 reverse proxy that forwards to ``upstream`` and injects faults.

    ``upstream`` is an ``http://host[:port]`` URL (any path is ignored).
    ``timeout`` bounds every socket wait (upstream connect/read/write and
    client idle time between keep-alive requests).  ``on_request`` is called
    (from the connection's thread) with a copy of each request's record once it is done.
    """

    def __init__(
        self,
        upstream: str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        timeout: float = 120.0,
        rules: Iterable[Rule] = (),
        on_request: Callable[[RequestRecord], None] | None = None,
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http://host[:port] URL, not {upstream!r}")
        self.upstream = upstream
        self.upstream_addr: tuple[str, int] = (parts.hostname, parts.port or 80)
        self.host = host
        self._requested_port = port
        self.timeout = timeout
        self.on_request = on_request

        self._lock = threading.Lock()
        self._rules: list[_RuleState] = [_RuleState(r) for r in rules]
        self._requests: list[RequestRecord] = []
        self._fired: list[Firing] = []
        self._bytes_up = 0
        self._bytes_down = 0
        self._connections = 0

        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._live: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._port: int | None = None

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> FaultProxy:
        """Bind, listen and start accepting in a background thread."""
        if self._listener is not None:
            raise RuntimeError("proxy already started")
        if self._stopping.is_set():
            raise RuntimeError("a stopped proxy cannot be restarted; make a new one")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host, self._requested_port))
            listener.listen(128)
        except OSError:
            listener.close()
            raise
        listener.settimeout(0.1)
        self._listener = listener
        self._port = listener.getsockname()[1]
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"faultproxy-accept-{self._port}", daemon=True
        )
        self._accept_thread.start()
        return self

    def stop(self, timeout: float = 1.0) -> None:
        """Stop listening, cut every connection and wait (up to ``timeout``) for the threads."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        if self._accept_thread is not None:
            self._accept_thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            live = list(self._live)
            threads = list(self._threads)
        for sock in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> FaultProxy:
        if self._listener is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("proxy not started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ----------------------------------------------------------------- rules and stats

    def add_rule(self, rule: Rule) -> int:
        """Append a rule; returns its index (what :attr:`fired` reports for unnamed rules)."""
        with self._lock:
            self._rules.append(_RuleState(rule))
            return len(self._rules) - 1

    def clear_rules(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[Rule]:
        with self._lock:
            return [st.rule for st in self._rules]

    def remaining(self, index: int) -> int | None:
        """Firings left for rule ``index`` (``None`` = unlimited)."""
        with self._lock:
            st = self._rules[index]
            return None if st.rule.times is None else st.rule.times - st.fired

    @property
    def requests(self) -> list[RequestRecord]:
        """Snapshot (copies) of the records of every request seen, in arrival order."""
        with self._lock:
            return [replace(rec) for rec in self._requests]

    @property
    def fired(self) -> list[Firing]:
        """Snapshot of the faults that fired, in order."""
        with self._lock:
            return list(self._fired)

    @property
    def bytes_up(self) -> int:
        """Request body bytes forwarded to the upstream."""
        with self._lock:
            return self._bytes_up

    @property
    def bytes_down(self) -> int:
        """Response body bytes relayed from the upstream to clients."""
        with self._lock:
            return self._bytes_down

    @property
    def connections(self) -> int:
        """Client connections accepted so far."""
        with self._lock:
            return self._connections

    def reset_stats(self) -> None:
        """Forget requests, firings and byte counters (rules and their counters stay)."""
        with self._lock:
            self._requests.clear()
            self._fired.clear()
            self._bytes_up = 0
            self._bytes_down = 0
            self._connections = 0

    def _select_rule(self, method: str, path: str) -> tuple[int | str, Rule] | None:
        with self._lock:
            for index, st in enumerate(self._rules):
                rule = st.rule
                if not rule.matches(method, path):
                    continue
                if rule.times is not None and st.fired >= rule.times:
                    continue
                st.matched += 1
                if st.matched <= rule.skip:
                    continue
                st.fired += 1
                ident: int | str = rule.name if rule.name is not None else index
                self._fired.append(Firing(ident, method, path))
                return ident, rule
        return None

    def _new_record(self, method: str, path: str, headers: dict[str, str]) -> RequestRecord:
        rec = RequestRecord(method, path, headers=dict(headers))
        with self._lock:
            self._requests.append(rec)
        return rec

    def _set(self, rec: RequestRecord, **changes: Any) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(rec, key, value)

    def _up_progress(self, rec: RequestRecord, forwarded: bool) -> Progress:
        def progress(n: int) -> None:
            with self._lock:
                rec.req_bytes += n
                if forwarded:
                    self._bytes_up += n

        return progress

    def _down_progress(self, rec: RequestRecord) -> Progress:
        def progress(n: int) -> None:
            with self._lock:
                rec.resp_bytes += n
                self._bytes_down += n

        return progress

    def _done(self, rec: RequestRecord) -> None:
        if self.on_request is not None:
            with self._lock:
                snapshot = replace(rec)
            with contextlib.suppress(Exception):
                self.on_request(snapshot)

    # ----------------------------------------------------------------- sockets and threads

    def _register(self, sock: socket.socket) -> bool:
        with self._lock:
            if self._stopping.is_set():
                return False
            self._live.add(sock)
            return True

    def _unregister(self, sock: socket.socket) -> None:
        with self._lock:
            self._live.discard(sock)

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        try:
            while not self._stopping.is_set():
                try:
                    conn, _addr = listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    if self._stopping.is_set():
                        break
                    time.sleep(0.01)
                    continue
                conn.settimeout(self.timeout)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if not self._register(conn):
                    conn.close()
                    break
                thread = threading.Thread(
                    target=self._serve_connection, args=(conn,), name="faultproxy-conn", daemon=True
                )
                with self._lock:
                    self._connections += 1
                    self._threads.add(thread)
                thread.start()
        finally:
            with contextlib.suppress(OSError):
                listener.close()

    def _connect_upstream(self) -> _Upstream:
        sock = socket.create_connection(self.upstream_addr, timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not self._register(sock):
            sock.close()
            raise _PeerError("upstream", "proxy stopping")
        return _Upstream(sock)

    def _drop_upstream(self, up: _Upstream | None) -> None:
        if up is not None:
            self._unregister(up.sock)
            with contextlib.suppress(OSError):
                up.sock.close()

    def _serve_connection(self, conn: socket.socket) -> None:
        try:
            _ClientConnection(self, conn).serve()
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())


@dataclass
class _Request:
    head: _Head
    method: str
    target: str
    version: str
    rec: RequestRecord
    framing: tuple[str, int] = (_NONE, 0)
    client_keep: bool = True
    expect_continue: bool = False
    continue_sent: bool = False

    @property
    def head_only(self) -> bool:
        return self.method == "HEAD"

    @property
    def has_body(self) -> bool:
        return self.framing[0] != _NONE and self.framing != (_LENGTH, 0)


class _ClientConnection:
    """Serves the requests of one client connection (in its own thread)."""

    def __init__(self, proxy: FaultProxy, conn: socket.socket) -> None:
        self.proxy = proxy
        self.conn = conn
        self.reader = _Reader(conn, "client")
        self.writer = _Writer(conn, "client")
        self.up: _Upstream | None = None  # this connection's upstream connection, reused while idle
        self.aborted = False

    def serve(self) -> None:
        try:
            while not self.proxy._stopping.is_set():
                try:
                    head = _read_head(self.reader, eof_ok=True)
                except _BadMessage as exc:
                    self.writer.write(
                        _error_response(400, "BadRequest", str(exc), close=True, head_only=False)[0]
                    )
                    self.writer.flush()
                    break
                if head is None or not self._serve_request(head):
                    break
        except (_PeerError, _BadMessage, OSError):
            pass  # a side failed mid-exchange: neither connection is in a known state any more
        finally:
            self._drop_upstream()
            self.proxy._unregister(self.conn)
            if not self.aborted:
                with contextlib.suppress(OSError):
                    self.conn.close()

    def _drop_upstream(self) -> None:
        self.proxy._drop_upstream(self.up)
        self.up = None

    def _abort(self) -> bool:
        self._drop_upstream()
        _abort(self.conn)
        self.aborted = True
        return False

    def _continue_if_expected(self, req: _Request) -> None:
        # Answer the client's Expect ourselves: faults that never reach the upstream
        # still get (and drain) the body, and no upstream 100 needs relaying.
        if req.expect_continue and not req.continue_sent:
            req.continue_sent = True
            self.writer.write(f"{req.version} 100 Continue\r\n\r\n".encode("latin-1"))
            self.writer.flush()

    def _drain_request(self, req: _Request, cut: bool = False) -> None:
        self._continue_if_expected(req)
        _drain(self.reader, req.framing, cut, self.proxy._up_progress(req.rec, forwarded=False))

    def _reply_error(self, req: _Request, status: int, code: str, message: str, *, close: bool) -> None:
        data, body_len = _error_response(status, code, message, close=close, head_only=req.head_only)
        changes: dict[str, Any] = {"status": status, "resp_bytes": body_len}
        if status >= 500 and req.rec.fault is None:
            changes["error"] = message
        self.proxy._set(req.rec, **changes)
        self.writer.write(data)
        self.writer.flush()

    # ----------------------------------------------------------------- one request

    def _serve_request(self, head: _Head) -> bool:
        """Serve one request; returns whether the connection stays open for another."""
        parts = head.start_line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            raise _BadMessage(f"bad request line {head.start_line[:80]!r}")
        method, target, version = parts
        req = _Request(head, method, target, version, self.proxy._new_record(method, target, head.headers))
        try:
            return self._serve(req)
        except (_PeerError, _BadMessage) as exc:
            if req.rec.error is None:
                self.proxy._set(req.rec, error=str(exc))
            raise
        finally:
            self.proxy._done(req.rec)

    def _serve(self, req: _Request) -> bool:
        try:
            req.framing = _framing(req.head, request=True)
        except _BadMessage as exc:
            self._reply_error(req, 400, "BadRequest", str(exc), close=True)
            return False
        conn_tokens = req.head.tokens("connection")
        req.client_keep = "close" not in conn_tokens and (
            req.version != "HTTP/1.0" or "keep-alive" in conn_tokens
        )
        req.expect_continue = req.has_body and "100-continue" in req.head.tokens("expect")

        hit = self.proxy._select_rule(req.method, req.target)
        if hit is None:
            return self._forward(req, cut=False)
        ident, rule = hit
        self.proxy._set(req.rec, fault=rule.action, rule=ident)

        if rule.action == "reset_request":
            if req.has_body:
                self._drain_request(req, cut=True)
            self.proxy._set(req.rec, error="connection reset by fault while receiving the request")
            return self._abort()
        if rule.action in ("status", "refuse"):
            self._drain_request(req)
            status, code, message = rule.error()
            self._reply_error(req, status, code, message, close=not req.client_keep)
            return req.client_keep
        if rule.action == "stall":
            self._drain_request(req)
            self.proxy._set(req.rec, error=f"stalled {rule.seconds:g}s, then closed without a response")
            self.proxy._stopping.wait(rule.seconds)
            return False
        return self._forward(req, cut=True)  # reset_response

    def _forward(self, req: _Request, *, cut: bool) -> bool:
        """Forward one request upstream and relay the response (``cut``: only half of it, then RST)."""
        proxy = self.proxy
        rec = req.rec
        # 1. an upstream connection: reuse the idle one unless the upstream dropped it
        if self.up is not None and self.up.dropped():
            self._drop_upstream()
        if self.up is None:
            try:
                self.up = proxy._connect_upstream()
            except (OSError, _PeerError) as exc:
                self._drain_request(req)
                message = f"faultproxy: upstream {proxy.upstream} unreachable: {exc}"
                self._reply_error(req, 502, "BadGateway", message, close=not req.client_keep)
                return req.client_keep
        up = self.up

        # 2. the request: head as received minus Expect, then the body relayed byte for byte
        self._continue_if_expected(req)
        broken: _PeerError | None = None
        try:
            up.writer.write(req.head.raw(drop=("expect",)))
            _relay_body(self.reader, up.writer, req.framing, progress=proxy._up_progress(rec, forwarded=True))
        except _PeerError as exc:
            if exc.side != "upstream":
                raise
            broken = exc  # the upstream may have answered early (and closed): try to relay that

        # 3. the response head, skipping interim 1xx responses
        try:
            while True:
                resp = _read_head(up.reader, eof_ok=True)
                if resp is None:
                    raise _PeerError("upstream", "connection closed without a response")
                status = _status_of(resp)
                if status >= 200 or status == 101:
                    break
        except (_PeerError, _BadMessage) as exc:
            self._drop_upstream()
            message = f"faultproxy: upstream failed: {broken or exc}"
            self._reply_error(req, 502, "BadGateway", message, close=True)
            return False

        # 4. the response
        if req.head_only or status < 200 or status in (204, 304):
            rframing: tuple[str, int] = (_NONE, 0)
        else:
            rframing = _framing(resp, request=False)
        resp_tokens = resp.tokens("connection")
        upstream_keep = (
            broken is None
            and rframing[0] != _UNTIL_CLOSE
            and "close" not in resp_tokens
            and (not resp.start_line.startswith(b"HTTP/1.0") or "keep-alive" in resp_tokens)
        )
        raw_head = resp.raw()
        down = proxy._down_progress(rec)
        if cut:
            if rframing[0] == _NONE or rframing == (_LENGTH, 0):
                proxy._set(rec, error="connection reset by fault in the middle of the response head")
                self.writer.write(raw_head[: len(raw_head) // 2])
            else:
                proxy._set(rec, status=status, error="connection reset by fault in the middle of the body")
                self.writer.write(raw_head)
                _relay_body(up.reader, self.writer, rframing, cut=True, progress=down)
            self.writer.flush()
            return self._abort()

        proxy._set(rec, status=status)
        self.writer.write(raw_head)
        _relay_body(up.reader, self.writer, rframing, progress=down)
        if not upstream_keep:
            self._drop_upstream()
            return False
        return req.client_keep


def _status_of(head: _Head) -> int:
    parts = head.start_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise _BadMessage(f"upstream: bad status line {head.start_line[:80]!r}")
    return int(parts[1])


def _error_response(
    status: int, code: str, message: str, *, close: bool, head_only: bool
) -> tuple[bytes, int]:
    """An S3-style XML error response and the length of the body it carries."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{_xml_escape(code)}</Code><Message>{_xml_escape(message)}</Message>"
        "<RequestId>fault</RequestId></Error>"
    ).encode()
    lines = [
        f"HTTP/1.1 {status} {_reason(status)}",
        "Content-Type: application/xml",
        f"Content-Length: {len(body)}",
        "x-amz-request-id: fault",
        f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime())}",
    ]
    if close:
        lines.append("Connection: close")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if head_only:
        return data, 0
    return data + body, len(body)


# --------------------------------------------------------------------------- standalone mode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.faultproxy",
        description="Fault-injecting HTTP/1.1 reverse proxy for S3 integration tests.",
    )
    parser.add_argument("--upstream", required=True, help="upstream base URL, e.g. http://127.0.0.1:7480")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0 = pick a free one)")
    parser.add_argument("--rules", help="JSON file: a list of rule objects with the Rule field names")
    parser.add_argument("--timeout", type=float, default=120.0, help="socket timeout in seconds")
    parser.add_argument("--verbose", "-v", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    rules = load_rules(args.rules) if args.rules else []

    def log(rec: RequestRecord) -> None:
        print(
            f"{rec.method} {rec.path} req={rec.req_bytes} -> {rec.outcome} resp={rec.resp_bytes}"
            + (f" ({rec.error})" if rec.error else ""),
            file=sys.stderr,
            flush=True,
        )

    proxy = FaultProxy(
        args.upstream,
        host=args.host,
        port=args.port,
        timeout=args.timeout,
        rules=rules,
        on_request=log if args.verbose else None,
    )
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    proxy.start()
    print(proxy.port, flush=True)
    print(f"faultproxy: {proxy.url} -> {args.upstream} ({len(rules)} rule(s))", file=sys.stderr, flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        proxy.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
