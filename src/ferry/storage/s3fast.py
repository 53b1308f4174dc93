"""Whole-object S3 requests (PUT, ranged GET, CopyObject) and listing pages (ListObjectsV2), signed here
and sent over ferry's keep-alive HTTP/1.1 pool (:mod:`ferry.storage.wire`), without botocore's per-request
machinery.

Why: for an object of a few KiB, botocore's parameter validation, event system, endpoint resolution and
request building cost several times what the request itself costs (a profile of ``ferry cp -r`` of 2,000
objects of 16 KiB spent about half of its CPU there). This module is an implementation detail of
:class:`ferry.storage.s3.S3Store`, not a second storage protocol: the store decides when a request may take
this path (path-style addressing, SigV4, no proxy, no requester-pays, a plain key) and turns its failures
into ferry's errors with the same classification as botocore's (:class:`S3ResponseError` carries what a
botocore ``ClientError`` carries). Everything else — multipart, ListParts, UploadPartCopy, delimited
listings, deletes — stays with botocore.

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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote_plus, urlsplit

from ferry.storage.wire import Answer, Pool

if TYPE_CHECKING:
    from xml.etree import ElementTree

Credentials = tuple[str, str, str | None]
"""Access key, secret key, session token."""

_UNSIGNED = "UNSIGNED-PAYLOAD"
_MAX_DOCUMENT = 16 << 20
"""The largest XML answer read: a listing page of 1,000 keys of 1,024 bytes, URL-encoded, stays below it."""
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


@dataclass(frozen=True, slots=True)
class Listed:
    key: str
    size: int
    mtime: float
    etag: str | None


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
        tls = None
        if parts.scheme == "https":
            import ssl  # not loaded for a plain-HTTP endpoint: a one-object command starts sooner

            tls = ssl.create_default_context(
                cafile=verify if isinstance(verify, str) else _default_ca_bundle() if verify else None
            )
            if verify is False:
                tls.check_hostname = False
                tls.verify_mode = ssl.CERT_NONE
        self._pool = Pool(
            parts.hostname or "",
            parts.port or (443 if parts.scheme == "https" else 80),
            tls=tls,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_idle=max_connections,
        )

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

    def get(self, bucket: str, key: str, headers: dict[str, str], length: int) -> bytes:
        """GetObject of ``length`` bytes (the caller gives the range); the bytes, checked against the
        server's checksum. A longer answer is refused unread."""
        if self._response_checksums:
            headers = dict(headers, **{"x-amz-checksum-mode": "ENABLED"})
        answer = self._send(
            "GetObject", "GET", bucket, key, headers, None, max_body=max(length, _MAX_DOCUMENT)
        )
        for name, digest in _RESPONSE_CHECKSUMS.items() if self._response_checksums else ():
            expected = answer.headers.get(f"x-amz-checksum-{name}")
            if expected and "-" not in expected:
                if base64.b64encode(digest(answer.data)).decode() != expected:
                    raise ChecksumMismatch(f"{name} of the received data did not match")
                break
        return answer.data

    def head(self, bucket: str, key: str) -> dict[str, str]:
        """HeadObject: the object's headers, names lower-cased. An error answer has no body: its code is
        its status (``404``), as botocore gives it."""
        return self._send("HeadObject", "HEAD", bucket, key, {}, None).headers

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

    def list_page(self, bucket: str, prefix: str, token: str | None) -> tuple[list[Listed], str | None]:
        """One page of ListObjectsV2 (keys URL-encoded on the wire, as botocore asks for them): the objects
        and the token of the next page (``None`` after the last)."""
        query = {"list-type": "2", "prefix": prefix, "encoding-type": "url"}
        if token:
            query["continuation-token"] = token
        answer = self._send("ListObjectsV2", "GET", bucket, None, {}, None, query)
        root = _parse(answer.data)
        if root is None or _local(root.tag) != "ListBucketResult":
            code, message = _error_fields(root)
            raise S3ResponseError("ListObjectsV2", answer.status, code or "InternalError", message)
        listed: list[Listed] = []
        truncated, next_token = False, None
        for child in root:
            tag = _local(child.tag)
            if tag == "Contents":
                fields = {_local(f.tag): f.text or "" for f in child}
                modified = datetime.fromisoformat(fields["LastModified"].replace("Z", "+00:00"))
                listed.append(
                    Listed(
                        unquote_plus(fields["Key"]),
                        int(fields["Size"]),
                        modified.timestamp(),
                        fields.get("ETag", "").strip('"') or None,
                    )
                )
            elif tag == "IsTruncated":
                truncated = (child.text or "").strip() == "true"
            elif tag == "NextContinuationToken":
                next_token = child.text
        return listed, next_token if truncated else None

    # --- the wire -------------------------------------------------------------------------------------------

    def _send(
        self,
        operation: str,
        method: str,
        bucket: str,
        key: str | None,
        headers: dict[str, str],
        body: bytes | None,
        query: dict[str, str] | None = None,
        max_body: int = _MAX_DOCUMENT,
    ) -> Answer:
        path = f"{self._prefix}/{quote(bucket, safe='')}"
        if key is not None:
            path += f"/{quote(key, safe='/~')}"
        canonical_query = "&".join(
            f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted((query or {}).items())
        )
        signed = self._sign(method, path, headers, canonical_query)
        target = f"{path}?{canonical_query}" if canonical_query else path
        answer = self._pool.request(method, target, signed, body, max_body=max_body)
        if answer.status >= 300:
            code, message = _error_fields(_parse(answer.data))
            raise S3ResponseError(operation, answer.status, code or str(answer.status), message)
        return answer

    def _sign(self, method: str, path: str, headers: dict[str, str], query: str = "") -> dict[str, str]:
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
                query,
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


_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}


def http_date(value: str) -> float:
    """A Last-Modified header (``Thu, 03 Dec 2026 13:21:51 GMT``) as a POSIX time; other forms through
    the standard library's parser. ValueError when it is not a date."""
    parts = value.split()
    if len(parts) == 6 and parts[5] == "GMT" and parts[2] in _MONTHS:
        try:
            hour, minute, second = (int(n) for n in parts[4].split(":"))
            moment = datetime(
                int(parts[3]), _MONTHS[parts[2]], int(parts[1]), hour, minute, second, tzinfo=UTC
            )
        except ValueError:
            pass
        else:
            return moment.timestamp()
    from email.utils import parsedate_to_datetime

    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"not an HTTP date: {value[:40]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _default_ca_bundle() -> str | None:
    try:
        import certifi
    except ImportError:
        return None
    return str(certifi.where())


def _parse(data: bytes) -> ElementTree.Element | None:
    if not data or len(data) > _MAX_DOCUMENT:
        return None
    from xml.etree import ElementTree  # here: a one-object upload or download parses no document

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
