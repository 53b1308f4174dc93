"""Google Cloud Storage through google-cloud-storage. One store is one bucket.

A large upload is one GCS *resumable upload session*, not a set of parts: the server holds a single growing
byte stream and can say how many bytes it has persisted. The engine's parts map onto it like this:

- ``create_multipart`` opens a session; its URI is the upload id, so the part record keeps what a later run
  needs to go on (``#ferry-size=N`` is appended as a fragment: the object's size, which every chunk names).
- ``upload_part`` sends a part as the next chunk. The store declares ``sequential_parts`` (one part at a
  time, in order) and a part granularity of 256 KiB (GCS refuses other chunk sizes but the last).
- The LAST part is only kept in memory: it is what commits the object, so it is sent by
  ``complete_multipart``, after the engine's last checks (a local source unchanged), as S3's
  CompleteMultipartUpload would be.
- ``list_parts`` asks the session which offset it confirms (``PUT`` with ``Content-Range: bytes */SIZE``,
  answered by 308 and a ``Range`` header) and returns the parts wholly below it, so a restarted upload goes
  on from there. ``upload_part`` also skips what the server already confirmed (a part whose answer was lost).
- ``abort_multipart`` cancels the session (``DELETE`` on its URI).

A session URI lets anyone holding it upload to the session, so it never appears in a message: request URLs
are cut down to their host in every error this module raises.

Server-side copy is not declared: GCS's rewrite copies whole objects only, with no ranged part copy to
resume by, so bucket-to-bucket copies stream through this machine (``copy_object`` implements the
protocol with rewrite all the same). GCS has no API that lists resumable sessions, so ``list_uploads``
lists nothing: a session nobody finishes expires on its own after a week and is never billed as an object.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import google.api_core.exceptions as api_exceptions
import google.auth.exceptions
import requests

from ferry.errors import (
    BucketError,
    BucketMissingError,
    CredentialsError,
    FerryError,
    NotFoundError,
    RetryableError,
    SourceChangedError,
    TransferError,
    UnsupportedError,
    UploadGoneError,
    UsageError,
)
from ferry.storage.base import (
    MD5_METADATA_KEY,
    Capabilities,
    Chunks,
    ObjectInfo,
    PartResult,
    Store,
    WriteOptions,
    md5_hex_to_b64,
    md5_to_hex,
    one_chunk,
)
from ferry.storage.gcs_auth import GCSConnection
from ferry.storage.listing import BucketInfo, Entry, merge_page
from ferry.storage.netguard import unreachable
from ferry.transfer.parts import Span, split

GRANULARITY = 256 * 1024
"""GCS takes resumable chunks in multiples of 256 KiB, all but the last."""
SIZE_MARK = "#ferry-size="
MAX_SHORT_CHUNKS = 8
"""How often in a row the server may persist less than it was sent before the part fails (as retryable)."""

# S3's canned ACLs as GCS predefined ACLs; S3's storage classes as GCS's nearest.
_ACLS = {
    "private": "private",
    "public-read": "publicRead",
    "authenticated-read": "authenticatedRead",
    "bucket-owner-read": "bucketOwnerRead",
    "bucket-owner-full-control": "bucketOwnerFullControl",
}
_STORAGE_CLASSES = {
    "STANDARD": "STANDARD",
    "STANDARD_IA": "NEARLINE",
    "ONEZONE_IA": "NEARLINE",
    "GLACIER_IR": "COLDLINE",
    "GLACIER": "COLDLINE",
    "DEEP_ARCHIVE": "ARCHIVE",
}
_NETWORK_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    google.auth.exceptions.TransportError,
    ConnectionError,
    TimeoutError,
)


# --- the store --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GCSObjectInfo(ObjectInfo):
    """An object as GCS describes it. ``etag`` is the object's generation (what reads are pinned to);
    ``md5`` is the MD5 the server computed (none for composite objects)."""

    md5: str | None = None

    def md5_hex(self) -> str | None:
        # The server's own MD5 first: ``md5chksum`` metadata is only what a client claimed.
        return self.md5 or ObjectInfo.md5_hex(self)


@dataclass
class _Session:
    """What this process knows of one resumable session."""

    confirmed: int | None = None
    """Bytes the server confirmed; ``None`` when it has to be asked (after a failure, or in a new run)."""
    last: tuple[int, bytes] | None = None
    """The last part (offset, bytes), held back for ``complete_multipart``."""
    resource: dict[str, Any] | None = None
    """The finished object, once the session completed."""


class GCSStore:
    """One bucket of Google Cloud Storage (or of an emulator)."""

    capabilities = Capabilities(
        multipart=True,
        server_side_copy=False,
        # False: what it holds is a byte count (see SequentialStore), and a finished object's ETag is no
        # multipart ETag, so an upload completed by an earlier run is recognised by time instead.
        lists_parts=False,
        stages_locally=False,
        sequential_parts=True,
        part_granularity=GRANULARITY,
        part_etags_are_md5=False,
    )

    def __init__(self, connection: GCSConnection, bucket: str, scheme: str) -> None:
        self.connection = connection
        self.bucket = bucket
        self.scheme = scheme
        # bucket "" is the account (ferry ls gs://): only list_buckets can be used then
        self._bucket: Any = connection.client.bucket(bucket) if bucket else None
        self._timeout = connection.timeout
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def url(self, key: str) -> str:
        return f"{self.scheme}://{self.bucket}/{key}"

    def identity(self) -> Hashable:
        return ("gcs", self.connection.endpoint, self.connection.principal)

    @contextlib.contextmanager
    def _errors(self, key: str | None = None) -> Iterator[None]:
        try:
            yield
        except FerryError:
            raise
        except Exception as exc:
            raise _translate(exc, self, key) from None

    def _info(self, blob: Any) -> GCSObjectInfo:
        return GCSObjectInfo(
            key=blob.name,
            size=int(blob.size or 0),
            mtime=blob.updated.timestamp() if blob.updated else 0.0,
            etag=str(blob.generation) if blob.generation else None,
            metadata=dict(blob.metadata or {}),
            content_type=blob.content_type,
            md5=md5_to_hex(blob.md5_hash) if blob.md5_hash else None,
        )

    # --- reading -------------------------------------------------------------------------------------------

    def stat(self, key: str) -> ObjectInfo:
        blob = self._bucket.blob(key)
        with self._errors(key):
            blob.reload(retry=None, timeout=self._timeout)
        return self._info(blob)

    def read_range(self, key: str, offset: int, length: int, *, if_match: str | None = None) -> bytes:
        """A ranged download pinned to the generation ``if_match`` names: the server answers 412 when the
        object was replaced since. (gcp-storage-emulator ignores ``ifGenerationMatch``.)"""
        if length == 0:
            return b""
        blob = self._bucket.blob(key)
        with self._errors(key):
            data: bytes = blob.download_as_bytes(
                start=offset,
                end=offset + length - 1,
                raw_download=True,
                checksum=None,
                if_generation_match=_generation(if_match),
                retry=None,
                timeout=self._timeout,
            )
        if len(data) != length:
            raise RetryableError(
                f"{self.url(key)}: short read at offset {offset}: {len(data)} of {length} bytes"
            )
        return data

    def read_range_chunks(self, key: str, offset: int, length: int, *, if_match: str | None = None) -> Chunks:
        return one_chunk(self.read_range(key, offset, length, if_match=if_match))

    # --- whole objects -------------------------------------------------------------------------------------

    def _new_blob(self, key: str, options: WriteOptions) -> Any:
        blob = self._bucket.blob(key)
        if options.metadata:
            blob.metadata = dict(options.metadata)
        if options.content_type:
            blob.content_type = options.content_type
        if options.storage_class:
            blob.storage_class = _storage_class(options.storage_class)
        return blob

    def put(self, key: str, data: bytes, options: WriteOptions, *, md5_hex: str | None = None) -> str:
        """One request. With ``md5_hex`` the server checks the bytes against it. Returns the MD5 the server
        computed (so the engine can compare it), or the generation when it gives none."""
        blob = self._new_blob(key, options)
        if md5_hex:
            blob.md5_hash = md5_hex_to_b64(md5_hex)
        with self._errors(key):
            blob.upload_from_string(
                data,
                content_type=options.content_type or "application/octet-stream",
                predefined_acl=_acl(options.acl),
                checksum=None,
                retry=None,
                timeout=self._timeout,
            )
        server_md5 = md5_to_hex(blob.md5_hash) if blob.md5_hash else None
        return server_md5 or str(blob.generation or "")

    def copy_object(
        self, key: str, source: Store, source_key: str, options: WriteOptions | None, if_match: str | None
    ) -> str:
        """GCS's rewrite, repeated until done (large objects take several calls); ``options=None`` keeps the
        source's metadata. Not used by the engine (``server_side_copy`` is not declared)."""
        if not isinstance(source, GCSStore):
            raise UnsupportedError("a server-side copy into GCS needs a GCS source")
        destination = self._new_blob(key, options) if options is not None else self._bucket.blob(key)
        origin = source._bucket.blob(source_key)
        token: str | None = None
        with self._errors(key):
            while True:
                token, _, _ = destination.rewrite(
                    origin,
                    token=token,
                    if_source_generation_match=_generation(if_match),
                    retry=None,
                    timeout=self._timeout,
                )
                if token is None:
                    break
        return str(destination.generation or "")

    def delete(self, key: str) -> None:
        with contextlib.suppress(NotFoundError), self._errors(key):
            self._bucket.delete_blob(key, retry=None, timeout=self._timeout)

    # --- resumable sessions --------------------------------------------------------------------------------

    def create_multipart(self, key: str, size: int, options: WriteOptions) -> str:
        blob = self._new_blob(key, options)
        recorded = options.metadata.get(MD5_METADATA_KEY)
        md5_hex = md5_to_hex(recorded) if recorded else None
        if md5_hex:  # the server then refuses to finish an upload whose bytes do not match
            blob.md5_hash = md5_hex_to_b64(md5_hex)
        with self._errors(key):
            uri: str = blob.create_resumable_upload_session(
                content_type=options.content_type or "application/octet-stream",
                size=size,
                predefined_acl=_acl(options.acl),
                checksum=None,
                retry=None,
                timeout=self._timeout,
            )
        with self._lock:
            self._sessions[uri] = _Session(confirmed=0)
        return make_upload_id(uri, size)

    def upload_part(self, key: str, upload_id: str, span: Span, data: bytes) -> PartResult:
        uri, total = parse_upload_id(upload_id)
        if span.end >= total:  # the last part commits the object: complete_multipart sends it
            with self._lock:
                self._sessions.setdefault(uri, _Session()).last = (span.offset, data)
            return PartResult(span.number, _part_tag(span))
        if span.offset % GRANULARITY or span.length % GRANULARITY:
            raise TransferError(
                f"{self.url(key)}: part {span.number} is not a multiple of 256 KiB, which GCS requires"
            )
        self._push(key, uri, total, span.offset, data, last=False)
        return PartResult(span.number, _part_tag(span))

    def copy_part(
        self, key: str, upload_id: str, span: Span, source: Store, source_key: str, if_match: str | None
    ) -> PartResult:
        raise UnsupportedError("GCS cannot copy a byte range of an object into an upload on the server")

    def list_parts(
        self, key: str, upload_id: str, size: int, part_size: int | None = None
    ) -> dict[int, PartResult] | None:
        uri, total = parse_upload_id(upload_id)
        confirmed = self._query(key, uri, total)
        if part_size is None:
            return None
        return {s.number: PartResult(s.number, _part_tag(s)) for s in parts_below(size, part_size, confirmed)}

    def staged_key(self, key: str, upload_id: str) -> str | None:
        return None

    def complete_multipart(self, key: str, upload_id: str, parts: list[PartResult]) -> str:
        """Send the held-back last part, which finishes the object; a no-op when the session already finished
        (a run that died after sending it). Returns the object's generation."""
        uri, total = parse_upload_id(upload_id)
        session = self._session(uri)
        resource = session.resource
        if resource is None and session.last is not None:
            offset, data = session.last
            resource = self._push(key, uri, total, offset, data, last=True)
        if resource is None:
            confirmed = self._query(key, uri, total)
            resource = self._session(uri).resource
            if resource is None:
                raise UploadGoneError(
                    f"{self.url(key)}: the upload session lacks its last {total - confirmed} bytes"
                )
        with self._lock:
            self._sessions.pop(uri, None)
        return str(resource.get("generation") or resource.get("etag") or "")

    def abort_multipart(self, key: str, upload_id: str) -> None:
        uri = upload_id.split(SIZE_MARK, 1)[0]
        with self._lock:
            self._sessions.pop(uri, None)
        response = self._request(key, "DELETE", uri)
        # 499 is GCS's answer to a cancelled session; 404 and 410, a session already gone. 501 is
        # gcp-storage-emulator's (it cannot cancel sessions); the real service never gives it here, and an
        # uncancelled session simply expires unbilled.
        if response.status_code in (200, 204, 404, 410, 499, 501):
            return
        raise _status_error(response, self, key)

    # --- the session protocol ------------------------------------------------------------------------------

    def _session(self, uri: str) -> _Session:
        with self._lock:
            return self._sessions.setdefault(uri, _Session())

    def _request(
        self, key: str, method: str, uri: str, data: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> requests.Response:
        """One request on a session URI. A failure forgets what is known of the session, so the next
        attempt asks the server first."""
        try:
            response: requests.Response = self.connection.http.request(  # type: ignore[no-untyped-call]
                method, uri, data=data, headers=dict(headers or {}), timeout=self._timeout
            )
            return response
        except Exception as exc:
            self._forget(uri)
            raise _translate(exc, self, key) from None

    def _forget(self, uri: str) -> None:
        with self._lock:
            if uri in self._sessions:
                self._sessions[uri].confirmed = None

    def _query(self, key: str, uri: str, total: int) -> int:
        """Ask the session how many bytes it holds (``total`` when it finished the object)."""
        response = self._request(key, "PUT", uri, headers={"Content-Range": f"bytes */{total}"})
        return self._absorb(key, uri, total, response)

    def _absorb(self, key: str, uri: str, total: int, response: requests.Response) -> int:
        """Learn the confirmed offset from a session's answer, or raise what the answer means."""
        session = self._session(uri)
        if response.status_code in (200, 201):
            try:
                resource = response.json()
            except ValueError:
                resource = {}
            with self._lock:
                session.resource = resource if isinstance(resource, dict) else {}
                session.confirmed = total
            return total
        if response.status_code == 308:
            confirmed = confirmed_offset(response.headers.get("Range"), total)
            with self._lock:
                session.confirmed = confirmed
            return confirmed
        self._forget(uri)
        if response.status_code in (404, 410):
            raise UploadGoneError(f"{self.url(key)}: the upload session no longer exists")
        raise _status_error(response, self, key)

    def _push(
        self, key: str, uri: str, total: int, offset: int, data: bytes, *, last: bool
    ) -> dict[str, Any] | None:
        """Send ``data`` (the part at ``offset``) as the session's next chunk, skipping what the server
        already confirmed and sending again what it did not persist. Returns the object once the session
        finished."""
        end = offset + len(data)
        session = self._session(uri)
        confirmed = session.confirmed
        if confirmed is None:
            confirmed = self._query(key, uri, total)
        for _ in range(MAX_SHORT_CHUNKS):
            if session.resource is not None or confirmed >= end:
                return session.resource
            if confirmed < offset:
                raise UploadGoneError(
                    f"{self.url(key)}: the upload session holds {confirmed} bytes, fewer than the {offset} "
                    "that precede this part"
                )
            body = data if confirmed == offset else data[confirmed - offset :]
            size = str(total) if last else "*"
            chunk_range = f"bytes {confirmed}-{end - 1}/{size}"
            response = self._request(key, "PUT", uri, data=body, headers={"Content-Range": chunk_range})
            confirmed = self._absorb(key, uri, total, response)
        self._forget(uri)
        raise RetryableError(f"{self.url(key)}: the server kept persisting less than it was sent")

    # --- listing -------------------------------------------------------------------------------------------

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Objects in name order (GCS lists them so), streamed page by page."""
        with self._errors(None):  # a 404 here means the bucket
            blobs = self.connection.client.list_blobs(
                self.bucket, prefix=prefix or None, retry=None, timeout=self._timeout
            )
            for blob in blobs:
                yield self._info(blob)

    def list_folder(self, prefix: str) -> Iterator[Entry]:
        """One level: the objects under ``prefix`` and its prefixes (delimiter ``/``), page by page."""
        with self._errors(None):
            blobs = self.connection.client.list_blobs(
                self.bucket, prefix=prefix or None, delimiter="/", retry=None, timeout=self._timeout
            )
            for page in blobs.pages:
                items = [self._info(blob) for blob in page]
                yield from merge_page(items, getattr(page, "prefixes", ()))

    def list_buckets(self) -> Iterator[BucketInfo]:
        """Every bucket of the project (the store's own bucket plays no part)."""
        with self._errors(None):
            for bucket in self.connection.client.list_buckets(retry=None, timeout=self._timeout):
                created = bucket.time_created
                yield BucketInfo(bucket.name, created.timestamp() if created else None)

    def list_uploads(self, prefix: str) -> Iterator[tuple[str, str, float]]:
        """Always empty: GCS has no API that lists resumable sessions (an abandoned one expires by itself)."""
        return iter(())


def make_upload_id(uri: str, size: int) -> str:
    """The upload id of a session: its URI, and the object's size as a fragment (never sent anywhere)."""
    return f"{uri}{SIZE_MARK}{size}"


def parse_upload_id(upload_id: str) -> tuple[str, int]:
    """The session URI and the object's size from an upload id made by :func:`make_upload_id`."""
    uri, mark, size = upload_id.rpartition(SIZE_MARK)
    if not mark or not size.isdigit():
        raise UploadGoneError("the recorded upload id is not that of a GCS resumable session")
    return uri, int(size)


def parts_below(size: int, part_size: int, confirmed: int) -> list[Span]:
    """The parts (of ``part_size``, of an object of ``size`` bytes) that lie wholly within the first
    ``confirmed`` bytes: what a session holding that many bytes holds of the upload."""
    return [span for span in split(size, part_size) if span.end <= confirmed]


def _part_tag(span: Span) -> str:
    """A part's stand-in ETag: which bytes of the session it is."""
    return f"{span.offset}+{span.length}"


def confirmed_offset(header: str | None, total: int) -> int:
    """The offset after the last byte a 308's ``Range: bytes=0-N`` confirms (no header: none).

    ``bytes=0-0`` is read as nothing when the object is larger than one byte. gcp-storage-emulator answers
    so for a session that holds nothing (the real service sends no Range header then); from the real service
    it cannot mean one byte either, as this store never sends a chunk that ends there."""
    match = re.fullmatch(r"\s*bytes=0-(\d+)\s*", header or "")
    if not match:
        return 0
    confirmed = int(match[1]) + 1
    return 0 if confirmed == 1 and total > 1 else confirmed


def _generation(etag: str | None) -> int | None:
    return int(etag) if etag and etag.isdigit() else None


def _acl(acl: str | None) -> str | None:
    if acl is None:
        return None
    try:
        return _ACLS[acl]
    except KeyError:
        raise UsageError(f"--acl {acl} has no GCS equivalent; use one of {', '.join(_ACLS)}") from None


def _storage_class(name: str) -> str:
    try:
        return _STORAGE_CLASSES[name]
    except KeyError:
        raise UsageError(f"--storage-class {name} has no GCS equivalent") from None


# --- errors -----------------------------------------------------------------------------------------------


def _redact(text: str) -> str:
    """A message fit to show: URLs cut down to scheme and host (a session URI is a bearer credential)."""
    text = re.sub(r"(https?://[^/\s'\"]+)[^\s'\"]*", r"\1", text)
    text = re.sub(r"(with url: )\S+", r"\1...", text)
    return " ".join(text.split())


def _server_message(response: Any) -> str:
    """The reason a GCS JSON error body gives, if any."""
    try:
        body = response.json()
        message = body["error"]["message"]
    except Exception:
        return ""
    return _redact(str(message))[:300] if message else ""


def _describe(status: int, message: str, store: GCSStore, key: str | None) -> FerryError:
    where = store.url(key) if key is not None else f"{store.scheme}://{store.bucket}"
    detail = f" ({status}{': ' + message if message else ''})"
    if status == 401:
        return CredentialsError(f"{where}: the credentials were refused{detail}")
    if status == 403:
        return BucketError(f"{where}: access denied{detail}")
    if status == 404:
        if key is None or "bucket does not exist" in message.lower():
            endpoint = store.connection.endpoint
            return BucketMissingError(f"bucket {store.bucket!r} does not exist at {endpoint}")
        return NotFoundError(f"{where}: no such object")
    if status == 412:
        return SourceChangedError(f"{where}: the source object changed during the transfer")
    if status in (408, 429) or status >= 500:
        return RetryableError(f"{where}: the server answered{detail}")
    if status in (400, 409, 416):
        return TransferError(f"{where}: the server refused the request{detail}")
    return TransferError(f"{where}: unexpected answer{detail}")


def _status_error(response: requests.Response, store: GCSStore, key: str | None) -> FerryError:
    return _describe(response.status_code, _server_message(response), store, key)


def _translate(exc: Exception, store: GCSStore, key: str | None) -> FerryError:
    """Turn a google-cloud-storage, google-auth or requests exception into ferry's classified error."""
    where = store.url(key) if key is not None else f"{store.scheme}://{store.bucket}"
    if isinstance(exc, api_exceptions.GoogleAPICallError) and exc.code is not None:
        response = getattr(exc, "response", None)
        message = _server_message(response) if response is not None else ""
        return _describe(int(exc.code), message, store, key)
    if isinstance(exc, google.auth.exceptions.RefreshError):
        return CredentialsError(f"{where}: the service-account key was refused when asking for a token")
    if isinstance(exc, google.auth.exceptions.DefaultCredentialsError):
        return CredentialsError(f"{where}: no usable credentials")
    if isinstance(exc, _NETWORK_ERRORS):
        cause = f"network error talking to {store.connection.endpoint}: {_network_reason(exc)}"
        return unreachable(RetryableError, where, cause, "Google Cloud Storage")
    if isinstance(exc, OSError):
        return RetryableError(f"{where}: {os.strerror(exc.errno) if exc.errno else type(exc).__name__}")
    return TransferError(f"{where}: unexpected {type(exc).__name__}: {_redact(str(exc))[:300]}")


def _network_reason(exc: BaseException) -> str:
    text = str(exc)
    found = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if found:
        return found[1].strip()
    if isinstance(exc, requests.exceptions.Timeout | TimeoutError) or "timed out" in text.lower():
        return "timed out"
    if "RemoteDisconnected" in text or "Connection aborted" in text:
        return "the connection was closed"
    return type(exc).__name__
