"""Untrusted object keys never become paths outside the destination folder."""

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ferry.tasks.keys import UnsafeKeyError, join_key, local_relative, safe_local_path


@pytest.mark.parametrize(
    "key", ["../../x", "/abs", "a/../../b", "a/./b", "a//b", "x\x00y", "..", ".", "", "/", "a/" + "n" * 300]
)
def test_unsafe_keys_are_refused(key):
    with pytest.raises(UnsafeKeyError):
        safe_local_path("/dest", key)


def test_safe_keys():
    assert safe_local_path("/dest", "a/b c/ü.txt") == "/dest/a/b c/ü.txt"
    assert safe_local_path("/dest", "folder/") == "/dest/folder/"
    assert safe_local_path("/dest", "..a/b..") == "/dest/..a/b.."


@given(st.text(alphabet="ab./\\\x00 ", max_size=12))
def test_every_accepted_key_stays_inside(key):
    try:
        path = safe_local_path("/dest", key)
    except UnsafeKeyError:
        return
    real = os.path.normpath(path)
    assert real.startswith("/dest/") and real != "/dest"
    assert "\x00" not in path


def test_key_mapping():
    assert join_key("", "a/b") == "a/b"
    assert join_key("pre", "a/b") == "pre/a/b"
    assert join_key("pre/", "a/b") == "pre/a/b"
    assert local_relative("/src/dir/a/b.txt", "/src/dir") == "a/b.txt"
    assert local_relative("/src/dir/empty/", "/src/dir") == "empty/"


def relpath_key(path: str, root: str) -> str:
    """local_relative as it was before its shortcut: the reference it must agree with."""
    from pathlib import PurePosixPath

    relative = os.path.relpath(path.rstrip("/"), root)
    key = PurePosixPath(*relative.split(os.sep)).as_posix()
    return key + "/" if path.endswith("/") else key


_ROOTS = st.sampled_from(
    ["/src/dir", "/src/dir/", "src", "./src", ".", "/", "/a//b", "/a/./b", "a/../b", "/x/..", "src//"]
)
_NAMES = st.lists(
    st.sampled_from(["f.bin", "sub", ".", "..", "", "a b", "ü", ".hidden", "..x"]), min_size=1, max_size=4
)


@given(_ROOTS, _NAMES, st.booleans())
def test_a_local_key_is_what_relpath_makes_of_it(root, names, folder):
    """Whatever the root's spelling and the names below it, the key is the one os.path.relpath gives."""
    path = os.path.join(root, *names) + ("/" if folder else "")
    try:
        expected = relpath_key(path, root)
    except ValueError:
        with pytest.raises(ValueError):
            local_relative(path, root)
        return
    assert local_relative(path, root) == expected
