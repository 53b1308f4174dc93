"""The local filesystem as a store. Keys are paths.

Nothing ever appears at a destination path until it is whole: a single write goes to a temporary file that
is fsynced and renamed; a multipart "upload" is a temporary file preallocated to the full size (so a full
disk is found before the first byte moves), written part by part at each part's offset, fsynced and renamed
on completion. The temporary file's path is the upload id, kept in the part record, so a later run writes
the missing parts into the same file.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
from collections.abc import Hashable, Iterator
from pathlib import Path

from ferry.errors import (
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
    Capabilities,
    Chunks,
    ObjectInfo,
    PartResult,
    Store,
    WriteOptions,
    one_chunk,
)
from ferry.storage.direct import PartWriter, open_direct
from ferry.storage.listing import Entry, Folder
from ferry.transfer.parts import Span
from ferry.units import format_size

TEMP_SUFFIX = ".ferry-tmp"


class LocalStore:
    """Files on this machine. ``temp_dir`` holds unfinished downloads (default: beside the destination)."""

    capabilities = Capabilities(
        multipart=True,
        server_side_copy=False,
        lists_parts=False,
        stages_locally=True,
        is_local=True,
        writes_chunks=True,
    )

    def __init__(self, temp_dir: Path | None = None) -> None:
        self.temp_dir = temp_dir

    def url(self, key: str) -> str:
        return key

    def identity(self) -> Hashable:
        return ("local",)

    @contextlib.contextmanager
    def _errors(self, path: str, doing: str) -> Iterator[None]:
        try:
            yield
        except FerryError:
            raise
        except FileNotFoundError:
            raise NotFoundError(f"{path}: no such file or directory") from None
        except IsADirectoryError:
            raise UsageError(f"{path} is a directory") from None
        except PermissionError:
            raise TransferError(f"{path}: permission denied {doing}") from None
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise TransferError(f"{path}: no space left on device {doing}") from None
            raise TransferError(f"{path}: {exc.strerror or exc} {doing}") from None

    def stat(self, key: str) -> ObjectInfo:
        with self._errors(key, "reading"):
            st = os.stat(key)
            if not os.path.isfile(key):
                raise UsageError(f"{key} is not a regular file")
        return ObjectInfo(key=key, size=st.st_size, mtime=st.st_mtime_ns / 1e9)

    def read_range(self, key: str, offset: int, length: int, *, if_match: str | None = None) -> bytes:
        with self._errors(key, "reading"):
            fd = os.open(key, os.O_RDONLY)
            try:
                chunks: list[bytes] = []
                done = 0
                while done < length:
                    chunk = os.pread(fd, length - done, offset + done)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    done += len(chunk)
            finally:
                os.close(fd)
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if len(data) != length:
            raise SourceChangedError(f"{key}: the file became shorter during the transfer")
        return data

    def read_range_chunks(self, key: str, offset: int, length: int, *, if_match: str | None = None) -> Chunks:
        return one_chunk(self.read_range(key, offset, length, if_match=if_match))

    def _temp_path(self, key: str) -> str:
        """The one temporary path for a destination. Being derived from the destination alone, a later run
        finds (and reuses or overwrites) what a killed run left, even when its part record is lost."""
        target = Path(key).absolute()
        folder = self.temp_dir or target.parent
        tag = hashlib.sha256(str(target).encode("utf-8", "surrogateescape")).hexdigest()[:12]
        return str(folder / f".{target.name[:100]}.{tag}{TEMP_SUFFIX}")

    def put(self, key: str, data: bytes, options: WriteOptions, *, md5_hex: str | None = None) -> str:
        with self._errors(key, "writing"):
            Path(key).parent.mkdir(parents=True, exist_ok=True)
            temp = self._temp_path(key)
            try:
                with open(temp, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                _commit(temp, key)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise
        return hashlib.md5(data, usedforsecurity=False).hexdigest()

    def create_multipart(self, key: str, size: int, options: WriteOptions) -> str:
        with self._errors(key, "preparing the download"):
            Path(key).parent.mkdir(parents=True, exist_ok=True)
            temp = self._temp_path(key)
            Path(temp).parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                if size:
                    try:
                        os.posix_fallocate(fd, 0, size)
                    except OSError as exc:
                        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                            raise TransferError(
                                f"{key}: no space left on device for {format_size(size)} "
                                f"(temporary file {temp})"
                            ) from None
                        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                            raise
                        os.ftruncate(fd, size)
            except BaseException:
                os.close(fd)
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise
            os.close(fd)
        return temp

    def upload_part(self, key: str, upload_id: str, span: Span, data: bytes) -> PartResult:
        return self.upload_part_chunks(key, upload_id, span, one_chunk(data))

    def upload_part_chunks(self, key: str, upload_id: str, span: Span, chunks: Chunks) -> PartResult:
        with self._errors(upload_id, "writing"):
            try:
                fd = os.open(upload_id, os.O_WRONLY)
            except FileNotFoundError:
                raise UploadGoneError(f"{key}: the temporary file {upload_id} disappeared") from None
            direct = open_direct(upload_id)
            try:
                writer = PartWriter(fd, direct, span.offset)
                received = 0
                for chunk in chunks:
                    received += len(chunk)
                    if received > span.length:
                        raise RetryableError(f"{key}: part {span.number} came longer than {span.length} B")
                    writer.write(chunk)
                if received != span.length:
                    raise RetryableError(
                        f"{key}: part {span.number} came short: {received} of {span.length} bytes"
                    )
                writer.close()
                # The part record will say this part is done: make that true even across a power cut.
                os.fdatasync(fd)
            finally:
                os.close(fd)
                if direct is not None:
                    os.close(direct)
        return PartResult(span.number, f"{span.offset}+{span.length}")

    def copy_part(
        self, key: str, upload_id: str, span: Span, source: Store, source_key: str, if_match: str | None
    ) -> PartResult:
        raise UnsupportedError("the local filesystem has no server-side copy")

    def list_parts(self, key: str, upload_id: str, size: int) -> dict[int, PartResult] | None:
        try:
            actual = os.stat(upload_id).st_size
        except FileNotFoundError:
            raise UploadGoneError(f"{key}: the temporary file {upload_id} is gone") from None
        if actual != size:
            raise UploadGoneError(f"{key}: the temporary file {upload_id} has the wrong size")
        return None

    def staged_key(self, key: str, upload_id: str) -> str | None:
        return upload_id

    def complete_multipart(self, key: str, upload_id: str, parts: list[PartResult]) -> str:
        with self._errors(key, "finishing the download"):
            fd = os.open(upload_id, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            _commit(upload_id, key)
        return ""

    def abort_multipart(self, key: str, upload_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(upload_id)

    def copy_object(
        self, key: str, source: Store, source_key: str, options: WriteOptions | None, if_match: str | None
    ) -> str:
        raise UnsupportedError("the local filesystem has no server-side copy")

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(key)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Walk the directory ``prefix`` depth-first in the object stores' key order (bytes of the UTF-8
        path, a directory's files after ``name/``: ``a.txt`` before ``a/b``), so a listing of files and one of
        a bucket can be merged side by side. Symbolic links to directories are not followed (no loops);
        temporary files of unfinished downloads are not listed."""
        with self._errors(prefix, "listing"):
            entries = sorted(os.scandir(prefix), key=_key_order)
        for entry in entries:
            if entry.name.endswith(TEMP_SUFFIX):
                continue
            with self._errors(entry.path, "listing"):
                if entry.is_dir(follow_symlinks=False):
                    if not any(True for _ in os.scandir(entry.path)):
                        st = entry.stat(follow_symlinks=False)
                        yield ObjectInfo(key=entry.path + "/", size=0, mtime=st.st_mtime_ns / 1e9)
                    else:
                        yield from self.list(entry.path)
                    continue
                if not entry.is_file():
                    continue
                st = entry.stat()
            yield ObjectInfo(key=entry.path, size=st.st_size, mtime=st.st_mtime_ns / 1e9)

    def list_folder(self, prefix: str) -> Iterator[Entry]:
        """One level of the directory ``prefix``: its files, and its directories as folders."""
        with self._errors(prefix, "listing"):
            entries = sorted(os.scandir(prefix), key=_key_order)
        for entry in entries:
            if entry.name.endswith(TEMP_SUFFIX):
                continue
            with self._errors(entry.path, "listing"):
                if entry.is_dir(follow_symlinks=False):
                    yield Folder(entry.path + "/")
                elif entry.is_file():
                    st = entry.stat()
                    yield ObjectInfo(key=entry.path, size=st.st_size, mtime=st.st_mtime_ns / 1e9)

    def list_uploads(self, prefix: str) -> Iterator[tuple[str, str, float]]:
        return iter(())


def _key_order(entry: os.DirEntry[str]) -> bytes:
    """Where an entry's keys fall in byte order: a directory's all start with ``name/``."""
    try:
        folder = entry.is_dir(follow_symlinks=False)
    except OSError:
        folder = False
    name = entry.name + "/" if folder else entry.name
    return name.encode("utf-8", "surrogateescape")


def _commit(temp: str, final: str) -> None:
    """Move a complete, fsynced temporary file to its final path atomically, and make the rename durable.
    A temporary folder on another filesystem is crossed by copying to a sibling of the final path first."""
    try:
        os.replace(temp, final)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        sibling = f"{final}{TEMP_SUFFIX}"
        try:
            shutil.copyfile(temp, sibling)
            with open(sibling, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(sibling, final)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(sibling)
            raise
        os.unlink(temp)
    dir_fd = os.open(os.path.dirname(os.path.abspath(final)), os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
