"""Azurite, the Azure Storage emulator, for the Azure tests: started by scripts/azurite.sh (idempotent), so a
plain ``pytest`` works without ``make servers``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from azure.storage.blob import BlobServiceClient, ContainerClient
from tests.support.servers import start_server


@dataclass(frozen=True)
class Azurite:
    connection_string: str
    endpoint: str

    def service(self) -> BlobServiceClient:
        return BlobServiceClient.from_connection_string(self.connection_string)


def start_azurite() -> Azurite:
    """Install (a no-op when present) and start Azurite; raise RuntimeError with the script's output."""
    env = start_server("azurite.sh", (("install", 600), ("start", 120)))
    return Azurite(env["FERRY_AZURITE_CONNECTION_STRING"], env["FERRY_AZURITE_ENDPOINT"])


def sha256_blob(container: ContainerClient, key: str) -> str:
    digest = hashlib.sha256()
    for chunk in container.get_blob_client(key).download_blob().chunks():
        digest.update(chunk)
    return digest.hexdigest()


def block_lists(container: ContainerClient, key: str) -> tuple[list[str], list[str]]:
    """The ids of the committed and the uncommitted blocks of a blob (([], []) when there is none)."""
    try:
        committed, uncommitted = container.get_blob_client(key).get_block_list("all")
    except Exception as exc:  # no blob and no staged block
        if getattr(exc, "status_code", None) == 404:
            return [], []
        raise
    return [b.id for b in committed], [b.id for b in uncommitted]
