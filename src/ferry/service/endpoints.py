"""Where each cloud's object storage lives, by ``cloud_type`` and ``region`` (OMS's nodes carry no endpoint).

Built-in patterns cover the public clouds OMS names; ``ferry serve --endpoints FILE`` adds private ones and
overrides, as TOML: a table per cloud type mapping a region, or ``"*"`` for any, to an endpoint URL::

    [Ceph]
    "*" = "http://10.0.0.5:7480"

    [HuaweiCloud]
    "cn-north-4" = "https://obs.cn-north-4.example.internal"

An operator's exact region wins over its ``"*"``, which wins over the built-in pattern. A node that gives
ferry's own ``endpoint`` field uses that instead.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ferry.errors import UsageError

BUILTIN: dict[str, str] = {
    "AWS": "https://s3.{region}.amazonaws.com",
    "HuaweiCloud": "https://obs.{region}.myhuaweicloud.com",
    "Aliyun": "https://oss-{region}.aliyuncs.com",
    "Tencent": "https://cos.{region}.myqcloud.com",
    "Qiniu": "https://s3.{region}.qiniucs.com",
    "Baidu": "https://s3.{region}.bcebos.com",
    "KingsoftCloud": "https://ks3-{region}.ksyuncs.com",
    "UCloud": "https://s3-{region}.ufileos.com",
    "QingCloud": "https://s3.{region}.qingstor.com",
    "Google": "https://storage.googleapis.com",
}
"""Public endpoints; ``{region}`` is the node's region (a pattern with it needs one)."""

ALIASES = {"hec": "HuaweiCloud", "kingsoft": "KingsoftCloud", "gcs": "Google", "azureblob": "Azure"}
"""Other names of a cloud type: ``HEC`` is OMS's name of the destination, Huawei Cloud's OBS."""

_REGION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def canonical(cloud_type: str) -> str:
    return ALIASES.get(cloud_type.lower(), cloud_type)


@dataclass(frozen=True)
class EndpointTable:
    overrides: dict[str, dict[str, str]] = field(default_factory=dict)
    """Lower-case cloud type -> region or ``*`` -> URL, from the operator's file."""

    def resolve(self, cloud_type: str, region: str | None) -> str | None:
        name = canonical(cloud_type)
        table = self.overrides.get(name.lower(), {})
        if region and region in table:
            return table[region]
        if "*" in table:
            return table["*"]
        pattern = next((p for n, p in BUILTIN.items() if n.lower() == name.lower()), None)
        if pattern is None:
            return None
        if "{region}" in pattern:
            if not region or not _REGION.match(region):
                return None
            return pattern.format(region=region)
        return pattern

    def override(self, cloud_type: str, region: str | None) -> str | None:
        """The operator's endpoint only (no built-in pattern)."""
        table = self.overrides.get(canonical(cloud_type).lower(), {})
        return table.get(region or "") or table.get("*")

    def knows(self, cloud_type: str) -> bool:
        """Whether an endpoint for this cloud type can be found (for some region)."""
        name = canonical(cloud_type).lower()
        return name in self.overrides or name in {n.lower() for n in BUILTIN}


def load(path: Path) -> EndpointTable:
    """The operator's file; UsageError naming the file and the entry that is wrong."""
    try:
        data = tomllib.loads(path.expanduser().read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(
            f"cannot read the endpoints file {path}: {exc.strerror or type(exc).__name__}"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"the endpoints file {path} is not valid TOML: {exc}") from None
    overrides: dict[str, dict[str, str]] = {}
    for cloud_type, regions in data.items():
        if not isinstance(regions, dict):
            raise UsageError(
                f'{path}: {cloud_type} must be a table mapping a region (or "*") to an endpoint URL'
            )
        table: dict[str, str] = {}
        for region, url in regions.items():
            parts = urlsplit(url) if isinstance(url, str) else None
            if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
                raise UsageError(f"{path}: {cloud_type}.{region} must be an http:// or https:// URL")
            table[region] = url.rstrip("/")
        overrides[canonical(cloud_type).lower()] = table
    return EndpointTable(overrides)
