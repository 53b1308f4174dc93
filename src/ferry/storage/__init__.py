"""Stores: one protocol (:mod:`.base`), its implementations, and the factory that opens one for a location."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ferry.config import Config
from ferry.storage.base import Capabilities, ObjectInfo, PartResult, Store, WriteOptions
from ferry.storage.local import LocalStore
from ferry.storage.s3 import ClientSettings, S3Store, make_client
from ferry.urls import LocalLocation, Location, RemoteLocation

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

__all__ = [
    "Capabilities",
    "ClientSettings",
    "LocalStore",
    "ObjectInfo",
    "PartResult",
    "S3Store",
    "Store",
    "StoreOpener",
    "WriteOptions",
]


@dataclass
class StoreOpener:
    """Opens the store behind a location, keeping one client per remote for the opener's lifetime
    (botocore clients are thread-safe and pool their connections)."""

    config: Config
    settings: ClientSettings = field(default_factory=ClientSettings)
    temp_dir: Path | None = None
    _clients: dict[str, tuple[S3Client, str | None]] = field(default_factory=dict)

    def open(self, location: Location) -> tuple[Store, str]:
        """The store and the key inside it for ``location``."""
        if isinstance(location, LocalLocation):
            return LocalStore(self.temp_dir), str(location.path)
        assert isinstance(location, RemoteLocation)
        name = location.remote
        if name not in self._clients:
            self._clients[name] = make_client(self.config.remote(name), self.settings)
        client, access_key = self._clients[name]
        return S3Store(client, location.bucket, name, access_key), location.key
