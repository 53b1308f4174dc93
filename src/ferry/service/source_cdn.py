"""OMS's ``source_cdn``: a group's source bucket is listed as usual, and each object's bytes are fetched
from the CDN's domain, ``{protocol}://{domain}/{key}``, signed with the CDN's key where its
``authentication_type`` asks for it.

The group's source node keeps ``{"domain", "protocol", "authentication_type"}`` (no secret); the key is the
source's ``cdn_key`` in the vault, like every other credential. Authentication types:

- ``NONE``: the URLs are not signed (and no key is taken).
- ``ALIYUN_OSS_A``: Alibaba Cloud CDN's type A URL signing, ``?auth_key=<timestamp>-<rand>-<uid>-<md5hash>``.
- ``TENCENT_COS_A``: Tencent Cloud CDN's TypeA: the same signature in the ``sign`` argument (Tencent's
  default name).

The others OMS names (Alibaba's B and C, Tencent's B to D, Qiniu's and Kingsoft's private URLs, Azure SAS
tokens) are refused with a 400 naming the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ferry.service.schemas import SourceCdnIn
from ferry.storage import netguard
from ferry.storage.base import Store
from ferry.storage.cdn import CdnSource
from ferry.storage.cdnsign import AUTH_KEY, TypeASigner
from ferry.storage.http import HttpSource
from ferry.storage.s3 import ClientSettings

KEY_FIELD = "source_cdn_authentication_key"
"""How the retry and start bodies name the key (the create body: ``source_cdn.authentication_key``)."""

SIGNING = {"ALIYUN_OSS_A": AUTH_KEY, "TENCENT_COS_A": "sign"}
"""The authentication types ferry signs, and the query argument each puts the type A signature in."""
SUPPORTED = ("NONE", *SIGNING)


class CdnProblem(ValueError):
    """Why a ``source_cdn`` cannot be used, naming the field (never the key)."""


def record(cdn: SourceCdnIn, task_type: str, cloud_type: str) -> dict[str, str]:
    """The ``source_cdn`` a source node keeps; CdnProblem naming what cannot work."""
    if task_type == "URL_LIST" or cloud_type == "URLSource":
        raise CdnProblem("source_cdn: a URL_LIST group reads its URLs directly; source_cdn is for buckets")
    kind = (cdn.authentication_type or "NONE").strip().upper()
    if kind not in SUPPORTED:
        raise CdnProblem(
            f"source_cdn.authentication_type {cdn.authentication_type!r} is not supported; supported: "
            f"{', '.join(SUPPORTED)}"
        )
    protocol = (cdn.protocol or "https").strip().lower()
    if protocol not in ("http", "https"):
        raise CdnProblem(f"source_cdn.protocol {cdn.protocol!r}: give http or https")
    domain = (cdn.domain or "").strip().rstrip(".").lower()
    parts = urlsplit(f"{protocol}://{domain}")
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise CdnProblem("source_cdn.domain: its port is not a number from 0 to 65535") from None
    if not parts.hostname or parts.netloc != domain or any(c in domain for c in "@/?#\\ "):
        raise CdnProblem("source_cdn.domain: give a host name (and optionally :port), without a path")
    refused = netguard.refusal(parts.hostname)
    if refused:
        raise CdnProblem(f"source_cdn.domain is refused: {refused}")
    if kind == "NONE" and cdn.authentication_key:
        raise CdnProblem("source_cdn.authentication_key: authentication_type NONE takes no key")
    return {"domain": domain, "protocol": protocol, "authentication_type": kind}


def of(node: Mapping[str, Any]) -> dict[str, str] | None:
    cdn = node.get("source_cdn")
    return dict(cdn) if isinstance(cdn, Mapping) else None


def signs(node: Mapping[str, Any]) -> bool:
    """Whether the node's CDN signs its URLs (and so needs the source's ``cdn_key``)."""
    cdn = of(node)
    return cdn is not None and cdn.get("authentication_type") in SIGNING


def wrap(listing: Store, node: Mapping[str, Any], key: str | None, settings: ClientSettings) -> Store:
    """``listing`` read through the node's CDN (``listing`` itself when the node has none)."""
    cdn = of(node)
    if cdn is None:
        return listing
    param = SIGNING.get(cdn["authentication_type"])
    signer = TypeASigner(key, param=param) if param and key else None
    http = HttpSource(settings, signer, key_hint=KEY_FIELD)
    return CdnSource(listing, http, f"{cdn['protocol']}://{cdn['domain']}")
