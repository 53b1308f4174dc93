"""What a command-line location means: a local path, ``s3://bucket/key``, or ``NAME://bucket/key`` for a
remote named in the config file (``obs://`` is one such name)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

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


@dataclass(frozen=True, slots=True)
class HttpLocation:
    """An object behind a plain ``http://`` or ``https://`` URL, readable only. ``url`` is canonical: what
    :func:`canonical_url` makes of the text given."""

    url: str

    def __str__(self) -> str:
        return self.url

    @property
    def key(self) -> str:
        """The URL's path, percent-decoded, without its leading ``/``: its last component names the object
        when the destination is a folder."""
        return unquote(urlsplit(self.url).path.lstrip("/"))


def canonical_url(text: str) -> str:
    """An http(s) URL exactly as it goes on the wire: scheme and host in lower case, characters a URL
    cannot carry percent-encoded, existing escapes upper-cased, dot segments resolved, no fragment. This is
    urllib3's own normalisation, so the path a CDN signature covers is the path urllib3 sends. UsageError
    for anything that is not an absolute http(s) URL, or that carries a user name or password (it would
    be kept in task journals and reports)."""
    from urllib3.exceptions import LocationParseError  # here: urllib3 is a sixth of a command's start
    from urllib3.util import parse_url

    try:
        parsed = parse_url(text.strip())
    except LocationParseError:
        raise UsageError(f"not a valid URL: {text.strip()!r}") from None
    scheme = (parsed.scheme or "").lower()
    if scheme not in ("http", "https"):
        shown = f"{scheme!r}" if scheme else "none"
        raise UsageError(f"bad URL scheme {shown}: only http:// and https:// URLs can be read")
    if not parsed.host:
        raise UsageError(f"the URL {text.strip()!r} has no host")
    if parsed.auth:
        raise UsageError("a URL with a user name or password is not supported (it would be kept in reports)")
    return parsed._replace(path=parsed.path or "/", fragment=None).url


Location = LocalLocation | RemoteLocation | HttpLocation


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
    if scheme in ("http", "https"):
        return HttpLocation(canonical_url(text))
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise UsageError(f"invalid location {text!r}: no bucket name after {scheme}://")
    if len(bucket) < 3 or len(bucket) > 63:
        raise UsageError(f"invalid location {text!r}: a bucket name has 3 to 63 characters")
    return RemoteLocation(scheme, bucket, key)
