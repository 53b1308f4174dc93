"""Source and destination nodes: which backend serves a ``cloud_type``, what secrets it takes, and how a
node (stored without secrets) plus its secrets (from the vault) becomes a :class:`~ferry.storage.Store`.

Every cloud type the service knows is registered here, and this is the only module that tells them apart:
the API, the vault and the worker ask a :class:`Backend` what it needs and what it can do (be a
destination, run a task type, work without a bucket), and from then on speak the Store protocol.

- S3-compatible clouds (``AWS``, ``HuaweiCloud`` alias ``HEC``, ``Aliyun``, ``Tencent``, ``Qiniu``,
  ``Baidu``, ``KingsoftCloud``, ``UCloud``, ``QingCloud``, ``Ceph``, ``MinIO``, ``S3``): ``ak`` and ``sk``;
  an endpoint for all but AWS, found from ``cloud_type`` and ``region`` (:mod:`ferry.service.endpoints`)
  unless the node gives its own.
- ``Azure``: the storage account's ``connection_string``; the bucket is a container. An ``endpoint`` (such
  as Azurite's ``http://127.0.0.1:10000/devstoreaccount1``) replaces the connection string's
  ``BlobEndpoint``.
- ``Google``: ``json_auth_file``, the *content* of a service-account JSON key file (as OMS passes it);
  an ``endpoint`` for an emulator, which, on plain ``http://``, is used without credentials.
- ``URLSource``: a source only, for ``URL_LIST`` groups: objects are http(s) URLs (one
  :class:`~ferry.storage.http.HttpSource` serves every host), read with requests signed by the optional CDN
  key (``cdn_key``, CDN type A).

Openers never fall back to the service's own environment (``AWS_*``, ``AZURE_STORAGE_CONNECTION_STRING``,
``GOOGLE_APPLICATION_CREDENTIALS``): a node works with the secrets its group was given, or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from ferry.config import RemoteConfig
from ferry.errors import CredentialsError, FerryError
from ferry.service import source_cdn
from ferry.service.vault import NodeSecrets
from ferry.storage import netguard
from ferry.storage.base import Store
from ferry.storage.cdnsign import TypeASigner
from ferry.storage.http import HttpSource
from ferry.storage.s3 import ClientSettings, S3Connection, S3Store

Opener = Callable[[Mapping[str, Any], NodeSecrets, ClientSettings, str], Store]
SecretCheck = Callable[[Mapping[str, Any], NodeSecrets], str | None]

OBJECT_TASKS = ("PREFIX", "LIST")
"""The task types of a store that can be listed and looked up: key prefixes, or a list of keys."""


@dataclass(frozen=True)
class Backend:
    name: str
    """The canonical ``cloud_type``."""
    secrets: tuple[str, ...]
    """The :class:`NodeSecrets` fields a node of this kind cannot work without (see :meth:`required`)."""
    open: Opener
    needs_endpoint: bool = True
    optional: tuple[str, ...] = ()
    """Secret fields it takes but can work without."""
    needs: Callable[[Mapping[str, Any]], tuple[str, ...]] | None = None
    """When the secrets a node needs depend on the node (an emulator needs none): replaces ``secrets``."""
    check: SecretCheck | None = None
    """Why given secrets cannot work (malformed), without quoting them; ``None`` when they may."""
    needs_bucket: bool = True
    destination: bool = True
    """False for a read-only source."""
    task_types: tuple[str, ...] = OBJECT_TASKS

    @property
    def takes(self) -> tuple[str, ...]:
        return (*self.secrets, *self.optional)

    def required(self, node: Mapping[str, Any]) -> tuple[str, ...]:
        return self.needs(node) if self.needs is not None else self.secrets


_BACKENDS: dict[str, Backend] = {}


def register(backend: Backend, *aliases: str) -> None:
    for name in (backend.name, *aliases):
        _BACKENDS[name.lower()] = backend


def backend_for(cloud_type: str) -> Backend | None:
    return _BACKENDS.get(cloud_type.lower())


def supported() -> list[str]:
    return sorted({backend.name for backend in _BACKENDS.values()})


def check_node(node: Mapping[str, Any], side: str = "src", task_type: str = "PREFIX") -> str | None:
    """Why a node (without its secrets) cannot be used on ``side`` (``src`` or ``dst``) of a group of
    ``task_type``, or ``None``."""
    backend = backend_for(str(node.get("cloud_type", "")))
    if backend is None:
        return (
            f"cloud_type {node.get('cloud_type')!r} is not supported yet; supported: {', '.join(supported())}"
        )
    if side == "dst" and not backend.destination:
        return f"cloud_type {backend.name} can only be a source"
    if side == "src" and task_type not in backend.task_types:
        return (
            f"cloud_type {backend.name} does not take task_type {task_type} "
            f"(it takes {' or '.join(backend.task_types)})"
        )
    if backend.needs_bucket and not node.get("bucket"):
        return f"cloud_type {backend.name} needs a bucket"
    endpoint = node.get("endpoint")
    if backend.needs_endpoint and not endpoint:
        return (
            f"no endpoint is known for cloud_type {backend.name} in region {node.get('region') or '(none)'}: "
            "give the region, or the operator maps it (ferry serve --endpoints)"
        )
    if endpoint:
        parts = urlsplit(str(endpoint))
        try:
            parts.port  # noqa: B018  (raises on a port that is not a number)
        except ValueError:
            return "the endpoint's port is not a number from 0 to 65535"
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "the endpoint must be an http:// or https:// URL"
        if "@" in parts.netloc:
            return "the endpoint must not carry a user name or password: give the credentials in their fields"
        refused = netguard.refusal(parts.hostname)
        if refused:
            return f"the endpoint is refused: {refused}"
    return None


def _cdn_key(node: Mapping[str, Any]) -> tuple[str, ...]:
    """A source read through a CDN that signs its URLs takes (and needs) the CDN's key besides its own."""
    return ("cdn_key",) if source_cdn.signs(node) else ()


