"""Azurite, the Azure Storage emulator, for the Azure tests: started by scripts/azurite.sh (idempotent), so a
plain ``pytest`` works without ``make servers``."""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from azure.storage.blob import BlobServiceClient, ContainerClient

REPO = Path(__file__).resolve().parent.parent.parent


@dataclass(frozen=True)
class Azurite:
    connection_string: str
    endpoint: str

    def service(self) -> BlobServiceClient:
        return BlobServiceClient.from_connection_string(self.connection_string)


def read_env(path: Path) -> dict[str, str]:
    """The script's env file: NAME=value lines, values possibly in single quotes."""
    values = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == "'":
                value = value[1:-1]
            values[key.strip()] = value
    return values


def start_azurite() -> Azurite:
    """Install (a no-op when present) and start Azurite; raise RuntimeError with the script's output."""
    run_dir = Path(os.environ.get("FERRY_AZURITE_DIR", REPO / ".run" / "azurite"))
    script = str(REPO / "scripts" / "azurite.sh")
    for step, timeout in (("install", 600), ("start", 120)):
        done = subprocess.run(["bash", script, step], capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"scripts/azurite.sh {step} failed:\n{done.stderr[-3000:]}")
    env = read_env(run_dir / "env")
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
