"""Connecting to Google Cloud Storage: the endpoint, the service-account key, one client per remote.

Credentials come from a service-account JSON key file: a remote's ``json_auth_file``, else
``GOOGLE_APPLICATION_CREDENTIALS``. The endpoint is a remote's ``endpoint``, else ``STORAGE_EMULATOR_HOST``,
else Google's. Anything wrong with a key file is one line naming the file and the cause, never its content.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import google.cloud.storage as storage
import requests.adapters
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account

from ferry.config import RemoteConfig
from ferry.errors import CredentialsError, UsageError

if TYPE_CHECKING:
    from ferry.storage.s3 import ClientSettings

SCOPE = "https://www.googleapis.com/auth/devstorage.read_write"
DEFAULT_ENDPOINT = "https://storage.googleapis.com"


@dataclass(frozen=True)
class GCSConnection:
    """One client per remote, shared by its stores (the HTTP session pools connections and is thread-safe)."""

    client: Any  # google.cloud.storage.Client: the library ships no type information
    http: AuthorizedSession
    endpoint: str
    principal: str
    """Whose requests these are: the service account's e-mail, or ``anonymous``. Never a secret."""
    timeout: tuple[float, float]


def load_key_file(path: str) -> service_account.Credentials:
    """Service-account credentials from a JSON key file. Anything wrong with the file is one CredentialsError
    naming the file and the cause, and never quoting the file's content."""
    what = f"service-account key file {path}"
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CredentialsError(f"{what} is not a JSON key file: it is not text") from None
    except OSError as exc:
        raise CredentialsError(f"cannot read the {what}: {exc.strerror or type(exc).__name__}") from None
    return parse_key(text, what)


def parse_key(text: str, what: str) -> service_account.Credentials:
    """Service-account credentials from the content of a JSON key file; ``what`` names it in messages
    (which never quote the content)."""
    try:
        info = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CredentialsError(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(info, dict):
        raise CredentialsError(f"{what} is not a service-account key: it is not a JSON object")
    if info.get("type") != "service_account":
        kind = info.get("type")
        raise CredentialsError(
            f"{what} is not a service-account key (its type is {kind!r}, not 'service_account')"
            if isinstance(kind, str)
            else f"{what} is not a service-account key: it has no 'type' of 'service_account'"
        )
    try:
        credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            info, scopes=[SCOPE]
        )
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise CredentialsError(f"{what} is not a usable service-account key: {_key_error(exc)}") from None
    return cast(service_account.Credentials, credentials)


def _key_error(exc: Exception) -> str:
    """Why a key was refused, without any of the key: messages that might carry key material are replaced."""
    if isinstance(exc, KeyError):
        return f"the field {exc.args[0]!r} is missing" if exc.args else "a field is missing"
    text = " ".join(str(exc).split())
    text = re.sub(r"\s*See https?://\S+ for more details\.?", "", text)
    if not text or "-----" in text or re.search(r"[A-Za-z0-9+/=]{40,}", text):
        return "its private_key could not be read"
    return text[:200]


def emulator_host() -> str | None:
    """``STORAGE_EMULATOR_HOST`` as a URL (Google's tools accept ``host:port`` as well)."""
    host = os.environ.get("STORAGE_EMULATOR_HOST", "").strip()
    if not host:
        return None
    return host if "://" in host else f"http://{host}"


def make_connection(
    remote: RemoteConfig,
    settings: ClientSettings,
    *,
    key: service_account.Credentials | None = None,
    environment: bool = True,
) -> GCSConnection:
    """A client for ``remote``: its endpoint (else ``STORAGE_EMULATOR_HOST``, else Google's), and the
    service-account key named by its ``json_auth_file`` (else ``GOOGLE_APPLICATION_CREDENTIALS``).

    An emulator (``STORAGE_EMULATOR_HOST``, or any plain-``http://`` endpoint) is spoken to anonymously:
    an OAuth token never travels over plain HTTP. A key file named for it is still read and checked, so a
    broken one is reported before it meets the real service.

    The migration service passes ``key`` (a key handed over in a request, read by :func:`parse_key`) and
    ``environment=False``: the process's own variables are then never consulted, for the key or the
    endpoint."""
    emulator = emulator_host() if environment else None
    endpoint = (remote.endpoint or emulator or DEFAULT_ENDPOINT).rstrip("/")
    if not endpoint.startswith(("http://", "https://")):
        raise UsageError(
            f"remote {remote.name!r}: invalid endpoint {endpoint!r}: expected http:// or https://"
        )
    if key is None:
        fallback = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS") if environment else None
        key_file = remote.json_auth_file or fallback or None
        key = load_key_file(key_file) if key_file else None
    credentials: Credentials
    if endpoint.startswith("http://"):
        credentials, principal = AnonymousCredentials(), "anonymous"  # type: ignore[no-untyped-call]
    elif key is not None:
        credentials, principal = key, key.service_account_email
    else:
        raise CredentialsError(
            f"no credentials for remote {remote.name!r}: set GOOGLE_APPLICATION_CREDENTIALS to a "
            "service-account JSON key file, or json_auth_file in the remote's section of the config file"
        )
    project = remote.project or (key.project_id if key is not None else None) or None
    http = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
    adapter = requests.adapters.HTTPAdapter(
        pool_connections=4, pool_maxsize=settings.max_connections, max_retries=0
    )
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    client = storage.Client(
        project=project, credentials=credentials, _http=http, client_options={"api_endpoint": endpoint}
    )
    timeout = (settings.connect_timeout, settings.read_timeout)
    return GCSConnection(client, http, endpoint, principal, timeout)
