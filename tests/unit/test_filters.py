"""The object filters of batch transfers: obsutil's globs, time ranges and folder objects (``-mf``)."""

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ferry.errors import UsageError
from ferry.tasks.filters import Glob, ObjectFilter, TimeRange, escape, parse_time_range


def ts(*fields: int) -> float:
    return datetime(*fields, tzinfo=UTC).timestamp()


# --- globs -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        # * matches any run, / included, and may be empty
        ("*", "", True),
        ("*", "a/b/c.txt", True),
        ("*.log", "logs/2024/app.log", True),
        ("logs/*", "logs/", True),
        ("logs/*", "logs/a/b/c", True),
        ("a*b", "ab", True),
        ("a*b", "a//b", True),
        ("a*b*c", "abc", True),
        ("a*b*c", "acb", False),
        ("**", "anything/at/all", True),
        ("*a*", "bbb", False),
        # ? matches exactly one character, / included
        ("?", "a", True),
        ("?", "/", True),
        ("?", "", False),
        ("?", "ab", False),
        ("a?c", "a/c", True),
        ("a??", "ab", False),
        ("*?", "", False),
        ("*?", "x", True),
        # anchored at both ends
        ("abc", "abc", True),
        ("abc", "xabc", False),
        ("abc", "abcx", False),
        ("b*", "ab", False),
        ("*a", "ab", False),
        ("tmp/*", "data/tmp/x", False),
        # everything else is literal: no fnmatch classes, no regex
        ("[ab]", "a", False),
        ("[ab]", "[ab]", True),
        ("{a,b}", "{a,b}", True),
        ("{a,b}", "a", False),
        ("a.c", "abc", False),
        ("a.c", "a.c", True),
        ("a+(b)|c^$", "a+(b)|c^$", True),
        ("x\ny", "x\ny", True),
        ("x*y", "x\n\ny", True),
        ("x?y", "x\ny", True),
        # escapes
        (r"\*", "*", True),
        (r"\*", "a", False),
        (r"\?", "?", True),
        (r"\?", "a", False),
        (r"\\", "\\", True),
        (r"\\", "\\\\", False),
        (r"\\*", "\\abc", True),
        (r"a\*b*", "a*bc", True),
        (r"a\*b*", "axbc", False),
        (r"\a", r"\a", True),
        (r"\a", "a", False),
        (r"dir\name", r"dir\name", True),
        ("end\\", "end\\", True),
        (r"\\\*", r"\*", True),
    ],
)
def test_glob(pattern, key, expected):
    assert Glob(pattern).matches(key) is expected


def test_glob_keeps_its_pattern_and_compares_by_it():
    glob = Glob("tmp/*")
    assert glob.pattern == "tmp/*"
    assert glob == Glob("tmp/*")
    assert glob != Glob("tmp/?")
    assert hash(glob) == hash(Glob("tmp/*"))
    assert repr(glob) == "Glob('tmp/*')"


def test_empty_pattern_is_a_usage_error():
    with pytest.raises(UsageError):
        Glob("")


def test_escape():
    assert escape("") == ""
    assert escape("plain/key.txt") == "plain/key.txt"
    assert escape("a*b?c\\d") == "a\\*b\\?c\\\\d"
    assert escape("[x]{y}") == "[x]{y}"


@pytest.mark.parametrize(
    ("pattern", "key"),
    [
        ("*a" * 30 + "*b", "a" * 10_000),
        ("*a" * 30 + "*b", "a" * 10_000 + "b"),
        ("a*" * 30 + "b", "a" * 10_000),
        ("*a" * 30 + "*b*", "a" * 10_000),
        ("*" + "?" * 15 + "*a?b" * 14 + "*", "ab" * 5_000),
        ("*aaaaaaaaaaaaaaaaaaab" * 15 + "*", "a" * 10_000),
    ],
)
def test_pathological_patterns_finish_fast(pattern, key):
    glob = Glob(pattern)
    started = time.perf_counter()
    glob.matches(key)
    assert time.perf_counter() - started < 0.5


def reference_regex(pattern: str) -> str:
    """An independent translation: each character on its own, escapes first, then ``.*`` and ``.``."""
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*?\\":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
        i += 1
    return "".join(out)


@given(st.text(min_size=1, max_size=40).filter(lambda t: not set(t) & set("*?\\")))
def test_a_pattern_without_wildcards_matches_only_itself(text):
    glob = Glob(text)
    assert glob.matches(text)
    assert not glob.matches(text + "x")
    assert not glob.matches(text[1:])
    assert not glob.matches(text[:-1] + chr(ord(text[-1]) ^ 1))


@given(st.text(min_size=1, max_size=40), st.text(max_size=40))
def test_a_pattern_without_wildcards_matches_no_other_string(text, other):
    text = text.replace("*", "").replace("?", "").replace("\\", "") or "x"
    assert Glob(text).matches(other) is (other == text)


@given(st.text(min_size=1, max_size=40))
def test_escape_gives_a_pattern_matching_exactly_the_text(text):
    glob = Glob(escape(text))
    assert glob.matches(text)
    assert not glob.matches(text + "x")
    assert not glob.matches("x" + text)


@given(st.text(max_size=15), st.text(max_size=15), st.text(max_size=15))
def test_escaped_parts_around_a_star(prefix, middle, suffix):
    glob = Glob(escape(prefix) + "*" + escape(suffix))
    assert glob.matches(prefix + middle + suffix)


@settings(max_examples=400)
@given(st.text(alphabet="ab/*?\\", min_size=1, max_size=10), st.text(alphabet="ab/*?", max_size=12))
def test_glob_agrees_with_a_reference_regex(pattern, key):
    expected = re.fullmatch(reference_regex(pattern), key, re.DOTALL) is not None
    assert Glob(pattern).matches(key) is expected


# --- time ranges -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        # the seed: yyyyMMdd is yyyyMMdd000000 and yyyyMM is yyyyMM01000000, on either side
        ("20240101-20240101", ts(2024, 1, 1), ts(2024, 1, 1)),
        ("202401-202402", ts(2024, 1, 1), ts(2024, 2, 1)),
        ("2024010112-2024010113", ts(2024, 1, 1, 12), ts(2024, 1, 1, 13)),
        ("202401011230-202401011230", ts(2024, 1, 1, 12, 30), ts(2024, 1, 1, 12, 30)),
        ("20240101123045-20240101123045", ts(2024, 1, 1, 12, 30, 45), ts(2024, 1, 1, 12, 30, 45)),
        ("20240101-20241231", ts(2024, 1, 1), ts(2024, 12, 31)),
        ("20240229-20240229235959", ts(2024, 2, 29), ts(2024, 2, 29, 23, 59, 59)),
        ("*-20240101", None, ts(2024, 1, 1)),
        ("20240101-*", ts(2024, 1, 1), None),
        ("202401-*", ts(2024, 1, 1), None),
        ("*-*", None, None),
        ("2024010112-20240102", ts(2024, 1, 1, 12), ts(2024, 1, 2)),
        ("19691231-19700101", ts(1969, 12, 31), ts(1970, 1, 1)),
    ],
)
def test_parse_time_range(text, start, end):
    assert parse_time_range(text) == TimeRange(start, end)


def test_time_range_is_inclusive_to_the_second():
    day = parse_time_range("20240101-20240101235959")
    assert not day.contains(ts(2023, 12, 31, 23, 59, 59))
    assert day.contains(ts(2024, 1, 1))
    assert day.contains(ts(2024, 1, 1, 12))
    assert day.contains(ts(2024, 1, 1, 23, 59, 59))
    assert day.contains(ts(2024, 1, 1, 23, 59, 59) + 0.999)
    assert not day.contains(ts(2024, 1, 2))

    short = parse_time_range("20240101-20240101")  # obsutil's short form: one second, 00:00:00
    assert short.contains(ts(2024, 1, 1) + 0.5) and not short.contains(ts(2024, 1, 1, 0, 0, 1))

    minute = parse_time_range("202401011230-20240101123059")
    assert not minute.contains(ts(2024, 1, 1, 12, 29, 59))
    assert minute.contains(ts(2024, 1, 1, 12, 30))
    assert minute.contains(ts(2024, 1, 1, 12, 30, 59))
    assert not minute.contains(ts(2024, 1, 1, 12, 31))

    hour = parse_time_range("2024010112-*")
    assert not hour.contains(ts(2024, 1, 1, 11, 59, 59) + 0.5)
    assert hour.contains(ts(2024, 1, 1, 12))
    assert hour.contains(ts(2100, 1, 1))


def test_open_ends():
    until = parse_time_range("*-20240101")
    assert until.contains(0.0)
    assert until.contains(-1e9)
    assert not until.contains(ts(2024, 1, 2))
    everything = parse_time_range("*-*")
    assert everything.contains(-1e12)
    assert everything.contains(1e12)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "-",
        "*",
        "20240101",
        "2024-01",
        "20240101-",
        "-20240101",
        "20240101-20240102-20240103",
        "20240101_20240102",
        "2024010-20240102",
        "202401011-20240102",
        "2024010112345-*",
        "202401011234567-*",
        "2024O101-*",
        " 20240101-20240102",
        "20240101-20240102 ",
        "+2024010-*",
        "２０２４０１０１-*",
        "**-*",
        "20241301-*",
        "20240001-*",
        "20240230-*",
        "20230229-*",
        "20240100-*",
        "2024010124-*",
        "202401011260-*",
        "20240101235960-*",
        "00000101-*",
        "*-20241301",
        "20240102-20240101",
        "20240101120000-20240101115959",
        "2024010112-2024010111",
    ],
)
def test_malformed_time_ranges_are_usage_errors_naming_the_value(text):
    with pytest.raises(UsageError, match=re.escape(f"invalid --time-range {text!r}: ")) as caught:
        parse_time_range(text)
    assert "\n" not in str(caught.value)


