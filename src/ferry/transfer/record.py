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
from typing import IO, Any

from ferry.errors import RecordDamagedError, TransferError
from ferry.private import open_private, private_dir
from ferry.storage.base import PartResult

FORMAT_VERSION = 1
KINDS = ("upload", "download", "copy")


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
    if kind not in KINDS:
        raise ValueError(kind)
    digest = hashlib.sha256(f"{kind}\n{source_id}\n{destination_id}".encode()).hexdigest()[:40]
    return checkpoint_dir / kind / f"{digest}.rec"


def _line(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return f"{text}|{hashlib.sha256(text.encode()).hexdigest()}\n"


def _parse_line(line: str, path: Path) -> dict[str, Any]:
    text, sep, digest = line.rstrip("\n").rpartition("|")
    if not sep or hashlib.sha256(text.encode()).hexdigest() != digest:
        raise RecordDamagedError(f"part record {path} is damaged (checksum mismatch)")
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise RecordDamagedError(f"part record {path} is damaged (unreadable)") from None
    if not isinstance(value, dict):
        raise RecordDamagedError(f"part record {path} is damaged (unexpected content)")
    return value


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


class PartRecord:
    """An open part record: its header, the parts done so far, and a handle to append to."""

    def __init__(self, path: Path, header: RecordHeader, parts: dict[int, PartResult]) -> None:
        self.path = path
        self.header = header
        self.parts = parts
        self._handle: IO[str] | None = None

    @classmethod
    def create(cls, path: Path, header: RecordHeader) -> PartRecord:
        """Write a new record with no parts done, atomically replacing any old one."""
        private_dir(path.parent)
        temp = path.with_suffix(".new")
        with open(open_private(temp, os.O_WRONLY | os.O_TRUNC), "w", encoding="ascii") as handle:
            handle.write(_line(asdict(header)))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
        _fsync_dir(path.parent)
        return cls(path, header, {})

    @classmethod
    def load(cls, path: Path) -> PartRecord | None:
        """Read a record; ``None`` when there is none. RecordDamagedError when any complete line fails its
        checksum or the header is not what this version writes."""
        try:
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise RecordDamagedError(f"part record {path} is unreadable: {exc}") from None
        lines = text.split("\n")
        complete, torn_tail = lines[:-1], lines[-1]  # a torn tail is an append cut short by a crash
        if not complete:
            raise RecordDamagedError(f"part record {path} is damaged (no header)")
        raw = _parse_line(complete[0], path)
        try:
            header = RecordHeader(**raw)
        except TypeError:
            raise RecordDamagedError(f"part record {path} is damaged (bad header)") from None
        if header.version != FORMAT_VERSION or header.kind not in KINDS:
            raise RecordDamagedError(f"part record {path} has an unknown format")
        parts: dict[int, PartResult] = {}
        for line in complete[1:]:
            entry = _parse_line(line, path)
            try:
                part = PartResult(int(entry["n"]), str(entry["etag"]), entry.get("checksum"))
            except (KeyError, TypeError, ValueError):
                raise RecordDamagedError(f"part record {path} is damaged (bad part line)") from None
            parts[part.number] = part
        del torn_tail
        return cls(path, header, parts)

    @staticmethod
    def peek_upload_id(path: Path) -> str | None:
        """The upload id of a record that failed to load, if it can still be read, so the stale upload can
        be aborted rather than left behind (and billed)."""
        try:
            first = path.read_text(encoding="ascii", errors="replace").split("\n", 1)[0]
            value = json.loads(first.rpartition("|")[0] or first)
        except (OSError, ValueError):
            return None
        upload_id = value.get("upload_id") if isinstance(value, dict) else None
        return upload_id if isinstance(upload_id, str) else None

    def add(self, part: PartResult) -> None:
        """Record a confirmed part (callers serialise calls).

        The line reaches the kernel at once, so it survives the process being killed. It is not fsynced:
        losing the newest lines to a power cut only means sending those parts again, whereas a line must
        never claim a part whose bytes are not durable, which the destination guarantees before it
        confirms (a server's answer, or the local store's fdatasync)."""
        if self._handle is None:
            self._handle = open(self.path, "a", encoding="ascii")  # noqa: SIM115 - kept open across parts
        self._handle.write(_line({"n": part.number, "etag": part.etag, "checksum": part.checksum}))
        self._handle.flush()
        self.parts[part.number] = part

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def discard(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def discard_path(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
