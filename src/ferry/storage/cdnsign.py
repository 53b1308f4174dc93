"""CDN URL signing, "type A" (Huawei CDN, Alibaba Cloud CDN, Tencent Cloud CDN). Pure functions.

A type A signed URL carries one extra query argument::

    auth_key=<timestamp>-<rand>-<uid>-<md5hash>
    md5hash = md5hex("<path>-<timestamp>-<rand>-<uid>-<private key>")

Alibaba Cloud and Huawei name the argument ``auth_key``; Tencent Cloud's TypeA computes the same value and
names it ``sign`` by default (``param``).

``path`` is the URL's path exactly as it is sent (percent-encoded, starting with ``/``, without the query);
the CDN refuses the URL once ``timestamp`` plus its configured validity period has passed. ferry signs each
request afresh, so a long transfer never runs into an expired signature.

The private key is a secret: nothing here keeps it, and a signed URL is only ever handed to the HTTP client,
never shown (``HttpSource.url`` names the unsigned URL).
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

AUTH_KEY = "auth_key"
_FIELD = re.compile(r"^[0-9A-Za-z]+$")
"""``rand`` and ``uid``: no ``-`` (it separates the fields), nothing that would need escaping."""


def type_a_hash(path: str, timestamp: int, rand: str, uid: str, key: str) -> str:
    """The md5hash field: ``md5hex("<path>-<timestamp>-<rand>-<uid>-<key>")``."""
    text = f"{path}-{timestamp}-{rand}-{uid}-{key}"
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def sign_type_a(
    url: str,
    key: str,
    *,
    timestamp: int | None = None,
    rand: str | None = None,
    uid: str = "0",
    param: str = AUTH_KEY,
) -> str:
    """``url`` with ``param`` (``auth_key``) appended (after ``&`` when the URL already has a query, whose
    other arguments stay as they were; a ``param`` already there is replaced). ``url`` must be in its wire
    form (see :func:`ferry.urls.canonical_url`): its path is hashed as written. ``timestamp`` defaults to now,
    ``rand`` to a fresh random hex string (``"0"`` is allowed too), ``uid`` to ``"0"``."""
    if not key:
        raise ValueError("an empty CDN auth key")
    stamp = int(time.time()) if timestamp is None else int(timestamp)
    if stamp < 0:
        raise ValueError("a negative timestamp")
    nonce = uuid.uuid4().hex if rand is None else rand
    for name, value in (("rand", nonce), ("uid", uid)):
        if not _FIELD.match(value):
            raise ValueError(f"the {name} field must be letters and digits")
    parts = urlsplit(url)
    path = parts.path or "/"
    digest = type_a_hash(path, stamp, nonce, uid, key)
    signature = f"{param}={stamp}-{nonce}-{uid}-{digest}"
    if parts.query:
        kept = [arg for arg in parts.query.split("&") if arg.split("=", 1)[0] != param]
        query = "&".join([*kept, signature]) if kept else signature
    else:
        query = signature
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


@dataclass(frozen=True)
class TypeASigner:
    """Signs every request of a source with one private key; the key stays out of ``repr``."""

    key: str = field(repr=False)
    uid: str = "0"
    param: str = AUTH_KEY
    """The query argument that carries the signature (Tencent Cloud's TypeA: ``sign``)."""

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("an empty CDN auth key")

    def sign(self, url: str) -> str:
        return sign_type_a(url, self.key, uid=self.uid, param=self.param)

    def redact(self, text: str) -> str:
        """``text`` with the key and any signature taken out: for messages built from what a server or
        library said."""
        text = text.replace(self.key, "***")
        return re.sub(rf"{re.escape(self.param)}=[^&\s'\"]*", f"{self.param}=***", text)
