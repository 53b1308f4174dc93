"""The task drivers: each takes a waiting task and runs it through the shared task lifecycle.

A task run is exactly a ``ferry cp -r`` / ``--recover`` run, with two differences: its journal lives in the
service's database (tables ``ferry_tasks``, ``ferry_objects``, ``ferry_chunks``), and its objects are
moved chunk by chunk on the Dask cluster (:mod:`ferry.service.dispatch`), each chunk's outcomes and part
records written to that database — so a stopped or crashed task, or a worker that died, resumes from the
journal and the part records like any other. The HTTP layer only puts task ids in the queue
(:meth:`Scheduler.submit`) and sets stop Events (:meth:`Scheduler.stop`); ``workers`` tasks are driven at
once, while the cluster's workers run their chunks.

While a task runs, a mirror thread copies its journal's counts and the bytes it moved into the database
once a second, so ``GET`` calls read the database only.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ferry.config import Defaults
from ferry.errors import FerryError, InterruptedTransfer, TaskNotFoundError
from ferry.service import nodes, samples, states
from ferry.service.db import Database, ServiceInstance, Task, TaskGroup, now
from ferry.service.dispatch import Cluster, NodePair
from ferry.service.vault import NO_CREDENTIALS_REASON, GroupSecrets, Vault
from ferry.storage.base import Store
from ferry.storage.s3 import ClientSettings
from ferry.tasks import chunks, runner
from ferry.tasks.journal import ChunkPolicy, StateCount, TaskJournal
from ferry.tasks.lifecycle import RunMode, TaskRun, failure_reason, run_task
from ferry.tasks.plan import KeysPlan, ListFilePlan, ListingPlan, Plan, UrlListPlan, plan_to_dict
from ferry.tasks.settings import TaskSettings
from ferry.tasks.states import ObjectState, TaskState
from ferry.transfer.engine import transfer_kind

log = logging.getLogger("ferry.service")

MIRROR_INTERVAL = 1.0


@dataclass(frozen=True)
class ServiceSettings:
    data_dir: Path
    workers: int = 2
    """Tasks driven at once (and threads of the in-process cluster)."""
    defaults: Defaults = field(default_factory=Defaults)
    scheduler: str | None = None
    """A Dask scheduler's address; ``None`` for an in-process cluster."""

    @property
    def instance(self) -> str:
        """This service's name among those on its database: the same across its restarts."""
        return f"{socket.gethostname()}:{self.data_dir}"

    @property
    def checkpoint_dir(self) -> Path:
        return self.data_dir / "checkpoint"


@dataclass(frozen=True)
class TaskSpec:
    """What one run of a task needs, read from the database when the task is claimed."""

    task_id: str
    group_id: str
    source: dict[str, Any]
    run_mode: str
    src_node: dict[str, Any]
    dst_node: dict[str, Any]
    settings: dict[str, Any]
    transferred_before: int


def task_settings(settings: Mapping[str, Any], checkpoint_dir: Path) -> TaskSettings:
    """A group's stored settings as the settings of each of its tasks' journals. The group's
    ``overwrite`` policy and ``consistency_check`` become the task's skip rule; a checksum check verifies
    MD5s, a size check lengths. UsageError names a value no run could use."""
    chosen = dict(settings.get("transfer") or {})
    overwrite, check = settings["overwrite"], settings["consistency_check"]
    compare = "checksum" if check == "checksum" or overwrite == "if_checksum_differs" else "engine"
    rule = {"never": "exists", "always": "none"}.get(overwrite, compare)
    kept = ("threshold", "part_size", "parallel", "retries", "bwlimit", "jobs")
    return TaskSettings.from_options(
        {
            **{key: chosen.get(key) for key in kept},
            "checkpoint_dir": str(checkpoint_dir),
            "verify_md5": check == "checksum",
            "verify_length": check == "size_mtime",
            "storage_class": settings.get("storage_class"),
            "payer": settings.get("payer"),
            "skip_rule": rule,
            "incremental": rule == "engine",
            "modified_after": settings.get("migrate_since"),
            "bandwidth_windows": settings.get("bandwidth_windows"),
            "no_user_metadata": settings.get("metadata_migration") is False,
            "verify_after": settings.get("verify_after_migration"),
        }
    )


def task_plan(source: Mapping[str, Any], save_prefix: str) -> Plan:
    """A service task's plan: a raw key prefix (OMS keeps whole keys below ``save_prefix``), a list of
    object keys, URL list lines, or a list file (an object of a bucket on the destination's cloud)."""
    if "prefix" in source:
        return ListingPlan(str(source["prefix"]), save_prefix, folder=False)
    if "list_file" in source:
        where = source["list_file"]
        return ListFilePlan(str(where["bucket"]), str(where["key"]), save_prefix, bool(where["urls"]))
    if "keys" in source:
        return KeysPlan(tuple(source["keys"]), save_prefix)
    return UrlListPlan(save_prefix, lines=tuple((int(n), str(text)) for n, text in source["urls"]))


