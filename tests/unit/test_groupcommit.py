"""Group commit: every caller returns only once its own item is committed, every item is committed once,
and a failed commit fails exactly the callers whose items were in it."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from ferry.groupcommit import GroupCommit


def test_each_caller_returns_after_its_item_is_committed_and_batches_are_shared() -> None:
    committed: set[int] = set()
    batches: list[int] = []
    lock = threading.Lock()

    def commit(items: Sequence[int]) -> None:
        time.sleep(0.002)  # a transaction takes a while: others queue meanwhile
        with lock:
            assert not committed & set(items), "an item was committed twice"
            committed.update(items)
            batches.append(len(items))

    group = GroupCommit(commit)
    early: list[int] = []

    def worker(base: int) -> None:
        for i in range(base, base + 50):
            group.submit(i)
            with lock:
                if i not in committed:
                    early.append(i)

    threads = [threading.Thread(target=worker, args=(n * 1000,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not early, "a caller returned before its item was committed"
    assert committed == {n * 1000 + i for n in range(16) for i in range(50)}
    assert sum(batches) == 800
    assert len(batches) < 800, "no transaction was shared"


def test_a_failed_commit_fails_its_callers_and_not_the_next_batch() -> None:
    calls: list[list[str]] = []

    def commit(items: Sequence[str]) -> None:
        calls.append(list(items))
        if "bad" in items:
            raise OSError("disk I/O error")

    group = GroupCommit(commit)
    with pytest.raises(OSError, match="disk I/O error"):
        group.submit("bad")
    group.submit("good")  # the next batch is unaffected
    assert calls == [["bad"], ["good"]]
