"""Part records: what a multipart transfer of one object has done so far, kept on disk so a later run can
resume it.

A record is a small append-only file: a header line (what is being moved, the upload id, the part size, the
source's fingerprint) then one line per part the destination confirmed. Every line carries its own SHA-256,
so damage anywhere is noticed. Appending one line per part keeps the cost of a record update constant,
where rewriting a whole JSON file would grow with the part count (10,000 parts at most). The header is
written to a temporary file and renamed, so a record either exists whole or not at all; a crash in the
middle of appending leaves a last line without its newline, which is ignored (that part is sent again).

A record is locked (``flock``) while a process works on it, so two runs of the same transfer cannot both
write it: the second is refused with a clear message.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from ferry.errors import RecordDamagedError, TransferError
from ferry.private import open_private, private_dir
from ferry.storage.base import PartResult

FORMAT_VERSION = 1
KINDS = ("upload", "download", "copy")


PENDING_UPLOAD = ""
"""The upload id of a record written just before its upload is started (its intent)."""


@dataclass(frozen=True)
class RecordHeader:
    kind: str
    source: str
    destination: str
    upload_id: str
    size: int
    part_size: int
    fingerprint: dict[str, Any]
    server_side: bool = False
    source_md5: str | None = None
    created: float = field(default_factory=time.time)
    version: int = FORMAT_VERSION


def record_path(checkpoint_dir: Path, kind: str, source_id: str, destination_id: str) -> Path:
    """Where the record of one transfer lives: a hash of what is moved where, under the kind's area."""
    return checkpoint_dir / kind / f"{record_digest(kind, source_id, destination_id)}.rec"


def encode_entry(payload: dict[str, Any]) -> tuple[str, str]:
    """One header or part entry as canonical JSON, and its SHA-256."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return text, hashlib.sha256(text.encode()).hexdigest()


def decode_entry(text: str, digest: str, name: str) -> dict[str, Any]:
    """An entry read back; RecordDamagedError when it fails its SHA-256 or is not an object."""
    if hashlib.sha256(text.encode()).hexdigest() != digest:
        raise RecordDamagedError(f"part record {name} is damaged (checksum mismatch)")
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise RecordDamagedError(f"part record {name} is damaged (unreadable)") from None
    if not isinstance(value, dict):
        raise RecordDamagedError(f"part record {name} is damaged (unexpected content)")
    return value


def _line(payload: dict[str, Any]) -> str:
    text, digest = encode_entry(payload)
    return f"{text}|{digest}\n"


def _parse_line(line: str, path: Path) -> dict[str, Any]:
    text, sep, digest = line.rstrip("\n").rpartition("|")
    if not sep:
        raise RecordDamagedError(f"part record {path} is damaged (checksum mismatch)")
    return decode_entry(text, digest, str(path))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class RecordLock:
    """An exclusive, non-blocking lock on one record, released when the process ends however it ends."""

    def __init__(self, path: Path) -> None:
        self.path = path.with_suffix(".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        private_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise TransferError(
                f"another ferry process is working on this transfer (part record lock {self.path})"
            ) from None
        self._fd = fd

    def release(self, *, remove: bool = False) -> None:
        if self._fd is None:
            return
        if remove:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        os.close(self._fd)
        self._fd = None


class RecordSlot(Protocol):
    """Where the record of one transfer is kept: a file under the checkpoint folder
    (:class:`FileRecordSlot`), or rows of a shared database (:mod:`ferry.transfer.record_db`), so that a
    worker on another machine resumes a large object from the parts the server confirmed."""

    name: str

    def lock(self) -> None:
        """Take the record for this run; TransferError when another run holds it."""

    def release(self, *, finished: bool) -> None: ...

    def load(self) -> PartRecord | None:
        """The record, or ``None``; RecordDamagedError when it cannot be trusted."""

    def create(self, header: RecordHeader) -> PartRecord:
        """A new record with no parts, replacing any old one whole."""

    def append(self, part: PartResult) -> None: ...

    def close(self) -> None: ...

    def discard(self) -> None: ...

    def peek_upload_id(self) -> str | None:
        """The upload id of a record that failed to load, if it can still be read, so the stale upload can
        be aborted rather than left behind (and billed)."""

    def written_at(self) -> float | None:
        """When the record was last written (``None`` when unknown)."""


class RecordStore(Protocol):
    def slot(self, kind: str, source_id: str, destination_id: str) -> RecordSlot: ...


def record_digest(kind: str, source_id: str, destination_id: str) -> str:
    """The name of one transfer's record: a hash of what is moved where."""
    if kind not in KINDS:
        raise ValueError(kind)
    return hashlib.sha256(f"{kind}\n{source_id}\n{destination_id}".encode()).hexdigest()[:40]


