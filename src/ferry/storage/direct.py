"""Writing a part of a local file around the page cache (``O_DIRECT``), where the filesystem allows it.

A download is written once and read rarely, and ferry makes every part durable (fdatasync) before it
records it. Through the page cache that costs a copy into freshly allocated cache pages and then their
writeback; with ``O_DIRECT`` the bytes go from one reused, page-aligned buffer straight to the device, and
the fdatasync that follows has only metadata left to do. Measured here on a 1 GiB download: 0.35 s of
kernel time instead of 0.6 s, and no slowdown (3 s instead of 1.1 s) when the page cache has to grow into
memory the machine had not touched, as on a VM that hands freed memory back to its host. It also leaves
the machine's cache to the programs that read it.

``O_DIRECT`` wants offsets, lengths and buffer addresses aligned to the device's block size: whatever
part of a write is not (the tail of an object, a part size off the 4 KiB grid) goes through the page
cache, on the same file, and fdatasync covers both. A filesystem that refuses ``O_DIRECT`` (tmpfs) gets
the page cache for everything.
"""

from __future__ import annotations

import errno
import mmap
import os
import threading

from ferry.storage.base import STREAM_CHUNK

ALIGN = 4096
"""The alignment asked of direct writes: a page, a multiple of every common logical block size."""

_buffers = threading.local()


def _buffer() -> memoryview:
    """This thread's page-aligned buffer (anonymous memory is page-aligned), reused for every part."""
    view: memoryview | None = getattr(_buffers, "view", None)
    if view is None:
        view = _buffers.view = memoryview(mmap.mmap(-1, STREAM_CHUNK))
    return view


def open_direct(fd: int) -> int | None:
    """A second, ``O_DIRECT`` descriptor on the file open as ``fd`` (reopened through ``/proc``, so no
    path is looked up again); ``None`` where the filesystem (or OS) has none."""
    flag = getattr(os, "O_DIRECT", 0)
    if not flag or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | flag)
    except OSError as exc:
        if exc.errno in (errno.EINVAL, errno.EOPNOTSUPP):
            return None
        raise


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    done = 0
    while done < len(data):
        done += os.pwrite(fd, data[done:], offset + done)


class PartWriter:
    """Writes one part's bytes at ``offset``, in order: through ``direct`` (an ``O_DIRECT`` descriptor,
    or ``None``) where aligned, through ``buffered`` otherwise. :meth:`close` writes what is left."""

    def __init__(self, buffered: int, direct: int | None, offset: int) -> None:
        self._buffered = buffered
        self._direct = direct if offset % ALIGN == 0 else None
        self.offset = offset
        """Where the next byte goes."""
        self._view = _buffer() if self._direct is not None else None
        self._held = 0

    def write(self, chunk: memoryview) -> None:
        if self._view is None:
            _pwrite_all(self._buffered, chunk, self.offset)
            self.offset += len(chunk)
            return
        while chunk:
            room = len(self._view) - self._held
            piece, chunk = chunk[:room], chunk[room:]
            self._view[self._held : self._held + len(piece)] = piece
            self._held += len(piece)
            if self._held == len(self._view):
                self._flush(self._held)

    def _flush(self, length: int) -> None:
        """Write the buffer's first ``length`` bytes (a multiple of ALIGN) directly, keep the rest."""
        assert self._view is not None
        if length:
            data = self._view[:length]
            try:
                _pwrite_all(self._direct if self._direct is not None else self._buffered, data, self.offset)
            except OSError as exc:
                if exc.errno != errno.EINVAL or self._direct is None:
                    raise
                self._direct = None  # it opens O_DIRECT but refuses the writes: the cache for the rest
                _pwrite_all(self._buffered, data, self.offset)
            self.offset += length
        rest = self._held - length
        if rest:
            self._view[:rest] = self._view[length : self._held]
        self._held = rest

    def close(self) -> None:
        """Write what the buffer still holds: its aligned part directly, the tail through the cache."""
        if self._view is None or not self._held:
            return
        self._flush(self._held - self._held % ALIGN)
        tail = self._view[: self._held]
        _pwrite_all(self._buffered, tail, self.offset)
        self.offset += self._held
        self._held = 0
