"""A small HTTP server on loopback that the hardening tests point ferry at: it serves fixed answers per
path, can redirect elsewhere, answer a range with an endless body, and records every request it got."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Hostile:
    host: str = "127.0.0.1"
    routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    """(method, path) of every request, in order."""
    _server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def url(self, path: str, host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    def start(self) -> Hostile:
        owner = self

        class Handle(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _any(self) -> None:
                owner.requests.append((self.command, self.path))
                route = owner.routes.get(self.path.split("?")[0])
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    route(self)

            do_GET = do_HEAD = do_POST = _any

        self._server = ThreadingHTTPServer((self.host, 0), Handle)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def body(data: bytes, status: int = 200, **headers: str) -> Handler:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(data)

    return answer


def redirect(location: str) -> Handler:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


def endless_range(sent: list[int], limit: int = 300 * 1024 * 1024) -> Handler:
    """A HEAD answers a one-byte object; a GET answers its one-byte range with a chunked body of up to
    ``limit`` bytes. ``sent`` gets the bytes written before the client hung up."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        if handler.command == "HEAD":
            handler.send_response(200)
            handler.send_header("Content-Length", "1")
            handler.send_header("Accept-Ranges", "bytes")
            handler.end_headers()
            return
        handler.send_response(206)
        handler.send_header("Content-Range", "bytes 0-0/1")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        chunk = b"x" * (1024 * 1024)
        written = 0
        try:
            while written < limit:
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                written += len(chunk)
            handler.wfile.write(b"0\r\n\r\n")
        finally:
            sent.append(written)
            handler.close_connection = True

    return answer