class PartRecord:
    """An open part record: its header, the parts done so far, and the slot it is kept in."""

    def __init__(self, slot: RecordSlot, header: RecordHeader, parts: dict[int, PartResult]) -> None:
        self.slot = slot
        self.header = header
        self.parts = parts

    def add(self, part: PartResult) -> None:
        """Record a confirmed part (callers serialise calls)."""
        self.slot.append(part)
        self.parts[part.number] = part

    def close(self) -> None:
        self.slot.close()

    def discard(self) -> None:
        self.slot.discard()


def header_from(raw: dict[str, Any], name: str) -> RecordHeader:
    """A header read back; RecordDamagedError when it is not what this version writes."""
    try:
        header = RecordHeader(**raw)
    except TypeError:
        raise RecordDamagedError(f"part record {name} is damaged (bad header)") from None
    if header.version != FORMAT_VERSION or header.kind not in KINDS:
        raise RecordDamagedError(f"part record {name} has an unknown format")
    return header


def part_from(entry: dict[str, Any], name: str) -> PartResult:
    try:
        return PartResult(int(entry["n"]), str(entry["etag"]), entry.get("checksum"))
    except (KeyError, TypeError, ValueError):
        raise RecordDamagedError(f"part record {name} is damaged (bad part line)") from None


class FileRecordSlot:
    """A record as a small append-only file, locked with ``flock`` while a run works on it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = str(path)
        self._lock = RecordLock(path)
        self._handle: IO[str] | None = None

    def lock(self) -> None:
        self._lock.acquire()

    def release(self, *, finished: bool) -> None:
        self._lock.release(remove=finished)

    def create(self, header: RecordHeader) -> PartRecord:
        path = self.path
        private_dir(path.parent)
        temp = path.with_suffix(".new")
        with open(open_private(temp, os.O_WRONLY | os.O_TRUNC), "w", encoding="ascii") as handle:
            handle.write(_line(asdict(header)))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
        _fsync_dir(path.parent)
        return PartRecord(self, header, {})

    def load(self) -> PartRecord | None:
        path = self.path
        try:
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise RecordDamagedError(f"part record {path} is unreadable: {exc}") from None
        lines = text.split("\n")
        complete = lines[:-1]  # the last piece is empty, or an append cut short by a crash: ignored
        if not complete:
            raise RecordDamagedError(f"part record {path} is damaged (no header)")
        header = header_from(_parse_line(complete[0], path), self.name)
        parts: dict[int, PartResult] = {}
        for line in complete[1:]:
            part = part_from(_parse_line(line, path), self.name)
            parts[part.number] = part
        return PartRecord(self, header, parts)

    def append(self, part: PartResult) -> None:
        """The line reaches the kernel at once, so it survives the process being killed. It is not fsynced:
        losing the newest lines to a power cut only means sending those parts again, whereas a line must
        never claim a part whose bytes are not durable, which the destination guarantees before it
        confirms (a server's answer, or the local store's fdatasync)."""
        if self._handle is None:
            self._handle = open(self.path, "a", encoding="ascii")  # noqa: SIM115 - kept open across parts
        self._handle.write(_line({"n": part.number, "etag": part.etag, "checksum": part.checksum}))
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def discard(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def peek_upload_id(self) -> str | None:
        try:
            first = self.path.read_text(encoding="ascii", errors="replace").split("\n", 1)[0]
            value = json.loads(first.rpartition("|")[0] or first)
        except (OSError, ValueError):
            return None
        upload_id = value.get("upload_id") if isinstance(value, dict) else None
        return upload_id if isinstance(upload_id, str) else None

    def written_at(self) -> float | None:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return None


@dataclass(frozen=True)
class FileRecordStore:
    """Records as files under ``<checkpoint dir>/<kind>/`` (the CLI's and the library's)."""

    checkpoint_dir: Path

    def slot(self, kind: str, source_id: str, destination_id: str) -> RecordSlot:
        return FileRecordSlot(record_path(self.checkpoint_dir, kind, source_id, destination_id))


def discard_path(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


@dataclass(frozen=True)
class SingleFileRecordStore:
    """One transfer's record at a path the caller names (the library's checkpoint file, as oss2's SDKs
    let one be named)."""

    path: Path

    def slot(self, kind: str, source_id: str, destination_id: str) -> RecordSlot:
        return FileRecordSlot(self.path)
