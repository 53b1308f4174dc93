"""The library API: resumable transfers of one object, as convenient as oss2's ``resumable_upload``.

    import ferry
    ferry.resumable_upload("big.iso", "s3://bucket/big.iso", part_size="16MiB", num_threads=8,
                           progress_callback=lambda done, total: print(done, total))

Run the same call again after a crash and it resumes from the part record. The CLI goes through
:func:`prepare_transfer` too, so the two cannot drift apart.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from ferry.config import Config, load_config
from ferry.errors import UnsupportedError, UsageError
from ferry.storage import StoreOpener
from ferry.storage.s3 import ClientSettings
from ferry.transfer.engine import ObjectTransfer, TransferResult
from ferry.transfer.events import CallbackListener, TransferListener
from ferry.transfer.options import TransferOptions, check_payer, resolve_options
from ferry.urls import HttpLocation, LocalLocation, Location, RemoteLocation, parse_location

ProgressCallback = Callable[[int, int], None]


def _basename_of_key(key: str, url: str) -> str:
    name = key.rsplit("/", 1)[-1]
    if name in ("", ".", ".."):
        raise UsageError(f"{url} names a folder, not an object: give the object's full key")
    return name


def resolve_destination(source: Location, destination: Location, destination_text: str) -> Location:
    """Complete a destination that names a folder (``s3://b/dir/``, an existing local directory, a path
    ending in ``/``) with the source's file name, as ``cp`` does."""
    name = (
        source.path.name if isinstance(source, LocalLocation) else _basename_of_key(source.key, str(source))
    )
    if isinstance(destination, RemoteLocation):
        if destination.key == "" or destination.key.endswith("/"):
            return destination.with_key(destination.key + name)
        return destination
    if isinstance(destination, HttpLocation):
        raise UnsupportedError(f"{destination}: an http(s) URL can only be a source (it is read-only)")
    path = destination.path
    if path.is_dir() or destination_text.endswith(("/", os.sep)):
        return LocalLocation(path / name)
    return destination


def _check_source(source: Location) -> None:
    if isinstance(source, RemoteLocation) and (source.key == "" or source.key.endswith("/")):
        raise UsageError(f"{source} names a bucket or folder, not an object: give the object's full key")
    if isinstance(source, LocalLocation) and source.path.is_dir():
        raise UsageError(f"{source.path} is a directory: give a file")


def prepare_transfer(
    source_text: str,
    destination_text: str,
    options: TransferOptions,
    *,
    config: Config,
    temp_dir: Path | None = None,
    listener: TransferListener | None = None,
    stop: threading.Event | None = None,
    settings: ClientSettings | None = None,
    cdn_auth_key: str | None = None,
    request_payer: str | None = None,
) -> ObjectTransfer:
    """Parse both locations, open their stores and return the transfer, ready to run. ``cdn_auth_key``
    signs requests to an http(s) source (CDN type A)."""
    source = parse_location(source_text)
    _check_source(source)
    destination = resolve_destination(source, parse_location(destination_text), destination_text)
    if isinstance(destination, LocalLocation) and destination.path.is_dir():
        raise UsageError(f"{destination.path} is a directory")
    client_settings = settings or ClientSettings(
        connect_timeout=config.defaults.connect_timeout,
        read_timeout=config.defaults.read_timeout,
        max_connections=max(16, options.parallel * 2),
        request_payer=check_payer(request_payer),
    )
    opener = StoreOpener(config, client_settings, temp_dir=temp_dir, cdn_auth_key=cdn_auth_key)
    src_store, src_key = opener.open(source)
    dst_store, dst_key = opener.open(destination)
    return ObjectTransfer(src_store, src_key, dst_store, dst_key, options, listener, stop)


def _transfer(
    source: str,
    destination: str,
    *,
    part_size: int | str | None,
    threshold: int | str | None,
    num_threads: int | None,
    checkpoint_dir: str | os.PathLike[str] | None,
    temp_dir: str | os.PathLike[str] | None,
    progress_callback: ProgressCallback | None,
    verify_length: bool,
    verify_md5: bool,
    metadata: Mapping[str, str] | None,
    acl: str | None,
    storage_class: str | None,
    config: Config | str | os.PathLike[str] | None,
    stream_copy: bool = False,
    bwlimit: int | str | None = None,
    copy_threshold: int | str | None = None,
) -> TransferResult:
    resolved = config if isinstance(config, Config) else load_config(config)
    options = resolve_options(
        resolved.defaults,
        threshold=threshold,
        copy_threshold=copy_threshold,
        part_size=part_size,
        parallel=num_threads,
        checkpoint_dir=checkpoint_dir,
        verify_length=verify_length,
        verify_md5=verify_md5,
        metadata=dict(metadata or {}),
        acl=acl,
        storage_class=storage_class,
        stream_copy=stream_copy,
        bwlimit=bwlimit,
    )
    listener = CallbackListener(progress_callback) if progress_callback else None
    transfer = prepare_transfer(
        source,
        destination,
        options,
        config=resolved,
        temp_dir=Path(temp_dir) if temp_dir else None,
        listener=listener,
    )
    return transfer.run()


