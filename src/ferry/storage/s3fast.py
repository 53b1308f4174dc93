"""Whole-object S3 requests (PUT, ranged GET, CopyObject) signed here and sent over a pooled urllib3
connection, without botocore's per-request machinery.

Why: for an object of a few KiB, botocore's parameter validation, event system, endpoint resolution and
request building cost several times what the request itself costs (a profile of ``ferry cp -r`` of 2,000
objects of 16 KiB spent about half of its CPU there). This module is an implementation detail of
:class:`ferry.storage.s3.S3Store`, not a second storage protocol: the store decides when a request may take
this path (path-style addressing, SigV4, no proxy, no requester-pays, a plain key) and turns its failures
into ferry's errors with the same classification as botocore's (:class:`S3ResponseError` carries what a
botocore ``ClientError`` carries). Everything else — multipart, ListParts, UploadPartCopy, listings,
deletes — stays with botocore.

What botocore does for these requests is done here too: SigV4 with ``UNSIGNED-PAYLOAD`` (ferry switches
payload signing off), a CRC32 of each uploaded body sent as ``x-amz-checksum-crc32``, and the checksum the
server returns with a GET checked against the bytes received.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree

import urllib3

Credentials = tuple[str, str, str | None]
"""Access key, secret key, session token."""

_UNSIGNED = "UNSIGNED-PAYLOAD"
_RESPONSE_CHECKSUMS: dict[str, Callable[[bytes], bytes]] = {
    "crc32": lambda data: zlib.crc32(data).to_bytes(4, "big"),
    "sha1": lambda data: hashlib.sha1(data, usedforsecurity=False).digest(),
    "sha256": lambda data: hashlib.sha256(data).digest(),
    "sha512": lambda data: hashlib.sha512(data).digest(),
}
"""The algorithms botocore checks a GET's bytes against (the others need its optional native library)."""


class S3ResponseError(Exception):
    """An S3 error answer: what a botocore ``ClientError`` carries, for the same classification."""

    def __init__(self, operation: str, status: int, code: str, message: str) -> None:
        super().__init__(f"{operation}: {code} ({status}) {message}")
        self.operation, self.status, self.code, self.message = operation, status, code, message


