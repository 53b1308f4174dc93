"""Two trees side by side: a merge-join of two sorted listings, and the rule that says whether two objects
hold the same bytes. Pure functions; :mod:`ferry.tasks.check` feeds them listings and does the lookups.

Both listings must come in the stores' key order — byte order of the UTF-8 keys, as S3, GCS and Azure list
(and the local store walks, see :func:`ferry.storage.local.LocalStore.list`). Keys are compared relative to
each side's root, so ``s3://a/x/`` and ``/data/`` line up. A listing that goes backwards is an error, never
a guess: a merge-join over it would report objects missing that are there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from ferry.errors import TransferError
from ferry.storage.base import ObjectInfo
from ferry.storage.listing import order_key

__all__ = [
    "DIFFERS_PREFIX",
    "MISSING_REASON",
    "OutOfOrderError",
    "Pair",
    "Verdict",
    "differ_reason",
    "found_different",
    "join",
    "judge",
    "order_key",
]


class Verdict(StrEnum):
    MISSING = "missing"
    """At the source only."""
    EXTRA = "extra"
    """At the destination only."""
    DIFFER = "differ"
    SAME = "same"


@dataclass(frozen=True, slots=True)
class Pair:
    """One key of the joined listings, relative to both roots, with what each side listed."""

    key: str
    source: ObjectInfo | None
    dest: ObjectInfo | None


class OutOfOrderError(TransferError):
    """A listing did not come in key order: a merge-join cannot use it."""


def _ordered(entries: Iterable[tuple[str, ObjectInfo]], side: str) -> Iterator[tuple[bytes, str, ObjectInfo]]:
    last: bytes | None = None
    for key, info in entries:
        ordered = order_key(key)
        if last is not None and ordered <= last:
            raise OutOfOrderError(
                f"the {side} listing is not in key order ({key!r} came after a key that sorts after it)"
            )
        last = ordered
        yield ordered, key, info


def join(source: Iterable[tuple[str, ObjectInfo]], dest: Iterable[tuple[str, ObjectInfo]]) -> Iterator[Pair]:
    """Every key of either listing once, in key order, with what each side has. Both inputs are
    ``(relative key, info)`` in key order and are read as streams: memory stays flat."""
    left, right = _ordered(source, "source"), _ordered(dest, "destination")
    a = next(left, None)
    b = next(right, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a[0] < b[0]):
            assert a is not None
            yield Pair(a[1], a[2], None)
            a = next(left, None)
        elif a is None or b[0] < a[0]:
            yield Pair(b[1], None, b[2])
            b = next(right, None)
        else:
            yield Pair(a[1], a[2], b[2])
            a, b = next(left, None), next(right, None)


@dataclass(frozen=True, slots=True)
class Judgement:
    """Whether two objects hold the same bytes, and by what that was decided: ``size`` (the sizes differ,
    or only sizes could be compared), ``md5``, ``etag`` (equal multipart ETags: the same parts of the same
    bytes) or ``content`` (both read and hashed). ``None`` verdict: a hash is needed that neither listing
    gave."""

    verdict: Verdict | None
    basis: str


def judge(source: ObjectInfo, dest: ObjectInfo, *, require_hash: bool = False) -> Judgement:
    """Compare by size, then by a hash both sides have. Without a comparable hash the objects are the same
    by size, unless ``require_hash``: then the verdict is ``None`` (look the hashes up, or read the
    bytes)."""
    if source.size != dest.size:
        return Judgement(Verdict.DIFFER, "size")
    ours, theirs = source.md5_hex(), dest.md5_hex()
    if ours is not None and theirs is not None:
        return Judgement(Verdict.SAME if ours == theirs else Verdict.DIFFER, "md5")
    if source.etag and dest.etag and "-" in source.etag and source.etag == dest.etag:
        return Judgement(Verdict.SAME, "etag")
    if require_hash:
        return Judgement(None, "md5")
    return Judgement(Verdict.SAME, "size")


DIFFERS_PREFIX = "differs at destination: "
MISSING_REASON = "missing at destination"


def differ_reason(basis: str) -> str:
    """The reason a differing object is given in reports, the journal and the service."""
    return DIFFERS_PREFIX + basis


def found_different(reason: str | None) -> bool:
    """Whether a failed object's reason is a check's finding: its copy must go whatever the destination's
    size and time say (an incremental run would otherwise skip it again as up to date)."""
    return reason is not None and (reason.startswith(DIFFERS_PREFIX) or reason == MISSING_REASON)
