"""oss2's resumable upload, on ferry's engine: oss2 code ports by changing its import.

    from ferry import oss as oss2

    auth = oss2.ProviderAuth(oss2.EnvironmentVariableCredentialsProvider())  # OSS_ACCESS_KEY_ID/SECRET
    bucket = oss2.Bucket(auth, "https://s3.example.com", "examplebucket")   # or oss2.Bucket.from_url("rgw://b")
    oss2.resumable_upload(bucket, "exampledir/exampleobject.txt", "examplefile.txt",
                          store=oss2.ResumableStore(root="/tmp"), multipart_threshold=100 * 1024,
                          part_size=100 * 1024, progress_callback=percentage, num_threads=4)

The defaults are oss2's: multipart from 10 MiB, 10 MiB parts, one thread, checkpoints under
``~/.py-oss-upload``. The checkpoint is ferry's part record: every line carries its own SHA-256, so a damaged
checkpoint is noticed and the upload starts again (its stale upload aborted); a file changed since the
checkpoint was written starts again too. ``checkpoint_file`` names the checkpoint (the SDKs'
``setCheckpointFile``); ``enable_checkpoint=False`` keeps none (a failed upload is aborted, and the next
call starts from zero). A transfer cancelled through ``stop`` aborts its multipart upload and deletes its
checkpoint unless ``delete_upload_on_cancelling=False`` (the SDKs' ``deleteUploadOnCancelling``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ferry.config import Config, RemoteConfig, load_config
from ferry.errors import FerryError, InterruptedTransfer, RecordDamagedError, UsageError
from ferry.storage import LocalStore, StoreOpener
from ferry.storage.base import Store, WriteOptions
from ferry.storage.s3 import ClientSettings
from ferry.transfer.engine import ObjectTransfer, TransferResult
from ferry.transfer.events import CallbackListener
from ferry.transfer.options import resolve_options
from ferry.transfer.record import SingleFileRecordStore
from ferry.urls import RemoteLocation, parse_location

MULTIPART_THRESHOLD = 10 * 1024 * 1024
"""oss2.defaults.multipart_threshold."""
PART_SIZE = 10 * 1024 * 1024
"""oss2.defaults.part_size."""
NUM_THREADS = 1
"""oss2.defaults.multipart_num_threads."""

_STORAGE_CLASSES = {
    "standard": "standard",
    "ia": "standard_ia",
    "archive": "glacier",
    "coldarchive": "deep_archive",
    "deepcoldarchive": "deep_archive",
}


@dataclass(frozen=True)
class Auth:
    """oss2.Auth: an access key pair (kept out of ``repr``)."""

    access_key_id: str
    access_key_secret: str = field(repr=False)


class EnvironmentVariableCredentialsProvider:
    """oss2.credentials.EnvironmentVariableCredentialsProvider: OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET
    (and OSS_SESSION_TOKEN)."""

    def get_credentials(self) -> tuple[str, str, str | None]:
        key, secret = os.environ.get("OSS_ACCESS_KEY_ID"), os.environ.get("OSS_ACCESS_KEY_SECRET")
        if not key or not secret:
            raise UsageError("OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET must both be set")
        return key, secret, os.environ.get("OSS_SESSION_TOKEN") or None


@dataclass(frozen=True)
class ProviderAuth:
    """oss2.ProviderAuth: credentials read from a provider when a bucket is made."""

    provider: EnvironmentVariableCredentialsProvider


class Bucket:
    """A bucket to upload into: oss2's ``Bucket(auth, endpoint, bucket_name)`` for any S3-compatible
    endpoint, or :meth:`from_url` for a ferry location (``s3://bucket``, ``REMOTE://bucket``)."""

    def __init__(
        self,
        auth: Auth | ProviderAuth,
        endpoint: str,
        bucket_name: str,
        *,
        region: str | None = None,
        connect_timeout: float | None = None,
    ) -> None:
        if isinstance(auth, ProviderAuth):
            key, secret, token = auth.provider.get_credentials()
        else:
            key, secret, token = auth.access_key_id, auth.access_key_secret, None
        if not endpoint.startswith(("http://", "https://")):
            endpoint = "https://" + endpoint
        remote = RemoteConfig(
            name="oss",
            endpoint=endpoint,
            access_key=key,
            secret_key=secret,
            session_token=token,
            region=region,
        )
        self._init(Config(remotes={"oss": remote}), RemoteLocation("oss", bucket_name, ""), connect_timeout)

    @classmethod
    def from_url(cls, url: str, config: Config | str | os.PathLike[str] | None = None) -> Bucket:
        """The bucket of a ferry location, its remote taken from the config file."""
        location = parse_location(url)
        if not isinstance(location, RemoteLocation):
            raise UsageError(f"{url!r} is not a bucket URL")
        bucket = cls.__new__(cls)
        resolved = config if isinstance(config, Config) else load_config(config)
        bucket._init(resolved, location.with_key(""), None)
        return bucket

    def _init(self, config: Config, location: RemoteLocation, connect_timeout: float | None) -> None:
        self.config = config
        self.location = location
        self.bucket_name = location.bucket
        self._connect_timeout = connect_timeout or config.defaults.connect_timeout

    def _store(self, num_threads: int) -> Store:
        settings = ClientSettings(
            connect_timeout=self._connect_timeout,
            read_timeout=self.config.defaults.read_timeout,
            max_connections=max(16, num_threads * 2),
        )
        store, _ = StoreOpener(self.config, settings).open(self.location)
        return store

    def __repr__(self) -> str:
        return f"Bucket({self.location.remote}://{self.bucket_name})"


@dataclass(frozen=True)
class ResumableStore:
    """oss2.ResumableStore: where checkpoints live, ``root/dir`` (default ``~/.py-oss-upload``)."""

    root: str | os.PathLike[str] | None = None
    dir: str = ".py-oss-upload"

    @property
    def path(self) -> Path:
        return Path(self.root or Path.home()).expanduser() / self.dir


def write_options(headers: Mapping[str, str] | None) -> WriteOptions:
    """oss2's request headers as ferry's write options: Content-Type, Cache-Control, x-oss-object-acl,
    x-oss-storage-class and x-oss-meta-* (x-amz-* spellings too). Any other header is refused by name."""
    metadata: dict[str, str] = {}
    values: dict[str, str | None] = {"content_type": None, "cache_control": None, "acl": None, "sc": None}
    for name, value in (headers or {}).items():
        lower = name.lower()
        for prefix in ("x-oss-meta-", "x-amz-meta-"):
            if lower.startswith(prefix):
                metadata[lower[len(prefix) :]] = value
                break
        else:
            target = {
                "content-type": "content_type",
                "cache-control": "cache_control",
                "x-oss-object-acl": "acl",
                "x-amz-acl": "acl",
                "x-oss-storage-class": "sc",
                "x-amz-storage-class": "sc",
            }.get(lower)
            if target is None:
                raise UsageError(f"header {name!r} is not one resumable_upload can set")
            values[target] = value
    acl = values["acl"]
    storage_class = values["sc"]
    if storage_class is not None:
        storage_class = _STORAGE_CLASSES.get(storage_class.lower().replace("_", ""), storage_class)
    options = resolve_options(
        Config().defaults,
        metadata=metadata,
        acl=None if acl == "default" else acl,
        storage_class=storage_class,
    ).write
    return replace(options, content_type=values["content_type"], cache_control=values["cache_control"])


def resumable_upload(
    bucket: Bucket,
    key: str,
    filename: str | os.PathLike[str],
    store: ResumableStore | None = None,
    headers: Mapping[str, str] | None = None,
    multipart_threshold: int | None = None,
    part_size: int | None = None,
    progress_callback: Callable[[int, int | None], None] | None = None,
    num_threads: int | None = None,
    *,
    checkpoint_file: str | os.PathLike[str] | None = None,
    enable_checkpoint: bool = True,
    delete_upload_on_cancelling: bool = True,
    stop: threading.Event | None = None,
) -> TransferResult:
    """Upload ``filename`` to ``key`` of ``bucket`` as oss2.resumable_upload does: in one request below
    ``multipart_threshold``, else in parts of ``part_size`` with ``num_threads`` at once, resuming from
    the checkpoint an earlier call left. ``progress_callback(consumed_bytes, total_bytes)`` as oss2 calls
    it. Returns what this call did (``transferred`` counts only its own bytes)."""
    if not isinstance(bucket, Bucket):
        raise UsageError("bucket must be a ferry.oss.Bucket")
    if not key or key.endswith("/"):
        raise UsageError(f"{key!r} names no object: give the object's full key")
    path = Path(filename).expanduser()
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    threads = num_threads if num_threads is not None else NUM_THREADS
    write = write_options(headers)
    scratch = None if enable_checkpoint else Path(tempfile.mkdtemp(prefix="ferry-oss-"))
    checkpoint_dir = scratch or (store or ResumableStore()).path
    record_file = Path(checkpoint_file).expanduser() if checkpoint_file and enable_checkpoint else None
    options = replace(
        resolve_options(
            bucket.config.defaults,
            threshold=multipart_threshold if multipart_threshold is not None else MULTIPART_THRESHOLD,
            part_size=part_size if part_size is not None else PART_SIZE,
            parallel=threads,
            checkpoint_dir=checkpoint_dir,
        ),
        write=write,
        records=SingleFileRecordStore(record_file) if record_file is not None else None,
    )
    listener = CallbackListener(progress_callback) if progress_callback else None
    destination = bucket._store(threads)
    transfer = ObjectTransfer(
        LocalStore(),
        str(path.absolute()),
        destination,
        key,
        options,
        listener,
        stop,
    )
    try:
        return transfer.run()
    except InterruptedTransfer:
        if delete_upload_on_cancelling or scratch is not None:
            _forget(transfer, destination, key)
        raise
    except FerryError:
        if scratch is not None:
            _forget(transfer, destination, key)
        raise
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _forget(transfer: ObjectTransfer, destination: Store, key: str) -> None:
    """Abort the transfer's multipart upload and delete its checkpoint."""
    slot = transfer._record_slot()
    upload_id = None
    try:
        record = slot.load()
        upload_id = record.header.upload_id if record is not None else None
        if record is not None:
            record.close()
    except RecordDamagedError:
        upload_id = slot.peek_upload_id()
    if upload_id:
        with contextlib.suppress(FerryError):
            destination.abort_multipart(key, upload_id)
    slot.discard()
