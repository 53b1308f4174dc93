"""One campaign: seeded runs, each a workload with its faults, driven to the end the way a user would
(``--recover`` / ``task resume`` / the same command again), then checked from the servers' own view.

Each run is one JSON line in the results file (see :class:`RunResult`); ``report.py`` adds them up.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.chaos import faults
from tests.chaos.faults import ProcessFault, Tmpfs
from tests.chaos.workloads import Sources, Workload, build
from tests.chaos.world import World
from tests.support.cluster import Cluster, create_database, drop_database, pg
from tests.support.faultproxy import FaultProxy

ANOMALIES = ("lost", "corrupt", "extra", "done_but_missing", "left_behind", "stuck", "recover_not_noop")

#: Kinds and how often each is drawn.
WORKLOADS = {
    "upload": 4,
    "download": 3,
    "copy": 2,
    "stream-copy": 2,
    "azure-upload": 2,
    "gcs-upload": 1,
    "url-list": 2,
    "download-tmpfs": 1,
    "single-upload": 2,
    "single-download": 1,
    "api-upload": 1,
    "service-copy": 2,
    "service-cluster": 1,
    "restart-upload": 1,
}
WORKERS = ("w1", "w2")
ATTEMPT_TIMEOUT = 240.0
MAX_ATTEMPTS = 16


@dataclass
class RunResult:
    run: int
    seed: int
    campaign_seed: int
    workload: str
    store: str
    direction: str
    entry: str
    faults: int = 0
    faults_by_kind: dict[str, int] = field(default_factory=dict)
    attempts: int = 0
    objects_checked: int = 0
    anomalies: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ANOMALIES, 0))
    damage_reported: int = 0
    resent_bytes: int | None = None
    data_bytes: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


@dataclass
class Campaign:
    world: World
    sources: Sources
    base: Path
    seed: int
    fault_budget: int
    deadline: float
    faults_per_run: int = 8
    log: Any = None
    keep: Path | None = None
    """Where the files of a run with an anomaly are kept (logs, journals, part records)."""
    kinds: list[str] | None = None
    private: faults.PrivateRgw | None = None
    durations: dict[str, float] = field(default_factory=dict)

    def say(self, text: str) -> None:
        if self.log is not None:
            print(text, file=self.log, flush=True)

    def run_all(self, out: Path) -> list[RunResult]:
        results: list[RunResult] = []
        total = 0
        n = 0
        master = random.Random(self.seed)
        kinds = self.kinds or [k for k in WORKLOADS if k != "restart-upload" or self.private is not None]
        weights = [WORKLOADS[k] for k in kinds]
        with open(out, "a", encoding="utf-8") as sink:
            while total < self.fault_budget and time.monotonic() < self.deadline:
                run_seed = master.randrange(2**32)
                kind = kinds[n % len(kinds)] if n < len(kinds) else master.choices(kinds, weights)[0]
                result = self.one(n, kind, run_seed)
                results.append(result)
                total += result.faults
                sink.write(json.dumps(asdict(result), sort_keys=True) + "\n")
                sink.flush()
                bad = {k: v for k, v in result.anomalies.items() if v}
                self.say(
                    f"run {n} {kind}: {result.faults} faults {result.faults_by_kind}, "
                    f"{result.attempts} attempts, "
                    f"{result.objects_checked} objects checked, anomalies {bad or 0}, {result.seconds:.1f} s"
                    + (f" [{'; '.join(result.notes)}]" if result.notes else "")
                )
                n += 1
        return results

    # --- one run ----------------------------------------------------------------------------------------

    def one(self, n: int, kind: str, seed: int) -> RunResult:
        rng = random.Random(seed)
        run_dir = self.base / f"run-{n:05d}"
        run_dir.mkdir(parents=True)
        started = time.monotonic()
        proxy: FaultProxy | None = None
        tmpfs: Tmpfs | None = None
        workload: Workload | None = None
        from tests.chaos.workloads import KIND_TABLE

        info = KIND_TABLE[kind]
        result = RunResult(n, seed, self.seed, kind, info["store"], info["direction"], info["entry"])
        fired: Counter[str] = Counter()
        try:
            upstream = _upstream_of(kind, self.world)
            if upstream is not None:
                proxy = FaultProxy(upstream)
                proxy.start()
            workload = build(kind, self.sources, run_dir, proxy.url if proxy else None, rng)
            if kind == "download-tmpfs":
                assert workload.dest_dir is not None
                tmpfs = Tmpfs(workload.dest_dir, max(4, workload.data_bytes // (1024 * 1024) // 2))
            process_faults, flips = self._schedule(rng, workload, proxy)
            done: list[str] | None = None
            if workload.service_body is not None:
                done = self._drive_service(workload, rng, process_faults, result, fired, run_dir)
            else:
                self._drive(workload, rng, process_faults, flips, tmpfs, result, fired, run_dir)
            if proxy is not None:
                for firing in proxy.fired:
                    fired[firing.name] += 1
                if workload.measure is not None:
                    moved = proxy.bytes_up if workload.measure == "up" else proxy.bytes_down
                    result.resent_bytes = max(0, moved - workload.data_bytes)
            if tmpfs is not None:
                fired["disk_full"] += 1 if "disk_full" in result.notes else 0
            self._check(workload, result, run_dir, done)
        except Exception as exc:  # a harness failure is reported, and counted as a stuck run
            result.notes.append(f"harness error: {type(exc).__name__}: {exc}"[:300])
            result.anomalies["stuck"] += 1
        finally:
            if proxy is not None:
                proxy.stop()
            if workload is not None:
                with contextlib.suppress(Exception):
                    workload.cleanup()
            if tmpfs is not None:
                tmpfs.remove()
            if any(result.anomalies.values()) and self.keep is not None:
                shutil.copytree(run_dir, self.keep / f"{self.seed}-{n:05d}", dirs_exist_ok=True)
            shutil.rmtree(run_dir, ignore_errors=True)
        result.faults_by_kind = {k: v for k, v in sorted(fired.items()) if v}
        result.faults = sum(fired.values())
        result.data_bytes = workload.data_bytes if workload else 0
        result.seconds = round(time.monotonic() - started, 2)
        return result

    def _schedule(
        self, rng: random.Random, workload: Workload, proxy: FaultProxy | None
    ) -> tuple[list[ProcessFault], list[str]]:
        """Network rules go to the proxy now; process faults and byte flips are returned for the driver."""
        budget = max(2, self.faults_per_run + rng.randint(-2, 2))
        process: list[ProcessFault] = []
        flips: list[str] = []
        span = self.durations.get(workload.kind, 3.0)
        n_process = rng.randint(1, 3)
        choices = ["sigkill", "sigkill", "sigstop"]
        if workload.kind == "restart-upload":
            choices = ["server_restart", "server_restart", "sigkill"]
        elif workload.cluster:
            choices = ["worker_kill", "worker_kill", "worker_pause", "service_kill"]
        elif workload.service_body is not None:
            choices = ["service_kill", "service_kill", "sigstop"]
        for _ in range(n_process):
            kind = rng.choice(choices)
            # A worker paused up to 8 s outlives its 4 s chunk lease: its chunk is taken over meanwhile
            # and its writes after SIGCONT must be fenced off.
            pause = rng.uniform(0.3, 8.0 if kind == "worker_pause" else 3.0)
            process.append(ProcessFault(kind, rng.uniform(0.2, max(0.5, span * 0.8)), pause))
        if workload.service_body is None and rng.random() < 0.5:
            flips.append("journal_flip" if workload.is_task and rng.random() < 0.5 else "record_flip")
        if proxy is not None:
            for _ in range(max(1, budget - n_process - len(flips))):
                if workload.complete is not None and rng.random() < 0.12:
                    method, path = workload.complete
                    proxy.add_rule(
                        faults.Rule("reset_response", method, path, times=1, skip=0, name="drop_complete")
                    )
                    continue
                kind = rng.choice(faults.NETWORK)
                proxy.add_rule(faults.network_rule(kind, rng, workload.net_method, None, workload.requests))
        return process, flips

    def _drive(
        self,
        workload: Workload,
        rng: random.Random,
        pending: list[ProcessFault],
        flips: list[str],
        tmpfs: Tmpfs | None,
        result: RunResult,
        fired: Counter[str],
        run_dir: Path,
    ) -> None:
        """Attempts until one exits 0 (or a final fault is reported and fixed, then again)."""
        argv = workload.first
        cp = run_dir / "cp"
        env = dict(os.environ)
        env.update({"FERRY_HOME": str(run_dir / "home"), "FERRY_CONFIG": str(run_dir / "config.toml")})
        env.update({"PYTHONUNBUFFERED": "1"})
        task_id: str | None = None
        for attempt in range(MAX_ATTEMPTS):
            result.attempts = attempt + 1
            log_path = run_dir / f"attempt-{attempt}.log"
            with open(log_path, "wb") as log:
                proc = subprocess.Popen(
                    argv,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
                begun = time.monotonic()
                killed = False
                while pending and not killed:
                    fault = pending[0]
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(max(0.0, fault.delay - (time.monotonic() - begun)))
                    if proc.poll() is not None:
                        break
                    pending.pop(0)
                    if fault.kind == "server_restart":
                        assert self.private is not None
                        self.private.restart(fault.pause)
                        fired[fault.kind] += 1
                    elif faults.deliver(proc, fault):
                        fired[fault.kind] += 1
                        killed = fault.kind == "sigkill"
                landed = killed or any(fired.values())
                try:
                    code = proc.wait(ATTEMPT_TIMEOUT)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, 9)
                    proc.wait()
                    result.notes.append(f"attempt {attempt} hung for {ATTEMPT_TIMEOUT:.0f} s")
                    code = -9
            output = log_path.read_text(errors="replace")
            if workload.is_task:
                task_id = _task_id(cp) or task_id
            if code == 0 and attempt == 0 and not landed:  # how long this kind takes when nothing interferes
                self.durations[workload.kind] = max(1.0, min(time.monotonic() - begun, 60.0))
            if code == 0:
                if workload.is_task and task_id is not None and rng.random() < 0.3:
                    self._recover_is_noop(workload, task_id, env, result)
                return
            if flips and self._flip(flips[0], cp, task_id, rng, fired):
                flips.pop(0)  # between two runs, as a crash or a bad disk would leave it
            lowered = output.lower()
            if "damaged" in lowered or "corrupt" in lowered:
                result.damage_reported += 1
                result.notes.append(f"damage reported: {_last_line(output)}")
                if task_id is not None:
                    for path in (cp / "tasks").glob(f"{task_id}*"):
                        path.unlink()
                    task_id = None
                argv = workload.fresh
                continue
            if tmpfs is not None and "space" in lowered and "disk_full" not in result.notes:
                result.notes.append("disk_full")
                tmpfs.grow(workload.data_bytes // (1024 * 1024) * 3 + 64)
            nxt = workload.again(task_id)
            argv = nxt or workload.first
        result.anomalies["stuck"] += 1
        result.notes.append(f"not finished after {MAX_ATTEMPTS} attempts: {_last_line(output)}")

    def _drive_service(
        self,
        workload: Workload,
        rng: random.Random,
        pending: list[ProcessFault],
        result: RunResult,
        fired: Counter[str],
        run_dir: Path,
    ) -> list[str] | None:
        """The service with two workers: the group is created, the service is killed (or paused) at seeded
        moments and started again; a failed group is retried with its keys, as an operator would, until it
        succeeds. Then a retry of the succeeded group must change nothing. On a cluster, workers are killed
        (and started again) or frozen too; the keys its database marks done are returned."""
        from tests.support.service import Service

        body = workload.service_body
        assert body is not None
        (run_dir / "home").mkdir()
        with contextlib.ExitStack() as stack:
            service = Service(run_dir / "home", run_dir / "data", workers=2)
            cluster = None
            if workload.cluster:
                cluster = stack.enter_context(_cluster(self.world, run_dir / "cluster"))
                service.db_url, service.args = cluster.db_url, ["--scheduler", cluster.address]
            service.start()
            stack.callback(service.stop)
            if cluster is not None:  # workers join once the service made the database's schema
                for name in WORKERS:
                    cluster.start_worker(name)
                cluster.wait_workers(len(WORKERS), timeout=120)
            self._drive_group(workload, rng, pending, result, fired, service, cluster)
            return _done_in_database(cluster.db_url) if cluster is not None else None

    def _drive_group(
        self,
        workload: Workload,
        rng: random.Random,
        pending: list[ProcessFault],
        result: RunResult,
        fired: Counter[str],
        service: Any,
        cluster: Cluster | None,
    ) -> None:
        from tests.support.service import Api

        body = workload.service_body
        assert body is not None
        seen: list[str] = []
        api = Api(service, service.token("chaos"), "chaos", seen)
        keys = {
            "src_ak": body["src_node"]["ak"],
            "src_sk": body["src_node"]["sk"],
            "dst_ak": body["dst_node"]["ak"],
            "dst_sk": body["dst_node"]["sk"],
        }
        try:
            created = api.post("/taskgroups", json=body)
            created.raise_for_status()
            group_id = created.json()["group_id"]
            for attempt in range(MAX_ATTEMPTS):
                result.attempts = attempt + 1
                begun = time.monotonic()
                while pending:
                    fault = pending[0]
                    time.sleep(max(0.0, fault.delay - (time.monotonic() - begun)))
                    if api.group(group_id)["status_name"] not in ("waiting", "executing"):
                        break
                    pending.pop(0)
                    assert service.process is not None
                    if cluster is not None and fault.kind in ("worker_kill", "worker_pause"):
                        _hit_worker(cluster, fault, rng)
                        fired[fault.kind] += 1
                        continue
                    if fault.kind == "sigstop":
                        service.process.send_signal(signal.SIGSTOP)
                        time.sleep(fault.pause)
                        service.process.send_signal(signal.SIGCONT)
                        fired["sigstop"] += 1
                        continue
                    service.kill()
                    fired["service_kill"] += 1
                    service.start()
                    api.close()
                    api = Api(service, service.token("chaos"), "chaos", seen)
                    break
                group = api.wait(group_id, timeout=ATTEMPT_TIMEOUT)
                if group["status_name"] == "succeeded":
                    again = api.put(f"/taskgroups/{group_id}/retry", json=keys)
                    if again.status_code != 200 or api.group(group_id)["retry_count"] != group["retry_count"]:
                        result.anomalies["recover_not_noop"] += 1
                        result.notes.append(f"retry of a succeeded group answered {again.status_code}")
                    return
                if group["status_name"] == "stopped":
                    api.put(f"/taskgroups/{group_id}/start", json=keys).raise_for_status()
                else:
                    retry = {**keys, "migrate_failed_object": rng.random() < 0.5}
                    api.put(f"/taskgroups/{group_id}/retry", json=retry).raise_for_status()
            result.anomalies["stuck"] += 1
            result.notes.append(
                f"group not succeeded after {MAX_ATTEMPTS} attempts: {group.get('error_reason')}"
            )
        finally:
            api.close()

    def _flip(
        self, kind: str, cp: Path, task_id: str | None, rng: random.Random, fired: Counter[str]
    ) -> bool:
        """Flip bytes of the task's journal or of a part record; False while there is none yet."""
        if kind == "journal_flip":
            path = cp / "tasks" / f"{task_id}.db"
            if task_id is None or not path.exists() or not faults.flip_bytes(path, rng, rng.randint(1, 4)):
                return False
        else:
            records = sorted(cp.glob("*/*.rec"))
            if not records or not faults.flip_record_line(rng.choice(records), rng):
                return False
        fired[kind] += 1
        return True

    def _recover_is_noop(
        self, workload: Workload, task_id: str, env: dict[str, str], result: RunResult
    ) -> None:
        """Item 6: recovering (or resuming) a task that already succeeded exits 0 and moves nothing."""
        argv = workload.again(task_id)
        done = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
        )
        if done.returncode != 0 or "nothing to recover" not in done.stdout:
            result.anomalies["recover_not_noop"] += 1
            result.notes.append(
                f"recover of a succeeded task: exit {done.returncode}: {_last_line(done.stderr)}"
            )

    # --- checks ---------------------------------------------------------------------------------------------

    def _check(
        self, workload: Workload, result: RunResult, run_dir: Path, done: list[str] | None = None
    ) -> None:
        seen = workload.observe()
        expected = workload.expected
        result.objects_checked = len(expected)
        for key, digest in expected.items():
            got = seen.digests.get(key)
            if got is None:
                result.anomalies["lost"] += 1
                result.notes.append(f"lost: {key}")
            elif got != digest:
                result.anomalies["corrupt"] += 1
                result.notes.append(f"corrupt: {key}")
        for key in seen.digests.keys() - expected.keys():
            result.anomalies["extra"] += 1
            result.notes.append(f"extra: {key}")
        for item in seen.left_behind:
            result.anomalies["left_behind"] += 1
            result.notes.append(f"left behind: {item}")
        if workload.is_task:
            result.anomalies["done_but_missing"] += _done_but_missing(workload, run_dir / "cp", seen, result)
        for key in done or ():
            if key not in seen.digests or seen.digests[key] != expected.get(key):
                result.anomalies["done_but_missing"] += 1
                result.notes.append(f"the database says done, the destination disagrees: {key}")


