"""Which objects a run leaves alone because the destination already has them.

A task's :attr:`~ferry.tasks.settings.TaskSettings.skip_rule` decides it (the service derives it from a
group's ``overwrite`` policy and ``consistency_check``; ``cp -r -u`` is the engine's rule), and so does a run
that checks every object again (a service retry with ``migrate_failed_object=false``: objects already
migrated are skipped). The engine's own incremental rule (same size, destination not older) is applied by
the engine object by object as it goes (``TransferOptions.incremental``); the other rules by
:func:`prepass`, which marks the objects it finds in place as skipped in the journal before the runner
starts, so the runner never sees them. :func:`run_rule` and :func:`already_there` are pure.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

from ferry.errors import FerryError, NotFoundError
from ferry.storage.base import ObjectInfo, Store
from ferry.tasks.journal import JournalObject, TaskJournal
from ferry.tasks.settings import TaskSettings
from ferry.tasks.states import UNFINISHED, ObjectState
from ferry.transfer.engine import UP_TO_DATE, destination_is_current
from ferry.transfer.retry import RetryPolicy, call_with_retry

Rule = Literal["none", "engine", "exists", "checksum"]

EXISTS_REASON = "the destination already has the object (overwrite: never)"
SAME_CONTENT_REASON = "the destination has the same content (same size and checksum)"


def run_rule(settings: TaskSettings, recheck_all: bool) -> Rule:
    """The rule of one run: a task's ``engine`` rule applies only with ``incremental`` (``-u``); a run that
    checks every object again skips what is already there at least by the engine's rule, or by checksum
    when the task verifies checksums."""
    rule = settings.skip_rule
    if rule == "engine":
        return "engine" if settings.incremental or recheck_all else "none"
    if rule == "none" and recheck_all:
        return "checksum" if settings.verify_md5 else "engine"
    return rule


def already_there(rule: Rule, source: ObjectInfo, destination: ObjectInfo | None) -> str | None:
    """Why the object needs no transfer under ``rule``, or ``None`` when it must move. A checksum rule
    that cannot compare (no MD5 and different ETags) moves the object: it never skips on a guess."""
    if destination is None or rule == "none":
        return None
    if rule == "exists":
        return EXISTS_REASON
    if destination.size != source.size:
        return None
    if rule == "engine":
        return UP_TO_DATE if destination_is_current(source, destination) else None
    ours, theirs = source.md5_hex(), destination.md5_hex()
    if ours is not None and theirs is not None:
        return SAME_CONTENT_REASON if ours == theirs else None
    if source.etag and destination.etag and source.etag == destination.etag:
        return SAME_CONTENT_REASON  # equal multipart ETags: the same parts of the same bytes
    return None


def prepass(
    journal: TaskJournal,
    source: Store,
    destination: Store,
    rule: Rule,
    jobs: int,
    stop: threading.Event,
    retry: RetryPolicy,
) -> int:
    """Mark the pending and failed objects the destination already has (by ``rule``) as skipped; returns
    how many. An object whose lookup fails is left as it is: its transfer will meet the problem and
    report it."""
    if rule in ("none", "engine"):
        return 0
    lock = threading.Lock()
    skipped = 0
    slots = threading.BoundedSemaphore(jobs * 2)

    def check(obj: JournalObject) -> None:
        nonlocal skipped
        try:
            if stop.is_set() or obj.source_key.endswith("/") or not obj.dest_key:
                return
            try:
                there = call_with_retry(lambda: destination.stat(obj.dest_key), retry, stop=stop)
            except NotFoundError:
                return
            info = ObjectInfo(obj.source_key, obj.size, obj.mtime, obj.etag)
            if rule == "checksum":
                info = call_with_retry(lambda: source.stat(obj.source_key), retry, stop=stop)
            reason = already_there(rule, info, there)
            if reason is not None:
                journal.mark(obj.seq, ObjectState.SKIPPED, reason=reason)
                with lock:
                    skipped += 1
        except FerryError:
            return
        finally:
            slots.release()

    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="ferry-skipcheck") as pool:
        for obj in journal.objects(UNFINISHED):
            if stop.is_set():
                break
            slots.acquire()
            pool.submit(check, obj)
    return skipped
