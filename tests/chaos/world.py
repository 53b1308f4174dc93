"""The servers a campaign runs against, as their scripts report them, and the clients that look at them
from the outside (never through ferry)."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.config
from tests.support.servers import start_server

MiB = 1024 * 1024


@dataclass
class World:
    """Endpoints and keys of the real servers (started by their scripts, which reuse running ones)."""

    s3_endpoint: str
    key1: tuple[str, str]
    key2: tuple[str, str]
    azure_connection: str
    azure_endpoint: str
    gcs_endpoint: str
    nginx_url: str
    nginx_www: Path
    pg_url: str | None = None
    """The PostgreSQL server of the cluster workload (a database of its own per run)."""
    private_s3: str | None = None
    """A radosgw of the campaign's own, for the server-restart fault (None: that fault is not run)."""

    @classmethod
    def start(cls) -> World:
        rgw = start_server("rgw.sh")
        nginx = start_server("nginx.sh", (("start", 120),))
        gcs = start_server("gcs-emulator.sh", (("start", 120),))
        azure = start_server("azurite.sh", (("start", 120),))
        postgres = start_server("postgres.sh")
        return cls(
            pg_url=postgres["FERRY_PG_URL"],
            s3_endpoint=rgw["FERRY_RGW_ENDPOINT"],
            key1=(rgw["FERRY_RGW_ACCESS_KEY"], rgw["FERRY_RGW_SECRET_KEY"]),
            key2=(rgw["FERRY_RGW_ACCESS_KEY_2"], rgw["FERRY_RGW_SECRET_KEY_2"]),
            azure_connection=azure["FERRY_AZURITE_CONNECTION_STRING"],
            azure_endpoint=azure["FERRY_AZURITE_ENDPOINT"],
            gcs_endpoint=gcs["FERRY_GCS_ENDPOINT"],
            nginx_url=nginx["FERRY_NGINX_URL"],
            nginx_www=Path(nginx["FERRY_NGINX_WWW"]),
        )

    def s3(self, second: bool = False, endpoint: str | None = None) -> Any:
        key, secret = self.key2 if second else self.key1
        return boto3.client(
            "s3",
            endpoint_url=endpoint or self.s3_endpoint,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            region_name="us-east-1",
            config=botocore.config.Config(
                s3={"addressing_style": "path"},
                retries={"total_max_attempts": 5},
                max_pool_connections=16,
            ),
        )

    def azure(self) -> Any:
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.azure_connection)

    def gcs(self) -> Any:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(
            project=None,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": self.gcs_endpoint},
        )

    def config_text(self, remotes: dict[str, str], defaults: str) -> str:
        """A ferry config: ``remotes`` maps a name to ``s3:ENDPOINT``, ``s3b:ENDPOINT`` (second account),
        ``azure:CONNECTION`` or ``gcs:ENDPOINT``."""
        text = f"[defaults]\n{defaults}\n"
        for name, spec in remotes.items():
            kind, _, where = spec.partition(":")
            text += f"[remotes.{name}]\n"
            if kind in ("s3", "s3b"):
                key, secret = self.key2 if kind == "s3b" else self.key1
                text += f'endpoint = "{where}"\naccess_key = "{key}"\nsecret_key = "{secret}"\n'
                text += 'region = "us-east-1"\n'
            elif kind == "azure":
                text += f'type = "azure"\nconnection_string = "{where}"\n'
            else:
                text += f'type = "gcs"\nendpoint = "{where}"\n'
        return text


# --- the outside view: listings and digests, read with each store's own client ------------------------------


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def s3_digests(client: Any, bucket: str, prefix: str = "") -> dict[str, str]:
    keys = [
        obj["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for obj in page.get("Contents", [])
    ]

    def one(key: str) -> tuple[str, str]:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        digest = hashlib.sha256()
        while chunk := body.read(MiB):
            digest.update(chunk)
        return key[len(prefix) :], digest.hexdigest()

    with ThreadPoolExecutor(8) as pool:
        return dict(pool.map(one, keys))


def s3_uploads_left(client: Any, bucket: str) -> list[str]:
    return [
        upload["Key"]
        for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket)
        for upload in page.get("Uploads", [])
    ]


def s3_drop_bucket(client: Any, bucket: str) -> None:
    for key in s3_uploads_left(client, bucket):
        for upload in client.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", []):
            client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        objects = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
        if objects:
            client.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
    client.delete_bucket(Bucket=bucket)


def azure_digests(container: Any) -> tuple[dict[str, str], list[str]]:
    """Committed blobs' digests, and blobs that hold uncommitted blocks (a left-behind upload)."""
    names = [b.name for b in container.list_blobs()]

    def one(name: str) -> tuple[str, str]:
        digest = hashlib.sha256()
        for chunk in container.get_blob_client(name).download_blob().chunks():
            digest.update(chunk)
        return name, digest.hexdigest()

    with ThreadPoolExecutor(8) as pool:
        digests = dict(pool.map(one, names))
    staged = []
    for blob in container.list_blobs(include=["uncommittedblobs"]):
        _committed, uncommitted = container.get_blob_client(blob.name).get_block_list("uncommitted")
        if uncommitted:
            staged.append(blob.name)
    return digests, staged


def gcs_digests(client: Any, bucket: str) -> dict[str, str]:
    blobs = list(client.list_blobs(bucket))

    def one(blob: Any) -> tuple[str, str]:
        return blob.name, sha256(blob.download_as_bytes())

    with ThreadPoolExecutor(8) as pool:
        return dict(pool.map(one, blobs))


def local_digests(root: Path) -> dict[str, str]:
    """Every file under ``root`` by its relative path (temporary files included: they are judged later)."""
    found = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                while chunk := handle.read(MiB):
                    digest.update(chunk)
            found[path.relative_to(root).as_posix()] = digest.hexdigest()
    return found
