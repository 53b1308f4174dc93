"""S3-compatible object storage through botocore: AWS S3, Huawei OBS, Alibaba OSS, Tencent COS, Ceph, MinIO.

botocore's own retries are switched off: every retry goes through :mod:`ferry.transfer.retry`, which
needs botocore's exceptions turned into ferry's classified errors. That translation is :func:`_translate`.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
import urllib.parse
import weakref
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Literal, cast

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
    UploadGoneError,
    UsageError,
)
from ferry.storage.base import (
    STREAM_CHUNK,
    Capabilities,
    Chunks,
    ObjectInfo,
    PartResult,
    Store,
    WriteOptions,
    md5_hex_to_b64,
)
from ferry.storage.s3fast import ChecksumMismatch, S3ResponseError, SignedRequests, http_date
from ferry.storage.s3setup import PlainSetup, plain_setup, proxied
from ferry.storage.wire import WireError
from ferry.transfer.parts import Span

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

    from ferry.storage.listing import BucketInfo, Entry

_RETRYABLE_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
    "503",
    "500",
    "502",
    "504",
    "429",
}
_S3 = "an S3 server"
_CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}


def _network_errors() -> tuple[type[BaseException], ...]:
    """The exceptions of a failed exchange with the server. botocore's only once botocore is loaded: a
    process that never needed it cannot have met one."""
    found: tuple[type[BaseException], ...] = (WireError, ConnectionError, TimeoutError)
    if "botocore" in sys.modules:
        import botocore.exceptions
        import urllib3.exceptions

        found += (
            botocore.exceptions.ConnectionError,  # and so TLS failures (SSLError), proxies, endpoints
            botocore.exceptions.EndpointConnectionError,
            botocore.exceptions.ConnectionClosedError,
            botocore.exceptions.ConnectTimeoutError,
            botocore.exceptions.ReadTimeoutError,
            botocore.exceptions.ResponseStreamingError,
            botocore.exceptions.IncompleteReadError,
            botocore.exceptions.HTTPClientError,
            urllib3.exceptions.HTTPError,
        )
    return found


class PartBody(io.RawIOBase):
    """A request body over bytes already in memory, handed out in large slices without copying.

    botocore turns a plain ``bytes`` body into a BytesIO, which http.client/urllib3 then send in 16 KiB
    reads — tens of thousands of Python-level loops per GiB. This body answers every read with at least
    ``SLICE`` bytes (callers accept more than they asked for), so a part goes out in a few large sends."""

    SLICE = 1 << 20

    def __init__(self, data: bytes) -> None:
        self._view = memoryview(data)
        self._pos = 0

    def __len__(self) -> int:
        return len(self._view) - self._pos

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else self._pos + max(size, self.SLICE)
        chunk = self._view[self._pos : end]
        self._pos += len(chunk)
        return chunk  # type: ignore[return-value]  # a memoryview: every consumer takes a buffer

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = min(max(0, base + offset), len(self._view))
        return self._pos

    def tell(self) -> int:
        return self._pos


@dataclass(frozen=True)
class ClientSettings:
    """Connection settings shared by every client ferry opens."""

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_connections: int = 16
    request_payer: str | None = None
    """``requester``: every request that can carry it says the requester pays (obsutil's ``-payer``)."""


def make_client(remote: RemoteConfig, settings: ClientSettings) -> tuple[S3Client, str | None]:
    """A botocore S3 client for ``remote`` and the access key it signs with: the remote's own keys and
    endpoint, or botocore's standard chain (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``, profiles) for what
    the remote leaves unset."""
    import botocore.config
    import botocore.exceptions
    import botocore.session

    session = botocore.session.Session(profile=remote.profile)  # botocore alone: boto3 slows start-up
    try:
        configured_region = session.get_config_variable("region")
        credentials = session.get_credentials() if remote.access_key is None else None
    except botocore.exceptions.ProfileNotFound as exc:
        raise CredentialsError(f"remote {remote.name!r}: {exc}") from None
    region = remote.region or configured_region or "us-east-1"
    style: Literal["auto", "virtual", "path"] = "auto"
    if remote.addressing_style in ("path", "virtual"):
        style = remote.addressing_style  # type: ignore[assignment]
    elif remote.addressing_style is None and remote.endpoint:
        style = "path"  # custom endpoints (Ceph, MinIO) rarely have wildcard DNS
    config = botocore.config.Config(
        region_name=region,
        signature_version="s3v4",
        retries={"total_max_attempts": 1},
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        max_pool_connections=settings.max_connections,
        s3={"addressing_style": style, "payload_signing_enabled": False},
        tcp_keepalive=True,
    )
    access_key = remote.access_key or (credentials.access_key if credentials is not None else None)
    try:
        client = session.create_client(
            "s3",
            endpoint_url=remote.endpoint or None,
            aws_access_key_id=remote.access_key or None,
            aws_secret_access_key=remote.secret_key or None,
            aws_session_token=remote.session_token or None,
            config=config,
        )
    except ValueError as exc:  # a malformed endpoint URL
        raise UsageError(f"remote {remote.name!r}: invalid endpoint: {exc}") from None
    if settings.request_payer:
        client.meta.events.register("before-parameter-build.s3", _payer_adder(settings.request_payer))
        _PAYERS.add(client)
    return cast("S3Client", client), access_key


DIRECT_READ_MAX = 8 << 20
"""Reads up to this size take the direct path; larger parts stay with botocore, whose throughput on them
is measured (bench/single.py) and whose per-request cost they do not notice."""

_PAYERS: weakref.WeakSet[Any] = weakref.WeakSet()
"""Clients whose every request says the requester pays: they take no direct path."""
_DIRECT: weakref.WeakKeyDictionary[Any, SignedRequests | None] = weakref.WeakKeyDictionary()


def direct_path(client: Any) -> SignedRequests | None:
    """The direct path for whole small objects (:mod:`ferry.storage.s3fast`) of ``client``, one per client,
    or ``None`` where its requests need botocore: virtual-host addressing (and AWS's own endpoint rules),
    another signature, anonymous access, a proxy or client certificate, requester-pays, or
    ``FERRY_S3_DIRECT=0``."""
    if client in _DIRECT:
        return _DIRECT[client]
    config = client.meta.config
    signer = client._request_signer
    credentials = signer._credentials
    endpoint = client.meta.endpoint_url
    host = urllib.parse.urlsplit(endpoint).hostname or ""
    direct = None
    if (
        os.environ.get("FERRY_S3_DIRECT", "1") != "0"
        and (config.s3 or {}).get("addressing_style") == "path"
        and signer.signature_version == "s3v4"
        and credentials is not None
        and not config.proxies
        and not config.client_cert
        and client not in _PAYERS
        and not proxied(host)
    ):
        direct = SignedRequests(
            endpoint,
            client.meta.region_name,
            lambda: _frozen(credentials),
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            max_connections=config.max_pool_connections,
            verify=client._endpoint.http_session._verify,
            request_checksums=config.request_checksum_calculation != "when_required",
            response_checksums=config.response_checksum_validation != "when_required",
        )
    _DIRECT[client] = direct
    return direct


class S3Connection:
    """What the stores of one S3 remote share: the direct path, and botocore's client — made the first
    time a request needs it when the remote's setup is plain (:mod:`ferry.storage.s3setup`), so that a
    command which never needs botocore never imports it."""

    def __init__(self, remote: RemoteConfig, settings: ClientSettings) -> None:
        self._remote, self._settings = remote, settings
        self._lock = threading.Lock()
        self._client: S3Client | None = None
        setup = plain_setup(remote, settings.request_payer)
        self.direct: SignedRequests | None
        if setup is None:
            self._client, self.access_key = make_client(remote, settings)
            self.endpoint: str = self._client.meta.endpoint_url
            self.direct = direct_path(self._client)
        else:
            self.endpoint, self.access_key = setup.endpoint, setup.access_key
            self.direct = _plain_direct(setup, settings)

    @property
    def client(self) -> S3Client:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = make_client(self._remote, self._settings)[0]
        return self._client


def _plain_direct(setup: PlainSetup, settings: ClientSettings) -> SignedRequests:
    credentials = (setup.access_key, setup.secret_key, setup.session_token)
    return SignedRequests(
        setup.endpoint,
        setup.region,
        lambda: credentials,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        max_connections=settings.max_connections,
        verify=setup.verify,
        request_checksums=setup.request_checksums,
        response_checksums=setup.response_checksums,
    )


def _frozen(credentials: Any) -> tuple[str, str, str | None]:
    frozen = credentials.get_frozen_credentials()  # refreshed here when they expire
    return frozen.access_key, frozen.secret_key, frozen.token


def _object_info(key: str, headers: dict[str, str]) -> ObjectInfo:
    """What a HeadObject answer says of the object, as botocore's parsed answer gives it."""
    try:
        size = int(headers["content-length"])
        mtime = http_date(headers["last-modified"])
    except (KeyError, ValueError):
        raise S3ResponseError("HeadObject", 200, "InternalError", "an answer without size or date") from None
    return ObjectInfo(
        key=key,
        size=size,
        mtime=mtime,
        etag=headers.get("etag", "").strip('"') or None,
        metadata={k[11:]: v for k, v in headers.items() if k.startswith("x-amz-meta-")},
        content_type=headers.get("content-type"),
        encrypted=headers.get("x-amz-server-side-encryption", "").startswith("aws:kms")
        or bool(headers.get("x-amz-server-side-encryption-customer-algorithm")),
    )


def _plain_key(key: str) -> bool:
    """A key whose path-style URL no HTTP library rewrites: no dot segments, no empty segment but a last."""
    segments = key.split("/")
    return all(part not in (".", "..") for part in segments) and all(segments[:-1])


def _header_safe(headers: dict[str, str]) -> bool:
    return all((k + v).isascii() and "\r" not in k + v and "\n" not in k + v for k, v in headers.items())


def _payer_adder(payer: str) -> Callable[..., None]:
    """An event handler that sets ``RequestPayer`` on every operation whose input has that member."""

    def add(params: dict[str, Any], model: Any, **_: Any) -> None:
        if "RequestPayer" in model.input_shape.members:
            params.setdefault("RequestPayer", payer)

    return add


class S3Store:
    """One bucket on an S3-compatible endpoint."""

    capabilities = Capabilities(multipart=True, server_side_copy=True, lists_parts=True, stages_locally=False)

    def __init__(self, connection: S3Connection, bucket: str, scheme: str) -> None:
        self.connection = connection
        self.bucket = bucket
        self.scheme = scheme
        self.endpoint = connection.endpoint
        self._identity = ("s3", connection.endpoint.rstrip("/"), connection.access_key)
        self._direct = connection.direct

    @property
    def client(self) -> S3Client:
        return self.connection.client

    def url(self, key: str) -> str:
        return f"{self.scheme}://{self.bucket}/{key}"

    def identity(self) -> Hashable:
        return self._identity

    @contextlib.contextmanager
    def _errors(self, key: str | None = None) -> Iterator[None]:
        try:
            yield
        except FerryError:
            raise
        except Exception as exc:
            raise _translate(exc, self, key) from exc

    # --- reading -----------------------------------------------------------------------------------------

    def stat(self, key: str) -> ObjectInfo:
        if self._direct is not None and _plain_key(key):
            with self._errors(key):
                return _object_info(key, self._direct.head(self.bucket, key))
        with self._errors(key):
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        return ObjectInfo(
            key=key,
            size=head["ContentLength"],
            mtime=head["LastModified"].timestamp(),
            etag=head.get("ETag", "").strip('"') or None,
            metadata=dict(head.get("Metadata", {})),
            content_type=head.get("ContentType"),
            encrypted=head.get("ServerSideEncryption", "").startswith("aws:kms")
            or bool(head.get("SSECustomerAlgorithm")),
        )

    def _range_args(self, key: str, offset: int, length: int, if_match: str | None) -> dict[str, Any]:
        args: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "Range": f"bytes={offset}-{offset + length - 1}",
        }
        if if_match:
            args["IfMatch"] = f'"{if_match}"'
        return args

    def _short_read(self, key: str, offset: int, got: int, length: int) -> RetryableError:
        return RetryableError(f"{self.url(key)}: short read at offset {offset}: {got} of {length} bytes")

    def read_range(self, key: str, offset: int, length: int, *, if_match: str | None = None) -> bytes:
        if length == 0:
            return b""
        if self._direct is not None and length <= DIRECT_READ_MAX and _plain_key(key):
            headers = {"range": f"bytes={offset}-{offset + length - 1}"}
            if if_match:
                headers["if-match"] = f'"{if_match}"'
            with self._errors(key):
                data = self._direct.get(self.bucket, key, headers, length)
            if len(data) != length:
                raise self._short_read(key, offset, len(data), length)
            return data
        with self._errors(key):
            response = self.client.get_object(**self._range_args(key, offset, length, if_match))
            body = response["Body"]
            try:
                data = body.read()
            finally:
                body.close()
        if len(data) != length:
            raise self._short_read(key, offset, len(data), length)
        return data

    def read_range_chunks(self, key: str, offset: int, length: int, *, if_match: str | None = None) -> Chunks:
        if length == 0:
            return
        buffer = memoryview(bytearray(min(STREAM_CHUNK, length)))
        done = 0
        with self._errors(key):
            body = self.client.get_object(**self._range_args(key, offset, length, if_match))["Body"]
            try:
                while done < length:
                    # botocore's readinto still checks the length and any checksum the server sent (its
                    # stubs want an IO where it takes a buffer).
                    got = body.readinto(buffer[: min(len(buffer), length - done)])  # type: ignore[arg-type]
                    if not got:
                        break
                    done += got
                    yield buffer[:got]
            finally:
                body.close()
        if done != length:
            raise self._short_read(key, offset, done, length)

    # --- writing -----------------------------------------------------------------------------------------

    def _write_args(self, options: WriteOptions) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if options.metadata:
            args["Metadata"] = dict(options.metadata)
        if options.acl:
            args["ACL"] = options.acl
        if options.storage_class:
            args["StorageClass"] = options.storage_class
        if options.content_type:
            args["ContentType"] = options.content_type
        if options.cache_control:
            args["CacheControl"] = options.cache_control
        return args

    def put(self, key: str, data: bytes, options: WriteOptions, *, md5_hex: str | None = None) -> str:
        args = self._write_args(options)
        if md5_hex:
            args["ContentMD5"] = md5_hex_to_b64(md5_hex)
        headers = _headers(args)
        if self._direct is not None and _plain_key(key) and _header_safe(headers):
            with self._errors(key):
                return self._direct.put(self.bucket, key, data, headers)
        with self._errors(key):
            response = self.client.put_object(
                Bucket=self.bucket, Key=key, Body=cast("IO[bytes]", PartBody(data)), **args
            )
        return str(response.get("ETag", "")).strip('"')

    def create_multipart(self, key: str, size: int, options: WriteOptions) -> str:
        with self._errors(key):
            response = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=key, **self._write_args(options)
            )
        return response["UploadId"]

    def upload_part(self, key: str, upload_id: str, span: Span, data: bytes) -> PartResult:
        with self._errors(key):
            response = self.client.upload_part(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=span.number,
                Body=cast("IO[bytes]", PartBody(data)),
            )
        return PartResult(span.number, response["ETag"].strip('"'), response.get("ChecksumCRC32"))

    def copy_part(
        self, key: str, upload_id: str, span: Span, source: Store, source_key: str, if_match: str | None
    ) -> PartResult:
        assert isinstance(source, S3Store)
        args: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "UploadId": upload_id,
            "PartNumber": span.number,
            "CopySource": {"Bucket": source.bucket, "Key": source_key},
            "CopySourceRange": f"bytes={span.offset}-{span.end - 1}",
        }
        if if_match:
            args["CopySourceIfMatch"] = f'"{if_match}"'
        with self._errors(key):
            response = self.client.upload_part_copy(**args)
        return PartResult(span.number, response["CopyPartResult"]["ETag"].strip('"'))

    def list_parts(self, key: str, upload_id: str, size: int) -> dict[int, PartResult] | None:
        parts: dict[int, PartResult] = {}
        try:
            with self._errors(key):
                paginator = self.client.get_paginator("list_parts")
                for page in paginator.paginate(Bucket=self.bucket, Key=key, UploadId=upload_id):
                    for part in page.get("Parts", []):
                        number = part["PartNumber"]
                        parts[number] = PartResult(number, part["ETag"].strip('"'), part.get("ChecksumCRC32"))
        except NotFoundError as exc:
            # Ceph RGW answers NoSuchKey, not NoSuchUpload, for an upload that was completed or aborted: the
            # upload is gone (and the object may have been completed by a run that died just after).
            raise UploadGoneError(f"{self.url(key)}: the multipart upload no longer exists") from exc
        return parts

    def staged_key(self, key: str, upload_id: str) -> str | None:
        return None

    def complete_multipart(self, key: str, upload_id: str, parts: list[PartResult]) -> str:
        listed: list[CompletedPartTypeDef] = [
            {"PartNumber": p.number, "ETag": f'"{p.etag}"'} for p in sorted(parts, key=lambda p: p.number)
        ]
        with self._errors(key):
            response = self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": listed}
            )
        return str(response.get("ETag", "")).strip('"')

    def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            with self._errors(key):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except UploadGoneError:
            pass

    def copy_object(
        self, key: str, source: Store, source_key: str, options: WriteOptions | None, if_match: str | None
    ) -> str:
        assert isinstance(source, S3Store)
        args: dict[str, Any] = {"CopySource": {"Bucket": source.bucket, "Key": source_key}}
        if options is not None:
            args.update(self._write_args(options))
            args["MetadataDirective"] = "REPLACE"
        if if_match:
            args["CopySourceIfMatch"] = f'"{if_match}"'
        if self._direct is not None and _plain_key(key) and _plain_key(source_key):
            headers = _headers({k: v for k, v in args.items() if k != "CopySource"})
            if _header_safe(headers):
                with self._errors(key):
                    return self._direct.copy(self.bucket, key, source.bucket, source_key, headers)
        with self._errors(key):
            response = self.client.copy_object(Bucket=self.bucket, Key=key, **args)
        return str(response["CopyObjectResult"].get("ETag", "")).strip('"')

    def delete(self, key: str) -> None:
        with self._errors(key):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        if self._direct is not None:
            yield from self._list_direct(self._direct, prefix)
            return
        with self._errors(prefix):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield ObjectInfo(
                        key=item["Key"],
                        size=item["Size"],
                        mtime=item["LastModified"].timestamp(),
                        etag=item.get("ETag", "").strip('"') or None,
                    )

    def _list_direct(self, direct: SignedRequests, prefix: str) -> Iterator[ObjectInfo]:
        token: str | None = None
        while True:
            with self._errors(prefix):
                page, token = direct.list_page(self.bucket, prefix, token)
            for item in page:
                yield ObjectInfo(key=item.key, size=item.size, mtime=item.mtime, etag=item.etag)
            if token is None:
                return

    def list_folder(self, prefix: str) -> Iterator[Entry]:
        """One level: the objects under ``prefix`` and its common prefixes (delimiter ``/``)."""
        from ferry.storage.listing import merge_page  # listings: not at every start

        with self._errors(prefix):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
                objects = (
                    ObjectInfo(
                        key=item["Key"],
                        size=item["Size"],
                        mtime=item["LastModified"].timestamp(),
                        etag=item.get("ETag", "").strip('"') or None,
                    )
                    for item in page.get("Contents", [])
                )
                yield from merge_page(objects, (p["Prefix"] for p in page.get("CommonPrefixes", [])))

    def list_buckets(self) -> Iterator[BucketInfo]:
        """Every bucket of the account (the store's own bucket name plays no part)."""
        from ferry.storage.listing import BucketInfo

        with self._errors():
            response = self.client.list_buckets()
        for bucket in response.get("Buckets", []):
            created = bucket.get("CreationDate")
            yield BucketInfo(bucket["Name"], created.timestamp() if created else None)

    def list_uploads(self, prefix: str) -> Iterator[tuple[str, str, float]]:
        with self._errors(prefix):
            paginator = self.client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for upload in page.get("Uploads", []):
                    yield upload["Key"], upload["UploadId"], upload["Initiated"].timestamp()