@contextlib.contextmanager
def _cluster(world: World, root: Path) -> Iterator[Cluster]:
    """A database of its own and a Dask scheduler, for two ``ferry worker`` processes (4 s chunk leases)."""
    assert world.pg_url is not None
    root.mkdir()
    url = create_database(world.pg_url)
    cluster = Cluster(root, url, lease="4")
    try:
        cluster.start_scheduler()
        yield cluster
    finally:
        cluster.stop()
        drop_database(world.pg_url, url)


def _done_in_database(db_url: str) -> list[str]:
    """The destination keys the cluster's journal (in PostgreSQL) marks done."""
    from ferry.tasks.states import ObjectState

    with pg(db_url) as conn:
        rows = conn.execute("SELECT dest_key FROM ferry_objects WHERE state = %s", (ObjectState.DONE.value,))
        return [str(row[0]) for row in rows]


def _hit_worker(cluster: Cluster, fault: ProcessFault, rng: random.Random) -> None:
    """SIGKILL a worker and start it again after the pause (a machine rebooted), or SIGSTOP it for the
    pause and SIGCONT it (a machine that froze)."""
    name = rng.choice(WORKERS)
    process = cluster.processes[name]
    if fault.kind == "worker_pause":
        process.send_signal(signal.SIGSTOP)
        time.sleep(fault.pause)
        process.send_signal(signal.SIGCONT)
        return
    cluster.kill(name)
    time.sleep(fault.pause)
    cluster.start_worker(name)


