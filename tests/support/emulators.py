"""Fixtures for the other real servers, shared by the test files that need them (a test module takes
them with ``pytest_plugins = ["tests.support.emulators"]``): Azurite and a fresh container, the GCS
emulator and a fresh bucket, nginx and a fresh site folder. Each server is started by its script under
scripts/ (idempotent), so a plain ``pytest`` works without ``make servers``."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from tests.support.servers import start_server

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient
    from google.cloud import storage
    from tests.support.azurite import Azurite
    from tests.support.gcs import Emulator


# --- Azurite ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def azurite() -> Azurite:
    from tests.support.azurite import start_azurite

    try:
        return start_azurite()
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def container(azurite) -> Iterator[ContainerClient]:
    """A fresh container, deleted afterwards with everything in it (uncommitted blocks included)."""
    name = f"t-{uuid.uuid4().hex[:16]}"
    client = azurite.service().get_container_client(name)
    client.create_container()
    yield client
    client.delete_container()


# --- the GCS emulator ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def emulator() -> Emulator:
    from tests.support.gcs import start_emulator

    try:
        return start_emulator()
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def gcs(emulator) -> storage.Client:
    return emulator.client()


@pytest.fixture
def gbucket(gcs) -> Iterator[str]:
    from tests.support.gcs import temporary_bucket

    yield from temporary_bucket(gcs)


# --- nginx --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Nginx:
    url: str
    www: Path
    key: str
    access_log: Path


@pytest.fixture(scope="session")
def nginx() -> Nginx:
    """The real nginx. ``make test`` starts it; starting it here too keeps plain ``pytest`` working."""
    try:
        env = start_server("nginx.sh", (("start", 120),))
    except RuntimeError as exc:
        pytest.fail(f"could not start nginx: {exc}")
    run_dir = Path(env["FERRY_NGINX_DIR"])
    return Nginx(
        env["FERRY_NGINX_URL"],
        Path(env["FERRY_NGINX_WWW"]),
        env["FERRY_NGINX_CDN_KEY"],
        run_dir / "access.log",
    )


@pytest.fixture
def site(nginx) -> Iterator[str]:
    """A fresh folder name, present under www/ and under each special location; removed afterwards."""
    name = f"t-{uuid.uuid4().hex[:12]}"
    folders = [nginx.www / name] + [nginx.www / s / name for s in ("signed", "noetag", "nohead", "noranges")]
    for folder in folders:
        folder.mkdir(parents=True)
        folder.chmod(0o755)
    yield name
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