_HEADER_NAMES = {
    "ACL": "x-amz-acl",
    "StorageClass": "x-amz-storage-class",
    "ContentType": "content-type",
    "CacheControl": "cache-control",
    "ContentMD5": "content-md5",
    "MetadataDirective": "x-amz-metadata-directive",
    "CopySourceIfMatch": "x-amz-copy-source-if-match",
}


def _headers(args: dict[str, Any]) -> dict[str, str]:
    """The HTTP headers botocore would send for these PutObject/CopyObject arguments."""
    headers = {_HEADER_NAMES[k]: str(v) for k, v in args.items() if k != "Metadata"}
    for name, value in (args.get("Metadata") or {}).items():
        headers[f"x-amz-meta-{name}"] = value
    return headers


def _botocore_exceptions() -> Any:
    """``botocore.exceptions`` once botocore is loaded, else ``None`` (no botocore exception can exist)."""
    return sys.modules.get("botocore.exceptions")


def _translate(exc: Exception, store: S3Store, key: str | None) -> FerryError:
    """Turn a botocore/urllib3 exception (or the direct path's answer) into ferry's classified error with a
    one-line message."""
    from ferry.storage.netguard import refused_address, unreachable  # errors: not at every start

    where = store.url(key) if key is not None else f"{store.scheme}://{store.bucket}"
    endpoint = store.endpoint
    botocore_exceptions = _botocore_exceptions()
    if isinstance(exc, S3ResponseError) or (
        botocore_exceptions is not None and isinstance(exc, botocore_exceptions.ClientError)
    ):
        if isinstance(exc, S3ResponseError):
            code, status, message = exc.code, exc.status, exc.message
        else:
            error = exc.response.get("Error", {})
            code = str(error.get("Code") or "")
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            message = str(error.get("Message") or "").strip()
        detail = f"{code} ({status})" + (f": {message}" if message else "")
        operation = str(getattr(exc, "operation_name", None) or getattr(exc, "operation", ""))
        if code.isdigit() and not operation.startswith("Head"):
            # No S3 error document (only answers to HEAD have none): another kind of server answered.
            kind: type[TransferError] = RetryableError if status >= 500 or status == 429 else TransferError
            return unreachable(kind, where, f"{endpoint} answered {detail}, not as an S3 server", _S3)
        if code in _RETRYABLE_CODES or status >= 500 or status == 429:
            return RetryableError(f"{where}: {detail}")
        if code in ("PreconditionFailed",) or status == 412:
            return SourceChangedError(f"{where}: the source object changed during the transfer")
        if code == "NoSuchUpload":
            return UploadGoneError(f"{where}: the multipart upload no longer exists")
        if code == "NoSuchBucket":
            return BucketMissingError(f"bucket {store.bucket!r} does not exist at {endpoint}")
        if code in ("NoSuchKey", "404", "NotFound"):
            return NotFoundError(f"{where}: no such object")
        if code in _CREDENTIAL_CODES:
            return CredentialsError(f"{where}: the credentials were refused ({code})")
        if code in ("AccessDenied", "403", "Forbidden", "AllAccessDisabled"):
            return BucketError(f"{where}: access denied")
        if code == "EntityTooSmall":
            return TransferError(
                f"{where}: the server refused a part as too small ({code}); use a larger --part-size"
            )
        if code in ("InvalidArgument", "InvalidRequest", "InvalidStorageClass", "InvalidBucketName"):
            return TransferError(f"{where}: the server refused the request: {detail}")
        return TransferError(f"{where}: {detail}")
    if botocore_exceptions is not None and isinstance(
        exc, botocore_exceptions.NoCredentialsError | botocore_exceptions.PartialCredentialsError
    ):
        return CredentialsError(
            f"no credentials for {where}: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or define the remote "
            "in the config file"
        )
    if botocore_exceptions is not None and isinstance(exc, botocore_exceptions.ParamValidationError):
        return UsageError(f"{where}: {' '.join(str(exc).split())}")
    if isinstance(exc, ChecksumMismatch) or (
        botocore_exceptions is not None and isinstance(exc, botocore_exceptions.FlexibleChecksumError)
    ):
        return RetryableError(f"{where}: checksum of the received data did not match; will retry")
    refused = refused_address(exc)
    if refused is not None:
        return TransferError(f"{where}: {refused}")
    if isinstance(exc, _network_errors()):
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return unreachable(RetryableError, where, f"network error talking to {endpoint}: {reason}", _S3)
    if "botocore.parsers" in sys.modules and isinstance(
        exc, sys.modules["botocore.parsers"].ResponseParserError
    ):
        return unreachable(TransferError, where, f"{endpoint} did not answer as an S3 server", _S3)
    if isinstance(exc, OSError):
        return RetryableError(f"{where}: {os.strerror(exc.errno) if exc.errno else exc}")
    return TransferError(f"{where}: unexpected {type(exc).__name__}: {exc}")
