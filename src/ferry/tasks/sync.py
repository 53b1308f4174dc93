"""The delete half of ``ferry sync --delete``: remove what the destination has and the source does not.

It runs after every copy of the task succeeded (:func:`ferry.tasks.lifecycle.run_task` calls it), on a fresh
listing of both sides joined side by side (:mod:`ferry.tasks.compare`). The extras are written to a
temporary file as the listings stream, and nothing is deleted until both listings have ended: a source
listing that fails half-way deletes nothing, and so does a count of extras above ``max_delete``. Filters
judge a destination object by the source path it stands for, as ``ferry check`` does, so an object the
filters leave out is never deleted.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ferry.errors import FerryError, IncompleteError, InterruptedTransfer, NotFoundError
from ferry.storage.base import Store
from ferry.tasks.check import source_path, tree_listing
from ferry.tasks.compare import join
from ferry.tasks.filters import ObjectFilter
from ferry.tasks.plan import ListingPlan
from ferry.tasks.reports import escape_field, unescape_field
from ferry.transfer.retry import RetryPolicy, call_with_retry


@dataclass(frozen=True)
class Extra:
    key: str
    size: int


def extras(
    source: Store, destination: Store, plan: ListingPlan, object_filter: ObjectFilter
) -> Iterator[Extra]:
    """Objects under the destination root that the source does not have (and the filters take), in key
    order, streamed. A listing error is raised as it is."""
    source_of = source_path(source, plan.root)
    pairs = join(tree_listing(source, plan.root), tree_listing(destination, plan.dest_root, missing_ok=True))
    for pair in pairs:
        dest = pair.dest
        if (
            pair.source is None
            and dest is not None
            and object_filter.accepts(source_of(pair.key), dest.mtime)
        ):
            yield Extra(dest.key, dest.size)


@dataclass
class DeleteOutcome:
    found: int = 0
    deleted: int = 0
    deleted_bytes: int = 0


def delete_extras(
    source: Store,
    destination: Store,
    plan: ListingPlan,
    object_filter: ObjectFilter,
    *,
    max_delete: int | None,
    retry: RetryPolicy,
    stop: threading.Event,
    confirm: Callable[[int, int], bool] | None = None,
    deleted: Callable[[Extra], None] | None = None,
) -> DeleteOutcome:
    """Find every extra object first, then delete them; returns what was found and deleted. IncompleteError
    (nothing deleted) when there are more than ``max_delete`` or ``confirm(count, bytes)`` says no."""
    outcome = DeleteOutcome()
    total = 0
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="surrogateescape") as found:
        for extra in extras(source, destination, plan, object_filter):
            if stop.is_set():
                raise InterruptedTransfer("stopped while listing")
            found.write(f"{extra.size}\t{escape_field(extra.key)}\n")
            outcome.found += 1
            total += extra.size
        if not outcome.found:
            return outcome
        if max_delete is not None and outcome.found > max_delete:
            raise IncompleteError(
                f"the destination has {outcome.found} objects the source does not, more than --max-delete "
                f"{max_delete}: nothing was deleted"
            )
        if confirm is not None and not confirm(outcome.found, total):
            raise IncompleteError(f"{outcome.found} objects not at the source were not deleted")
        found.seek(0)
        for line in found:
            if stop.is_set():
                raise InterruptedTransfer("stopped while deleting")
            size, _, escaped = line.rstrip("\n").partition("\t")
            extra = Extra(unescape_field(escaped), int(size))
            try:
                call_with_retry(lambda k=extra.key: destination.delete(k), retry, stop=stop)  # type: ignore[misc]
            except NotFoundError:
                pass
            except FerryError as exc:
                raise type(exc)(f"deleting {destination.url(extra.key)}: {exc.message}") from None
            outcome.deleted += 1
            outcome.deleted_bytes += extra.size
            if deleted is not None:
                deleted(extra)
    return outcome
