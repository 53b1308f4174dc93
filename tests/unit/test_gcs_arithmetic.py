"""Pure arithmetic of GCS resumable sessions: part sizes on the 256 KiB grid, the parts a confirmed offset
covers, the offset a 308's Range header confirms, and upload ids that carry the object's size."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ferry.errors import UploadGoneError
from ferry.storage.gcs import GRANULARITY, confirmed_offset, make_upload_id, parse_upload_id, parts_below
from ferry.transfer.parts import (
    MAX_PART_SIZE,
    MAX_PARTS,
    MIN_PART_SIZE,
    align_part_size,
    choose_part_size,
    split,
)

object_sizes = st.integers(min_value=0, max_value=MAX_PART_SIZE * MAX_PARTS)
requested = st.none() | st.integers(min_value=MIN_PART_SIZE, max_value=MAX_PART_SIZE)


@given(size=object_sizes, want=requested)
def test_aligned_part_size_is_on_the_grid_and_within_every_limit(size, want):
    chosen = choose_part_size(size, want)
    part = align_part_size(chosen, GRANULARITY)
    assert part % GRANULARITY == 0
    assert chosen <= part < chosen + GRANULARITY  # the smallest multiple at or above
    assert MIN_PART_SIZE <= part <= MAX_PART_SIZE
    assert -(-size // part) <= MAX_PARTS


@given(part=st.integers(min_value=1, max_value=MAX_PART_SIZE))
def test_a_granularity_of_one_changes_nothing(part):
    assert align_part_size(part, 1) == part


@pytest.mark.parametrize("granularity", [0, -1, 3 * 1024 * 1024 * 7])
def test_a_granularity_that_does_not_divide_the_largest_part_is_refused(granularity):
    with pytest.raises(ValueError):
        align_part_size(MIN_PART_SIZE, granularity)


@given(
    size=st.integers(min_value=1, max_value=10**12),
    part_size=st.integers(min_value=1, max_value=10**10),
    fraction=st.floats(min_value=0, max_value=1),
)
def test_parts_below_are_the_whole_parts_of_the_confirmed_prefix(size, part_size, fraction):
    part_size = max(part_size, -(-size // 2_000))  # at most 2,000 parts: quick to split
    confirmed = int(size * fraction)
    held = parts_below(size, part_size, confirmed)
    spans = split(size, part_size)
    assert held == spans[: len(held)]  # a prefix, numbered from 1
    assert all(span.end <= confirmed for span in held)
    if len(held) < len(spans):  # the next part is not wholly there
        assert spans[len(held)].end > confirmed
    assert (len(held) == len(spans)) == (confirmed >= size)


@given(last=st.integers(min_value=0, max_value=10**13), extra=st.integers(min_value=0, max_value=10**6))
def test_confirmed_offset_follows_the_range_header(last, extra):
    total = last + 1 + extra
    expected = 0 if last == 0 and total > 1 else last + 1
    assert confirmed_offset(f"bytes=0-{last}", total) == expected


@pytest.mark.parametrize("header", [None, "", "bytes=5-9", "garbage"])
def test_no_or_an_unusable_range_header_confirms_nothing(header):
    assert confirmed_offset(header, 1000) == 0


def test_one_byte_object_confirmed_whole():
    assert confirmed_offset("bytes=0-0", 1) == 1


@given(
    query=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789=&%_-", max_size=80),
    size=st.integers(min_value=0, max_value=10**13),
)
def test_upload_ids_carry_the_session_uri_and_the_size(query, size):
    uri = f"https://storage.example/upload/storage/v1/b/bkt/o?uploadType=resumable&{query}"
    assert parse_upload_id(make_upload_id(uri, size)) == (uri, size)


@pytest.mark.parametrize("upload_id", ["https://x/upload?upload_id=1", "abc#ferry-size=", "x#ferry-size=-1"])
def test_a_foreign_upload_id_means_the_upload_is_gone(upload_id):
    with pytest.raises(UploadGoneError):
        parse_upload_id(upload_id)
