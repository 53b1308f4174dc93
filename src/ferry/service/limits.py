"""Bounds on what one caller can make the service hold: the size of a request body, and the groups and
tasks a project keeps. A body over :data:`MAX_BODY` is refused with 413 before it is parsed, whether its
length is announced or not (a chunked body is counted as it arrives and cut off at the limit)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ferry.service.codes import TOO_LARGE
from ferry.service.errors import error_response

MAX_BODY = 8 * 1024 * 1024
"""Bytes of one request body: a URL list or key list of tens of thousands of lines fits; more goes in
several groups."""


@dataclass(frozen=True)
class ProjectLimits:
    groups: int = 1000
    """Task groups one project keeps (deleted ones do not count)."""
    tasks: int = 10_000
    """Tasks one project keeps, across its groups."""


class _TooLarge(Exception):
    pass


def _refusal() -> ASGIApp:
    return error_response(
        413, TOO_LARGE, f"the request body is larger than the service takes ({MAX_BODY // (1024 * 1024)} MiB)"
    )


class BodyLimit:
    """ASGI middleware: 413 for a body larger than ``limit`` bytes, before anything reads it whole."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.strip().isdigit() or int(value) > self.limit):
                await _refusal()(scope, receive, send)
                return
        received = 0
        over = answered = False

        async def counted() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    over = True
                    raise _TooLarge  # the app may turn this into an answer of its own: replaced below
            return message

        async def watched(message: Message) -> None:
            nonlocal answered
            if over:
                if not answered:
                    answered = True
                    await _refusal()(scope, receive, send)
                return
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, counted, watched)
        if over and not answered:
            await _refusal()(scope, receive, send)
