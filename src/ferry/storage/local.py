"""The local filesystem as a store. Keys are paths.

Nothing ever appears at a destination path until it is whole: a single write goes to a temporary file that
is fsynced and renamed, and ``put`` returns once the rename is durable too (the folder's fsync shared by the
threads renaming into it at the time); a multipart "upload" is a temporary file preallocated to the full
size (so a full disk is found before the first byte moves), written part by part at each part's offset,
fsynced and renamed on completion. The temporary file's name is random and created exclusively, never
through a link; its path is the upload id, kept in the part record, so a later run writes the missing parts
into the same file (after checking it is still a regular file of this user's).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import stat
import threading
from collections.abc import Hashable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

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
from ferry.groupcommit import GroupCommit
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
from ferry.transfer.parts import Span
from ferry.units import format_size

if TYPE_CHECKING:
    from ferry.storage.listing import Entry

TEMP_SUFFIX = ".ferry-tmp"
MAX_SKIPPED = 10_000
MAX_FOLDERS_REMEMBERED = 65_536
_TEMP_NAME = re.compile(r"^\..*\.[0-9a-f]{16}\.ferry-tmp$|^\..*\.[0-9a-f]{12}\.ferry-tmp$", re.DOTALL)
"""``.<name>.<16 random hex digits>.ferry-tmp``, and the 12-digit hashed names earlier versions used (a
killed run of one may have left such a file)."""


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

    def __init__(
        self, temp_dir: Path | None = None, root: str | None = None, *, copy_links: bool = False
    ) -> None:
        self.temp_dir = temp_dir
        self.copy_links = copy_links
        self.skipped: list[tuple[str, str]] = []
        """Paths a listing left out, and why (reported as warnings)."""
        self.root = root
        """The folder a recursive download writes below (no link below it is followed)."""
        self._absolute_root = os.path.abspath(root) if root else None
        """The root as this process's folder made it absolute when the store opened (once: ``abspath`` of a
        relative path asks for the working folder, a system call, and it was one per file written)."""
        self._temps = _TempFiles()
        self._made: set[str] = set()
        self._folder_syncs = GroupCommit(_sync_folders)

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

    def _folder(self, path: str) -> int:
        """A descriptor on the folder ``path``, created as needed. Below this store's root every folder is
        created and entered without following symbolic links: a link planted inside the destination (``dl/
        link -> /elsewhere``) cannot make a key write outside it. The root and what is above it are the
        user's to choose, links included."""
        path = os.path.abspath(path)
        root = self._absolute_root
        if root is None or not (path + os.sep).startswith(root + os.sep):
            return self._open_made(path)
        fd = self._open_made(root)
        walked = root
        try:
            for part in path[len(root) :].split(os.sep):
                if part:
                    walked = os.path.join(walked, part)
                    inner = self._enter(fd, part, walked)
                    os.close(fd)
                    fd = inner
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _open_made(self, path: str) -> int:
        """A descriptor on the folder ``path`` (links followed), made first unless this store made or
        entered it already."""
        if path not in self._made:
            os.makedirs(path, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            if path not in self._made:
                raise
            self._made.discard(path)  # removed since: made again
            return self._open_made(path)
        self._note_made(path)
        return fd

    def _enter(self, fd: int, part: str, walked: str) -> int:
        """A descriptor on the folder ``part`` inside the folder ``fd`` (``walked`` is its path), made first
        unless this store made or entered it already; never through a link."""
        if walked not in self._made:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o777, dir_fd=fd)
        try:
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
        except FileNotFoundError:
            if walked not in self._made:
                raise
            self._made.discard(walked)  # removed since: made again
            return self._enter(fd, part, walked)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(walked):
                raise TransferError(
                    f"{walked} is a symbolic link: not followed below the destination, so the key "
                    "is not written"
                ) from None
            raise
        self._note_made(walked)
        return inner

    def _note_made(self, path: str) -> None:
        """Folders known to exist are not made again for every file written into them (a download of many
        small files spent two failing ``mkdir`` calls on each). Bounded: past the limit it starts over."""
        if len(self._made) >= MAX_FOLDERS_REMEMBERED:
            self._made.clear()
        self._made.add(path)

    def _temp_folder(self, key: str) -> str:
        return str(self.temp_dir) if self.temp_dir is not None else os.path.dirname(os.path.abspath(key))

    def _create_temp(self, key: str, folder: str | None = None) -> tuple[str, int]:
        """A new temporary file for ``key`` (in ``folder``, by default the temporary folder): a random name
        (nobody can plant a link there beforehand), created exclusively and never through a link. Its path
        (the upload id) and a writable descriptor. Beside the destination, what a killed run left for the
        same destination (its part record lost or damaged, so nothing will resume it) is removed."""
        folder = folder or self._temp_folder(key)
        dir_fd = self._folder(folder)
        try:
            name, fd = self._create_temp_in(dir_fd, folder, key)
        finally:
            os.close(dir_fd)
        return os.path.join(folder, name), fd

    def _create_temp_in(self, dir_fd: int, folder: str, key: str) -> tuple[str, int]:
        base = _temp_stem(os.path.basename(key))
        name = f".{base}.{os.urandom(8).hex()}{TEMP_SUFFIX}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
        if self.temp_dir is None:
            self._temps.replace(dir_fd, folder, base, name)
        return name, fd

    def _open_temp(self, key: str, upload_id: str, flags: int) -> int:
        """Reopen a temporary file of an earlier run: never through a link, and only a regular file of this
        user's (a part record could be edited to name any file)."""
        dir_fd = self._folder(os.path.dirname(upload_id))
        try:
            fd = os.open(os.path.basename(upload_id), flags | os.O_NOFOLLOW, dir_fd=dir_fd)
        except FileNotFoundError:
            raise UploadGoneError(f"{key}: the temporary file {upload_id} disappeared") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UploadGoneError(
                    f"{key}: the temporary file {upload_id} was replaced by a link"
                ) from None
            raise
        finally:
            os.close(dir_fd)
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or not is_temp_name(upload_id):
            os.close(fd)
            raise UploadGoneError(f"{key}: {upload_id} is not a temporary file of ferry's")
        return fd

    def put(self, key: str, data: bytes, options: WriteOptions, *, md5_hex: str | None = None) -> str:
        with self._errors(key, "writing"):
            if self.temp_dir is not None:
                temp, fd = self._create_temp(key)
                try:
                    _write_synced(fd, data)
                    self._commit(temp, key)
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.unlink(temp)
                    raise
            else:
                self._put_beside(key, data)
        return hashlib.md5(data, usedforsecurity=False).hexdigest()

    def _put_beside(self, key: str, data: bytes) -> None:
        """A whole file written to a temporary file beside it and renamed, through one descriptor on the
        folder: a download of many small files spends its time in these system calls."""
        final = os.path.abspath(key)
        folder, final_name = os.path.split(final)
        dir_fd = self._folder(folder)
        try:
            name, fd = self._create_temp_in(dir_fd, folder, key)
            try:
                _write_synced(fd, data)
                os.replace(name, final_name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=dir_fd)
                raise
            finally:
                self._temps.forget(folder, name)
            self._folder_syncs.submit((folder, dir_fd))
        finally:
            os.close(dir_fd)

    def create_multipart(self, key: str, size: int, options: WriteOptions) -> str:
        with self._errors(key, "preparing the download"):
            os.close(self._folder(os.path.dirname(os.path.abspath(key))))  # no link on the way
            temp, fd = self._create_temp(key)
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
            fd = self._open_temp(key, upload_id, os.O_WRONLY)
            direct = open_direct(fd)
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
        with self._errors(upload_id, "resuming"):
            fd = self._open_temp(key, upload_id, os.O_RDONLY)
            actual = os.fstat(fd).st_size
            os.close(fd)
        if actual != size:
            raise UploadGoneError(f"{key}: the temporary file {upload_id} has the wrong size")
        return None

    def staged_key(self, key: str, upload_id: str) -> str | None:
        return upload_id

    def complete_multipart(self, key: str, upload_id: str, parts: list[PartResult]) -> str:
        with self._errors(key, "finishing the download"):
            fd = self._open_temp(key, upload_id, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self._commit(upload_id, key)
        return ""

    def _commit(self, temp: str, final: str) -> None:
        """Move a complete, fsynced temporary file to its final path atomically, and make the rename
        durable. The rename replaces whatever is at the final name (a link planted there included: it is
        never written through). A temporary folder on another filesystem is crossed by copying to a new
        temporary file beside the final path first."""
        dir_fd = self._folder(os.path.dirname(os.path.abspath(final)))
        name = os.path.basename(final)
        self._temps.forget(os.path.dirname(temp), os.path.basename(temp))
        try:
            try:
                os.replace(temp, name, dst_dir_fd=dir_fd)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                from shutil import copyfileobj  # another file system: rare

                sibling, fd = self._create_temp(final, os.path.dirname(os.path.abspath(final)))
                try:
                    with open(temp, "rb") as source, open(fd, "wb") as handle:
                        copyfileobj(source, handle, 1 << 20)
                        handle.flush()
                        os.fsync(handle.fileno())
                    os.replace(os.path.basename(sibling), name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.unlink(sibling)
                    raise
                os.unlink(temp)
            self._folder_syncs.submit((os.path.dirname(os.path.abspath(final)), dir_fd))
        finally:
            os.close(dir_fd)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        if is_temp_name(upload_id):  # an edited part record must not make ferry delete another file
            self._temps.forget(os.path.dirname(upload_id), os.path.basename(upload_id))
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
        path, a directory's files after ``name/``: ``a.txt`` before ``a/b``, so a listing of files and one
        of a bucket can be merged side by side), without recursion (a tree thousands of levels deep is
        fine). Symbolic links are followed only with ``copy_links`` (``-L``), each folder
        once; otherwise they are left out, as are ferry's own temporary files and what is not a regular
        file, each with a line in :attr:`skipped`."""
        with self._errors(prefix, "listing"):
            top = os.stat(prefix)
        visited = {(top.st_dev, top.st_ino)}
        stack: list[Iterator[os.DirEntry[str]]] = []
        with self._errors(prefix, "listing"):
            stack.append(iter(sorted(os.scandir(prefix), key=_key_order)))
        while stack:
            entry = next(stack[-1], None)
            if entry is None:
                stack.pop()
                continue
            with self._errors(entry.path, "listing"):
                found = self._listed(entry, visited)
            if isinstance(found, ObjectInfo):
                yield found
            elif found is not None:
                stack.append(found)

    def _listed(
        self, entry: os.DirEntry[str], visited: set[tuple[int, int]]
    ) -> ObjectInfo | Iterator[os.DirEntry[str]] | None:
        """What one directory entry adds to a listing: an object, a folder's entries to walk, or nothing."""
        if is_temp_name(entry.name):
            self._skip(entry.path, "a temporary file of an unfinished ferry download: not uploaded")
            return None
        link = entry.is_symlink()
        if link and not self.copy_links:
            self._skip(entry.path, "a symbolic link: not followed (give -L to copy what links point to)")
            return None
        try:
            st = entry.stat(follow_symlinks=True)
        except FileNotFoundError:
            self._skip(entry.path, "a symbolic link to nothing: not uploaded")
            return None
        if stat.S_ISDIR(st.st_mode):
            if (st.st_dev, st.st_ino) in visited:
                self._skip(entry.path, "a link to a folder already listed: not followed again")
                return None
            visited.add((st.st_dev, st.st_ino))
            entries = sorted(os.scandir(entry.path), key=_key_order)
            if not entries:
                return ObjectInfo(key=entry.path + "/", size=0, mtime=st.st_mtime_ns / 1e9)
            return iter(entries)
        if not stat.S_ISREG(st.st_mode):
            self._skip(entry.path, "not a regular file: not uploaded")
            return None
        return ObjectInfo(key=entry.path, size=st.st_size, mtime=st.st_mtime_ns / 1e9)

    def _skip(self, path: str, why: str) -> None:
        if len(self.skipped) < MAX_SKIPPED:
            self.skipped.append((path, why))

    def list_folder(self, prefix: str) -> Iterator[Entry]:
        """One level of the directory ``prefix``: its files, and its directories as folders."""
        from ferry.storage.listing import Folder  # listings: not at every start

        with self._errors(prefix, "listing"):
            entries = sorted(os.scandir(prefix), key=_key_order)
        for entry in entries:
            if is_temp_name(entry.name):
                continue
            with self._errors(entry.path, "listing"):
                if entry.is_dir(follow_symlinks=False):
                    yield Folder(entry.path + "/")
                elif entry.is_file():
                    st = entry.stat()
                    yield ObjectInfo(key=entry.path, size=st.st_size, mtime=st.st_mtime_ns / 1e9)

    def list_uploads(self, prefix: str) -> Iterator[tuple[str, str, float]]:
        return iter(())


class _TempFiles:
    """ferry's temporary files in each destination folder, by the name of the file each is for: what a
    killed run left behind is removed when the same destination is written again. Each folder is read once
    (reading it for every file made a download into one folder quadratic); the files this store creates
    and finishes are noted as it goes. One destination is worked on by one run at a time (its part record
    is locked), so any other temporary file for it is abandoned."""

    MAX_FOLDERS = 65_536
    """Folders remembered; past that the memory starts again (a folder read twice costs time, not
    correctness)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._folders: dict[str, dict[str, set[str]]] = {}

    def replace(self, dir_fd: int, folder: str, base: str, keep: str) -> None:
        """``keep`` was just created for ``base``: delete the other temporary files for ``base``."""
        with self._lock:
            known = self._folders.get(folder)
            if known is None:
                if len(self._folders) >= self.MAX_FOLDERS:
                    self._folders.clear()
                known = self._folders[folder] = _read_temps(dir_fd)
            stale = known.get(base, set())
            known[base] = {keep}
        for name in stale:
            if name == keep:
                continue
            with contextlib.suppress(OSError):
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid():
                    os.unlink(name, dir_fd=dir_fd)

    def forget(self, folder: str, name: str) -> None:
        """``name`` was renamed to its destination or deleted."""
        base = _temp_base(name)
        if base is None:
            return
        with self._lock:
            known = self._folders.get(folder)
            names = known.get(base) if known is not None else None
            if known is not None and names is not None:
                names.discard(name)
                if not names:
                    del known[base]


def _temp_stem(name: str) -> str:
    """What a temporary file's name says of its destination's: the name itself, or for a long one its
    beginning and a digest of the whole (two long names alike in their first 100 bytes must not take each
    other's temporary files for abandoned ones). Counted in bytes, as the file system counts: a name of 80
    three-byte characters is a legal 240 bytes, but not with the temporary file's 28 more."""
    encoded = os.fsencode(name)
    if len(encoded) <= 100:
        return name
    digest = hashlib.blake2b(encoded, digest_size=8).hexdigest()
    head = name[:83]
    while len(os.fsencode(head)) > 83:
        head = head[:-1]
    return f"{head}~{digest}"


def _temp_base(name: str) -> str | None:
    """The destination name a temporary file is for: ``.<base>.<random>.ferry-tmp`` gives ``<base>``."""
    if not is_temp_name(name):
        return None
    return name[1 : -len(TEMP_SUFFIX)].rsplit(".", 1)[0]


def _read_temps(dir_fd: int) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for entry in os.scandir(dir_fd):
        base = _temp_base(entry.name)
        if base is not None:
            found.setdefault(base, set()).add(entry.name)
    return found


def _sync_folders(renames: Sequence[tuple[str, int]]) -> None:
    """Make a batch of renames durable: one ``fsync`` per folder, however many files were renamed into it
    (each rename's thread holds its descriptor on the folder open until its batch is done, and returns only
    then: a file is never reported written before its name is durable). Folders are told apart by path."""
    synced: set[str] = set()
    for folder, dir_fd in renames:
        if folder not in synced:
            os.fsync(dir_fd)
            synced.add(folder)


def _write_synced(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``, make it durable, close ``fd``."""
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def is_temp_name(path: str) -> bool:
    """Whether a file name is one of ferry's temporary files, by its exact pattern (a user's own
    ``report.ferry-tmp`` is not)."""
    return _TEMP_NAME.match(os.path.basename(path)) is not None


def _key_order(entry: os.DirEntry[str]) -> bytes:
    """Where an entry's keys fall in byte order: a directory's all start with ``name/``."""
    try:
        folder = entry.is_dir(follow_symlinks=False)
    except OSError:
        folder = False
    name = entry.name + "/" if folder else entry.name
    return name.encode("utf-8", "surrogateescape")