def resumable_upload(
    filename: str | os.PathLike[str],
    url: str,
    *,
    part_size: int | str | None = None,
    threshold: int | str | None = None,
    num_threads: int | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    progress_callback: ProgressCallback | None = None,
    verify_length: bool = False,
    verify_md5: bool = False,
    metadata: Mapping[str, str] | None = None,
    acl: str | None = None,
    storage_class: str | None = None,
    bwlimit: int | str | None = None,
    config: Config | str | os.PathLike[str] | None = None,
) -> TransferResult:
    """Upload a local file to ``url`` (``s3://bucket/key`` or ``REMOTE://bucket/key``), resuming a
    previous attempt from its part record. ``progress_callback(bytes_done, bytes_total)`` is called as parts
    complete; ``bytes_done`` includes parts sent by earlier runs."""
    if parse_location(url).__class__ is not RemoteLocation:
        raise UsageError(f"{url!r} is not a bucket URL")
    return _transfer(
        os.fspath(filename),
        url,
        part_size=part_size,
        threshold=threshold,
        num_threads=num_threads,
        checkpoint_dir=checkpoint_dir,
        temp_dir=None,
        progress_callback=progress_callback,
        verify_length=verify_length,
        verify_md5=verify_md5,
        metadata=metadata,
        acl=acl,
        storage_class=storage_class,
        bwlimit=bwlimit,
        config=config,
    )


def resumable_download(
    url: str,
    filename: str | os.PathLike[str],
    *,
    part_size: int | str | None = None,
    threshold: int | str | None = None,
    num_threads: int | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    temp_dir: str | os.PathLike[str] | None = None,
    progress_callback: ProgressCallback | None = None,
    verify_length: bool = False,
    verify_md5: bool = False,
    bwlimit: int | str | None = None,
    config: Config | str | os.PathLike[str] | None = None,
) -> TransferResult:
    """Download ``url`` to a local file through a temporary file that is renamed into place only when
    complete and verified; resumes a previous attempt."""
    if parse_location(url).__class__ is not RemoteLocation:
        raise UsageError(f"{url!r} is not a bucket URL")
    return _transfer(
        url,
        os.fspath(filename),
        part_size=part_size,
        threshold=threshold,
        num_threads=num_threads,
        checkpoint_dir=checkpoint_dir,
        temp_dir=temp_dir,
        progress_callback=progress_callback,
        verify_length=verify_length,
        verify_md5=verify_md5,
        metadata=None,
        acl=None,
        storage_class=None,
        bwlimit=bwlimit,
        config=config,
    )


def resumable_copy(
    source_url: str,
    destination_url: str,
    *,
    part_size: int | str | None = None,
    threshold: int | str | None = None,
    num_threads: int | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    progress_callback: ProgressCallback | None = None,
    verify_length: bool = False,
    verify_md5: bool = False,
    metadata: Mapping[str, str] | None = None,
    acl: str | None = None,
    storage_class: str | None = None,
    stream: bool = False,
    bwlimit: int | str | None = None,
    copy_threshold: int | str | None = None,
    config: Config | str | os.PathLike[str] | None = None,
) -> TransferResult:
    """Copy one object bucket to bucket: server-side when both are on the same endpoint and account (one
    CopyObject below ``copy_threshold``, default ``threshold`` when given, else 4 GiB; UploadPartCopy parts
    at or above it, resumable), streamed through this machine otherwise or when ``stream=True``."""
    for url in (source_url, destination_url):
        if parse_location(url).__class__ is not RemoteLocation:
            raise UsageError(f"{url!r} is not a bucket URL")
    return _transfer(
        source_url,
        destination_url,
        part_size=part_size,
        threshold=threshold,
        num_threads=num_threads,
        checkpoint_dir=checkpoint_dir,
        temp_dir=None,
        progress_callback=progress_callback,
        verify_length=verify_length,
        verify_md5=verify_md5,
        metadata=metadata,
        acl=acl,
        storage_class=storage_class,
        stream_copy=stream,
        bwlimit=bwlimit,
        copy_threshold=copy_threshold,
        config=config,
    )
