"""The service's errors: every error answer is ``{"error_code": "...", "error_msg": "..."}``.

The codes are stable (docs/service.md lists them). Those OMS itself documents keep OMS's numbers; the
rest are ferry's own. Messages are one line, at most 1,024 characters, and never carry a secret: request
values are never echoed back, only where in the request the problem is.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ferry.service.codes import (
    BAD_REQUEST,
    CANNOT_START,
    CANNOT_STOP,
    IN_PROGRESS,
    INTERNAL,
    KEY_UNKNOWN,
    METHOD_NOT_ALLOWED,
    NO_CREDENTIALS,
    NO_SUCH_PATH,
    NOT_FOUND,
    SIGNATURE_INVALID,
    TOKEN_MISSING,
    TOKEN_UNKNOWN,
    UNSUPPORTED,
    WRONG_PROJECT,
)

__all__ = [
    "BAD_REQUEST",
    "CANNOT_START",
    "CANNOT_STOP",
    "INTERNAL",
    "IN_PROGRESS",
    "KEY_UNKNOWN",
    "METHOD_NOT_ALLOWED",
    "NOT_FOUND",
    "NO_CREDENTIALS",
    "NO_SUCH_PATH",
    "SIGNATURE_INVALID",
    "TOKEN_MISSING",
    "TOKEN_UNKNOWN",
    "UNSUPPORTED",
    "WRONG_PROJECT",
    "ApiError",
    "bad_request",
    "error_body",
    "error_response",
    "install",
]

log = logging.getLogger("ferry.service")

MAX_MESSAGE = 1024


class ApiError(Exception):
    """An error answer: HTTP status, stable code, one-line message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def bad_request(message: str) -> ApiError:
    return ApiError(400, BAD_REQUEST, message)


def error_body(code: str, message: str) -> dict[str, str]:
    message = " ".join(message.split())
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 3] + "..."
    return {"error_code": code, "error_msg": message}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status)


def describe_validation(errors: Sequence[Any]) -> str:
    """Where and what is wrong, for each problem; never the offending value (it may be a secret)."""
    parts = []
    for error in errors[:10]:
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body",)]
        where = ".".join(loc) or "body"
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "json_invalid":
            where, message = "body", "the body is not valid JSON"
        elif error.get("type") == "missing" and loc == []:
            message = "a JSON body is required"
        elif loc == [] and error.get("type") in ("model_attributes_type", "dict_type", "model_type"):
            message = "the body must be a JSON object (Content-Type: application/json)"
        parts.append(f"{where}: {message}")
    more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
    return "invalid request: " + "; ".join(parts) + more


def install(app: FastAPI) -> None:
    """Make every error, FastAPI's own included, answer with the error body."""

    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.message)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(400, BAD_REQUEST, describe_validation(exc.errors()))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return error_response(404, NO_SUCH_PATH, f"no such path: {request.url.path}")
        if exc.status_code == 405:
            return error_response(405, METHOD_NOT_ALLOWED, f"{request.method} is not allowed here")
        return error_response(exc.status_code, f"FERRY.0{exc.status_code}"[:10], str(exc.detail))

    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("internal error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return error_response(500, INTERNAL, "internal error; the service log has the details")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, internal_error)
