"""Tokens: issued per project by ``ferry token create``, printed once, stored only as a SHA-256 hash.

A token is 32 random bytes (URL-safe base64). Its hash is enough to recognise it and useless to anyone
who reads the database. Every ``/v2/{project_id}/...`` call must carry one in ``X-Auth-Token``: no
token or an unknown one is 401, a token of another project is 403 (see :class:`TokenGate`).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from ferry.service.db import Database, Token, now
from ferry.service.errors import TOKEN_MISSING, TOKEN_UNKNOWN, WRONG_PROJECT, ApiError, error_response

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
        raise ApiError(401, TOKEN_MISSING, "authentication required: send the X-Auth-Token header")
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


class TokenGate:
    """ASGI middleware: every ``/v2/{project_id}/...`` request is authenticated before it is routed or
    its body read, so an unauthenticated caller learns nothing about what it sent."""

    def __init__(self, app: ASGIApp, database: Database) -> None:
        self.app = app
        self.database = database

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v2/"):
            project_id = scope["path"].split("/")[2]  # the server has decoded the path already
            token = None
            for name, value in scope["headers"]:
                if name == b"x-auth-token":
                    token = value.decode("latin-1")
                    break
            try:
                await run_in_threadpool(check_token, self.database, project_id, token)
            except ApiError as exc:
                response = error_response(exc.status, exc.code, exc.message)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
