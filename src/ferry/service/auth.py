"""Tokens: issued per project by ``ferry token create``, printed once, stored only as a SHA-256 hash.

A token is 32 random bytes (URL-safe base64). Its hash is enough to recognise it and useless to anyone
who reads the database. Every ``/v2/{project_id}/...`` call must carry one in ``X-Auth-Token``, or be
signed with an access key (:mod:`ferry.service.keys`): none, an unknown one or a wrong signature is 401,
a token or key of another project is 403 (see :class:`TokenGate`).
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ferry.service import keys, signing
from ferry.service.db import Database, Token, now
from ferry.service.errors import (
    BAD_REQUEST,
    KEY_UNKNOWN,
    SIGNATURE_INVALID,
    TOKEN_MISSING,
    TOKEN_UNKNOWN,
    WRONG_PROJECT,
    ApiError,
    error_response,
)
from ferry.service.keys import Sealer

MAX_TOKEN = 16384
MAX_PROJECT = 1024


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    id: str
    project_id: str
    token: str
    """The token itself: shown once, never stored."""


def create_token(database: Database, project_id: str, lifetime: float | None = None) -> IssuedToken:
    """A new token for ``project_id``, valid for ``lifetime`` seconds (``None``: until revoked)."""
    if not 1 <= len(project_id) <= MAX_PROJECT or "/" in project_id:
        raise ValueError("a project id is 1 to 1024 characters, without '/'")
    token = secrets.token_urlsafe(32)
    created = now()
    row = Token(
        id=str(uuid.uuid4()),
        project_id=project_id,
        token_hash=hash_token(token),
        created_at=created,
        expires_at=created + lifetime if lifetime is not None else None,
    )
    with database.session() as session:
        session.add(row)
    return IssuedToken(row.id, project_id, token)


def list_tokens(database: Database, project_id: str | None = None) -> list[dict[str, Any]]:
    with database.session() as session:
        query = select(Token).order_by(Token.created_at)
        if project_id is not None:
            query = query.where(Token.project_id == project_id)
        return [
            {"id": t.id, "project_id": t.project_id, "created_at": t.created_at, "expires_at": t.expires_at}
            for t in session.scalars(query)
        ]


def revoke_token(database: Database, token_id: str) -> bool:
    with database.session() as session:
        row = session.get(Token, token_id)
        if row is None:
            return False
        session.delete(row)
        return True


def check_token(database: Database, project_id: str, token: str | None) -> None:
    """Raise the 401/403 :class:`ApiError` a request with ``token`` on ``project_id``'s path deserves."""
    if not token:
        raise ApiError(
            401, TOKEN_MISSING, "authentication required: send X-Auth-Token or sign with an access key"
        )
    if len(token) > MAX_TOKEN:
        raise ApiError(401, TOKEN_UNKNOWN, "the X-Auth-Token is not valid")
    with database.session() as session:
        found = session.execute(
            select(Token.project_id, Token.expires_at).where(Token.token_hash == hash_token(token))
        ).one_or_none()
    if found is None:
        raise ApiError(401, TOKEN_UNKNOWN, "the X-Auth-Token is not valid")
    owner, expires = found
    if expires is not None and expires <= now():
        raise ApiError(401, TOKEN_UNKNOWN, "the X-Auth-Token has expired: ask for a new one")
    if owner != project_id:
        raise ApiError(403, WRONG_PROJECT, "the token does not grant access to this project")


MAX_SIGNED_BODY = 128 * 1024 * 1024
"""A signed request's body is read whole before it is checked (its hash is signed): this bounds it."""


def check_signature(
    database: Database,
    sealer: Sealer,
    project_id: str,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
) -> None:
    """Raise the 401/403 :class:`ApiError` a request signed with an access key deserves."""
    try:
        auth = signing.parse_authorization(headers.get("authorization", ""))
    except signing.SignatureError as exc:
        raise ApiError(401, SIGNATURE_INVALID, str(exc)) from None
    found = keys.lookup(database, sealer, auth.access_key)
    if found is None:
        raise ApiError(401, KEY_UNKNOWN, "the access key is not one the service issued (or it was removed)")
    owner, secret = found
    try:
        signing.verify(auth, secret, method, path, query, headers, body, time.time())
    except signing.SignatureError as exc:
        raise ApiError(401, SIGNATURE_INVALID, str(exc)) from None
    if owner != project_id:
        raise ApiError(403, WRONG_PROJECT, "the access key does not grant access to this project")


class TokenGate:
    """ASGI middleware: every ``/v2/{project_id}/...`` request is authenticated before it is routed, so
    an unauthenticated caller learns nothing about what it sent. A request carries ``X-Auth-Token`` or is
    signed with an access key (``Authorization: SDK-HMAC-SHA256 ...``, as Huawei Cloud's SDKs send it);
    a signed request's body is read first, since its hash is part of the signature."""

    def __init__(self, app: ASGIApp, database: Database, sealer: Sealer) -> None:
        self.app = app
        self.database = database
        self.sealer = sealer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v2/"):
            await self.app(scope, receive, send)
            return
        project_id = scope["path"].split("/")[2]  # the server has decoded the path already
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            key = name.decode("latin-1").lower()
            headers[key] = value.decode("utf-8", "replace") if key not in headers else headers[key]
        try:
            token = headers.get("x-auth-token")
            if token is None and headers.get("authorization", "").startswith(signing.ALGORITHM):
                body = await _read_body(receive)
                query = scope.get("query_string", b"").decode("latin-1")
                await run_in_threadpool(
                    check_signature,
                    self.database,
                    self.sealer,
                    project_id,
                    scope["method"],
                    scope["path"],
                    query,
                    headers,
                    body,
                )
                receive = _replay(body)
            else:
                await run_in_threadpool(check_token, self.database, project_id, token)
        except ApiError as exc:
            response = error_response(exc.status, exc.code, exc.message)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_SIGNED_BODY:
            raise ApiError(413, BAD_REQUEST, f"a signed request's body is at most {MAX_SIGNED_BODY} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive
