"""Parsing what users type: sizes, locations, metadata, ACLs, storage classes, option ranges."""

from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ferry.config import Defaults
from ferry.errors import UsageError
from ferry.transfer.options import check_acl, check_storage_class, parse_meta, resolve_options
from ferry.units import format_size, parse_size
from ferry.urls import LocalLocation, RemoteLocation, parse_location


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("1", 1),
        ("1MB", 1 << 20),
        ("1mb", 1 << 20),
        ("1MiB", 1 << 20),
        ("1M", 1 << 20),
        ("100KB", 100 << 10),
        ("1.5GiB", 3 << 29),
        ("5 GB", 5 << 30),
        ("52428800", 52428800),
    ],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "MB", "-1", "1XB", "one", "1.5", "1e6"])
def test_parse_size_rejects_nonsense_with_the_value_named(text):
    with pytest.raises(UsageError, match="invalid threshold"):
        parse_size(text, what="threshold")


@example(1152)  # "1.12 KiB": 5.12 B of rounding in the figure, then 1146.88 B read back as 1146
@given(st.integers(min_value=0, max_value=2**60))
def test_format_size_round_trips_roughly(n):
    """Two decimals of the unit shown (at most half a hundredth of it, under 0.5 % of n), and parse_size
    drops the fraction of a byte: within 0.5 % of n plus one byte."""
    text = format_size(n)
    number, unit = text.split(" ")
    back = parse_size(number + unit) if unit != "B" else int(number)
    assert abs(back - n) <= n * 0.005 + 1


def test_locations():
    assert parse_location("s3://bucket/a/b c.txt") == RemoteLocation("s3", "bucket", "a/b c.txt")
    assert parse_location("OBS://bucket") == RemoteLocation("obs", "bucket", "")
    assert parse_location("rgw://bkt/") == RemoteLocation("rgw", "bkt", "")
    assert parse_location("/tmp/x") == LocalLocation(Path("/tmp/x"))
    assert parse_location("file:///tmp/x") == LocalLocation(Path("/tmp/x"))
    assert parse_location("relative/file") == LocalLocation(Path("relative/file"))


@pytest.mark.parametrize("text", ["", "s3://", "s3:///key", "s3://ab/key", "a\x00b"])
def test_bad_locations(text):
    with pytest.raises(UsageError):
        parse_location(text)


def test_parse_meta():
    assert parse_meta("k1:v1#K2:v:2") == {"k1": "v1", "k2": "v:2"}
    assert parse_meta("") == {}


@pytest.mark.parametrize("text", ["novalue", ":v", "k k:v", "k:é"])
def test_parse_meta_rejects(text):
    with pytest.raises(UsageError, match="--meta"):
        parse_meta(text)


def test_acl_and_storage_class():
    assert check_acl("public-read") == "public-read"
    assert check_storage_class("warm") == "STANDARD_IA"
    assert check_storage_class("standard") == "STANDARD"
    with pytest.raises(UsageError, match="--acl"):
        check_acl("everyone")
    with pytest.raises(UsageError, match="--storage-class"):
        check_storage_class("tepid")


def test_resolve_options_defaults_and_limits():
    options = resolve_options(Defaults())
    assert options.threshold == 50 << 20
    assert options.part_size is None
    assert options.retry.attempts == 6
    assert resolve_options(Defaults(), part_size="8MiB").part_size == 8 << 20
    with pytest.raises(UsageError, match="part size"):
        resolve_options(Defaults(), part_size="10KB")
    with pytest.raises(UsageError, match="parallel"):
        resolve_options(Defaults(), parallel=0)
    with pytest.raises(UsageError, match="bandwidth"):
        resolve_options(Defaults(), bwlimit="1")
