"""Cutting one streamed byte range into the parts it covers. Pure: no I/O of its own.

A run of parts is read with one request (:data:`ferry.transfer.parts.STREAM_RUN`) and written part by
part, each part recorded as soon as it lands. The source's chunks are views into a buffer it reuses, so a
chunk is cut without copying and its remainder is handed out before the next chunk is asked for."""

from __future__ import annotations

from collections.abc import Iterator

from ferry.storage.base import Chunks


class ChunkFeed:
    """Hands out a stream of chunks in pieces of given lengths (:meth:`take`), in order."""

    def __init__(self, chunks: Iterator[memoryview]) -> None:
        self._chunks = chunks
        self._left = memoryview(b"")

    def take(self, length: int) -> Chunks:
        """The next ``length`` bytes, as chunks; fewer when the stream ends first (the caller counts)."""
        while length > 0:
            if not self._left:
                chunk = next(self._chunks, None)
                if chunk is None:
                    return
                self._left = chunk
            piece, self._left = self._left[:length], self._left[length:]
            length -= len(piece)
            yield piece
