"""AK/SK request signatures as Huawei Cloud's SDKs make them (``SDK-HMAC-SHA256``). Pure.

The SDK signs a canonical request::

    METHOD \\n canonical URI \\n canonical query \\n canonical headers \\n signed headers \\n SHA-256(body)

where the URI is the path with each segment percent-encoded (``~`` kept) and a ``/`` appended, the query
its ``key=value`` pairs sorted and encoded the same way, and the headers the ones it lists in
``SignedHeaders`` as ``name:value`` (lower-case names, trimmed values). The string it signs is
``SDK-HMAC-SHA256 \\n X-Sdk-Date \\n SHA-256(canonical request)``, with HMAC-SHA256 under the secret key;
``Authorization: SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=HEX`` carries the result.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
DATE_HEADER = "x-sdk-date"
CONTENT_HEADER = "x-sdk-content-sha256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_SKEW = 15 * 60
"""Seconds a request's X-Sdk-Date may be from the service's clock, either way."""
EMPTY_HASH = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class Authorization:
    access_key: str
    signed_headers: tuple[str, ...]
    signature: str


class SignatureError(Exception):
    """Why a signed request is refused (never quoting the signature or a secret)."""


def parse_authorization(value: str) -> Authorization:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SignatureError(f"unsupported signature algorithm: use {ALGORITHM}")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, text = part.strip().partition("=")
        if sep:
            fields[name.strip()] = text.strip()
    access, headers, signature = fields.get("Access"), fields.get("SignedHeaders"), fields.get("Signature")
    if not access or not headers or not signature:
        raise SignatureError("the Authorization header needs Access, SignedHeaders and Signature")
    return Authorization(access, tuple(headers.split(";")), signature)


def _encode(text: str) -> str:
    return quote(text, safe="~")


def canonical_uri(path: str) -> str:
    uri = "/".join(_encode(segment) for segment in unquote(path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(query: str) -> str:
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    return "&".join(f"{_encode(key)}={_encode(value)}" for key, value in pairs)


def canonical_request(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: tuple[str, ...],
    body: bytes,
) -> str:
    """``headers`` by lower-case name. A header the signature names but the request lacks is an error."""
    lines = []
    for name in signed_headers:
        if name not in headers:
            raise SignatureError(f"the signed header {name} is missing")
        lines.append(f"{name}:{headers[name].strip()}")
    payload = (headers.get(CONTENT_HEADER) or hashlib.sha256(body).hexdigest()) if body else EMPTY_HASH
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(query),
            "\n".join(lines) + "\n",
            ";".join(signed_headers),
            payload,
        ]
    )


def string_to_sign(canonical: str, date: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{date}\n{digest}"


def sign(secret_key: str, text: str) -> str:
    return hmac.new(secret_key.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()


def request_date(headers: Mapping[str, str], clock: float) -> str:
    """The request's X-Sdk-Date, checked against the clock (``MAX_SKEW``)."""
    text = headers.get(DATE_HEADER, "").strip()
    if not text:
        raise SignatureError("a signed request needs the X-Sdk-Date header")
    try:
        when = datetime.strptime(text, DATE_FORMAT).replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise SignatureError("X-Sdk-Date must be YYYYMMDDTHHMMSSZ (UTC)") from None
    if abs(when - clock) > MAX_SKEW:
        raise SignatureError(
            f"X-Sdk-Date is more than {MAX_SKEW // 60} minutes from the service's clock: check the clocks"
        )
    return text


def verify(
    auth: Authorization,
    secret_key: str,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    clock: float,
) -> None:
    """Raise :class:`SignatureError` unless the request was signed with ``secret_key`` just now."""
    if DATE_HEADER not in auth.signed_headers:
        raise SignatureError("the signature must cover X-Sdk-Date")
    if CONTENT_HEADER in headers and headers[CONTENT_HEADER] != hashlib.sha256(body).hexdigest():
        raise SignatureError("the body does not match X-Sdk-Content-Sha256")
    date = request_date(headers, clock)
    canonical = canonical_request(method, path, query, headers, auth.signed_headers, body)
    expected = sign(secret_key, string_to_sign(canonical, date))
    if not hmac.compare_digest(expected, auth.signature.lower()):
        raise SignatureError("the request signature does not match (wrong secret key, or altered on the way)")