class ServiceProgress(runner.TaskProgress):
    """What the driver of a run knows: the bytes its chunks moved, as they report them to the database."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        self.bytes = 0

    def notice(self, message: str) -> None:
        log.info("task %s: %s", self.task_id, message)


@dataclass
class Running:
    """A task owned by a worker: its stop Event, and what the mirror thread reads."""

    task_id: str
    stop: threading.Event = field(default_factory=threading.Event)
    by_user: bool = False
    journal: TaskJournal | None = None
    progress: ServiceProgress | None = None
    started: float = field(default_factory=time.monotonic)
    transferred_before: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def counters(counts: Mapping[ObjectState, StateCount]) -> dict[str, int]:
    """Journal counts as the task row's counter columns."""
    return {
        "total_num": sum(c.count for c in counts.values()),
        "success_num": counts[ObjectState.DONE].count,
        "fail_num": counts[ObjectState.FAILED].count,
        "skip_num": counts[ObjectState.SKIPPED].count,
        "total_size": sum(c.bytes for c in counts.values()),
        "success_size": counts[ObjectState.DONE].bytes,
        "fail_size": counts[ObjectState.FAILED].bytes,
        "skip_size": counts[ObjectState.SKIPPED].bytes,
    }


def refresh_group(session: Session, group_id: str) -> TaskGroup | None:
    """Recompute a group's status and error reason from its tasks'."""
    group = session.get(TaskGroup, group_id)
    if group is None:
        return None
    rows = session.execute(
        select(Task.status, Task.error_reason).where(Task.group_id == group_id).order_by(Task.position)
    ).all()
    status = states.group_status(row[0] for row in rows)
    if status != group.status:
        group.status = status
        if status in (states.SUCCEEDED, states.FAILED, states.STOPPED):
            group.finished_at = now()
    reasons = [row[1] or "failed" for row in rows if row[0] == states.FAILED]
    if status == states.FAILED and reasons:
        group.error_reason = (
            reasons[0]
            if len(set(reasons)) == 1
            else f"{len(reasons)} of {len(rows)} tasks failed; the first: {reasons[0]}"
        )
    elif status != states.FAILED:
        group.error_reason = None
    group.updated_at = now()
    return group


HEARTBEAT_INTERVAL = 5.0
STALE_AFTER = 30.0
"""A service that has not said it is alive for this long is gone."""


def fail_interrupted(database: Database, own: str | None = None) -> int:
    """Tasks whose service is gone lost their credentials with it: they fail with
    :data:`NO_CREDENTIALS_REASON` (a retry that gives the keys resumes them). A service is gone when its
    heartbeat is stale. At start-up ``own`` names this service's earlier life, gone by definition, and
    tasks no service ever took are failed too; later checks (``own`` None) leave those to the service that
    is queueing them. Tasks of other live services on the same database are left alone. Returns how many
    groups were touched."""
    with database.session() as session:
        live = set(
            session.scalars(
                select(ServiceInstance.name).where(ServiceInstance.heartbeat > now() - STALE_AFTER)
            )
        )
        live.discard(own or "")
        gone = Task.driver.notin_(live or {""})
        orphaned = Task.status.in_(states.ACTIVE) & ((Task.driver.is_(None) | gone) if own else gone)
        groups = set(session.scalars(select(Task.group_id).where(orphaned)))
        session.execute(
            update(Task)
            .where(orphaned)
            .values(status=states.FAILED, error_reason=NO_CREDENTIALS_REASON, speed=0.0, updated_at=now())
        )
        for group_id in groups:
            refresh_group(session, group_id)
    return len(groups)


def beat(database: Database, name: str) -> None:
    """Say this service is alive."""
    with database.session() as session:
        instance = session.get(ServiceInstance, name)
        if instance is None:
            session.add(ServiceInstance(name=name, heartbeat=now()))
        else:
            instance.heartbeat = now()


