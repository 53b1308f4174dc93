"""One level of a bucket, as ``ferry ls`` shows it: objects and the folders (common prefixes) below a prefix,
in the stores' key order; and the buckets of an account.

Kept beside :class:`~ferry.storage.base.Store` rather than in it: HTTP sources cannot list, and the
protocol is what the engine needs. :func:`list_folder` works on every store, the ones that list one level
natively (S3 ``delimiter``, Azure ``walk_blobs``, GCS ``delimiter``, a local directory) and, for any other,
by folding a full listing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ferry.storage.base import ObjectInfo, Store


@dataclass(frozen=True, slots=True)
class Folder:
    """A common prefix: every key below it starts with ``key`` (which ends in ``/``)."""

    key: str


@dataclass(frozen=True, slots=True)
class BucketInfo:
    name: str
    created: float | None = None


Entry = ObjectInfo | Folder


def order_key(key: str) -> bytes:
    """The stores' order: bytes of the UTF-8 key (a local name that is not UTF-8 keeps its own bytes)."""
    return key.encode("utf-8", "surrogateescape")


def merge_page(objects: Iterable[ObjectInfo], prefixes: Iterable[str]) -> list[Entry]:
    """One listing page's objects and common prefixes as one list in key order."""
    entries: list[Entry] = [*objects, *(Folder(p) for p in prefixes)]
    entries.sort(key=lambda e: order_key(e.key))
    return entries


@runtime_checkable
class FolderLister(Protocol):
    def list_folder(self, prefix: str) -> Iterator[Entry]:
        """Objects directly under ``prefix`` and the folders below it, in key order, streamed."""
        ...


def list_folder(store: Store, prefix: str) -> Iterator[Entry]:
    """One level below ``prefix`` (``""`` or ending in ``/``) of any store."""
    if isinstance(store, FolderLister):
        yield from store.list_folder(prefix)
        return
    last: str | None = None
    for info in store.list(prefix):
        rest = info.key[len(prefix) :]
        slash = rest.find("/")
        if slash < 0:
            yield info
            continue
        folder = prefix + rest[: slash + 1]
        if folder != last:
            last = folder
            yield Folder(folder)
