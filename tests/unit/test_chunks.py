"""Cutting a stream of chunks (views into one reused buffer) into parts: every byte once, in order."""

from hypothesis import given
from hypothesis import strategies as st

from ferry.transfer.chunks import ChunkFeed


def reused_buffer_stream(data: bytes, sizes: list[int]):
    """Chunks as a store gives them: each a view into one buffer that the next chunk overwrites."""
    buffer = bytearray(max(sizes, default=1))
    at, i = 0, 0
    while at < len(data):
        n = min(sizes[i % len(sizes)], len(data) - at)
        buffer[:n] = data[at : at + n]
        yield memoryview(buffer)[:n]
        at, i = at + n, i + 1


@given(
    data=st.binary(max_size=4000),
    sizes=st.lists(st.integers(min_value=1, max_value=500), min_size=1, max_size=10),
    parts=st.lists(st.integers(min_value=0, max_value=700), max_size=20),
)
def test_parts_taken_from_a_stream_hold_its_bytes_in_order(data, sizes, parts):
    feed = ChunkFeed(reused_buffer_stream(data, sizes))
    at = 0
    for length in parts:
        got = b"".join(bytes(piece) for piece in feed.take(length))  # copied before the next chunk
        assert got == data[at : at + length]
        at += len(got)
    rest = b"".join(bytes(piece) for piece in feed.take(len(data)))
    assert rest == data[at:]


def test_a_stream_that_ends_early_gives_a_short_part():
    feed = ChunkFeed(iter([memoryview(b"abc")]))
    assert b"".join(feed.take(2)) == b"ab"
    assert b"".join(feed.take(5)) == b"c"
    assert list(feed.take(1)) == []
