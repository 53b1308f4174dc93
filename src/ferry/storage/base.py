"""The one storage protocol every backend implements, and the records it speaks in.

The engine moves an object as numbered parts: it reads byte ranges from the source store and writes parts to
the destination store, whatever the two are. A local file is a store too: its "multipart upload" is a
preallocated temporary file that parts are written into at their offsets and that is renamed into place on
completion, so downloads resume exactly as uploads do.

Backends raise the errors of :mod:`ferry.errors` — never their library's own — so that the retry policy and
the CLI see one vocabulary: ``RetryableError`` for what may pass (throttling, 5xx, resets, timeouts),
``SourceChangedError`` and ``UploadGoneError`` for "start this object again", and the rest as fatal.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Generator, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import NoReturn, Protocol, runtime_checkable

from ferry.errors import UnsupportedError
from ferry.transfer.parts import Span

STREAM_CHUNK = 1 << 20
"""Bytes per chunk when a range is streamed: small enough to stay in the CPU's cache between the socket and
the file, so a streamed part costs two cache-warm copies instead of two through a fresh 8 MiB buffer."""

Chunks = Generator[memoryview, None, None]
"""A byte range as it arrives: each chunk is valid only until the next is asked for (one buffer is reused).
Closing the generator early releases the connection behind it."""

MD5_METADATA_KEY = "md5chksum"
"""User metadata holding the base64 MD5 of the whole object (obsutil's and rclone's convention)."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What a store knows of one object. ``mtime`` is seconds since the epoch; ``etag`` has no quotes."""

    key: str
    size: int
    mtime: float
    etag: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = None
    encrypted: bool = False
    """Stored with a customer or KMS key: the ETag is then not the content's MD5, whatever it looks like."""

    def fingerprint(self) -> dict[str, object]:
        """What must not change between two runs of a resumable transfer of this object."""
        return {"size": self.size, "mtime": self.mtime, "etag": self.etag}

    def md5_hex(self) -> str | None:
        """The object's MD5 when the store can tell it: the ``md5chksum`` metadata, else a plain
        (single-part) ETag. ``None`` for multipart ETags without that metadata."""
        recorded = self.metadata.get(MD5_METADATA_KEY)
        if recorded:
            return md5_to_hex(recorded)
        return self.etag_md5()

    def etag_md5(self) -> str | None:
        """The ETag when it is the content's MD5 (one part, not encrypted with a KMS or customer key)."""
        if self.etag and not self.encrypted and len(self.etag) == 32 and "-" not in self.etag:
            try:
                bytes.fromhex(self.etag)
            except ValueError:
                return None
            return self.etag.lower()
        return None


def md5_to_hex(value: str) -> str | None:
    """Accept an MD5 as 32 hex digits or as base64 of the 16-byte digest; ``None`` when it is neither."""
    value = value.strip()
    if len(value) == 32:
        try:
            return bytes.fromhex(value).hex()
        except ValueError:
            pass
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 16 else None


def md5_hex_to_b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """How a new object is to be written: user metadata, ACL, storage class, content type."""

    metadata: Mapping[str, str] = field(default_factory=dict)
    acl: str | None = None
    storage_class: str | None = None
    content_type: str | None = None
    cache_control: str | None = None

    def merged(self, **changes: object) -> WriteOptions:
        values: dict[str, object] = {
            "metadata": self.metadata,
            "acl": self.acl,
            "storage_class": self.storage_class,
            "content_type": self.content_type,
            "cache_control": self.cache_control,
        }
        values.update(changes)
        return WriteOptions(**values)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class PartResult:
    """A part the destination confirmed: its number, ETag, and checksum if the server returned one."""

    number: int
    etag: str
    checksum: str | None = None


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a store can do, declared rather than guessed by the engine."""

    multipart: bool
    server_side_copy: bool
    lists_parts: bool
    """True when the store can say which parts of an unfinished upload it holds (S3 ListParts)."""
    stages_locally: bool
    """True when the content of an unfinished upload can be read back before it is committed
    (a local temporary file), so verification can happen before the destination appears."""
    max_parts: int = 10_000
    is_local: bool = False
    """The local filesystem: decides whether a transfer is an upload, a download or a copy."""
    sequential_parts: bool = False
    """Parts must reach the store one at a time and in order, each starting where the last one ended (a GCS
    resumable session is one growing byte stream). Such a store implements :class:`SequentialStore`."""
    part_granularity: int = 1
    """Every part but the last must be a multiple of this many bytes (GCS: 256 KiB); the engine rounds
    the part size up to it."""
    writes_chunks: bool = False
    """The store writes a part as its chunks arrive (a local file), so the engine hands it the source's
    :data:`Chunks` rather than a whole part in memory. Such a store implements :class:`ChunkWriter`."""
    part_etags_are_md5: bool = True
    """A confirmed part's ETag is the MD5 of its bytes (S3), so ``--verify-md5`` checks each part as it
    lands. False where a part's ETag is only a label (GCS sessions)."""