class Scheduler:
    """A queue of task ids and ``workers`` threads taking them, plus the mirror thread."""

    def __init__(self, database: Database, vault: Vault, settings: ServiceSettings) -> None:
        self.database = database
        self.vault = vault
        self.settings = settings
        self.cluster = Cluster(settings.scheduler, max(2, settings.workers))
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._running: dict[str, Running] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- control, called by the HTTP layer -----------------------------------------------------------------

    def start(self) -> None:
        """Connect to the cluster (or start the in-process one), then the driver threads. The cluster is
        started from a thread of its own: it must not see the caller's event loop."""
        failure: list[BaseException] = []

        def connect() -> None:
            try:
                self.cluster.start(self.database, self.settings.instance)
            except BaseException as exc:
                failure.append(exc)

        beat(self.database, self.settings.instance)
        starter = threading.Thread(target=connect, name="ferry-cluster-start")
        starter.start()
        starter.join()
        if failure:
            raise failure[0]
        for n in range(self.settings.workers):
            thread = threading.Thread(target=self._work, name=f"ferry-worker-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        mirror = threading.Thread(target=self._mirror, name="ferry-mirror", daemon=True)
        mirror.start()
        self._threads.append(mirror)

    def submit(self, task_ids: Iterable[str]) -> None:
        """Queue tasks whose rows are already ``waiting``; this service drives them."""
        ids = list(task_ids)
        if ids:
            with self.database.session() as session:
                session.execute(update(Task).where(Task.id.in_(ids)).values(driver=self.settings.instance))
        for task_id in ids:
            self._queue.put(task_id)

    def stop(self, task_id: str) -> None:
        """Ask a running task to stop: objects in flight end at their next part and stay resumable."""
        with self._lock:
            running = self._running.get(task_id)
            if running is not None:
                running.by_user = True
                running.stop.set()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every task (they stay resumable) and the threads."""
        self._closing.set()
        with self._lock:
            for running in self._running.values():
                running.stop.set()
        for _ in range(self.settings.workers):
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.cluster.close()

    # --- the workers ---------------------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._closing.is_set():
            task_id = self._queue.get()
            if task_id is None:
                return
            try:
                self._execute(task_id)
            except Exception:  # a bug in one run must not take a worker down
                log.exception("task %s: internal error", task_id)

    def _claim(self, task_id: str) -> TaskSpec | None:
        """Take a waiting task (atomically: a task stopped meanwhile is not taken)."""
        with self.database.session() as session:
            claimed = session.execute(
                update(Task)
                .where(Task.id == task_id, Task.status == states.WAITING)
                .values(
                    status=states.EXECUTING,
                    started_at=now(),
                    finished_at=None,
                    error_reason=None,
                    run_transferred_size=0,
                    speed=0.0,
                    updated_at=now(),
                )
            )
            if not getattr(claimed, "rowcount", 0):
                return None
            task = session.get(Task, task_id)
            assert task is not None
            group = session.get(TaskGroup, task.group_id)
            assert group is not None
            task.runs += 1
            if group.started_at is None:
                group.started_at = now()
            refresh_group(session, group.id)
            return TaskSpec(
                task_id=task.id,
                group_id=group.id,
                source=dict(task.source),
                run_mode=task.run_mode,
                src_node=dict(group.src_node),
                dst_node=dict(group.dst_node),
                settings=dict(group.settings),
                transferred_before=task.transferred_size,
            )

    def _execute(self, task_id: str) -> None:
        running = Running(task_id)
        with self._lock:
            self._running[task_id] = running  # before the claim: a stop that sees "executing" finds it
        try:
            spec = self._claim(task_id)
            if spec is None:
                return
            running.transferred_before = spec.transferred_before
            secrets = self.vault.get(spec.group_id)
            if secrets is None:
                self._finish(running, states.FAILED, NO_CREDENTIALS_REASON)
                return
            log.info("task %s of group %s: started (%s)", task_id, spec.group_id, spec.run_mode)
            try:
                status, reason = self._run(spec, secrets, running)
            except InterruptedTransfer:
                status, reason = "interrupted", None
            except FerryError as exc:
                status, reason = states.FAILED, exc.message
            except Exception as exc:
                log.exception("task %s: internal error", task_id)
                status, reason = states.FAILED, f"internal error ({type(exc).__name__}); see the service log"
            if status == "interrupted":
                if running.by_user:
                    status = states.STOPPED
                elif self._closing.is_set():
                    log.info("task %s: left for the next start (the service is stopping)", task_id)
                    return
                else:
                    status = states.STOPPED
            self._finish(running, status, reason)
            log.info("task %s: %s%s", task_id, status, f": {reason}" if reason else "")
        finally:
            with self._lock:
                self._running.pop(task_id, None)

    def _run(self, spec: TaskSpec, secrets: GroupSecrets, running: Running) -> tuple[str, str | None]:
        defaults = self.settings.defaults
        settings = task_settings(spec.settings, self.settings.checkpoint_dir)
        options = settings.transfer_options(defaults)
        client = ClientSettings(
            connect_timeout=defaults.connect_timeout,
            read_timeout=defaults.read_timeout,
            max_connections=max(16, settings.job_count(defaults) * options.parallel + 4),
            request_payer=settings.payer,
        )
        source = nodes.open_store(spec.src_node, secrets.source, client, "src")
        destination = nodes.open_store(spec.dst_node, secrets.destination, client, "dst")
        list_store = None
        if "list_file" in spec.source:  # OMS reads it with the destination's keys
            where = {**spec.dst_node, "bucket": spec.source["list_file"]["bucket"]}
            list_store = nodes.open_store(where, secrets.destination, client, "list_file")
        journal = self._journal(spec, source, destination, settings)
        progress = ServiceProgress(spec.task_id)
        base = chunks.summary(journal.engine, spec.task_id).transferred

        def tick() -> None:
            progress.bytes = chunks.summary(journal.engine, spec.task_id).transferred - base

        with running.lock:
            running.journal, running.progress, running.started = journal, progress, time.monotonic()
        try:
            run = TaskRun(
                journal,
                source,
                destination,
                settings,
                defaults,
                progress,
                running.stop,
                mode=RunMode(spec.run_mode),
                check_access=True,
                chunk_policy=ChunkPolicy(alone_from=options.threshold),
                list_store=list_store,
            )
            pair = NodePair(spec.src_node, spec.dst_node, secrets)
            result = run_task(run, self.cluster.executor(pair, defaults, tick))
            self._mirror_one(running)
            reason = failure_reason(result, journal) if result.state == TaskState.FAILED else None
        finally:
            with running.lock:
                running.journal = None
            journal.close()
        if result.state == TaskState.INTERRUPTED:
            return "interrupted", None
        if result.state == TaskState.SUCCEEDED:
            return states.SUCCEEDED, None
        return states.FAILED, reason

    def _journal(
        self, spec: TaskSpec, source: Store, destination: Store, settings: TaskSettings
    ) -> TaskJournal:
        """The task's journal in the service's database: opened, or created at its first run."""
        engine = self.database.engine
        try:
            return TaskJournal.open_shared(engine, spec.task_id)
        except TaskNotFoundError:
            pass
        save_prefix = str(spec.dst_node.get("save_prefix") or "")
        if "prefix" in spec.source:
            source_text = source.url(spec.source["prefix"])
        elif "list_file" in spec.source:
            where = spec.source["list_file"]
            source_text = f"{source.url('')} (keys in the list file {where['bucket']}/{where['key']})"
            if where["urls"]:
                source_text = f"URL list file {where['bucket']}/{where['key']}"
        elif "keys" in spec.source:
            source_text = f"{source.url('')} ({len(spec.source['keys'])} keys)"
        else:
            lines = spec.source["urls"]
            source_text = f"URL list lines {lines[0][0]}-{lines[-1][0]} ({len(lines)} lines)"
        return TaskJournal.create_shared(
            engine,
            spec.task_id,
            transfer_kind(source, destination),
            source_text,
            destination.url(save_prefix),
            settings,
            plan_to_dict(task_plan(spec.source, save_prefix)),
        )

    def _finish(self, running: Running, status: str, reason: str | None) -> None:
        with self.database.session() as session:
            task = session.get(Task, running.task_id)
            if task is None:  # deleted meanwhile
                return
            task.status = status
            task.error_reason = reason
            task.finished_at = task.updated_at = now()
            group = refresh_group(session, task.group_id)
        if group is not None and group.status == states.SUCCEEDED:
            self.vault.forget(group.id)  # nothing can run again: the keys are no longer needed

    # --- the mirror ----------------------------------------------------------------------------------------

    def _mirror(self) -> None:
        """Once a second, the running tasks' counters; every few seconds this service's heartbeat, and the
        tasks of services that are gone failed, so that a retry can resume them here."""
        last_beat = 0.0
        while not self._closing.wait(MIRROR_INTERVAL):
            if time.monotonic() - last_beat >= HEARTBEAT_INTERVAL:
                last_beat = time.monotonic()
                try:
                    beat(self.database, self.settings.instance)
                    fail_interrupted(self.database)
                except Exception:  # the database is away: the next beat tries again
                    log.warning("could not record this service's heartbeat", exc_info=True)
            with self._lock:
                entries = list(self._running.values())
            for running in entries:
                try:
                    self._mirror_one(running)
                except Exception:  # the next tick tries again
                    log.exception("task %s: could not update its counters", running.task_id)
            try:
                samples.record_due(self.database)
            except Exception:  # the next tick tries again
                log.exception("could not record throughput samples")

    def _mirror_one(self, running: Running) -> None:
        with running.lock:
            if running.journal is None or running.progress is None:
                return
            counts = running.journal.counts()
            moved = running.progress.bytes
            elapsed = time.monotonic() - running.started
        values: dict[str, Any] = counters(counts)
        values.update(
            transferred_size=running.transferred_before + moved,
            run_transferred_size=moved,
            speed=moved / elapsed if elapsed > 0 else 0.0,
            updated_at=now(),
        )
        with self.database.session() as session:
            session.execute(update(Task).where(Task.id == running.task_id).values(**values))
