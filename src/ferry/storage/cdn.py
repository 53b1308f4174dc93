"""A bucket read through a CDN (OMS's ``source_cdn``): listed and looked up on its own store, its bytes
fetched over HTTP(S) from the CDN's domain, ``{protocol}://{domain}/{key}``.

The bucket stays the authority on what exists and what it holds (size, ETag, metadata): :meth:`CdnSource.stat`
answers the bucket's record, after checking that the CDN serves the same number of bytes, and the engine
verifies the bytes it read against the bucket's MD5 where the consistency check asks for it. Reads are
pinned to what the CDN itself said of the object (its ETag or Last-Modified, through
:class:`~ferry.storage.http.HttpSource`), so an object the CDN replaces mid-transfer starts again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from urllib.parse import quote

from ferry.errors import FerryError, NotFoundError, TransferError
from ferry.storage.base import Chunks, ObjectInfo, ReadOnlyStore, Store, one_chunk
from ferry.storage.http import HttpSource

_REMEMBERED = 4096


def cdn_url(base: str, key: str) -> str:
    """The CDN's URL of ``key``: every character but letters, digits, ``-._~`` and ``/`` percent-encoded,
    so the key reaches the CDN (and its origin) exactly as the bucket names it."""
    return f"{base}/{quote(key, safe='/-._~')}"


def unreachable_key(key: str) -> str | None:
    """Why a key has no URL of its own on a CDN (a ``.`` or ``..`` segment is resolved away by every
    client and server on the way), or ``None``."""
    if any(segment in (".", "..") for segment in key.split("/")):
        return "a key with a '.' or '..' path segment cannot be fetched through a CDN"
    return None


class CdnSource(ReadOnlyStore):
    """``listing`` lists and looks up objects; ``http`` reads their bytes from ``base`` (``scheme://domain``)."""

    read_only = "a source read through a CDN is read-only"

    def __init__(self, listing: Store, http: HttpSource, base: str) -> None:
        self.listing = listing
        self.http = http
        self.base = base.rstrip("/")
        self.capabilities = http.capabilities
        self._seen: OrderedDict[str, ObjectInfo] = OrderedDict()
        self._lock = threading.Lock()

    def url(self, key: str) -> str:
        return self.listing.url(key)

    def identity(self) -> Hashable:
        return ("cdn", self.base, self.listing.identity())

    def list_uploads(self, prefix: str) -> Iterator[tuple[str, str, float]]:
        return iter(())

    # --- reading -----------------------------------------------------------------------------------------

    def _cdn_url(self, key: str) -> str:
        problem = unreachable_key(key)
        if problem is not None:
            raise TransferError(f"{self.url(key)}: {problem}")
        return cdn_url(self.base, key)

    def _cdn_info(self, key: str, *, fresh: bool = False) -> ObjectInfo:
        """What the CDN says of the object (asked once, then remembered until ``fresh``)."""
        with self._lock:
            known = None if fresh else self._seen.get(key)
        if known is not None:
            return known
        url = self._cdn_url(key)
        try:
            info = self.http.stat(url)
        except NotFoundError as exc:
            # Not a "no such object": the bucket lists it, the CDN does not serve it.
            raise TransferError(f"the CDN does not serve {self.url(key)}: {exc.message}") from None
        with self._lock:
            self._seen[key] = info
            self._seen.move_to_end(key)
            while len(self._seen) > _REMEMBERED:
                self._seen.popitem(last=False)
        return info

    def stat(self, key: str) -> ObjectInfo:
        """The bucket's record of the object, once the CDN was seen to serve as many bytes."""
        listed = self.listing.stat(key)
        served = self._cdn_info(key, fresh=True)
        if served.size != listed.size:
            raise TransferError(
                f"{self.url(key)}: the CDN serves {served.size} bytes, the bucket lists {listed.size}: "
                "the CDN's copy is not the bucket's"
            )
        return listed

    def read_range(self, key: str, offset: int, length: int, *, if_match: str | None = None) -> bytes:
        """``if_match`` is the bucket's ETag; the CDN's read is pinned to the CDN's own validators."""
        served = self._cdn_info(key)
        if offset + length > served.size:
            raise TransferError(
                f"{self.url(key)}: the CDN serves {served.size} bytes, fewer than the {offset + length} "
                "the bucket lists"
            )
        try:
            return self.http.read_range(self._cdn_url(key), offset, length, if_match=served.etag)
        except NotFoundError as exc:
            raise TransferError(f"the CDN does not serve {self.url(key)}: {exc.message}") from None
        except FerryError:
            with self._lock:
                self._seen.pop(key, None)  # a retry asks the CDN again
            raise

    def read_range_chunks(self, key: str, offset: int, length: int, *, if_match: str | None = None) -> Chunks:
        return one_chunk(self.read_range(key, offset, length, if_match=if_match))

    def list(self, prefix: str) -> Iterator[ObjectInfo]:  # last: ``list`` names the builtin above
        return self.listing.list(prefix)
