"""gcp-storage-emulator for the GCS tests: started by scripts/gcs-emulator.sh (idempotent), so a plain
``pytest`` works without ``make servers``. Buckets are made and checked with google-cloud-storage itself."""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import google.api_core.exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from tests.support.servers import start_server


@dataclass(frozen=True)
class Emulator:
    endpoint: str

    def client(self) -> storage.Client:
        return storage.Client(
            project=None, credentials=AnonymousCredentials(), client_options={"api_endpoint": self.endpoint}
        )


def start_emulator() -> Emulator:
    """Check and start the emulator; raise RuntimeError with the script's output when it cannot."""
    env = start_server("gcs-emulator.sh", (("install", 120), ("start", 120)))
    return Emulator(env["FERRY_GCS_ENDPOINT"])


def temporary_bucket(client: storage.Client) -> Iterator[str]:
    """A fresh bucket, emptied and deleted afterwards."""
    name = f"g-{uuid.uuid4().hex[:16]}"
    client.create_bucket(name)
    yield name
    for blob in client.list_blobs(name):
        blob.delete()
    # The emulator cannot cancel resumable sessions, and refuses to delete a bucket that has one: such a
    # bucket is left behind, empty (the emulator keeps everything in memory).
    with contextlib.suppress(google.api_core.exceptions.Conflict):
        client.bucket(name).delete()


def sha256_gcs(client: storage.Client, bucket: str, key: str) -> str:
    return hashlib.sha256(client.bucket(bucket).blob(key).download_as_bytes()).hexdigest()


def gcs_keys(client: storage.Client, bucket: str, prefix: str = "") -> list[str]:
    return sorted(blob.name[len(prefix) :] for blob in client.list_blobs(bucket, prefix=prefix))