class ChecksumMismatch(Exception):
    """The bytes of a GET do not match the checksum the server sent with them."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    data: bytes


class SignedRequests:
    """SigV4-signed requests to one path-style S3 endpoint, over a connection pool shared by threads."""

    def __init__(
        self,
        endpoint: str,
        region: str,
        credentials: Callable[[], Credentials],
        *,
        connect_timeout: float,
        read_timeout: float,
        max_connections: int,
        verify: bool | str = True,
        request_checksums: bool = True,
        response_checksums: bool = True,
    ) -> None:
        self._request_checksums, self._response_checksums = request_checksums, response_checksums
        parts = urlsplit(endpoint)
        self._prefix = parts.path.rstrip("/")
        self._host = parts.netloc
        self._region = region
        self._credentials = credentials
        self._keys: dict[tuple[str, str], bytes] = {}
        timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        common = {"maxsize": max_connections, "block": False, "timeout": timeout, "retries": False}
        port = parts.port
        self._pool: urllib3.HTTPConnectionPool
        if parts.scheme == "https":
            tls: dict[str, object] = (
                {"cert_reqs": "CERT_NONE"} if verify is False else {"cert_reqs": "CERT_REQUIRED"}
            )
            if isinstance(verify, str):
                tls["ca_certs"] = verify
            elif verify is True:
                tls["ca_certs"] = _default_ca_bundle()
            self._pool = urllib3.HTTPSConnectionPool(parts.hostname or "", port, **common, **tls)  # type: ignore[arg-type]
        else:
            self._pool = urllib3.HTTPConnectionPool(parts.hostname or "", port, **common)  # type: ignore[arg-type]

    def close(self) -> None:
        self._pool.close()

    # --- the operations ------------------------------------------------------------------------------------

    def put(self, bucket: str, key: str, data: bytes, headers: dict[str, str]) -> str:
        """PutObject; the new object's ETag (without quotes)."""
        if self._request_checksums:
            headers = dict(headers)
            headers["x-amz-checksum-crc32"] = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
            headers["x-amz-sdk-checksum-algorithm"] = "CRC32"
        answer = self._send("PutObject", "PUT", bucket, key, headers, data)
        return answer.headers.get("etag", "").strip('"')

    def get(self, bucket: str, key: str, headers: dict[str, str]) -> bytes:
        """GetObject (the caller gives the range); the bytes, checked against the server's checksum."""
        if self._response_checksums:
            headers = dict(headers, **{"x-amz-checksum-mode": "ENABLED"})
        answer = self._send("GetObject", "GET", bucket, key, headers, None)
        for name, digest in _RESPONSE_CHECKSUMS.items() if self._response_checksums else ():
            expected = answer.headers.get(f"x-amz-checksum-{name}")
            if expected and "-" not in expected:
                if base64.b64encode(digest(answer.data)).decode() != expected:
                    raise ChecksumMismatch(f"{name} of the received data did not match")
                break
        return answer.data

    def copy(
        self, bucket: str, key: str, source_bucket: str, source_key: str, headers: dict[str, str]
    ) -> str:
        """CopyObject within the endpoint; the new object's ETag (without quotes)."""
        headers = dict(headers)
        headers["x-amz-copy-source"] = quote(f"{source_bucket}/{source_key}", safe="/~")
        answer = self._send("CopyObject", "PUT", bucket, key, headers, b"")
        # S3 may answer 200 and still fail: the error is then in the body
        root = _parse(answer.data)
        if root is None or _local(root.tag) == "Error":
            code, message = _error_fields(root)
            raise S3ResponseError("CopyObject", answer.status, code or "InternalError", message)
        return (_child_text(root, "ETag") or "").strip('"')

    # --- the wire -------------------------------------------------------------------------------------------

    def _send(
        self, operation: str, method: str, bucket: str, key: str, headers: dict[str, str], body: bytes | None
    ) -> Answer:
        path = f"{self._prefix}/{quote(bucket, safe='')}/{quote(key, safe='/~')}"
        signed = self._sign(method, path, headers)
        response = self._pool.urlopen(
            method, path, body=body, headers=signed, redirect=False, preload_content=True
        )
        lowered = {k.lower(): v for k, v in response.headers.items()}
        if response.status >= 300:
            root = _parse(response.data)
            code, message = _error_fields(root)
            raise S3ResponseError(operation, response.status, code or str(response.status), message)
        return Answer(response.status, lowered, response.data)

    def _sign(self, method: str, path: str, headers: dict[str, str]) -> dict[str, str]:
        access, secret, token = self._credentials()
        now = time.gmtime()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", now)
        day = stamp[:8]
        out = {k.lower(): v.strip() for k, v in headers.items()}
        out["host"] = self._host
        out["x-amz-date"] = stamp
        out["x-amz-content-sha256"] = _UNSIGNED
        if token:
            out["x-amz-security-token"] = token
        names = sorted(out)
        canonical = "\n".join(
            (
                method,
                path,
                "",
                *(f"{n}:{' '.join(out[n].split())}" for n in names),
                "",
                ";".join(names),
                _UNSIGNED,
            )
        )
        scope = f"{day}/{self._region}/s3/aws4_request"
        to_sign = "\n".join(
            ("AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest())
        )
        signature = hmac.new(self._signing_key(secret, day), to_sign.encode(), hashlib.sha256).hexdigest()
        out["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={access}/{scope}, SignedHeaders={';'.join(names)}, "
            f"Signature={signature}"
        )
        out["user-agent"] = "ferry"
        return out

    def _signing_key(self, secret: str, day: str) -> bytes:
        cached = self._keys.get((secret, day))
        if cached is None:
            key = ("AWS4" + secret).encode()
            for part in (day, self._region, "s3", "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._keys = {(secret, day): key}  # one day's key for the current secret is all that is needed
            cached = key
        return cached


def _default_ca_bundle() -> str | None:
    try:
        import certifi
    except ImportError:
        return None
    return str(certifi.where())


def _parse(data: bytes) -> ElementTree.Element | None:
    if not data or len(data) > 1 << 20:
        return None
    try:
        # botocore parses these answers with the same parser; expat bounds entity expansion
        return ElementTree.fromstring(data)  # noqa: S314
    except ElementTree.ParseError:
        return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(root: ElementTree.Element, name: str) -> str | None:
    for child in root:
        if _local(child.tag) == name:
            return child.text
    return None


def _error_fields(root: ElementTree.Element | None) -> tuple[str, str]:
    if root is None:
        return "", ""
    return (_child_text(root, "Code") or "").strip(), (_child_text(root, "Message") or "").strip()
