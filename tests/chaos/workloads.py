"""Workloads: one task or transfer through ferry, from a source the campaign prepared once to a fresh
destination, and how to look at that destination from the outside afterwards.

Every kind names its store pair, its direction and its entry point (``cp -r``, single-object ``cp``, the
library API, the service). The source data set is made once per campaign from the seed; each run gets a
fresh bucket, container or folder, removed after its checks.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.chaos.world import (
    World,
    azure_digests,
    gcs_digests,
    local_digests,
    s3_digests,
    s3_drop_bucket,
    s3_uploads_left,
    sha256,
)

MiB = 1024 * 1024
TEMP_SUFFIX = ".ferry-tmp"
#: Sizes: large objects go in parts (threshold 8 MiB, parts of 5 MiB), the rest in one request.
TASK_FLAGS = ["--threshold", "8MiB", "--part-size", "5MiB", "-p", "3", "-j", "8"]
ONE_FLAGS = ["--threshold", "8MiB", "--part-size", "5MiB", "-p", "3"]


@dataclass
class Dataset:
    """Files under ``root`` by relative path, with their sizes and SHA-256."""

    root: Path
    sizes: dict[str, int]
    digests: dict[str, str]

    @property
    def total(self) -> int:
        return sum(self.sizes.values())


def make_dataset(root: Path, rng: random.Random, small: int, medium: int, large: int) -> Dataset:
    """Seeded bytes: ``small`` objects of 1 B-64 KiB, ``medium`` of 1-4 MiB, ``large`` of 9-21 MiB
    (multipart). No two parts alike, so a misplaced part cannot go unseen."""
    sizes: dict[str, int] = {}
    for i in range(small):
        sizes[f"s/{i % 7}/obj-{i:04d}.bin"] = rng.randint(1, 64 * 1024)
    for i in range(medium):
        sizes[f"m/obj-{i:02d}.bin"] = rng.randint(1 * MiB, 4 * MiB)
    for i in range(large):
        sizes[f"l/obj-{i:02d}.bin"] = rng.randint(9 * MiB, 21 * MiB)
    digests = {}
    for key, size in sizes.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        data = rng.randbytes(size)
        path.write_bytes(data)
        digests[key] = sha256(data)
    return Dataset(root, sizes, digests)


@dataclass
class Sources:
    """What every run reads from: the local data set, one large file, and their copies on the stores."""

    world: World
    data: Dataset
    big: Dataset
    bucket: str
    nginx_folder: str

    @classmethod
    def prepare(
        cls, world: World, base: Path, rng: random.Random, small: int, medium: int, large: int
    ) -> Sources:
        data = make_dataset(base / "data", rng, small, medium, large)
        big = make_dataset(base / "big", rng, 0, 0, 1)
        bucket = f"chaos-src-{uuid.uuid4().hex[:10]}"
        client = world.s3()
        client.create_bucket(Bucket=bucket)
        for dataset, prefix in ((data, "data/"), (big, "big/")):
            for key in dataset.sizes:
                client.upload_file(str(dataset.root / key), bucket, prefix + key)
        seen = s3_digests(client, bucket)
        expected = {f"data/{k}": v for k, v in data.digests.items()} | {
            f"big/{k}": v for k, v in big.digests.items()
        }
        if seen != expected:
            raise RuntimeError("the source bucket does not hold the data set (before any fault)")
        folder = f"chaos-{uuid.uuid4().hex[:10]}"
        shutil.copytree(data.root, world.nginx_www / folder)
        for path in [world.nginx_www / folder, *(world.nginx_www / folder).rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        return cls(world, data, big, bucket, folder)

    def remove(self) -> None:
        with contextlib.suppress(Exception):
            s3_drop_bucket(self.world.s3(), self.bucket)
        shutil.rmtree(self.world.nginx_www / self.nginx_folder, ignore_errors=True)


@dataclass
class Observed:
    """A destination as its server shows it: objects by key with their SHA-256, and what was left behind
    (multipart uploads, uncommitted blocks, temporary files)."""

    digests: dict[str, str]
    left_behind: list[str] = field(default_factory=list)


@dataclass
class Workload:
    kind: str
    store: str
    direction: str
    entry: str
    expected: dict[str, str]
    first: list[str]
    """argv of the first attempt."""
    again: Callable[[str | None], list[str]]
    """argv of a later attempt, given the task id found (None when no task was ever journaled)."""
    fresh: list[str]
    """argv of a new task that skips what is there (after a journal was reported damaged)."""
    observe: Callable[[], Observed]
    cleanup: Callable[[], None]
    data_bytes: int
    upstream: str | None = None
    """The real server the fault proxy stands in front of (None: no network faults)."""
    measure: str | None = None
    """"up" or "down": which proxy counter carries the data (re-sent bytes are measured there)."""
    net_method: str = "PUT"
    net_path: str | None = None
    requests: int = 1
    complete: tuple[str, str] | None = None
    """method and path of the request that completes a multipart upload (the drop_complete fault)."""
    dest_dir: Path | None = None
    journal_key: Callable[[str], str] = lambda key: key
    is_task: bool = True
    service_body: dict[str, Any] | None = None
    """For the service: the body that creates the group (its secrets are given again on a retry)."""
    cluster: bool = False
    """The service on a Dask cluster (PostgreSQL, a scheduler, two ``ferry worker`` processes)."""


def ferry(*args: str) -> list[str]:
    return [sys.executable, "-m", "ferry", *args]


def _task_again(
    common: list[str], output: list[str], resume_rng: random.Random
) -> Callable[[str | None], list[str]]:
    def again(task_id: str | None) -> list[str]:
        if task_id is None:
            return []
        if resume_rng.random() < 0.3:
            return ferry("task", "resume", task_id, "-q", *common)
        return ferry("cp", "--recover", task_id, "-q", *common, *output)

    return again


def build(kind: str, sources: Sources, run_dir: Path, proxy_url: str | None, rng: random.Random) -> Workload:
    """The workload of ``kind`` for one run in ``run_dir`` (its config names the proxy, when there is one)."""
    world = sources.world
    data = sources.data
    cp = run_dir / "cp"
    common = ["--checkpoint-dir", str(cp)]
    task_common = [*common, "-o", str(run_dir / "out")]
    s3_via = proxy_url or world.s3_endpoint
    remotes = {
        "src": f"s3:{s3_via}",
        "dst": f"s3:{s3_via}",
        "dst2": f"s3b:{s3_via}",
        "gcs": f"gcs:{world.gcs_endpoint}",
    }
    azure_conn = world.azure_connection
    if kind == "azure-upload" and proxy_url:
        azure_conn = azure_conn.replace(world.azure_endpoint.split("/devstoreaccount1")[0], proxy_url)
    remotes["az"] = f"azure:{azure_conn}"
    if world.private_s3:
        remotes["prv"] = f"s3:{world.private_s3}"
    defaults = f"read_timeout = 2\nconnect_timeout = 2\nretries = {rng.choice([1, 3, 5])}"
    (run_dir / "config.toml").write_text(world.config_text(remotes, defaults))
    name = f"chaos-{uuid.uuid4().hex[:12]}"
    again = _task_again(common, ["-o", str(run_dir / "out")], random.Random(rng.random()))
    data_expected = dict(data.digests)
    small_puts = len(data.sizes) + 8  # a request per object, a few per large one

    if kind in ("upload", "copy", "stream-copy", "single-upload", "api-upload", "single-download"):
        second = kind == "stream-copy"
        client = world.s3(second=second)
        client.create_bucket(Bucket=name)
        remote = "dst2" if second else "dst"

        def observe_s3() -> Observed:
            return Observed(s3_digests(client, name), [f"upload {k}" for k in s3_uploads_left(client, name)])

        def drop() -> None:
            s3_drop_bucket(client, name)

        base = dict(
            observe=observe_s3, cleanup=drop, upstream=world.s3_endpoint, complete=("POST", "uploadId=")
        )
        if kind == "upload":
            first = ferry("cp", "-r", f"{data.root}/", f"{remote}://{name}/", "-q", *TASK_FLAGS, *task_common)
            return Workload(
                kind,
                "s3",
                "upload",
                "cp -r",
                data_expected,
                first,
                again,
                [*first, "-u"],
                data_bytes=data.total,
                measure="up",
                requests=small_puts,
                **base,  # type: ignore[arg-type]
            )
        if kind in ("copy", "stream-copy"):
            first = ferry(
                "cp",
                "-r",
                f"src://{sources.bucket}/data/",
                f"{remote}://{name}/",
                "-q",
                *TASK_FLAGS,
                *task_common,
            )
            return Workload(
                kind,
                "s3",
                "server-side copy" if kind == "copy" else "streamed copy",
                "cp -r",
                data_expected,
                first,
                again,
                [*first, "-u"],
                data_bytes=data.total,
                measure="up" if second else None,
                requests=small_puts,
                **base,  # type: ignore[arg-type]
            )
        big_key, big_digest = next(iter(sources.big.digests.items()))
        if kind == "single-upload":
            first = ferry(
                "cp",
                str(sources.big.root / big_key),
                f"dst://{name}/big.bin",
                "-q",
                "-f",
                *ONE_FLAGS,
                *common,
            )
            return Workload(
                kind,
                "s3",
                "upload",
                "cp",
                {"big.bin": big_digest},
                first,
                lambda _t: first,
                first,
                data_bytes=sources.big.total,
                measure="up",
                requests=6,
                is_task=False,
                **base,  # type: ignore[arg-type]
            )
        if kind == "api-upload":
            script = (
                "import sys; from ferry.api import resumable_upload; "
                "resumable_upload(sys.argv[1], sys.argv[2], part_size='5MiB', threshold='8MiB', "
                "num_threads=3, "
                "checkpoint_dir=sys.argv[3], config=sys.argv[4])"
            )
            first = [
                sys.executable,
                "-c",
                script,
                str(sources.big.root / big_key),
                f"dst://{name}/big.bin",
                str(cp),
                str(run_dir / "config.toml"),
            ]
            return Workload(
                kind,
                "s3",
                "upload",
                "library API",
                {"big.bin": big_digest},
                first,
                lambda _t: first,
                first,
                data_bytes=sources.big.total,
                measure="up",
                requests=6,
                is_task=False,
                **base,  # type: ignore[arg-type]
            )
        # single-download: the source bucket's object to a local file (the bucket made above stays empty)
        dest = run_dir / "dl"
        dest.mkdir()
        first = ferry(
            "cp",
            f"src://{sources.bucket}/big/{big_key}",
            str(dest / "big.bin"),
            "-q",
            "-f",
            *ONE_FLAGS,
            *common,
        )

        def observe_file() -> Observed:
            return _observe_local(dest)

        def drop_both() -> None:
            s3_drop_bucket(client, name)
            shutil.rmtree(dest, ignore_errors=True)

        return Workload(
            kind,
            "s3",
            "download",
            "cp",
            {"big.bin": big_digest},
            first,
            lambda _t: first,
            first,
            observe=observe_file,
            cleanup=drop_both,
            data_bytes=sources.big.total,
            upstream=world.s3_endpoint,
            measure="down",
            net_method="GET",
            requests=5,
            dest_dir=dest,
            is_task=False,
        )

    if kind == "restart-upload":
        assert world.private_s3 is not None
        private = world.s3(endpoint=world.private_s3)
        private.create_bucket(Bucket=name)
        first = ferry("cp", "-r", f"{data.root}/", f"prv://{name}/", "-q", *TASK_FLAGS, *task_common)
        return Workload(
            kind,
            "s3",
            "upload",
            "cp -r",
            data_expected,
            first,
            again,
            [*first, "-u"],
            observe=lambda: Observed(
                s3_digests(private, name), [f"upload {k}" for k in s3_uploads_left(private, name)]
            ),
            cleanup=lambda: s3_drop_bucket(private, name),
            data_bytes=data.total,
        )

    if kind in ("service-copy", "service-cluster"):
        # On a cluster the destination is the second account: the bytes stream through the workers
        # (and the fault proxy), not a server-side copy.
        on_cluster = kind == "service-cluster"
        client = world.s3(second=on_cluster)
        client.create_bucket(Bucket=name)

        def node(bucket: str, second: bool = False, **extra: Any) -> dict[str, Any]:
            key, secret = world.key2 if second else world.key1
            return {
                "cloud_type": "Ceph",
                "endpoint": s3_via,
                "region": "us-east-1",
                "bucket": bucket,
                "ak": key,
                "sk": secret,
                **extra,
            }

        body = {
            "src_node": node(sources.bucket, object_key=["data/"]),
            "dst_node": node(name, second=on_cluster),
            "transfer": {
                "threshold": "8MiB",
                "part_size": "5MiB",
                "jobs": 8,
                "retries": rng.choice([1, 3, 5]),
            },
        }
        return Workload(
            kind,
            "s3",
            "copy",
            "service",
            {f"data/{k}": v for k, v in data.digests.items()},
            [],
            lambda _t: [],
            [],
            observe=lambda: Observed(
                s3_digests(client, name), [f"upload {k}" for k in s3_uploads_left(client, name)]
            ),
            cleanup=lambda: s3_drop_bucket(client, name),
            data_bytes=data.total,
            upstream=world.s3_endpoint,
            measure="up" if on_cluster else None,
            requests=small_puts,
            complete=("POST", "uploadId="),
            is_task=False,
            service_body=body,
            cluster=on_cluster,
        )

    if kind in ("download", "download-tmpfs", "url-list"):
        dest = run_dir / "dest"
        if kind != "download-tmpfs":
            dest.mkdir()
        if kind == "url-list":
            listing = run_dir / "urls.txt"
            base_url = f"{proxy_url or world.nginx_url}/{sources.nginx_folder}"
            listing.write_text("".join(f"{base_url}/{key}\t{key}\n" for key in data.sizes))
            first = ferry("cp", "--url-list", str(listing), f"{dest}/", "-q", *TASK_FLAGS, *task_common)
            upstream, store = world.nginx_url, "http (nginx)"
        else:
            first = ferry(
                "cp", "-r", f"src://{sources.bucket}/data/", f"{dest}/", "-q", *TASK_FLAGS, *task_common
            )
            upstream, store = world.s3_endpoint, "s3"

        def observe_dir() -> Observed:
            return _observe_local(dest)

        return Workload(
            kind,
            store,
            "download",
            "cp -r",
            data_expected,
            first,
            again,
            [*first, "-u"],
            observe=observe_dir,
            cleanup=lambda: shutil.rmtree(dest, ignore_errors=True),
            data_bytes=data.total,
            upstream=upstream,
            measure="down",
            net_method="GET",
            requests=small_puts,
            dest_dir=dest,
            journal_key=lambda key: _relative(key, dest),
        )

    if kind == "azure-upload":
        container = world.azure().get_container_client(name)
        container.create_container()

        def observe_azure() -> Observed:
            digests, staged = azure_digests(container)
            return Observed(digests, [f"uncommitted blocks of {k}" for k in staged])

        first = ferry("cp", "-r", f"{data.root}/", f"az://{name}/", "-q", *TASK_FLAGS, *task_common)
        return Workload(
            kind,
            "azure",
            "upload",
            "cp -r",
            data_expected,
            first,
            again,
            [*first, "-u"],
            observe=observe_azure,
            cleanup=container.delete_container,
            data_bytes=data.total,
            upstream=world.azure_endpoint.split("/devstoreaccount1")[0],
            measure="up",
            requests=small_puts,
            complete=("PUT", "comp=blocklist"),
        )

    if kind == "gcs-upload":
        gcs = world.gcs()
        gcs.create_bucket(name)

        def observe_gcs() -> Observed:
            return Observed(gcs_digests(gcs, name))

        def drop_gcs() -> None:
            for blob in gcs.list_blobs(name):
                blob.delete()
            gcs.get_bucket(name).delete()

        first = ferry("cp", "-r", f"{data.root}/", f"gcs://{name}/", "-q", *TASK_FLAGS, *task_common)
        return Workload(
            kind,
            "gcs",
            "upload",
            "cp -r",
            data_expected,
            first,
            again,
            [*first, "-u"],
            observe=observe_gcs,
            cleanup=drop_gcs,
            data_bytes=data.total,
        )
    raise ValueError(f"unknown workload kind {kind!r}")


def _relative(key: str, root: Path) -> str:
    path = Path(key)
    return path.relative_to(root).as_posix() if path.is_absolute() and path.is_relative_to(root) else key


def _observe_local(dest: Path) -> Observed:
    found = local_digests(dest) if dest.exists() else {}
    temps = [k for k in found if k.endswith(TEMP_SUFFIX)]
    return Observed(
        {k: v for k, v in found.items() if k not in temps}, [f"temporary file {k}" for k in temps]
    )


def describe(kind: str) -> dict[str, Any]:
    """Store, direction and entry point of a kind, for the report (without building it)."""
    return KIND_TABLE[kind]


KIND_TABLE: dict[str, dict[str, Any]] = {
    "upload": {"store": "S3 (RGW)", "direction": "upload", "entry": "cp -r"},
    "download": {"store": "S3 (RGW)", "direction": "download", "entry": "cp -r"},
    "download-tmpfs": {"store": "S3 (RGW) to a small tmpfs", "direction": "download", "entry": "cp -r"},
    "copy": {"store": "S3 (RGW)", "direction": "server-side copy", "entry": "cp -r"},
    "stream-copy": {"store": "S3 (RGW), two accounts", "direction": "streamed copy", "entry": "cp -r"},
    "single-upload": {"store": "S3 (RGW)", "direction": "upload", "entry": "cp (one object)"},
    "single-download": {"store": "S3 (RGW)", "direction": "download", "entry": "cp (one object)"},
    "api-upload": {"store": "S3 (RGW)", "direction": "upload", "entry": "library API"},
    "azure-upload": {"store": "Azure (Azurite)", "direction": "upload", "entry": "cp -r"},
    "gcs-upload": {"store": "GCS (emulator)", "direction": "upload", "entry": "cp -r"},
    "url-list": {"store": "URL list (nginx)", "direction": "download", "entry": "cp --url-list"},
    "service-copy": {"store": "S3 (RGW)", "direction": "copy", "entry": "service (2 workers)"},
    "service-cluster": {
        "store": "S3 (RGW), two accounts",
        "direction": "streamed copy",
        "entry": "service on a cluster (PostgreSQL, 2 ferry workers)",
    },
    "restart-upload": {"store": "S3 (private RGW, restarted)", "direction": "upload", "entry": "cp -r"},
}
