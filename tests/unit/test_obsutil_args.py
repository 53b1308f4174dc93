"""obsutil's spellings of cp's options become ferry's, and nothing else is touched."""

from __future__ import annotations

import pytest

from ferry.cli.obsutil_args import OBSUTIL_FLAGS, translate
from ferry.errors import UsageError

# Every spelling in the syntax lines of obsutil's "resume a failed copy/download task" pages.
SEED_LINE = str.split(
    "cp -recover=xxx -dryRun -tempFileDir=/tmp/t -f -u -crr -vlength -vmd5 -j=1 -p=1 -threshold=52428800 "
    "-acl=private -sc=warm -meta=aaa:bbb#ccc:ddd -ps=auto -include=*.xxx -exclude=*.yyy "
    "-timeRange=20240101-* -mf -o=/tmp/o -cpd=/tmp/c -clear -config=/tmp/c.toml -payer=requester"
)


def test_the_seed_syntax_lines_translate_to_ferry_options():
    assert translate(SEED_LINE) == [
        "cp",
        "--recover=xxx",
        "--dry-run",
        "--temp-dir=/tmp/t",
        "--force",
        "--update",
        "--crr",
        "--verify-length",
        "--verify-md5",
        "--jobs=1",
        "--parallel=1",
        "--threshold=52428800",
        "--acl=private",
        "--storage-class=warm",
        "--meta=aaa:bbb#ccc:ddd",
        "--part-size=auto",
        "--include=*.xxx",
        "--exclude=*.yyy",
        "--time-range=20240101-*",
        "--mf",
        "--output-dir=/tmp/o",
        "--checkpoint-dir=/tmp/c",
        "--clear",
        "--config=/tmp/c.toml",
        "--payer=requester",
    ]


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["-j", "5"], ["--jobs=5"]),  # Go's flag package takes the value as the next word too
        (["--j=5"], ["--jobs=5"]),  # and two dashes
        (["--dryRun"], ["--dry-run"]),
        (["-j=-1"], ["--jobs=-1"]),  # a negative value stays a value (and is refused later)
        (["-f=true", "-u=false"], ["--force"]),
        (["-r", "-f", "obs://b/p/", "/tmp/x"], ["--recursive", "--force", "obs://b/p/", "/tmp/x"]),
        # ferry's own spellings, and the values of its options, are left alone
        (["--include", "-u", "--recover", "-f"], ["--include", "-u", "--recover", "-f"]),
        (["--jobs", "3", "-q", "--json"], ["--jobs", "3", "-q", "--json"]),
        (["--", "-f"], ["--", "-f"]),
    ],
)
def test_spellings(words, expected):
    assert translate(["cp", *words]) == ["cp", *expected]


def test_only_cp_is_translated():
    assert translate(["task", "list", "-o=x"]) == ["task", "list", "-o=x"]
    assert translate(["--help"]) == ["--help"]


def test_a_value_flag_at_the_end_and_a_bad_boolean_are_one_line_errors():
    with pytest.raises(UsageError, match="-recover needs a value"):
        translate(["cp", "-recover"])
    with pytest.raises(UsageError, match="expected true or false"):
        translate(["cp", "-f=maybe"])


def test_every_obsutil_flag_names_a_ferry_option():
    from typer.main import get_command

    from ferry.cli.app import app

    cp = get_command(app).commands["cp"]  # type: ignore[attr-defined]
    known = {opt for param in cp.params for opt in param.opts}
    assert {option for option, _ in OBSUTIL_FLAGS.values()} <= known