def test_time_range_messages():
    with pytest.raises(UsageError) as caught:
        parse_time_range("2024-01")
    assert str(caught.value) == (
        "invalid --time-range '2024-01': expected time1-time2 as yyyyMMddHHmmss (short forms and * allowed)"
    )
    with pytest.raises(UsageError, match="20240230 is not a valid"):
        parse_time_range("20240230-*")
    with pytest.raises(UsageError, match="the start is after the end"):
        parse_time_range("20240102-20240101")


@given(
    st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(2100, 12, 31, 23, 59, 59), timezones=st.just(UTC)
    )
)
def test_a_single_second_range_contains_exactly_that_second(moment):
    moment = moment.replace(microsecond=0)
    stamp = moment.strftime("%Y%m%d%H%M%S")
    second = moment.timestamp()
    within = parse_time_range(f"{stamp}-{stamp}")
    assert within == TimeRange(second, second)
    assert within.contains(second)
    assert not within.contains(second - 1)
    assert not within.contains(second + 1)
    before = (moment - timedelta(seconds=1)).strftime("%Y%m%d%H%M%S")
    with pytest.raises(UsageError):
        parse_time_range(f"{stamp}-{before}")


# --- the whole filter --------------------------------------------------------------------------------------

NOON = ts(2024, 6, 1, 12)


def test_default_filter_accepts_everything():
    accept_all = ObjectFilter()
    for key in ("", "a", "a/", "deep/path/file.txt"):
        assert accept_all.accepts(key, NOON)
        assert accept_all.reason(key, NOON) is None


def test_exclude_is_decided_before_include():
    both = ObjectFilter.build(["*.log"], ["tmp/*"], None, False)
    assert both.accepts("app.log", NOON)
    assert both.accepts("logs/app.log", NOON)
    assert not both.accepts("tmp/app.log", NOON)
    assert both.reason("tmp/app.log", NOON) == "excluded by 'tmp/*'"
    assert both.reason("app.txt", NOON) == "not matched by any --include"


def test_several_patterns():
    several = ObjectFilter.build(["*.log", "*.txt"], ["tmp/*", "*.bak.*"], None, False)
    assert several.accepts("a.log", NOON)
    assert several.accepts("b/c.txt", NOON)
    assert not several.accepts("c.csv", NOON)
    assert several.reason("x.bak.txt", NOON) == "excluded by '*.bak.*'"
    assert several.reason("tmp/x.bak.txt", NOON) == "excluded by 'tmp/*'"


def test_exclude_only_and_include_only():
    exclude_only = ObjectFilter.build([], ["*.tmp"], None, False)
    assert exclude_only.accepts("a.txt", NOON)
    assert not exclude_only.accepts("a.tmp", NOON)
    include_only = ObjectFilter.build(["data/*"], [], None, False)
    assert include_only.accepts("data/x", NOON)
    assert not include_only.accepts("other/data/x", NOON)


def test_time_range_in_the_filter():
    june = ObjectFilter.build([], [], "20240601-20240630", False)
    assert june.accepts("a", NOON)
    assert june.reason("a", ts(2024, 7, 1)) == "modified outside --time-range"
    assert june.reason("a", ts(2024, 5, 31, 23, 59, 59)) == "modified outside --time-range"
    excluded_first = ObjectFilter.build([], ["a"], "20240601-20240630", False)
    assert excluded_first.reason("a", ts(2024, 7, 1)) == "excluded by 'a'"


def test_folder_objects_pass_untouched_without_mf():
    strict = ObjectFilter.build(["*.log"], ["tmp/*"], "20240601-20240630", False)
    for folder in ("tmp/", "tmp/sub/", "data/", "/"):
        assert strict.accepts(folder, ts(2000, 1, 1))
        assert strict.reason(folder, ts(2000, 1, 1)) is None
    assert not strict.accepts("tmp/x.log", NOON)


def test_folder_objects_are_filtered_with_mf():
    strict = ObjectFilter.build(["*/"], ["tmp/*"], "20240601-20240630", True)
    assert strict.accepts("data/", NOON)
    assert strict.reason("tmp/", NOON) == "excluded by 'tmp/*'"
    assert strict.reason("tmp/sub/", NOON) == "excluded by 'tmp/*'"
    assert strict.reason("data/", ts(2000, 1, 1)) == "modified outside --time-range"
    assert strict.reason("data/file", NOON) == "not matched by any --include"
    logs = ObjectFilter.build(["*.log"], [], None, True)
    assert logs.reason("data/", NOON) == "not matched by any --include"


def test_build_compiles_and_validates():
    built = ObjectFilter.build(["a*"], ["b?"], "*-*", True)
    assert built == ObjectFilter((Glob("a*"),), (Glob("b?"),), TimeRange(None, None), True)
    assert ObjectFilter.build([], [], None, False) == ObjectFilter()
    with pytest.raises(UsageError, match="--include"):
        ObjectFilter.build([""], [], None, False)
    with pytest.raises(UsageError, match="--exclude"):
        ObjectFilter.build([], ["ok", ""], None, False)
    with pytest.raises(UsageError, match="--time-range"):
        ObjectFilter.build([], [], "yesterday", False)
    with pytest.raises(UsageError, match="--time-range"):
        ObjectFilter.build([], [], "", False)
