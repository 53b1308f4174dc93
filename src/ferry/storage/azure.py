"""Azure Blob Storage through ``azure-storage-blob``: one store is one container of one storage account.

A large blob goes up as staged blocks (Put Block) committed at the end (Put Block List); see
:mod:`ferry.storage.azure_ids` for how the upload id and the block ids are made. How the Store protocol maps:

- ``list_parts`` reads the blob's block list and keeps the blocks of this upload, uncommitted and committed
  alike: a resumed upload sends only what is missing, and a run that died after its commit but before its
  part record was deleted finds every part there and merely commits again (a commit is idempotent).
- ``abort_multipart`` does nothing. Azure has no request that drops uncommitted blocks: they go when the
  next commit of that blob name happens (by anyone) or after seven days. Deleting the blob instead would
  destroy the committed blob that may already be there under the same name, which an abort must not touch.
- ``list_uploads`` yields nothing, for the same reason: without an abort there is nothing to do with an
  orphaned upload, and Azure keeps no upload objects to list (only blobs that have uncommitted blocks).
- No server-side copy: Azure's copy of a block range (Put Block From URL) needs a source URL with a SAS
  token, and the emulator ferry is tested against (Azurite) does not implement it; so ``server_side_copy``
  is False and the engine streams copies — Azure↔Azure and Azure↔S3 alike — through this machine.
- Every block and every single-request blob is sent with its MD5 (Content-MD5), which the service checks;
  ``stat`` reports a blob's Content-MD5, when it has one, as the ``md5chksum`` metadata ferry uses to
  verify (Azure computes it itself for blobs written in one request; ferry sets it on the blobs it commits
  when the source's MD5 is known).

The SDK's own retries are off (one retry policy: :mod:`ferry.transfer.retry`), and every azure.core
exception is translated by :func:`_translate` into ferry's classified errors, with messages that never hold
the connection string, the account key or a SAS signature.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import re
from collections.abc import Hashable, Iterator
from typing import Any

import azure.core.exceptions as az
import requests
import requests.adapters
from azure.core import MatchConditions
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import (
    BlobBlock,
    BlobPrefix,
    BlobServiceClient,
    ContainerClient,
    ContentSettings,
    StandardBlobTier,
)

from ferry.config import RemoteConfig
from ferry.errors import (
    BucketError,
    BucketMissingError,
    CredentialsError,
    FerryError,
    NotFoundError,
    RetryableError,
    SourceChangedError,
    TransferError,
    UnsupportedError,
    UploadGoneError,
    UsageError,
)
from ferry.storage.azure_ids import (
    MAX_BLOCK_SIZE,
    MAX_BLOCKS,
    MAX_PUT_SIZE,
    MalformedUploadId,
    UploadPlan,
    block_id,
    new_token,
    parse_block_id,
)
from ferry.storage.base import (
    MD5_METADATA_KEY,
    Capabilities,
    Chunks,
    ObjectInfo,
    PartResult,
    Store,
    WriteOptions,
    md5_to_hex,
    one_chunk,
)
from ferry.storage.listing import BucketInfo, Entry, merge_page
from ferry.storage.netguard import unreachable
from ferry.storage.s3 import ClientSettings
from ferry.transfer.parts import Span
from ferry.units import format_size

CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"
TIERS = {"hot": "Hot", "cool": "Cool", "cold": "Cold", "archive": "Archive"}
_METADATA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET = re.compile(r"(?i)\b(sig|accountkey|sharedaccesssignature)=[^&;\s'\"]*")
_CREDENTIAL_CODES = {
    "AuthenticationFailed",
    "AuthorizationFailure",
    "InvalidAuthenticationInfo",
    "NoAuthenticationInformation",
}
_DENIED_CODES = {
    "AuthorizationPermissionMismatch",
    "AuthorizationResourceTypeMismatch",
    "AuthorizationServiceMismatch",
    "AuthorizationSourceIPMismatch",
    "AuthorizationProtocolMismatch",
    "InsufficientAccountPermissions",
    "AccountIsDisabled",
}


# --- opening a connection --------------------------------------------------------------------------------


def check_connection_string(text: str, name: str) -> None:
    """Refuse a connection string that cannot work, naming what is wrong and never quoting it."""
    where = f"remote {name!r}: the Azure connection string"
    parts: dict[str, str] = {}
    for segment in text.strip().split(";"):
        if not segment.strip():
            continue
        key, sep, value = segment.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{where} is malformed: expected Name=value pairs separated by ';'")
        parts[key.strip().lower()] = value.strip()
    if not parts:
        raise UsageError(f"{where} is empty")
    if parts.get("usedevelopmentstorage", "").lower() == "true":
        return
    if "accountkey" in parts:
        if "accountname" not in parts:
            raise UsageError(f"{where} has an AccountKey but no AccountName")
        try:
            base64.b64decode(parts["accountkey"], validate=True)
        except (binascii.Error, ValueError):
            raise CredentialsError(f"{where} has an AccountKey that is not valid base64") from None
    elif "sharedaccesssignature" not in parts:
        raise UsageError(f"{where} has neither an AccountKey nor a SharedAccessSignature")
    if "accountname" not in parts and "blobendpoint" not in parts:
        raise UsageError(f"{where} names neither an AccountName nor a BlobEndpoint")
    endpoint = parts.get("blobendpoint")
    if endpoint is not None and not re.match(r"^https?://[^/\s]+", endpoint):
        raise UsageError(f"{where} has a BlobEndpoint that is not an http(s) URL")


def open_service(remote: RemoteConfig, settings: ClientSettings) -> BlobServiceClient:
    """A client for the storage account of ``remote``: its ``connection_string``, else the environment's
    ``AZURE_STORAGE_CONNECTION_STRING``. Connections are pooled for the parallel parts."""
    text = remote.connection_string or os.environ.get(CONNECTION_STRING_ENV)
    if not text:
        raise CredentialsError(
            f"no Azure connection string for {remote.name}://: set {CONNECTION_STRING_ENV}, or define "
            f'[remotes.{remote.name}] with type = "azure" and connection_string in the config file'
        )
    check_connection_string(text, remote.name)
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(
        pool_connections=4, pool_maxsize=settings.max_connections, max_retries=0
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    transport = RequestsTransport(
        session=session,
        session_owner=False,
        connection_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
    )
    try:
        return BlobServiceClient.from_connection_string(
            text,
            transport=transport,
            retry_total=0,
            max_single_put_size=MAX_PUT_SIZE,
            max_single_get_size=MAX_BLOCK_SIZE,
        )
    except ValueError:
        raise UsageError(f"remote {remote.name!r}: the Azure connection string is malformed") from None


def endpoint_of(service: BlobServiceClient) -> str:
    """Scheme, host and account of the service, and nothing more (a URL may carry a SAS token)."""
    return f"{service.scheme}://{service.primary_hostname}"


# --- the store -------------------------------------------------------------------------------------------


class AzureBlobStore:
    """One container of an Azure storage account (or of Azurite)."""

    capabilities = Capabilities(
        multipart=True,
        server_side_copy=False,
        lists_parts=True,
        stages_locally=False,
        max_parts=MAX_BLOCKS,
    )

    def __init__(self, service: BlobServiceClient, container: str, scheme: str) -> None:
        self.container = container
        self.scheme = scheme
        self.endpoint = endpoint_of(service)
        self.service = service
        # container "" is the account (ferry ls az://): its client is never used, but must name a container
        self.client: ContainerClient = service.get_container_client(container or "$root")
        self._identity = ("azure", self.endpoint, service.account_name)

    def url(self, key: str) -> str:
        return f"{self.scheme}://{self.container}/{key}"

    def identity(self) -> Hashable:
        return self._identity

    @contextlib.contextmanager
    def _errors(self, key: str | None = None) -> Iterator[None]:
        try:
            yield
        except FerryError:
            raise
        except Exception as exc:
            raise _translate(exc, self, key) from None

    # --- reading ---------------------------------------------------------------------------------------

    def stat(self, key: str) -> ObjectInfo:
        with self._errors(key):
            props = self.client.get_blob_client(key).get_blob_properties()
        metadata = dict(props.metadata or {})
        content_md5 = props.content_settings.content_md5
        if content_md5 and len(content_md5) == 16 and MD5_METADATA_KEY not in metadata:
            metadata[MD5_METADATA_KEY] = base64.b64encode(bytes(content_md5)).decode("ascii")
        return ObjectInfo(
            key=key,
            size=int(props.size),
            mtime=props.last_modified.timestamp(),
            etag=_etag(props.etag),
            metadata=metadata,
            content_type=props.content_settings.content_type,
        )

    def read_range(self, key: str, offset: int, length: int, *, if_match: str | None = None) -> bytes:
        if length == 0:
            return b""
        conditions: dict[str, Any] = {}
        if if_match:
            conditions = {"etag": f'"{if_match}"', "match_condition": MatchConditions.IfNotModified}
        with self._errors(key):
            stream = self.client.get_blob_client(key).download_blob(
                offset=offset, length=length, max_concurrency=1, **conditions
            )
            data: bytes = stream.readall()
        if len(data) != length:
            raise RetryableError(
                f"{self.url(key)}: short read at offset {offset}: {len(data)} of {length} bytes"
            )
        return data

    def read_range_chunks(self, key: str, offset: int, length: int, *, if_match: str | None = None) -> Chunks:
        return one_chunk(self.read_range(key, offset, length, if_match=if_match))

    # --- writing ---------------------------------------------------------------------------------------

    def _plan(self, key: str, options: WriteOptions) -> UploadPlan:
        """Check ``options`` against what Azure can store, before any byte moves."""
        if options.acl:
            raise UnsupportedError(
                f"{self.url(key)}: Azure Blob Storage has no per-object ACL (--acl); access is set per "
                "container or account"
            )
        tier = None
        if options.storage_class:
            tier = TIERS.get(options.storage_class.lower())
            if tier is None:
                raise UsageError(
                    f"{self.url(key)}: unknown Azure access tier {options.storage_class!r}: use one of "
                    f"{', '.join(TIERS.values())}"
                )
        for name, value in options.metadata.items():
            if not _METADATA_NAME.match(name):
                raise UsageError(
                    f"{self.url(key)}: Azure refuses the metadata name {name!r}: names are letters, "
                    "digits and '_', not starting with a digit"
                )
            if not value.isascii():
                raise UsageError(f"{self.url(key)}: Azure refuses non-ASCII metadata values ({name!r})")
        return UploadPlan(new_token(), options.content_type, dict(options.metadata), tier)

    @staticmethod
    def _content_settings(plan: UploadPlan, md5: bytes | None) -> ContentSettings:
        return ContentSettings(
            content_type=plan.content_type or "application/octet-stream",
            content_md5=bytearray(md5) if md5 is not None else None,
        )

    def put(self, key: str, data: bytes, options: WriteOptions, *, md5_hex: str | None = None) -> str:
        plan = self._plan(key, options)
        if len(data) > MAX_PUT_SIZE:
            raise UsageError(
                f"{self.url(key)}: {format_size(len(data))} is more than Azure takes in one request "
                f"({format_size(MAX_PUT_SIZE)}): use a lower --threshold"
            )
        md5 = bytes.fromhex(md5_hex) if md5_hex else hashlib.md5(data, usedforsecurity=False).digest()
        with self._errors(key):
            response = self.client.get_blob_client(key).upload_blob(
                data,
                length=len(data),
                overwrite=True,
                metadata=dict(plan.metadata) or None,
                content_settings=self._content_settings(plan, md5),
                standard_blob_tier=_tier(plan),
                transactional_content_md5=md5,  # checked by the service: damaged in transit -> 400
                max_concurrency=1,
            )
        return _etag(response.get("etag"))

    def create_multipart(self, key: str, size: int, options: WriteOptions) -> str:
        """Nothing is sent: the upload exists once its first block is staged."""
        return self._plan(key, options).upload_id()

    def _parse(self, key: str, upload_id: str) -> UploadPlan:
        try:
            return UploadPlan.parse(upload_id)
        except MalformedUploadId as exc:
            raise UploadGoneError(f"{self.url(key)}: {exc}") from None

    def upload_part(self, key: str, upload_id: str, span: Span, data: bytes) -> PartResult:
        plan = self._parse(key, upload_id)
        if span.length > MAX_BLOCK_SIZE:
            raise UsageError(
                f"{self.url(key)}: a part of {format_size(span.length)} is larger than an Azure block "
                f"may be ({format_size(MAX_BLOCK_SIZE)}): use a smaller --part-size"
            )
        md5 = hashlib.md5(data, usedforsecurity=False).digest()
        with self._errors(key):
            self.client.get_blob_client(key).stage_block(
                block_id(plan.token, span.number, md5.hex()),
                data,
                length=len(data),
                transactional_content_md5=md5,
            )
        return PartResult(span.number, md5.hex())

    def copy_part(
        self, key: str, upload_id: str, span: Span, source: Store, source_key: str, if_match: str | None
    ) -> PartResult:
        raise UnsupportedError("ferry's Azure store does no server-side copy")

    def list_parts(self, key: str, upload_id: str, size: int) -> dict[int, PartResult] | None:
        token = self._parse(key, upload_id).token
        try:
            with self._errors(key):
                try:
                    committed, uncommitted = self.client.get_blob_client(key).get_block_list("all")
                except UnicodeDecodeError:
                    return None  # another client's binary block ids: cannot tell, trust the record
        except NotFoundError:
            return {}  # no blob and no staged block under this name yet
        parts: dict[int, PartResult] = {}
        for block in [*committed, *uncommitted]:
            parsed = parse_block_id(block.id)
            if parsed is not None and parsed[0] == token:
                parts[parsed[1]] = PartResult(parsed[1], parsed[2])
        return parts

    def staged_key(self, key: str, upload_id: str) -> str | None:
        return None

    def complete_multipart(self, key: str, upload_id: str, parts: list[PartResult]) -> str:
        plan = self._parse(key, upload_id)
        try:
            blocks = [BlobBlock(block_id(plan.token, p.number, p.etag)) for p in sorted(parts, key=_number)]
        except ValueError as exc:
            raise TransferError(f"{self.url(key)}: cannot commit the upload: {exc}") from None
        recorded = plan.metadata.get(MD5_METADATA_KEY)
        whole_md5 = md5_to_hex(recorded) if recorded else None
        settings = self._content_settings(plan, bytes.fromhex(whole_md5) if whole_md5 else None)
        with self._errors(key):
            response = self.client.get_blob_client(key).commit_block_list(
                blocks,
                content_settings=settings,
                metadata=dict(plan.metadata) or None,
                standard_blob_tier=_tier(plan),
            )
        return _etag(response.get("etag"))

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Nothing to do: see the module's docstring (uncommitted blocks expire or are discarded by the
        next commit; deleting the blob would destroy a committed blob of the same name)."""

    def copy_object(
        self, key: str, source: Store, source_key: str, options: WriteOptions | None, if_match: str | None
    ) -> str:
        raise UnsupportedError("ferry's Azure store does no server-side copy")

    def delete(self, key: str) -> None:
        with contextlib.suppress(NotFoundError), self._errors(key):
            self.client.get_blob_client(key).delete_blob(delete_snapshots="include")

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Blobs under ``prefix`` in the service's order, which is by name (as S3's)."""
        with self._errors(prefix):
            for blob in self.client.list_blobs(name_starts_with=prefix or None):
                yield self._listed(blob)

    @staticmethod
    def _listed(blob: Any) -> ObjectInfo:
        """A listed blob, with its Content-MD5 (when it has one) as ``md5chksum``, as :meth:`stat` gives it:
        ``ferry check`` compares by it without a request per blob."""
        content_md5 = blob.content_settings.content_md5
        metadata = {}
        if content_md5 and len(content_md5) == 16:
            metadata[MD5_METADATA_KEY] = base64.b64encode(bytes(content_md5)).decode("ascii")
        return ObjectInfo(
            key=blob.name,
            size=int(blob.size),
            mtime=blob.last_modified.timestamp(),
            etag=_etag(blob.etag),
            metadata=metadata,
            content_type=blob.content_settings.content_type,
        )

    def list_folder(self, prefix: str) -> Iterator[Entry]:
        """One level: the blobs under ``prefix`` and the virtual folders below it."""
        with self._errors(prefix):
            pages = self.client.walk_blobs(name_starts_with=prefix or None, delimiter="/").by_page()
            for page in pages:  # a page holds its prefixes apart from its blobs: merged into key order
                objects: list[ObjectInfo] = []
                folders: list[str] = []
                for item in page:
                    if isinstance(item, BlobPrefix):
                        folders.append(item.name)
                    else:
                        objects.append(self._listed(item))
                yield from merge_page(objects, folders)

    def list_buckets(self) -> Iterator[BucketInfo]:
        """Every container of the account (the store's own container plays no part)."""
        with self._errors():
            for container in self.service.list_containers():
                modified = container.last_modified
                yield BucketInfo(container.name, modified.timestamp() if modified else None)

    def list_uploads(self, prefix: str) -> Iterator[tuple[str, str, float]]:
        """None: see the module's docstring."""
        return iter(())


def _tier(plan: UploadPlan) -> StandardBlobTier | None:
    return StandardBlobTier(plan.tier) if plan.tier else None


def _number(part: PartResult) -> int:
    return part.number


def _etag(value: object) -> str:
    return str(value or "").strip('"')


# --- errors ----------------------------------------------------------------------------------------------


def scrub(text: str) -> str:
    """``text`` on one line, with any SAS signature or account key blanked out."""
    return _SECRET.sub(lambda m: f"{m[1]}=<redacted>", " ".join(text.split()))


def _network_reason(exc: Exception) -> str:
    """The root cause of a network failure (``[Errno 111] Connection refused``, ``Read timed out``) rather
    than urllib3's nested retry wrappers, which quote request URLs."""
    text = scrub(str(exc))
    errno_reason = re.search(r"\[Errno -?\d+\] [^\"')(]+", text)
    if errno_reason:
        return errno_reason[0].strip()
    for phrase in ("Read timed out", "Connection aborted", "Connection reset", "timed out"):
        if phrase.lower() in text.lower():
            return phrase
    return text[:200] or type(exc).__name__


def _code(exc: az.HttpResponseError) -> str:
    code = getattr(exc, "error_code", None)  # set by the storage SDK on the errors it raises
    if code is None and exc.response is not None:
        code = getattr(exc.response, "headers", {}).get("x-ms-error-code")
    return str(getattr(code, "value", code) or "")


def _translate(exc: Exception, store: AzureBlobStore, key: str | None) -> FerryError:
    """Turn an azure.core exception into ferry's classified error with a one-line message."""
    where = store.url(key) if key is not None else f"{store.scheme}://{store.container}"
    if isinstance(exc, az.ClientAuthenticationError) and exc.response is None:  # the SDK could not sign
        return CredentialsError(f"{where}: the account key could not sign the request (is it the right key?)")
    if isinstance(exc, az.HttpResponseError) and exc.status_code is not None:
        status, code = int(exc.status_code), _code(exc)
        first_line = scrub(str(exc.message or "").split("\n", 1)[0])
        detail = f"{code or 'error'} ({status})" + (f": {first_line}" if first_line else "")
        if status >= 500 or status in (408, 429) or code in ("ServerBusy", "OperationTimedOut"):
            return RetryableError(f"{where}: {detail}")
        if status == 412 or code == "ConditionNotMet":
            return SourceChangedError(f"{where}: the source object changed during the transfer")
        if code == "ContainerNotFound":
            return BucketMissingError(f"container {store.container!r} does not exist at {store.endpoint}")
        if status == 404:
            return NotFoundError(f"{where}: no such object")
        if code in _CREDENTIAL_CODES or status == 401:
            return CredentialsError(f"{where}: the credentials were refused ({code or status})")
        if status == 403:
            return BucketError(f"{where}: access denied ({code or status})")
        if code == "Md5Mismatch" or "md5" in first_line.lower():
            return RetryableError(f"{where}: the data arrived damaged (MD5 differs); will retry")
        if code == "InvalidBlockList":
            return UploadGoneError(f"{where}: blocks of the upload are gone from the server")
        if code in ("InvalidResourceName", "OutOfRangeInput"):
            return UsageError(f"{where}: Azure refuses the name: {detail}")
        if code == "InvalidMetadata":
            return UsageError(f"{where}: Azure refuses the metadata: {detail}")
        return TransferError(f"{where}: {detail}")
    if isinstance(exc, az.ServiceRequestError | az.ServiceResponseError | az.IncompleteReadError):
        reason = _network_reason(exc)
        cause = f"network error talking to {store.endpoint}: {reason}"
        return unreachable(RetryableError, where, cause, "Azure Blob Storage")
    if isinstance(exc, az.DecodeError):
        return RetryableError(f"{where}: an answer from {store.endpoint} could not be read; will retry")
    if isinstance(exc, ConnectionError | TimeoutError | requests.RequestException):
        cause = f"network error talking to {store.endpoint}: {type(exc).__name__}"
        return unreachable(RetryableError, where, cause, "Azure Blob Storage")
    if isinstance(exc, OSError):
        return RetryableError(f"{where}: {os.strerror(exc.errno) if exc.errno else type(exc).__name__}")
    return TransferError(f"{where}: unexpected {type(exc).__name__}: {scrub(str(exc))}")
