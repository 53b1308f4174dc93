"""What a botocore client for an S3 remote would be set up with, read without importing botocore — for the
plain case only: a custom endpoint (the remote's, or ``AWS_ENDPOINT_URL``) with path-style addressing (what
botocore uses there too), keys given by the remote or the environment, nothing in the AWS config file that
ferry does not read itself.

Why: importing botocore and building its client is most of a one-object command's start (about 0.3 s of
the 0.35 s before the first request). In the plain case every request of a whole small object goes
through :mod:`ferry.storage.s3fast`, and botocore is only needed — and then made — for multipart uploads,
deletes and delimited listings. Anything this module does not fully understand (a profile, a credential
process, a proxy, requester-pays, an unknown setting in the config file) returns ``None``: botocore
decides, as before.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from ferry.config import RemoteConfig

_CONFIG_KEYS = {
    "region",
    "output",
    "ca_bundle",
    "request_checksum_calculation",
    "response_checksum_validation",
}
"""Settings of an AWS config file profile read here; a profile with any other falls back to botocore."""


@dataclass(frozen=True)
class PlainSetup:
    endpoint: str
    region: str
    access_key: str
    secret_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    verify: bool | str = True
    request_checksums: bool = True
    response_checksums: bool = True


def plain_setup(remote: RemoteConfig, request_payer: str | None) -> PlainSetup | None:
    """The setup for ``remote`` when it is plain (see the module's docstring), else ``None``."""
    env = os.environ
    endpoint = remote.endpoint or _environment_endpoint()
    if (
        env.get("FERRY_S3_DIRECT", "1") == "0"
        or not endpoint
        or remote.addressing_style not in (None, "path")
        or request_payer
    ):
        return None
    parts = urllib.parse.urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        return None
    if not remote.endpoint and parts.hostname.endswith((".amazonaws.com", ".amazonaws.com.cn")):
        return None  # botocore addresses AWS's own endpoints by virtual host
    if proxied(parts.hostname):
        return None
    if remote.access_key and remote.secret_key:
        access, secret, token = remote.access_key, remote.secret_key, remote.session_token
    elif remote.access_key is None and remote.profile is None and "AWS_PROFILE" not in env:
        access, secret = env.get("AWS_ACCESS_KEY_ID", ""), env.get("AWS_SECRET_ACCESS_KEY", "")
        token = env.get("AWS_SESSION_TOKEN") or None
        if not access or not secret:
            return None
    else:
        return None
    profile = _profile_settings(remote.profile or env.get("AWS_PROFILE") or "default")
    if profile is None:
        return None
    region = remote.region or env.get("AWS_DEFAULT_REGION") or profile.get("region") or "us-east-1"
    ca_bundle = env.get("AWS_CA_BUNDLE") or profile.get("ca_bundle")
    requests = env.get("AWS_REQUEST_CHECKSUM_CALCULATION") or profile.get("request_checksum_calculation")
    responses = env.get("AWS_RESPONSE_CHECKSUM_VALIDATION") or profile.get("response_checksum_validation")
    return PlainSetup(
        endpoint=endpoint,
        region=region,
        access_key=access,
        secret_key=secret,
        session_token=token,
        verify=ca_bundle or True,
        request_checksums=(requests or "").lower() != "when_required",
        response_checksums=(responses or "").lower() != "when_required",
    )


def _environment_endpoint() -> str | None:
    """The endpoint botocore takes from the environment when the remote names none."""
    env = os.environ
    if env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return None
    return env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None


def proxied(host: str) -> bool:
    """Whether the environment sends requests to ``host`` through a proxy (``https_proxy`` and the like,
    less ``no_proxy``), as urllib and botocore read it. urllib.request, a tenth of a one-object command's
    start, is imported only when some proxy variable is set."""
    if not any(name.lower().endswith("_proxy") and value for name, value in os.environ.items()):
        return False
    import urllib.request

    proxies = urllib.request.getproxies_environment()
    return bool(proxies) and not urllib.request.proxy_bypass_environment(host, proxies)  # type: ignore[attr-defined]


def _profile_settings(profile: str) -> dict[str, str] | None:
    """The profile's settings in the AWS config file (none when there is no file), or ``None`` when the
    profile holds a setting not read here."""
    path = Path(os.environ.get("AWS_CONFIG_FILE") or Path.home() / ".aws" / "config").expanduser()
    if not path.is_file():
        return {}
    import configparser  # only when there is an AWS config file to read

    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return None  # botocore reports what is wrong with it
    section = profile if profile == "default" else f"profile {profile}"
    if not parser.has_section(section):
        return {} if profile == "default" else None
    settings = {k.lower(): v.strip() for k, v in parser.items(section)}
    if set(settings) - _CONFIG_KEYS:
        return None
    return settings
