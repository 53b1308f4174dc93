"""Group commit: many threads each wait for their own record to be durable, and share the transactions.

A task's worker threads each record one object's outcome and must not report the object before that record
is committed. One transaction per outcome serialises them on the journal (with sixteen workers, most of a
task of small objects was spent queueing for it). Here the first thread to arrive commits what is queued in
one transaction while the others wait; whoever arrives during that commit is in the next one. Every caller
returns only once its own record is committed — or raises the error that transaction raised.

The local store uses the same for the folder ``fsync`` that makes a downloaded file's name durable: the
threads that renamed files into a folder at about the same time share one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    """Calls ``commit`` with batches of the items :meth:`submit` is given, one batch at a time."""

    def __init__(self, commit: Callable[[Sequence[T]], None]) -> None:
        self._commit = commit
        self._cond = threading.Condition()
        self._queue: list[T] = []
        self._next = 0
        """The number of the batch that items submitted now will join."""
        self._done = 0
        """Batches below this number are finished (committed or failed)."""
        self._busy = False
        self._errors: dict[int, BaseException] = {}
        self._waiting: dict[int, int] = {}

    def submit(self, item: T) -> None:
        """Return once ``item`` is committed; raise what its batch's commit raised."""
        with self._cond:
            self._queue.append(item)
            batch = self._next
            self._waiting[batch] = self._waiting.get(batch, 0) + 1
            while self._done <= batch and self._busy:
                self._cond.wait()
            if self._done <= batch:  # nobody is committing: this thread commits the queue, own item included
                items, self._queue = self._queue, []
                self._next += 1
                self._busy = True
            else:
                items = []
        if items:
            error: BaseException | None = None
            try:
                self._commit(items)
            except BaseException as exc:
                error = exc
            with self._cond:
                self._busy = False
                self._done = batch + 1
                if error is not None:
                    self._errors[batch] = error
                self._cond.notify_all()
        with self._cond:
            self._waiting[batch] -= 1
            if not self._waiting[batch]:
                del self._waiting[batch]
                failed = self._errors.pop(batch, None)
            else:
                failed = self._errors.get(batch)
        if failed is not None:
            raise failed
