"""Plain HTTP(S) as a read-only source: the objects of a URL list (OMS's ``URL_LIST``), or one URL.

A key is an absolute ``http(s)://`` URL, so one source serves every host of a list through one pooled
urllib3 client. ``stat`` is a HEAD (a GET of ``bytes=0-0`` when HEAD is refused); its fingerprint is the
size, the ETag and Last-Modified. Every ranged GET is pinned to what ``stat`` saw: ``If-Range`` and
``If-Match`` with a strong ETag, else ``If-Range`` and ``If-Unmodified-Since`` with Last-Modified. A whole
body (200) where a range was asked for, a 412, or a different validator in the answer means the object
changed: SourceChangedError, and the engine starts the object again.

With a CDN key every request is signed afresh (type A, :mod:`ferry.storage.cdnsign`). The key and signed
URLs never leave this module: :meth:`HttpSource.url` names the unsigned URL, and messages built from what
the server or urllib3 said are redacted.
"""

from __future__ import annotations

import contextlib
import email.utils
import re
import threading
import urllib.request
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import Any
from urllib.parse import urlsplit

import urllib3
import urllib3.exceptions
from urllib3.response import BaseHTTPResponse

from ferry.errors import (
    BucketError,
    FerryError,
    NotFoundError,
    RetryableError,
    SourceChangedError,
    TransferError,
    UnsupportedError,
)
from ferry.storage.base import (
    Capabilities,
    Chunks,
    ObjectInfo,
    ReadOnlyStore,
    one_chunk,
)
from ferry.storage.cdnsign import TypeASigner
from ferry.storage.netguard import E, refused_address, unreachable
from ferry.storage.s3 import ClientSettings
from ferry.urls import canonical_url

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)
_UNSATISFIED_RANGE = re.compile(r"^\s*bytes\s+\*/(\d+)\s*$", re.IGNORECASE)
_HEAD_REFUSED = (403, 405, 501)
"""Answers to a HEAD that a GET may still get past: HEAD not allowed or not implemented, and URLs signed
for GET alone (a presigned URL)."""
_REMEMBERED = 4096
_DRAIN_LIMIT = 64 * 1024


