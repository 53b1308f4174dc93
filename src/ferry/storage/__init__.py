"""Stores: one protocol (:mod:`.base`), its implementations, and the factory that opens one for a location."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ferry.config import Config
from ferry.storage.base import Capabilities, ObjectInfo, PartResult, Store, WriteOptions
from ferry.storage.local import LocalStore
from ferry.storage.s3 import ClientSettings, S3Connection, S3Store
from ferry.urls import HttpLocation, LocalLocation, Location, RemoteLocation

if TYPE_CHECKING:
    from azure.storage.blob import BlobServiceClient

    from ferry.storage.gcs_auth import GCSConnection
    from ferry.storage.http import HttpSource

__all__ = [
    "Capabilities",
    "ClientSettings",
    "HttpSource",
    "LocalStore",
    "ObjectInfo",
    "PartResult",
    "S3Store",
    "Store",
    "StoreOpener",
    "WriteOptions",
]


def __getattr__(name: str) -> object:
    if name == "HttpSource":
        from ferry.storage.http import HttpSource

        return HttpSource
    raise AttributeError(name)


@dataclass
class StoreOpener:
    """Opens the store behind a location, keeping one client per remote for the opener's lifetime
    (botocore clients are thread-safe and pool their connections)."""

    config: Config
    settings: ClientSettings = field(default_factory=ClientSettings)
    temp_dir: Path | None = None
    copy_links: bool = False
    """Uploads follow symbolic links (``-L``)."""
    _clients: dict[str, S3Connection] = field(default_factory=dict)
    cdn_auth_key: str | None = field(default=None, repr=False)
    """Signs every http(s) request (CDN type A); a secret, never shown."""
    _http: HttpSource | None = field(default=None, repr=False)
    _azure: dict[str, BlobServiceClient] = field(default_factory=dict, repr=False)
    _gcs: dict[str, GCSConnection] = field(default_factory=dict, repr=False)

    def http_source(self) -> HttpSource:
        """The one read-only source for http(s) URLs of any host (its keys are absolute URLs)."""
        if self._http is None:
            # imported here: urllib3 and the HTTP source are a fifth of a one-object command's start
            from ferry.storage.cdnsign import TypeASigner
            from ferry.storage.http import HttpSource

            signer = TypeASigner(self.cdn_auth_key) if self.cdn_auth_key else None
            self._http = HttpSource(self.settings, signer)
        return self._http

    def open(self, location: Location) -> tuple[Store, str]:
        """The store and the key inside it for ``location``."""
        if isinstance(location, LocalLocation):
            store = LocalStore(self.temp_dir, root=str(location.path), copy_links=self.copy_links)
            return store, str(location.path)
        if isinstance(location, HttpLocation):
            return self.http_source(), location.url
        assert isinstance(location, RemoteLocation)
        name = location.remote
        if name in self._azure or (name not in self._clients and self.config.remote(name).type == "azure"):
            return self._open_azure(location)
        if name in self._gcs or (name not in self._clients and self.config.remote(name).type == "gcs"):
            return self._open_gcs(location)
        if name not in self._clients:
            self._clients[name] = S3Connection(self.config.remote(name), self.settings)
        return S3Store(self._clients[name], location.bucket, name), location.key

    def _open_azure(self, location: RemoteLocation) -> tuple[Store, str]:
        """An Azure container (imported here: the Azure SDK adds a quarter second to every start-up)."""
        from ferry.storage.azure import AzureBlobStore, open_service

        name = location.remote
        if name not in self._azure:
            self._azure[name] = open_service(self.config.remote(name), self.settings)
        return AzureBlobStore(self._azure[name], location.bucket, name), location.key

    def _open_gcs(self, location: RemoteLocation) -> tuple[Store, str]:
        """A GCS bucket (imported here: google-cloud-storage slows every start-up)."""
        from ferry.storage.gcs import GCSStore
        from ferry.storage.gcs_auth import make_connection

        name = location.remote
        if name not in self._gcs:
            self._gcs[name] = make_connection(self.config.remote(name), self.settings)
        return GCSStore(self._gcs[name], location.bucket, name), location.key
