"""Source and destination nodes: which backend serves a ``cloud_type``, what secrets it needs, and how
a node (stored without secrets) plus its secrets (from the vault) becomes a :class:`~ferry.storage.Store`.

The S3-compatible clouds are registered here. Other kinds of node (Azure Blob with a connection string,
Google Cloud Storage with a JSON key file, URL lists) register a :class:`Backend` of their own with
:func:`register`; the API, the vault and the worker need no change for them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ferry.config import RemoteConfig
from ferry.service.vault import NodeSecrets
from ferry.storage.base import Store
from ferry.storage.s3 import ClientSettings, S3Store, make_client

Opener = Callable[[Mapping[str, Any], NodeSecrets, ClientSettings, str], Store]


@dataclass(frozen=True)
class Backend:
    name: str
    """The canonical ``cloud_type``."""
    secrets: tuple[str, ...]
    """The :class:`NodeSecrets` fields a node of this kind cannot work without."""
    open: Opener
    needs_endpoint: bool = True


_BACKENDS: dict[str, Backend] = {}

KNOWN_LATER = ("Azure", "Google", "URLSource", "Qiniu", "Baidu", "Kingsoft")
"""Cloud types OMS knows that ferry's service does not migrate yet (a clear 400 for now)."""


def register(backend: Backend, *aliases: str) -> None:
    for name in (backend.name, *aliases):
        _BACKENDS[name.lower()] = backend


def backend_for(cloud_type: str) -> Backend | None:
    return _BACKENDS.get(cloud_type.lower())


def supported() -> list[str]:
    return sorted({backend.name for backend in _BACKENDS.values()})


def check_node(node: Mapping[str, Any]) -> str | None:
    """Why a node (without its secrets) cannot be used, or ``None``."""
    backend = backend_for(str(node.get("cloud_type", "")))
    if backend is None:
        return (
            f"cloud_type {node.get('cloud_type')!r} is not supported yet; supported: {', '.join(supported())}"
        )
    endpoint = node.get("endpoint")
    if backend.needs_endpoint and not endpoint:
        return f"cloud_type {backend.name} needs an endpoint"
    if endpoint:
        parts = urlsplit(str(endpoint))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "the endpoint must be an http:// or https:// URL"
    return None


def missing_secrets(node: Mapping[str, Any], secrets: NodeSecrets) -> list[str]:
    backend = backend_for(str(node.get("cloud_type", "")))
    if backend is None:
        return []
    return [name for name in backend.secrets if not getattr(secrets, name)]


def open_store(node: Mapping[str, Any], secrets: NodeSecrets, settings: ClientSettings, side: str) -> Store:
    """The store of a node; ``side`` (``src`` or ``dst``) names it in messages (``src://bucket/key``)."""
    backend = backend_for(str(node["cloud_type"]))
    if backend is None:  # checked at create; a node stored by a newer ferry could still get here
        raise ValueError(f"unsupported cloud_type {node['cloud_type']!r}")
    return backend.open(node, secrets, settings, side)


def _open_s3(node: Mapping[str, Any], secrets: NodeSecrets, settings: ClientSettings, side: str) -> Store:
    if not secrets.ak or not secrets.sk:  # never fall back to the service's own credential chain
        raise ValueError("an S3 node needs its ak and sk")
    remote = RemoteConfig(
        name=side,
        endpoint=node.get("endpoint") or None,
        access_key=secrets.ak,
        secret_key=secrets.sk,
        region=node.get("region") or None,
        addressing_style=node.get("addressing_style") or None,
    )
    client, access_key = make_client(remote, settings)
    return S3Store(client, str(node["bucket"]), side, access_key)


register(Backend("AWS", ("ak", "sk"), _open_s3, needs_endpoint=False))
for _name in ("HuaweiCloud", "Aliyun", "Tencent", "Ceph", "MinIO", "S3"):
    register(Backend(_name, ("ak", "sk"), _open_s3))
