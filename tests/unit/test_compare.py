"""The merge-join of two listings and the same-bytes rule; the local store walks in the stores' key order."""

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ferry.storage.base import ObjectInfo
from ferry.storage.local import LocalStore
from ferry.tasks.compare import OutOfOrderError, Verdict, join, judge, order_key

KEYS = st.text(alphabet="ab/.é-", min_size=1, max_size=6)
TREES = st.dictionaries(KEYS, st.integers(0, 3), max_size=20)


def listing(tree: dict[str, int]) -> list[tuple[str, ObjectInfo]]:
    ordered = sorted(tree.items(), key=lambda kv: order_key(kv[0]))
    return [(k, ObjectInfo(k, size, 0.0)) for k, size in ordered]


@given(TREES, TREES)
def test_join_is_the_set_comparison(source, dest):
    pairs = list(join(listing(source), listing(dest)))
    keys = [p.key for p in pairs]
    assert keys == sorted(set(source) | set(dest), key=order_key)
    for pair in pairs:
        assert (pair.source is not None) == (pair.key in source)
        assert (pair.dest is not None) == (pair.key in dest)
        if pair.source is not None and pair.dest is not None:
            differs = source[pair.key] != dest[pair.key]
            assert (judge(pair.source, pair.dest).verdict == Verdict.DIFFER) == differs


@given(TREES)
def test_join_of_a_tree_with_itself_is_all_same(tree):
    for pair in join(listing(tree), listing(tree)):
        assert pair.source is not None and pair.dest is not None
        assert judge(pair.source, pair.dest).verdict == Verdict.SAME


def test_a_listing_out_of_order_is_refused():
    backwards = [("b", ObjectInfo("b", 1, 0.0)), ("a", ObjectInfo("a", 1, 0.0))]
    with pytest.raises(OutOfOrderError, match="source listing is not in key order"):
        list(join(backwards, []))


def test_hashes_decide_between_objects_of_one_size():
    a = ObjectInfo("k", 3, 0.0, etag="0" * 32)
    b = ObjectInfo("k", 3, 0.0, etag="1" * 32)
    assert judge(a, b).verdict == Verdict.DIFFER and judge(a, b).basis == "md5"
    assert judge(a, a).verdict == Verdict.SAME
    multipart = ObjectInfo("k", 3, 0.0, etag="abc-2")
    assert judge(multipart, a).verdict == Verdict.SAME and judge(multipart, a).basis == "size"
    assert judge(multipart, a, require_hash=True).verdict is None
    recorded = ObjectInfo("k", 3, 0.0, etag="abc-2", metadata={"md5chksum": "1" * 32})
    assert judge(recorded, b).verdict == Verdict.SAME


def test_local_listing_is_in_key_order(tmp_path):
    for name in ["a/b", "a.txt", "a-b", "ab", "é", "z/", "a/c/d"]:
        path = tmp_path / name
        if name.endswith("/"):
            path.mkdir(parents=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x")
    listed = LocalStore().list(str(tmp_path))
    keys = [os.path.relpath(i.key, tmp_path) + ("/" if i.key.endswith("/") else "") for i in listed]
    assert keys == ["a-b", "a.txt", "a/b", "a/c/d", "ab", "z/", "é"]
    assert keys == sorted(keys, key=order_key)