@runtime_checkable
class Store(Protocol):
    """One bucket of an object store, or the local filesystem. Keys are the store's own (a path for local)."""

    capabilities: Capabilities

    def url(self, key: str) -> str:
        """How the object is named to users, e.g. ``s3://bucket/key`` or a path."""
        ...

    def identity(self) -> Hashable:
        """Equal for two stores on one endpoint and account: server-side copy is possible between them."""
        ...

    def stat(self, key: str) -> ObjectInfo:
        """Raise NotFoundError when the object does not exist."""
        ...

    def read_range(self, key: str, offset: int, length: int, *, if_match: str | None = None) -> bytes:
        """Exactly ``length`` bytes from ``offset``; SourceChangedError if the ETag no longer matches."""
        ...

    def read_range_chunks(self, key: str, offset: int, length: int, *, if_match: str | None = None) -> Chunks:
        """The same bytes as :meth:`read_range`, as they arrive (stores that cannot stream give one chunk,
        see :func:`one_chunk`). Fewer than ``length`` bytes in all raise RetryableError at the end."""
        ...

    def put(self, key: str, data: bytes, options: WriteOptions, *, md5_hex: str | None = None) -> str:
        """Write a whole object atomically; return its ETag (or a local stand-in)."""
        ...

    def create_multipart(self, key: str, size: int, options: WriteOptions) -> str:
        """Start an upload of ``size`` bytes; return its id."""
        ...

    def upload_part(self, key: str, upload_id: str, span: Span, data: bytes) -> PartResult: ...

    def copy_part(
        self, key: str, upload_id: str, span: Span, source: Store, source_key: str, if_match: str | None
    ) -> PartResult:
        """Server-side copy of ``span`` of ``source_key`` into part ``span.number`` (UploadPartCopy)."""
        ...

    def list_parts(self, key: str, upload_id: str, size: int) -> dict[int, PartResult] | None:
        """The parts the store holds for an unfinished upload; ``None`` when it cannot tell but the upload is
        intact. UploadGoneError when the upload no longer exists."""
        ...

    def staged_key(self, key: str, upload_id: str) -> str | None:
        """Where an unfinished upload's bytes can be read before completion (``stages_locally`` stores)."""
        ...

    def complete_multipart(self, key: str, upload_id: str, parts: list[PartResult]) -> str: ...

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Discard an unfinished upload; no error when it is already gone."""
        ...

    def copy_object(
        self, key: str, source: Store, source_key: str, options: WriteOptions | None, if_match: str | None
    ) -> str:
        """Server-side copy of a whole object; ``options=None`` keeps the source's metadata."""
        ...

    def delete(self, key: str) -> None: ...

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, streamed in key order. For the local store the
        prefix is a directory: its files, and its empty directories as keys ending in ``/``."""
        ...

    def list_uploads(self, prefix: str) -> Iterator[tuple[str, str, float]]:
        """(key, upload id, when it was started) of every unfinished multipart upload under ``prefix``."""
        ...


def one_chunk(data: bytes) -> Chunks:
    """:meth:`Store.read_range_chunks` for a store that reads a range whole."""
    yield memoryview(data)


class ReadOnlyStore:
    """The writing half of :class:`Store` for a source that can only be read (HTTP, a CDN): every write
    is :class:`UnsupportedError` with the store's ``read_only`` message."""

    read_only = "this source is read-only"

    def _read_only(self) -> NoReturn:
        raise UnsupportedError(self.read_only)

    def put(self, key: str, data: bytes, options: WriteOptions, *, md5_hex: str | None = None) -> str:
        self._read_only()

    def create_multipart(self, key: str, size: int, options: WriteOptions) -> str:
        self._read_only()

    def upload_part(self, key: str, upload_id: str, span: Span, data: bytes) -> PartResult:
        self._read_only()

    def copy_part(
        self, key: str, upload_id: str, span: Span, source: Store, source_key: str, if_match: str | None
    ) -> PartResult:
        self._read_only()

    def list_parts(self, key: str, upload_id: str, size: int) -> dict[int, PartResult] | None:
        self._read_only()

    def staged_key(self, key: str, upload_id: str) -> str | None:
        return None

    def complete_multipart(self, key: str, upload_id: str, parts: list[PartResult]) -> str:
        self._read_only()

    def abort_multipart(self, key: str, upload_id: str) -> None:
        self._read_only()

    def copy_object(
        self, key: str, source: Store, source_key: str, options: WriteOptions | None, if_match: str | None
    ) -> str:
        self._read_only()

    def delete(self, key: str) -> None:
        self._read_only()


class ChunkWriter(Store, Protocol):
    """A store whose capabilities declare ``writes_chunks``."""

    def upload_part_chunks(self, key: str, upload_id: str, span: Span, chunks: Chunks) -> PartResult:
        """:meth:`Store.upload_part` from a part's chunks, written as they arrive. RetryableError when they
        add up to another length than the span's (nothing is recorded done then)."""
        ...


class SequentialStore(Store, Protocol):
    """A store whose capabilities declare ``sequential_parts``: what it holds of an unfinished upload is a
    byte count, so telling which parts it holds needs the part size too."""

    def list_parts(
        self, key: str, upload_id: str, size: int, part_size: int | None = None
    ) -> dict[int, PartResult] | None:
        """The parts of ``part_size`` that lie wholly within the bytes the store confirms; ``None`` (the
        upload is intact) without a part size. UploadGoneError when the upload no longer exists."""
        ...