def _done_but_missing(workload: Workload, cp: Path, seen: Any, result: RunResult) -> int:
    from ferry.tasks.journal import TaskJournal
    from ferry.tasks.states import ObjectState

    missing = 0
    for path in sorted((cp / "tasks").glob("*.db")):
        try:
            with TaskJournal.open(cp, path.stem) as journal:
                for obj in journal.objects((ObjectState.DONE,)):
                    key = workload.journal_key(obj.dest_key)
                    if key not in seen.digests or seen.digests[key] != workload.expected.get(key):
                        missing += 1
                        result.notes.append(f"journal says done, destination disagrees: {key}")
        except Exception as exc:  # a damaged journal was reported during the run; not a claim of "done"
            result.notes.append(f"journal not read: {type(exc).__name__}")
    return missing


def _task_id(cp: Path) -> str | None:
    journals = (
        sorted((cp / "tasks").glob("*.db"), key=lambda p: p.stat().st_mtime)
        if (cp / "tasks").is_dir()
        else []
    )
    return journals[-1].stem if journals else None


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def _upstream_of(kind: str, world: World) -> str | None:
    if kind == "gcs-upload":
        return None
    if kind == "azure-upload":
        return world.azure_endpoint.split("/devstoreaccount1")[0]
    if kind == "url-list":
        return world.nginx_url
    return world.s3_endpoint