def takes(node: Mapping[str, Any]) -> tuple[str, ...]:
    """The :class:`NodeSecrets` fields a node takes."""
    backend = backend_for(str(node.get("cloud_type", "")))
    return (*(backend.takes if backend is not None else ()), *_cdn_key(node))


def missing_secrets(node: Mapping[str, Any], secrets: NodeSecrets) -> list[str]:
    backend = backend_for(str(node.get("cloud_type", "")))
    if backend is None:
        return []
    return [name for name in (*backend.required(node), *_cdn_key(node)) if not getattr(secrets, name)]


def used_secrets(node: Mapping[str, Any], secrets: NodeSecrets) -> NodeSecrets:
    """Only the secrets a node of this kind takes: the others (an ``ak`` given with an Azure node, say,
    from a shell that exports every key) are dropped rather than kept in memory for nothing."""
    taken = takes(node)
    return replace(secrets, **{name: None for name in vars(secrets) if name not in taken})


def secrets_problem(node: Mapping[str, Any], secrets: NodeSecrets) -> str | None:
    """Why the node's secrets cannot work (a malformed connection string or key file), or ``None``. The
    reason never quotes a secret."""
    backend = backend_for(str(node.get("cloud_type", "")))
    if backend is None or backend.check is None:
        return None
    return backend.check(node, secrets)


def open_store(node: Mapping[str, Any], secrets: NodeSecrets, settings: ClientSettings, side: str) -> Store:
    """The store of a node; ``side`` (``src`` or ``dst``) names it in messages (``src://bucket/key``). A
    source with a ``source_cdn`` is listed on its own store and read through the CDN."""
    backend = backend_for(str(node["cloud_type"]))
    if backend is None:  # checked at create; a node stored by a newer ferry could still get here
        raise ValueError(f"unsupported cloud_type {node['cloud_type']!r}")
    return source_cdn.wrap(backend.open(node, secrets, settings, side), node, secrets.cdn_key, settings)


# --- S3-compatible clouds ----------------------------------------------------------------------------------


def _open_s3(node: Mapping[str, Any], secrets: NodeSecrets, settings: ClientSettings, side: str) -> Store:
    if not secrets.ak or not secrets.sk:  # never fall back to the service's own credential chain
        raise CredentialsError(f"{side}: an S3 node needs its ak and sk")
    remote = RemoteConfig(
        name=side,
        endpoint=node.get("endpoint") or None,
        access_key=secrets.ak,
        secret_key=secrets.sk,
        region=node.get("region") or None,
        addressing_style=node.get("addressing_style") or None,
    )
    return S3Store(S3Connection(remote, settings), str(node["bucket"]), side)


register(Backend("AWS", ("ak", "sk"), _open_s3, needs_endpoint=False))
register(Backend("HuaweiCloud", ("ak", "sk"), _open_s3), "HEC")
register(Backend("KingsoftCloud", ("ak", "sk"), _open_s3), "Kingsoft")
for _name in ("Aliyun", "Tencent", "Qiniu", "Baidu", "UCloud", "QingCloud", "Ceph", "MinIO", "S3"):
    register(Backend(_name, ("ak", "sk"), _open_s3))


