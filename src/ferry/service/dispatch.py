"""The service's executor: a task's chunks run as Dask tasks, on an existing cluster (``ferry serve
--scheduler tcp://HOST:8786``) or on an in-process ``LocalCluster`` (the default), through the same code.

:func:`ferry.tasks.lifecycle.run_task` plans the task in the service (streamed into the database) and then
hands its unfinished chunks to :meth:`Cluster.executor`. Each chunk is one Dask task running
:func:`ferry.service.work.run_chunk`. Dask reschedules the chunks of a worker that died; a chunk whose
run raised or lost its lease (a database outage, a worker lost more often than Dask allows) is submitted
again here, later each time, up to :data:`SUBMISSIONS` times. The database, not the scheduler's memory, is
the truth: a restarted service finds every unfinished chunk in it, and the chunk's lease keeps two services
on one database from running the same chunk at once.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ferry.config import Defaults
from ferry.errors import FerryError, UsageError
from ferry.service.vault import GroupSecrets
from ferry.service.work import ChunkJob, ChunkResult, run_chunk, use_database
from ferry.tasks import chunks
from ferry.tasks.lifecycle import Executor, Prepared, TaskRun
from ferry.tasks.runner import TaskOutcome

log = logging.getLogger("ferry.service")

SUBMISSIONS = 8
"""How often one run submits a chunk whose attempts keep failing before leaving it for the next run: the
waits between them (1, 2, 4, 8, then 15 s) span about a minute."""


@dataclass(frozen=True)
class NodePair:
    src_node: dict[str, Any]
    dst_node: dict[str, Any]
    secrets: GroupSecrets


class Cluster:
    """The Dask client of the service."""

    def __init__(self, scheduler: str | None, threads: int) -> None:
        self.scheduler = scheduler
        self.threads = threads
        self.client: Any = None
        self._local: Any = None

    def start(self, database: Any, local_name: str) -> None:
        """Connect (or start the in-process cluster, whose chunks are held under ``local_name``).
        UsageError naming the scheduler when it does not answer."""
        import dask
        from distributed import Client, LocalCluster

        use_database(database, None if self.scheduler else local_name)
        if not self.scheduler:
            chunks.expire_leases(database.engine, local_name)
        dask.config.set({"distributed.scheduler.allowed-failures": 10})
        if self.scheduler:
            try:
                self.client = Client(self.scheduler, timeout="10s", set_as_default=False)  # type: ignore[no-untyped-call]
            except (OSError, TimeoutError) as exc:
                raise UsageError(f"the Dask scheduler at {self.scheduler} does not answer ({exc})") from None
            return
        self._local = LocalCluster(  # type: ignore[no-untyped-call]
            processes=False,
            n_workers=1,
            threads_per_worker=self.threads,
            dashboard_address="127.0.0.1:0",  # Dask's HTTP endpoints: loopback only
            worker_dashboard_address="127.0.0.1:0",
            name="ferry-local",
        )
        self.client = Client(self._local, set_as_default=False)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        for part in (self.client, self._local):
            if part is not None:
                try:
                    part.close()
                except Exception:  # closing on the way out: nothing left to save
                    log.debug("closing the Dask client", exc_info=True)

    def worker_count(self) -> int:
        if self.client is None:
            return 0
        try:
            return len(self.client.scheduler_info(n_workers=-1).get("workers", {}))
        except Exception:
            return 0

    def executor(self, nodes: NodePair, defaults: Defaults, on_tick: Callable[[], None]) -> Executor:
        """Runs a prepared task's chunks on the cluster; ``on_tick`` is called about once a second while
        they run."""

        def execute(run: TaskRun, prepared: Prepared) -> TaskOutcome:
            return self._execute(run, prepared, nodes, defaults, on_tick)

        return execute

    def _execute(
        self,
        run: TaskRun,
        prepared: Prepared,
        nodes: NodePair,
        defaults: Defaults,
        on_tick: Callable[[], None],
    ) -> TaskOutcome:
        journal = run.journal
        engine = journal.engine
        task_id = journal.task_id
        chunks.clear_stop(engine, task_id)
        outcome = TaskOutcome(task_id=task_id)
        settings_json = run.settings.to_json()

        def submit(number: int) -> Any:
            job = ChunkJob(
                task_id=task_id,
                number=number,
                src_node=nodes.src_node,
                dst_node=nodes.dst_node,
                settings=settings_json,
                incremental=prepared.options.incremental,
                defaults=defaults,
                secrets=nodes.secrets,
            )
            key = f"ferry-chunk-{task_id}-{number}-{uuid.uuid4().hex[:8]}"
            return self.client.submit(run_chunk, job, key=key, pure=False)

        submitted = {number: 1 for number in journal.chunks_to_run()}
        running = {submit(number): number for number in submitted}
        again: dict[int, float] = {}  # chunk -> when to submit it again
        stopping = False
        while running or again:
            done = _first_done(running, 1.0) if running else []
            if not running:
                time.sleep(0.2)
            on_tick()
            if run.stop.is_set() and not stopping:
                stopping = True
                chunks.request_stop(engine, task_id)
            for number, due in list(again.items()):
                if stopping:
                    del again[number]
                    outcome.interrupted = True
                elif time.monotonic() >= due:
                    del again[number]
                    running[submit(number)] = number
            for future in done:
                number = running.pop(future)
                try:
                    result: ChunkResult = future.result()
                except Exception as exc:
                    log.warning("chunk %d of task %s: %s: %s", number, task_id, type(exc).__name__, exc)
                    result = ChunkResult(number, 0, "", interrupted=True, fenced=True)
                finally:
                    future.release()
                # an attempt fenced off, or one that stopped without being asked (it lost its lease while
                # the database was away) leaves the chunk unfinished: it goes again
                lost = result.fenced or (result.interrupted and not result.stopped_by)
                if lost and not stopping and submitted[number] < SUBMISSIONS:
                    # later each time: a database outage or a worker cut off from it is waited out
                    again[number] = time.monotonic() + min(15.0, 2.0 ** (submitted[number] - 1))
                    submitted[number] += 1
                    continue
                outcome.succeeded += result.succeeded
                outcome.failed += result.failed
                outcome.transferred += result.transferred
                if result.interrupted:
                    outcome.interrupted = True
                if result.stopped_by and outcome.stopped_by is None:
                    outcome.stopped_by = FerryError(result.stopped_by)
                    if not stopping:
                        stopping = True
                        chunks.request_stop(engine, task_id)
        on_tick()
        if outcome.stopped_by is not None:
            outcome.interrupted = False  # the task failed for that reason; it did not merely stop
        return outcome


def _first_done(futures: dict[Any, int], timeout: float) -> list[Any]:
    """The futures that are done, waiting up to ``timeout`` for the first."""
    deadline = time.monotonic() + timeout
    while True:
        done = [future for future in futures if future.done()]
        if done or time.monotonic() >= deadline:
            return done
        time.sleep(0.05)
