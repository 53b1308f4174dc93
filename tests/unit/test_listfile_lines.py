"""OMS list files read in pieces: however the bytes are cut, the same lines come out."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ferry.tasks.listfile import BOM, ListFileError, key_problem, not_text, split_lines

LINE = st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=12)


def whole(data: bytes) -> list[tuple[int, str]]:
    """The expected lines: what a reader of the whole text would see."""
    text = data.removeprefix(BOM).decode("utf-8", "surrogateescape")
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    return [(n, line) for n, line in enumerate(lines, 1) if line.strip()]


def cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


@given(
    lines=st.lists(LINE, max_size=30),
    crlf=st.lists(st.booleans(), min_size=30, max_size=30),
    bom=st.booleans(),
    final_newline=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
)
def test_lines_are_the_same_however_the_pieces_are_cut(lines, crlf, bom, final_newline, cuts):
    ends = ["\r\n" if c else "\n" for c in crlf]
    text = "".join(line + end for line, end in zip(lines, ends, strict=False))
    if not final_newline and text:
        text = text[: -len(ends[len(lines) - 1])]
    data = (BOM if bom else b"") + text.encode()
    assert list(split_lines(cut(data, cuts))) == whole(data)


def test_a_byte_order_mark_cut_between_pieces_is_still_dropped():
    data = BOM + b"a\r\n\r\n  \nb"
    assert list(split_lines([data[:1], data[1:2], data[2:4], data[4:]])) == [(1, "a"), (4, "b")]


def test_bad_bytes_are_kept_for_the_line_check_to_report():
    lines = list(split_lines([b"good\n\xff\xfebad\n"]))
    assert lines[0] == (1, "good") and lines[1][0] == 2
    assert key_problem(*lines[0]) is None
    assert key_problem(*lines[1]) == "list file line 2: the line is not valid UTF-8"
    assert key_problem(3, "k" * 1025) == "list file line 3: a key is at most 1024 bytes"


def test_a_line_too_long_to_be_a_list_line_stops_reading():
    with pytest.raises(ListFileError, match="line 2 is longer than 16 bytes"):
        list(split_lines([b"short\n", b"x" * 10, b"y" * 10], max_line=16))


def test_a_binary_file_is_no_list_but_a_few_bad_lines_are():
    assert not_text(b"a\nb\n\xff\nc", whole=True) is None
    assert not_text(b"a\nb\xe2\x82", whole=False) is None  # cut mid-character
    assert not_text(b"\x1f\x8b\x08\x00\x00", whole=True) == "a NUL byte at byte 3"
    assert not_text(b"\xff\xfe\n\x8b\n", whole=True) == "2 of the first 2 lines are not UTF-8"
