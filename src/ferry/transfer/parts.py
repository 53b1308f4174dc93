"""Part arithmetic: how an object is cut into parts. Pure functions, no I/O.

The limits are S3's (and OBS's, OSS's, COS's): at most 10,000 parts, each between 100 KiB (OBS's floor; S3
itself refuses non-final parts under 5 MiB, which the server reports as ``EntityTooSmall``) and 5 GiB.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ferry.errors import UsageError
from ferry.units import format_size

MIN_PART_SIZE = 100 * 1024
MAX_PART_SIZE = 5 * 1024**3
MAX_PARTS = 10_000
AUTO_BASE_PART_SIZE = 8 * 1024**2
DEFAULT_THRESHOLD = 50 * 1024**2
MAX_COPY_OBJECT = 5 * 1000**3
"""S3's limit for one CopyObject request (5 GB)."""
STREAM_RUN = 64 * 1024**2
"""Bytes one ranged read may cover when its parts are written as they arrive: several parts per request,
since a request costs a server far more than its bytes (RGW read 8 MiB ranges at a quarter of the speed of
64 MiB ones here), while each part is still recorded the moment it lands."""
COPY_AUTO_PART_SIZE = 64 * 1024**2
"""The automatic part size of a server-side (UploadPartCopy) copy: no byte crosses the network, so the
cost is per request. RGW here copied 1 GiB in 8.5 s as 64 MiB parts, 12.0 s as 8 MiB ones, 10.6 s as
128 MiB ones (4 at once)."""
DEFAULT_COPY_THRESHOLD = 4 * 1024**3
"""Server-side copies below this go in one CopyObject request (rclone's cutoff is close: 4.6 GiB)."""


@dataclass(frozen=True, slots=True)
class Span:
    """One part of an object: 1-based ``number``, the byte ``offset`` where it starts, and its ``length``."""

    number: int
    offset: int
    length: int

    @property
    def end(self) -> int:
        """The offset one past the part's last byte."""
        return self.offset + self.length


def check_part_size(part_size: int) -> int:
    """Return ``part_size`` if it lies within the limits, else raise a UsageError naming them."""
    if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
        raise UsageError(
            f"part size {format_size(part_size)} is out of range: it must be between "
            f"{format_size(MIN_PART_SIZE)} and {format_size(MAX_PART_SIZE)}"
        )
    return part_size


def choose_part_size(object_size: int, requested: int | None = None, *, max_parts: int = MAX_PARTS) -> int:
    """The part size for an object: ``requested`` (or 8 MiB for ``auto``), doubled until it needs at most
    ``max_parts`` parts. Raises UsageError for an object too large to fit even at the largest part size."""
    if object_size > MAX_PART_SIZE * max_parts:
        raise UsageError(
            f"object of {format_size(object_size)} is larger than {max_parts} parts of "
            f"{format_size(MAX_PART_SIZE)} allow"
        )
    size = check_part_size(requested) if requested is not None else AUTO_BASE_PART_SIZE
    while -(-object_size // size) > max_parts:
        size *= 2
    return min(size, MAX_PART_SIZE)


def align_part_size(part_size: int, granularity: int) -> int:
    """``part_size`` rounded up to a multiple of ``granularity``, a store's unit for parts (a GCS resumable
    session takes every chunk but the last in multiples of 256 KiB). Rounding up can only lower the part
    count, so a size :func:`choose_part_size` picked stays within its part limit. ``granularity`` must
    divide MAX_PART_SIZE, so a part size within the limits stays within them."""
    if granularity <= 0 or MAX_PART_SIZE % granularity:
        raise ValueError(f"part granularity {granularity} must be positive and divide {MAX_PART_SIZE}")
    return -(-part_size // granularity) * granularity


def split(object_size: int, part_size: int) -> list[Span]:
    """Cut ``object_size`` bytes into consecutive spans of ``part_size``; the last may be shorter.

    An empty object has no parts."""
    if part_size <= 0:
        raise ValueError("part size must be positive")
    return [
        Span(number=i + 1, offset=offset, length=min(part_size, object_size - offset))
        for i, offset in enumerate(range(0, object_size, part_size))
    ]


def runs(spans: list[Span], max_bytes: int) -> list[list[Span]]:
    """``spans`` (in order) grouped into runs of consecutive parts, each run one byte range of at most
    ``max_bytes`` (a part larger than that is a run of its own). A gap between part numbers (a part done
    earlier) ends a run."""
    grouped: list[list[Span]] = []
    for span in spans:
        last = grouped[-1] if grouped else None
        if (
            last is not None
            and last[-1].end == span.offset
            and last[-1].number + 1 == span.number
            and span.end - last[0].offset <= max_bytes
        ):
            last.append(span)
        else:
            grouped.append([span])
    return grouped


def multipart_etag(part_md5_hexes: list[str]) -> str:
    """The ETag S3 gives an object completed from parts whose MD5s are ``part_md5_hexes`` (in order):
    the MD5 of the concatenated binary digests, a dash, and the part count."""
    joined = b"".join(bytes.fromhex(h) for h in part_md5_hexes)
    return f"{hashlib.md5(joined, usedforsecurity=False).hexdigest()}-{len(part_md5_hexes)}"
