"""Part arithmetic: sizes within limits, spans that tile the object exactly."""

import hashlib
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ferry.errors import UsageError
from ferry.transfer.parts import (
    AUTO_BASE_PART_SIZE,
    MAX_PART_SIZE,
    MAX_PARTS,
    MIN_PART_SIZE,
    check_part_size,
    choose_part_size,
    multipart_etag,
    runs,
    split,
)

sizes = st.integers(min_value=0, max_value=MAX_PART_SIZE * MAX_PARTS)


@given(size=sizes)
def test_auto_part_size_never_needs_more_than_max_parts(size):
    part = choose_part_size(size)
    assert MIN_PART_SIZE <= part <= MAX_PART_SIZE
    assert -(-size // part) <= MAX_PARTS


@given(size=sizes, requested=st.integers(min_value=MIN_PART_SIZE, max_value=MAX_PART_SIZE))
def test_requested_part_size_is_kept_when_it_fits(size, requested):
    part = choose_part_size(size, requested)
    assert -(-size // part) <= MAX_PARTS
    if -(-size // requested) <= MAX_PARTS:
        assert part == requested
    else:
        assert part > requested


def test_auto_part_size_is_eight_mib_for_ordinary_objects():
    assert choose_part_size(1024**3) == AUTO_BASE_PART_SIZE


def test_object_too_large_for_the_part_limits_is_refused():
    with pytest.raises(UsageError, match="larger than"):
        choose_part_size(MAX_PART_SIZE * MAX_PARTS + 1)


@pytest.mark.parametrize("bad", [0, MIN_PART_SIZE - 1, MAX_PART_SIZE + 1])
def test_part_size_out_of_range_names_the_limits(bad):
    with pytest.raises(UsageError, match=r"between 100\.00 KiB and 5\.00 GiB"):
        check_part_size(bad)


@given(size=st.integers(min_value=0, max_value=10**7), part=st.integers(min_value=10**4, max_value=10**7))
def test_split_tiles_the_object_exactly(size, part):
    spans = split(size, part)
    assert [s.number for s in spans] == list(range(1, len(spans) + 1))
    assert sum(s.length for s in spans) == size
    offset = 0
    for span in spans:
        assert span.offset == offset
        assert 0 < span.length <= part
        offset = span.end
    assert all(s.length == part for s in spans[:-1])


def test_split_of_empty_object_has_no_parts():
    assert split(0, 5) == []


def test_multipart_etag_matches_s3_rule():
    parts = [b"a" * 10, b"b" * 3]
    md5s = [hashlib.md5(p).hexdigest() for p in parts]
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + "-2"
    assert multipart_etag(md5s) == expected


@given(
    size=st.integers(min_value=0, max_value=1 << 16),
    part=st.integers(min_value=1, max_value=1 << 12),
    done=st.sets(st.integers(min_value=1, max_value=70)),
    max_bytes=st.integers(min_value=1, max_value=1 << 14),
)
def test_runs_cover_the_missing_parts_in_order_each_one_contiguous_range(size, part, done, max_bytes):
    todo = [s for s in split(size, part) if s.number not in done]
    grouped = runs(todo, max_bytes)
    assert [s for run in grouped for s in run] == todo  # every missing part once, in order
    for run in grouped:
        assert all(a.end == b.offset and a.number + 1 == b.number for a, b in itertools.pairwise(run))
        assert len(run) == 1 or run[-1].end - run[0].offset <= max_bytes
    for before, after in itertools.pairwise(grouped):  # a run ends only where it must
        joined = before[-1].end == after[0].offset and before[-1].number + 1 == after[0].number
        assert not joined or after[0].end - before[0].offset > max_bytes


def test_runs_stop_at_a_part_already_done():
    spans = split(10 * 4, 4)
    todo = [s for s in spans if s.number != 3]
    assert [[s.number for s in run] for run in runs(todo, 100)] == [[1, 2], [4, 5, 6, 7, 8, 9, 10]]
    assert [[s.number for s in run] for run in runs(todo, 8)] == [[1, 2], [4, 5], [6, 7], [8, 9], [10]]
