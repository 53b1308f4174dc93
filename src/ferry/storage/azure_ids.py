"""The names ferry gives to an Azure block blob upload and its blocks. Pure functions, no I/O.

Azure has no multipart-upload object: blocks are staged against the blob's name under ids the client picks,
and a commit (Put Block List) turns a list of them into the blob. So the "upload id" is ferry's own:

- a random **token** of 16 hex digits, different for every upload, so the blocks of two uploads of the same
  blob never mix, plus the content type, metadata and access tier the blob is to get at completion
  (the engine keeps the upload id in its part record, so a later process can still commit with them);
- each **block id** is ``<token>-<part number, 5 digits>-<MD5 of the block, hex>``: 55 characters for
  every part of every upload. Azure wants all block ids of one blob to be of equal length, and at most
  64 bytes before base64 (the SDK does the base64). The MD5 makes the id tell which bytes the block holds,
  so the block list alone says which parts a resumed upload still has, and with which content — the
  part's "ETag" in the engine's record is that MD5 — and the commit needs nothing but the part list.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

MAX_BLOCKS = 50_000
"""Blocks in one committed blob (Azure's limit)."""
MAX_BLOCK_SIZE = 4000 * 1024 * 1024
"""Bytes in one block (Azure's limit since service version 2019-12-12)."""
MAX_PUT_SIZE = 5000 * 1024 * 1024
"""Bytes in one Put Blob request."""
TOKEN_HEX_DIGITS = 16
BLOCK_ID_LENGTH = TOKEN_HEX_DIGITS + 1 + 5 + 1 + 32

_BLOCK_ID = re.compile(r"^([0-9a-f]{16})-([0-9]{5})-([0-9a-f]{32})$")
_TOKEN = re.compile(r"^[0-9a-f]{16}$")
_MD5 = re.compile(r"^[0-9a-f]{32}$")


class MalformedUploadId(ValueError):
    """An upload id that ferry did not make (or that was damaged)."""


def new_token() -> str:
    return secrets.token_hex(TOKEN_HEX_DIGITS // 2)


def block_id(token: str, number: int, md5_hex: str) -> str:
    """The block id of part ``number`` (1-based) of the upload ``token`` whose bytes have MD5 ``md5_hex``."""
    if not _TOKEN.match(token):
        raise ValueError(f"not an upload token: {token!r}")
    if not 1 <= number <= MAX_BLOCKS:
        raise ValueError(f"part number {number} is outside 1..{MAX_BLOCKS}")
    md5 = md5_hex.lower()
    if not _MD5.match(md5):
        raise ValueError(f"not an MD5 in hex: {md5_hex!r}")
    return f"{token}-{number:05d}-{md5}"


def parse_block_id(text: str) -> tuple[str, int, str] | None:
    """``(token, part number, md5 hex)`` of a block id made by :func:`block_id`; ``None`` for any other."""
    match = _BLOCK_ID.match(text)
    if not match:
        return None
    number = int(match[2])
    if not 1 <= number <= MAX_BLOCKS:
        return None
    return match[1], number, match[3]


@dataclass(frozen=True)
class UploadPlan:
    """What an upload id carries: its token and how the blob is to be written when committed."""

    token: str
    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    tier: str | None = None

    def upload_id(self) -> str:
        """``<token>.<base64url of a small JSON>``: opaque to the engine, which stores it in its record."""
        payload: dict[str, object] = {"m": dict(self.metadata)}
        if self.content_type is not None:
            payload["c"] = self.content_type
        if self.tier is not None:
            payload["t"] = self.tier
        raw = json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=True).encode("ascii")
        return f"{self.token}.{base64.urlsafe_b64encode(raw).decode('ascii').rstrip('=')}"

    @classmethod
    def parse(cls, upload_id: str) -> UploadPlan:
        token, dot, encoded = upload_id.partition(".")
        if not dot or not _TOKEN.match(token):
            raise MalformedUploadId("the upload id was not made by ferry's Azure store")
        try:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            payload = json.loads(raw.decode("ascii"))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise MalformedUploadId("the upload id is damaged") from None
        if not isinstance(payload, dict):
            raise MalformedUploadId("the upload id is damaged")
        metadata, content_type, tier = payload.get("m", {}), payload.get("c"), payload.get("t")
        if (
            not isinstance(metadata, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
            or not isinstance(content_type, str | None)
            or not isinstance(tier, str | None)
        ):
            raise MalformedUploadId("the upload id is damaged")
        return cls(token=token, content_type=content_type, metadata=metadata, tier=tier)
