"""Parts written around the page cache (O_DIRECT) where aligned and through it where not: the file ends up
holding exactly the bytes sent, at their offsets, with O_DIRECT and without it."""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferry.storage.direct import ALIGN, PartWriter, open_direct


def write_part(path: Path, offset: int, data: bytes, chunk_sizes: list[int], use_direct: bool) -> None:
    fd = os.open(path, os.O_WRONLY)
    direct = open_direct(fd) if use_direct else None
    if use_direct and direct is None:
        pytest.skip("this filesystem has no O_DIRECT")
    try:
        writer = PartWriter(fd, direct, offset)
        at, i = 0, 0
        while at < len(data):
            n = chunk_sizes[i % len(chunk_sizes)]
            writer.write(memoryview(data)[at : at + n])
            at, i = at + n, i + 1
        writer.close()
        assert writer.offset == offset + len(data)
        os.fdatasync(fd)
    finally:
        os.close(fd)
        if direct is not None:
            os.close(direct)


@pytest.mark.parametrize("use_direct", [True, False], ids=["o_direct", "page-cache"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    offset=st.sampled_from([0, ALIGN, 3 * ALIGN, 8 << 20, 100, ALIGN + 1]),
    size=st.integers(min_value=0, max_value=(2 << 20) + 5000),
    chunk_sizes=st.lists(st.integers(min_value=1, max_value=1 << 20), min_size=1, max_size=4),
)
def test_a_part_lands_whole_at_its_offset(tmp_path, use_direct, offset, size, chunk_sizes):
    path = tmp_path / "part.bin"
    before = os.urandom(offset + size + 3000)
    path.write_bytes(before)
    data = os.urandom(size)
    write_part(path, offset, data, chunk_sizes, use_direct)
    after = path.read_bytes()
    assert after[:offset] == before[:offset]
    assert after[offset : offset + size] == data
    assert after[offset + size :] == before[offset + size :]
