"""What a command-line location means: a local path, ``s3://bucket/key``, or ``NAME://bucket/key`` for a
remote named in the config file (``obs://`` is one such name)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ferry.errors import UsageError

_REMOTE = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9_-]*)://(?P<rest>.*)$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class LocalLocation:
    path: Path

    def __str__(self) -> str:
        return str(self.path)


@dataclass(frozen=True, slots=True)
class RemoteLocation:
    """An object or prefix in a bucket. ``remote`` is the scheme: ``s3`` or a name from the config file."""

    remote: str
    bucket: str
    key: str

    def __str__(self) -> str:
        return f"{self.remote}://{self.bucket}/{self.key}"

    def with_key(self, key: str) -> RemoteLocation:
        return RemoteLocation(self.remote, self.bucket, key)


Location = LocalLocation | RemoteLocation


def parse_location(text: str) -> Location:
    """Parse one location given on the command line or to the library API."""
    if not text:
        raise UsageError("empty location: give a local path or a URL such as s3://bucket/key")
    if "\x00" in text:
        raise UsageError("invalid location: it contains a NUL character")
    match = _REMOTE.match(text)
    if not match:
        return LocalLocation(Path(text).expanduser())
    scheme = match["scheme"].lower()
    rest = match["rest"]
    if scheme == "file":
        return LocalLocation(Path(rest).expanduser())
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise UsageError(f"invalid location {text!r}: no bucket name after {scheme}://")
    if len(bucket) < 3 or len(bucket) > 63:
        raise UsageError(f"invalid location {text!r}: a bucket name has 3 to 63 characters")
    return RemoteLocation(scheme, bucket, key)