def bypasses_proxy(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether NO_PROXY (curl's rules: comma-separated hosts or domains, a leading dot optional, an
    optional ``:port``, ``*`` for every host) says to reach ``host`` directly."""
    host = host.lower().rstrip(".")
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and (not entry_port.isdigit() or int(entry_port) != port):
            continue
        name = name.lstrip(".").rstrip(".")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


class HttpSource(ReadOnlyStore):
    """Objects behind http(s) URLs, read with ranged GETs. ``signer`` signs every request (a CDN key)."""

    read_only = "an HTTP source is read-only"

    capabilities = Capabilities(
        multipart=False, server_side_copy=False, lists_parts=False, stages_locally=False
    )

    def __init__(
        self,
        settings: ClientSettings | None = None,
        signer: TypeASigner | None = None,
        *,
        key_hint: str = "--cdn-auth-key",
    ) -> None:
        """``key_hint`` is how a refusal tells the user to give a CDN key (the service's field differs)."""
        settings = settings or ClientSettings()
        self._signer = signer
        self._key_hint = key_hint
        self._pool_args: dict[str, Any] = {
            "num_pools": 64,
            "maxsize": settings.max_connections,
            "timeout": urllib3.Timeout(connect=settings.connect_timeout, read=settings.read_timeout),
            # Redirects are followed; every failure is handed to ferry's own retry loop.
            "retries": urllib3.Retry(total=None, connect=0, read=0, other=0, status=0, redirect=5),
            "headers": {"Accept-Encoding": "identity", "User-Agent": "ferry"},
        }
        self._pool = urllib3.PoolManager(**self._pool_args)
        # HTTP_PROXY, HTTPS_PROXY and NO_PROXY apply as they do for botocore and curl.
        self._proxies = urllib.request.getproxies_environment()
        self._proxy_pools: dict[str, urllib3.ProxyManager] = {}
        # Last-Modified as stat saw it, for pinning reads of objects without a strong ETag (the Store
        # protocol hands read_range the ETag only). Bounded: objects in flight are far fewer.
        self._last_modified: OrderedDict[str, str] = OrderedDict()
        self._memo_lock = threading.Lock()

    def url(self, key: str) -> str:
        return key

    def identity(self) -> Hashable:
        return ("http",)

    # --- requests ----------------------------------------------------------------------------------------

    def _safe(self, text: str) -> str:
        return self._signer.redact(text) if self._signer is not None else text

    @contextlib.contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        """urllib3's exceptions as ferry's classified errors, with messages that never carry a key or a
        signed URL."""
        try:
            yield
        except FerryError as exc:
            exc.message = self._safe(exc.message)
            exc.args = (exc.message,)
            raise
        except urllib3.exceptions.MaxRetryError as exc:
            raise self._network_error(key, exc.reason or exc) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._network_error(key, exc) from None

    def _network_error(self, key: str, exc: BaseException) -> FerryError:
        where = self.url(key)
        refused = refused_address(exc)
        if refused is not None:
            return TransferError(self._safe(f"{where}: {refused}"))
        if isinstance(exc, urllib3.exceptions.SSLError):
            return self._unreachable(TransferError, where, f"TLS failed: {_describe(exc)}")
        if isinstance(exc, urllib3.exceptions.ResponseError):  # too many redirects
            return TransferError(self._safe(f"{where}: {_describe(exc)}"))
        if isinstance(exc, urllib3.exceptions.LocationValueError):
            return TransferError(self._safe(f"{where}: the server redirected to an invalid location"))
        return self._unreachable(RetryableError, where, f"network error: {_describe(exc)}")

    def _unreachable(self, error: type[E], where: str, cause: str) -> E:
        """Exactly what failed; in the service, one reason for every host it could not reach."""
        return unreachable(error, self._safe(where), self._safe(cause), "an HTTP server", what="the host")

    def _open(self, method: str, key: str, headers: dict[str, str]) -> BaseHTTPResponse:
        target = canonical_url(key)
        wire = self._signer.sign(target) if self._signer is not None else target
        return self._manager(target).urlopen(
            method, wire, headers=headers, preload_content=False, decode_content=False, redirect=True
        )

    def _manager(self, url: str) -> urllib3.PoolManager:
        """The direct pool, or the pool of the proxy the environment names for this URL."""
        parts = urlsplit(url)
        proxy = self._proxies.get(parts.scheme)
        if not proxy or bypasses_proxy(parts.hostname or "", parts.port, self._proxies.get("no", "")):
            return self._pool
        with self._memo_lock:
            manager = self._proxy_pools.get(proxy)
            if manager is None:
                manager = self._proxy_pools[proxy] = urllib3.ProxyManager(proxy, **self._pool_args)
        return manager

    def _raise_for_status(self, response: BaseHTTPResponse, key: str) -> None:
        status = response.status
        if 200 <= status < 300:
            return
        where = self.url(key)
        said = f"HTTP {status}" + (f" {response.reason}" if response.reason else "")
        if status in (404, 410):
            raise NotFoundError(f"{where}: no such object ({said})")
        if status in (401, 403):
            hint = (
                "the CDN refused the signed request: check the CDN auth key"
                if self._signer is not None
                else f"if it is behind a CDN that checks signatures, give its key with {self._key_hint}"
            )
            raise BucketError(self._safe(f"{where}: access denied ({said}); {hint}"))
        if status == 412:
            raise SourceChangedError(f"{where}: the object changed during the transfer ({said})")
        if status in (408, 429) or status >= 500:
            raise RetryableError(self._safe(f"{where}: {said}"))
        raise TransferError(self._safe(f"{where}: unexpected answer {said}"))

    # --- reading -----------------------------------------------------------------------------------------

    def stat(self, key: str) -> ObjectInfo:
        with self._errors(key):
            response = self._open("HEAD", key, {})
            try:
                refused = response.status in _HEAD_REFUSED
                if not refused:
                    self._raise_for_status(response, key)
                length = response.headers.get("Content-Length")
            finally:
                _finish(response)
            if refused or length is None or not length.strip().isdigit():
                return self._stat_by_get(key)  # also a HEAD without a length (a dynamic page)
            return self._info(key, int(length), response)

    def _stat_by_get(self, key: str) -> ObjectInfo:
        response = self._open("GET", key, {"Range": "bytes=0-0"})
        try:
            if response.status == 416:  # an empty object has no byte 0
                unsatisfied = _UNSATISFIED_RANGE.match(response.headers.get("Content-Range", ""))
                if unsatisfied:
                    return self._info(key, int(unsatisfied[1]), response)
            self._raise_for_status(response, key)
            if response.status == 206:
                match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
                if match and match[3] != "*":  # the body is not read: _finish closes a large one
                    return self._info(key, int(match[3]), response)
            length = response.headers.get("Content-Length")
            if response.status == 200 and length is not None and length.strip().isdigit():
                return self._info(key, int(length), response)
        finally:
            _finish(response)
        raise TransferError(f"{self.url(key)}: the server does not say how large the object is")

    def _info(self, key: str, size: int, response: BaseHTTPResponse) -> ObjectInfo:
        etag = _etag(response.headers.get("ETag"))
        modified = response.headers.get("Last-Modified")
        if modified and (etag is None or etag.startswith("W/")):
            with self._memo_lock:
                self._last_modified[key] = modified
                self._last_modified.move_to_end(key)
                while len(self._last_modified) > _REMEMBERED:
                    self._last_modified.popitem(last=False)
        return ObjectInfo(
            key=key,
            size=size,
            mtime=_http_time(modified),
            etag=etag,
            content_type=response.headers.get("Content-Type"),
        )

    def read_range(self, key: str, offset: int, length: int, *, if_match: str | None = None) -> bytes:
        if length == 0:
            return b""
        headers = {"Range": f"bytes={offset}-{offset + length - 1}"}
        strong = if_match if if_match and not if_match.startswith("W/") else None
        with self._memo_lock:
            modified = self._last_modified.get(key) if strong is None else None
        if strong is not None:
            headers["If-Range"] = headers["If-Match"] = f'"{strong}"'
        elif modified is not None:
            headers["If-Range"] = headers["If-Unmodified-Since"] = modified
        where = self.url(key)
        with self._errors(key):
            response = self._open("GET", key, headers)
            try:
                if response.status == 416:
                    raise SourceChangedError(f"{where}: the object is shorter than when the transfer began")
                self._raise_for_status(response, key)
                etag, now_modified = (
                    _etag(response.headers.get("ETag")),
                    response.headers.get("Last-Modified"),
                )
                if (strong is not None and etag is not None and etag != strong) or (
                    modified is not None and now_modified is not None and now_modified != modified
                ):
                    raise SourceChangedError(f"{where}: the object changed during the transfer")
                if response.status == 200:
                    self._whole_body_instead(response, key, offset, length, pinned=bool(strong or modified))
                elif response.status == 206:
                    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
                    if not match or int(match[1]) != offset or int(match[2]) != offset + length - 1:
                        raise TransferError(f"{where}: the server answered another byte range than asked")
                    announced = response.headers.get("Content-Length")
                    if announced is not None and announced.strip() != str(length):
                        raise TransferError(f"{where}: the answer's length differs from its range")
                else:
                    raise TransferError(f"{where}: unexpected answer HTTP {response.status} to a ranged read")
                # Never more than asked for, plus one byte to see an overrun: a hostile or broken server's
                # endless body must not fill the memory.
                data = response.read(length + 1)
            finally:
                _finish(response)
        if len(data) > length:
            raise TransferError(f"{where}: the server sent more bytes than the range it was asked for")
        if len(data) != length:
            raise RetryableError(f"{where}: short read at offset {offset}: {len(data)} of {length} bytes")
        return data

    def read_range_chunks(self, key: str, offset: int, length: int, *, if_match: str | None = None) -> Chunks:
        return one_chunk(self.read_range(key, offset, length, if_match=if_match))

    def _whole_body_instead(
        self, response: BaseHTTPResponse, key: str, offset: int, length: int, *, pinned: bool
    ) -> None:
        """A 200 where a range was asked for. With the validators unchanged (checked by the caller) the
        server simply ignores ranges: fine when the whole object was asked for anyway."""
        size = response.headers.get("Content-Length")
        if offset == 0 and size is not None and size.strip() == str(length):
            return
        if pinned and response.headers.get("Accept-Ranges", "").strip().lower() == "bytes":
            raise SourceChangedError(f"{self.url(key)}: the object changed during the transfer")
        raise TransferError(
            f"{self.url(key)}: the server does not serve byte ranges; copy it in one request with a "
            "--threshold above its size"
        )

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        raise UnsupportedError("an HTTP source cannot be listed: give the URLs in a list (--url-list)")

    def list_uploads(self, prefix: str) -> Iterator[tuple[str, str, float]]:
        return iter(())


def _finish(response: BaseHTTPResponse) -> None:
    """Give the connection back to the pool. What is left of a small body is read first; a connection with
    a large or unknown rest is closed (a reused connection must not start with the rest of an old body), and
    so is one that carried an error: servers often close those right after answering (nginx does after a
    412), and a request sent on it at that moment would meet a reset."""
    if response.connection is not None:
        remaining = getattr(response, "length_remaining", None)
        if remaining is None or remaining > _DRAIN_LIMIT or response.status >= 400:
            response.close()
        elif remaining:
            try:
                response.drain_conn()
            except (urllib3.exceptions.HTTPError, OSError):
                response.close()
    response.release_conn()


def _etag(value: str | None) -> str | None:
    """An ETag without its quotes; a weak one keeps its ``W/`` (it cannot pin a range)."""
    if not value:
        return None
    value = value.strip()
    weak = value[:2].upper() == "W/"
    core = (value[2:] if weak else value).strip().strip('"')
    if not core:
        return None
    return f"W/{core}" if weak else core


def _http_time(value: str | None) -> float:
    if not value:
        return 0.0
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return 0.0


def _describe(exc: BaseException) -> str:
    """A short reason for a network failure, without urllib3's object reprs."""
    if isinstance(exc, urllib3.exceptions.NameResolutionError):
        return "the host name cannot be resolved"
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        cause = exc.__cause__ or exc.__context__
        return "cannot connect" + (f" ({cause})" if cause else "")
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
        return "connecting timed out"
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
        return "the server stopped answering (read timeout)"
    if isinstance(exc, urllib3.exceptions.ProtocolError):
        return "the connection was reset or cut short"
    if isinstance(exc, urllib3.exceptions.ResponseError):
        return "too many redirects"
    text = re.sub(r"<[^>]*object at 0x[0-9a-f]+>:?\s*", "", str(exc))
    return " ".join(text.split()) or type(exc).__name__