# --- Azure Blob Storage ------------------------------------------------------------------------------------


def with_blob_endpoint(connection_string: str, endpoint: str | None) -> str:
    """The connection string with its ``BlobEndpoint`` replaced by ``endpoint`` (when one is given)."""
    if not endpoint:
        return connection_string
    kept = [
        segment
        for segment in connection_string.strip().split(";")
        if segment.strip() and segment.partition("=")[0].strip().lower() != "blobendpoint"
    ]
    return ";".join([*kept, f"BlobEndpoint={endpoint}"])


def _check_azure(node: Mapping[str, Any], secrets: NodeSecrets) -> str | None:
    from ferry.storage.azure import check_connection_string

    if not secrets.connection_string:
        return None
    try:
        check_connection_string(with_blob_endpoint(secrets.connection_string, node.get("endpoint")), "node")
    except FerryError as exc:
        return exc.message.replace("remote 'node': ", "")
    return None


def _open_azure(node: Mapping[str, Any], secrets: NodeSecrets, settings: ClientSettings, side: str) -> Store:
    from ferry.storage.azure import AzureBlobStore, open_service  # the Azure SDK loads slowly

    if not secrets.connection_string:  # never AZURE_STORAGE_CONNECTION_STRING of the service itself
        raise CredentialsError(f"{side}: an Azure node needs its connection_string")
    text = with_blob_endpoint(secrets.connection_string, node.get("endpoint"))
    service = open_service(RemoteConfig(name=side, type="azure", connection_string=text), settings)
    return AzureBlobStore(service, str(node["bucket"]), side)


register(
    Backend("Azure", ("connection_string",), _open_azure, needs_endpoint=False, check=_check_azure),
    "AzureBlob",
)


# --- Google Cloud Storage ----------------------------------------------------------------------------------


def _anonymous(node: Mapping[str, Any]) -> bool:
    """An emulator on plain HTTP: spoken to without credentials (no token ever goes over plain HTTP)."""
    return str(node.get("endpoint") or "").startswith("http://")


def _google_needs(node: Mapping[str, Any]) -> tuple[str, ...]:
    return () if _anonymous(node) else ("json_auth_file",)


def _google_key(text: str, side: str) -> Any:
    """The service-account credentials in a key file's content; CredentialsError naming the field."""
    from ferry.storage.gcs_auth import parse_key  # google-cloud-storage loads slowly

    what = f"{side}: the json_auth_file"
    if not text.lstrip().startswith("{"):
        raise CredentialsError(f"{what} must be the content of a service-account JSON key file, not its name")
    return parse_key(text, what)


def _check_google(node: Mapping[str, Any], secrets: NodeSecrets) -> str | None:
    if not secrets.json_auth_file:
        return None
    try:
        _google_key(secrets.json_auth_file, "node")
    except FerryError as exc:
        return exc.message.replace("node: the json_auth_file", "the json_auth_file")
    return None


def _open_google(node: Mapping[str, Any], secrets: NodeSecrets, settings: ClientSettings, side: str) -> Store:
    from ferry.storage.gcs import GCSStore
    from ferry.storage.gcs_auth import make_connection

    key = _google_key(secrets.json_auth_file, side) if secrets.json_auth_file else None
    if key is None and not _anonymous(node):  # never GOOGLE_APPLICATION_CREDENTIALS of the service itself
        raise CredentialsError(f"{side}: a Google node needs its json_auth_file")
    remote = RemoteConfig(name=side, type="gcs", endpoint=node.get("endpoint") or None)
    connection = make_connection(remote, settings, key=key, environment=False)
    return GCSStore(connection, str(node["bucket"]), side)


register(
    Backend(
        "Google",
        (),
        _open_google,
        needs_endpoint=False,
        optional=("json_auth_file",),
        needs=_google_needs,
        check=_check_google,
    ),
    "GCS",
)


# --- URL lists ---------------------------------------------------------------------------------------------


def _open_urls(node: Mapping[str, Any], secrets: NodeSecrets, settings: ClientSettings, side: str) -> Store:
    signer = TypeASigner(secrets.cdn_key) if secrets.cdn_key else None
    return HttpSource(settings, signer, key_hint="source_cdn_authentication_key")


register(
    Backend(
        "URLSource",
        (),
        _open_urls,
        needs_endpoint=False,
        optional=("cdn_key",),
        needs_bucket=False,
        destination=False,
        task_types=("URL_LIST",),
    )
)
