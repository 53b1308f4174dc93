"""The web dashboard: a page and its script and style, served at ``/`` from the package (nothing from
another host). The page calls the public API with the token the user typed; it has no powers of its own.

Every answer carries a strict Content-Security-Policy: scripts, styles and fetches from this origin only, no
inline script or style, no plugins, no framing, no form posts (the page sends its requests itself), and
Trusted Types so that no string can ever become markup.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ferry.service import api_meta
from ferry.service.errors import NO_SUCH_PATH, ApiError

router = APIRouter(include_in_schema=False)

CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}
ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}


def _asset(name: str) -> bytes:
    return resources.files("ferry.service").joinpath("static", name).read_bytes()


@router.get("/")
def index(request: Request) -> Response:
    """The page for a browser; OMS's list of API versions (``api_meta``) for any other client."""
    if "text/html" not in request.headers.get("accept", ""):
        return JSONResponse(api_meta.api_versions(request).model_dump())
    return Response(_asset("index.html"), media_type="text/html; charset=utf-8", headers=HEADERS)


@router.get("/static/{name}")
def asset(name: str) -> Response:
    if name not in ASSETS:
        raise ApiError(404, NO_SUCH_PATH, "no such file")
    return Response(_asset(name), media_type=ASSETS[name], headers=HEADERS)
