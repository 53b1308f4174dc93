"""Options of a transfer, resolved from flags, the config file and defaults."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ferry.config import Defaults, ferry_home
from ferry.errors import UsageError
from ferry.storage.base import WriteOptions
from ferry.transfer.parts import (
    DEFAULT_COPY_THRESHOLD,
    DEFAULT_THRESHOLD,
    MAX_COPY_OBJECT,
    check_part_size,
)
from ferry.transfer.retry import RetryPolicy
from ferry.units import parse_size

if TYPE_CHECKING:
    from ferry.transfer.record import RecordStore


def default_checkpoint_dir() -> Path:
    return ferry_home() / "checkpoint"


@dataclass(frozen=True)
class TransferOptions:
    threshold: int = DEFAULT_THRESHOLD
    """Objects of this size or more go multipart, with a part record."""
    copy_threshold: int = DEFAULT_COPY_THRESHOLD
    """The same for server-side copies. Their bytes never cross the network, so one CopyObject request
    (which many servers, Ceph among them, complete without copying data) is worth far more than the
    resumability of parts below this size; S3 allows one request up to 5 GB."""
    part_size: int | None = None
    """``None`` picks a size from the object's size (``auto``)."""
    parallel: int = 4
    """Parts in flight at once for one object."""
    checkpoint_dir: Path = field(default_factory=default_checkpoint_dir)
    verify_length: bool = False
    verify_md5: bool = False
    write: WriteOptions = field(default_factory=WriteOptions)
    stream_copy: bool = False
    """Copy bucket to bucket through this machine even where the server could copy (obsutil's ``-crr``)."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    bwlimit: int | None = None
    """Bytes per second for the whole transfer; ``None`` for no limit."""
    bandwidth_windows: tuple[tuple[int, int, int], ...] = ()
    """Daily windows (start and end minute of the UTC day, bytes per second) whose limit replaces
    ``bwlimit`` while they last (see :mod:`ferry.transfer.ratelimit`)."""
    copy_user_metadata: bool = True
    """A copy between stores carries the source's user metadata (else only its Content-Type: OMS's
    ``enable_metadata_migration`` false)."""
    dry_run: bool = False
    incremental: bool = False
    """Leave an object alone when the destination has it at the same size and no older (obsutil's ``-u``)."""
    records: RecordStore | None = None
    """Where part records are kept; ``None`` for files under ``checkpoint_dir``."""

    def record_store(self) -> RecordStore:
        if self.records is not None:
            return self.records
        from ferry.transfer.record import FileRecordStore  # multipart transfers alone keep records

        return FileRecordStore(self.checkpoint_dir)


CANNED_ACLS = (
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
)
STORAGE_CLASSES = {
    "standard": "STANDARD",
    "standard_ia": "STANDARD_IA",
    "onezone_ia": "ONEZONE_IA",
    "intelligent_tiering": "INTELLIGENT_TIERING",
    "glacier": "GLACIER",
    "glacier_ir": "GLACIER_IR",
    "deep_archive": "DEEP_ARCHIVE",
    "reduced_redundancy": "REDUCED_REDUNDANCY",
    # obsutil's names for OBS's classes
    "warm": "STANDARD_IA",
    "cold": "GLACIER",
}
_META_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def parse_meta(text: str) -> dict[str, str]:
    """``k1:v1#k2:v2`` (obsutil's ``-meta``) into user metadata; keys are lower-cased as S3 stores them."""
    metadata: dict[str, str] = {}
    for item in text.split("#"):
        if not item:
            continue
        key, sep, value = item.partition(":")
        key = key.strip()
        if not sep or not _META_KEY.match(key):
            raise UsageError(
                f"invalid --meta entry {item!r}: expected key:value with a key of letters, digits, - _ ."
            )
        if not value.isascii() or not value.isprintable():
            raise UsageError(f"invalid --meta value for {key!r}: only printable ASCII can travel in a header")
        metadata[key.lower()] = value
    return metadata


def check_acl(acl: str | None) -> str | None:
    if acl is None:
        return None
    if acl not in CANNED_ACLS:
        raise UsageError(f"invalid --acl {acl!r}: expected one of {', '.join(CANNED_ACLS)}")
    return acl


def check_storage_class(name: str | None) -> str | None:
    if name is None:
        return None
    try:
        return STORAGE_CLASSES[name.lower()]
    except KeyError:
        choices = ", ".join(sorted({*STORAGE_CLASSES.values(), "warm", "cold"}))
        raise UsageError(f"invalid --storage-class {name!r}: expected one of {choices}") from None


PAYERS = ("requester",)


def check_payer(value: str | None) -> str | None:
    """obsutil's ``-payer``: only ``requester`` means anything (the bucket owner pays otherwise)."""
    if value is None or value in PAYERS:
        return value
    raise UsageError(f"invalid --payer {value!r}: the only payer is 'requester'")


def resolve_options(
    defaults: Defaults,
    *,
    threshold: str | int | None = None,
    copy_threshold: str | int | None = None,
    part_size: str | int | None = None,
    parallel: int | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    verify_length: bool = False,
    verify_md5: bool = False,
    metadata: dict[str, str] | None = None,
    acl: str | None = None,
    storage_class: str | None = None,
    stream_copy: bool = False,
    retries: int | None = None,
    bwlimit: str | int | None = None,
    bandwidth_windows: tuple[tuple[int, int, int], ...] = (),
    copy_user_metadata: bool = True,
    dry_run: bool = False,
    incremental: bool = False,
) -> TransferOptions:
    """Options from explicit values, falling back to the config file's defaults; every value checked."""

    def size(value: str | int, what: str) -> int:
        return value if isinstance(value, int) else parse_size(value, what=what)

    threshold_bytes = size(threshold if threshold is not None else defaults.threshold, "threshold")
    if copy_threshold is not None:
        copy_bytes = size(copy_threshold, "copy threshold")
        if copy_bytes > MAX_COPY_OBJECT:
            raise UsageError(
                f"invalid copy threshold {copy_threshold}: one CopyObject request copies at most 5 GB"
            )
    else:
        # An explicit threshold governs server-side copies too (obsutil's -threshold); without one, copies
        # keep their own cutoff, since one CopyObject request is far faster than parts on most servers.
        chosen = threshold if threshold is not None else defaults.copy_threshold
        copy_bytes = min(size(chosen, "copy threshold"), MAX_COPY_OBJECT)
    chosen_part = part_size if part_size is not None else defaults.part_size
    part_bytes = None if chosen_part == "auto" else check_part_size(size(chosen_part, "part size"))
    jobs = parallel if parallel is not None else defaults.parallel
    if not 1 <= jobs <= 256:
        raise UsageError(f"invalid parallel count {jobs}: it must be between 1 and 256")
    attempts = retries if retries is not None else defaults.retries
    if not 0 <= attempts <= 100:
        raise UsageError(f"invalid retry count {attempts}: it must be between 0 and 100")
    limit = size(bwlimit, "bandwidth limit") if bwlimit is not None else None
    if limit is not None and limit < 1024:
        raise UsageError("invalid bandwidth limit: it must be at least 1KiB (per second)")
    cpd = checkpoint_dir or defaults.checkpoint_dir
    for key in metadata or {}:
        if not _META_KEY.match(key):
            raise UsageError(f"invalid metadata key {key!r}")
    return TransferOptions(
        threshold=threshold_bytes,
        copy_threshold=copy_bytes,
        part_size=part_bytes,
        parallel=jobs,
        checkpoint_dir=Path(cpd).expanduser() if cpd else default_checkpoint_dir(),
        verify_length=verify_length,
        verify_md5=verify_md5,
        write=WriteOptions(
            metadata=metadata or {}, acl=check_acl(acl), storage_class=check_storage_class(storage_class)
        ),
        stream_copy=stream_copy,
        retry=RetryPolicy(attempts=attempts + 1),
        bwlimit=limit,
        bandwidth_windows=tuple(bandwidth_windows),
        copy_user_metadata=copy_user_metadata,
        dry_run=dry_run,
        incremental=incremental,
    )
