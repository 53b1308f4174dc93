"""The TOML config file: named remotes and defaults.

Looked up at ``--config``, else ``$FERRY_CONFIG``, else ``$XDG_CONFIG_HOME/ferry/config.toml``.
A missing file is an empty config. Example::

    [defaults]
    threshold = "50MiB"        # objects at or above go multipart
    part_size = "auto"
    parallel = 4               # parts at once
    retries = 5
    read_timeout = 60

    [remotes.obs]
    type = "s3"
    endpoint = "https://obs.example.com"
    access_key = "..."
    secret_key = "..."
    region = "cn-north-4"
    addressing_style = "virtual"

    [remotes.gcp]
    type = "gcs"
    json_auth_file = "/path/to/service-account-key.json"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ferry.errors import UsageError
from ferry.units import parse_size


def ferry_home() -> Path:
    """Where ferry keeps its state by default: ``$FERRY_HOME`` or ``~/.ferry``."""
    return Path(os.environ.get("FERRY_HOME") or Path.home() / ".ferry").expanduser()


@dataclass(frozen=True)
class RemoteConfig:
    """How to reach one S3-compatible endpoint. Secrets stay out of ``repr``."""

    name: str
    type: str = "s3"
    endpoint: str | None = None
    access_key: str | None = None
    secret_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    region: str | None = None
    addressing_style: str | None = None
    profile: str | None = None
    connection_string: str | None = field(default=None, repr=False)
    """``type = "azure"`` only: the storage account's connection string (holds its key)."""
    json_auth_file: str | None = None
    """``type = "gcs"`` only: a service-account JSON key file (the secret is in the file, not here)."""
    project: str | None = None
    """``type = "gcs"`` only: the Google Cloud project (default: the key file's)."""

    def identity(self) -> tuple[str | None, str | None]:
        """What makes two remotes the same account on the same service: endpoint and access key."""
        return (self.endpoint.rstrip("/") if self.endpoint else None, self.access_key)


@dataclass(frozen=True)
class Defaults:
    threshold: str = "50MiB"
    copy_threshold: str = "4GiB"
    part_size: str = "auto"
    parallel: int = 4
    retries: int = 5
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    checkpoint_dir: str | None = None
    jobs: int | None = None
    """Objects at once in a task; ``None``: ferry's own choice (16, at most 4 of them large)."""
    temp_dir: str | None = None
    """Folder for unfinished downloads; ``None``: beside the destination."""
    record_max_size: str = "30MiB"
    """A task's result file continues in a new file past this size (obsutil's ``recordMaxLogSize``)."""
    record_backups: int = 1024
    """At most this many result files of one kind are kept (obsutil's ``recordBackups``)."""


OBSUTIL_DEFAULT_KEYS = {
    "defaultJobs": "jobs",
    "defaultParallels": "parallel",
    "defaultBigfileThreshold": "threshold",
    "defaultPartSize": "part_size",
    "defaultTempFileDir": "temp_dir",
    "recordMaxLogSize": "record_max_size",
    "recordBackups": "record_backups",
}
"""obsutil's configuration names, read with obsutil's meaning beside ferry's own. obsutil's big-file
threshold governs server-side copies too (ferry's ``threshold`` leaves them at ``copy_threshold``)."""


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    defaults: Defaults = Defaults()
    remotes: dict[str, RemoteConfig] = field(default_factory=dict)

    def remote(self, name: str) -> RemoteConfig:
        """The remote named ``name``; ``s3`` and ``obs`` fall back to botocore's own credential chain."""
        if name in self.remotes:
            return self.remotes[name]
        if name in ("s3", "obs"):
            return RemoteConfig(name=name)
        if name == "az":  # Azure, with the connection string in AZURE_STORAGE_CONNECTION_STRING
            return RemoteConfig(name=name, type="azure")
        if name == "gs":  # GCS, with GOOGLE_APPLICATION_CREDENTIALS and STORAGE_EMULATOR_HOST
            return RemoteConfig(name=name, type="gcs")
        where = f" in {self.path}" if self.path else " (no config file found)"
        raise UsageError(f"unknown remote {name!r}: no [remotes.{name}] section{where}")


_REMOTE_KEYS = {f for f in RemoteConfig.__dataclass_fields__ if f != "name"}
_DEFAULT_KEYS = set(Defaults.__dataclass_fields__)


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    if env := os.environ.get("FERRY_CONFIG"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "ferry" / "config.toml"


def load_config(explicit: str | os.PathLike[str] | None = None) -> Config:
    """Read the config file; a UsageError for a file that is unreadable, malformed or has unknown keys."""
    path = config_path(explicit)
    if not path.exists():
        if explicit:
            raise UsageError(f"config file {path} does not exist")
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {path} is not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read config file {path}: {exc}") from None
    return Config(path=path, defaults=_defaults(path, data.get("defaults", {})), remotes=_remotes(path, data))


def _defaults(path: Path, raw: Any) -> Defaults:
    if not isinstance(raw, dict):
        raise UsageError(f"config file {path}: [defaults] must be a table")
    _no_unknown(path, "defaults", raw, _DEFAULT_KEYS | set(OBSUTIL_DEFAULT_KEYS))
    values = {key: value for key, value in raw.items() if key not in OBSUTIL_DEFAULT_KEYS}
    for obsutil_key, key in OBSUTIL_DEFAULT_KEYS.items():
        if obsutil_key not in raw:
            continue
        if key in raw:
            raise UsageError(f"config file {path}: [defaults] has both {obsutil_key} and {key}: keep one")
        value = raw[obsutil_key]
        values[key] = str(value) if key in _SIZE_KEYS and isinstance(value, int) else value
        if obsutil_key == "defaultBigfileThreshold" and "copy_threshold" not in raw:
            values["copy_threshold"] = values[key]
    for key, value in values.items():
        problem = _default_problem(key, value)
        if problem:
            raise UsageError(f"config file {path}: [defaults] {_name(key)} = {_shown(value)}: {problem}")
    for key in ("jobs", "parallel", "retries", "record_backups"):
        value = values.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            if key == "retries" and value == 0:
                continue  # no retries at all is a choice
            raise UsageError(f"config file {path}: [defaults] {_name(key)} must be a whole number >= 1")
    for key in [k for k in _SIZE_KEYS if k in values]:
        if not (key == "part_size" and values[key] == "auto"):
            try:
                parse_size(str(values[key]), what=_name(key))
            except UsageError as exc:
                raise UsageError(f"config file {path}: [defaults]: {exc.message}") from None
    try:
        return Defaults(**values)
    except TypeError as exc:
        raise UsageError(f"config file {path}: [defaults]: {exc}") from None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


def _default_problem(key: str, value: Any) -> str | None:
    """Why a [defaults] value cannot be used, or ``None``."""
    if key in _SIZE_KEYS:
        return None if isinstance(value, str) else 'must be a size in quotes, such as "64MiB"'
    if key in ("checkpoint_dir", "temp_dir"):
        return None if isinstance(value, str) and value else "must be a folder name in quotes"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "must be a number"
    if key in ("parallel", "retries", "jobs", "record_backups"):  # their ranges are checked below
        return None if isinstance(value, int) else "must be a whole number"
    if key in ("connect_timeout", "read_timeout"):
        return None if 0 < value <= 86400 else "must be a number of seconds above 0, at most 86400"
    return None


_SIZE_KEYS = ("threshold", "copy_threshold", "part_size", "record_max_size")


def _name(key: str) -> str:
    """A [defaults] key as the user may have written it (obsutil's name where it has one)."""
    obsutil = next((name for name, ours in OBSUTIL_DEFAULT_KEYS.items() if ours == key), None)
    return f"{obsutil} ({key})" if obsutil else key


def _remotes(path: Path, data: dict[str, Any]) -> dict[str, RemoteConfig]:
    raw = data.get("remotes", {})
    if not isinstance(raw, dict):
        raise UsageError(f"config file {path}: [remotes] must hold one table per remote")
    remotes: dict[str, RemoteConfig] = {}
    for name, table in raw.items():
        if not isinstance(table, dict):
            raise UsageError(f"config file {path}: [remotes.{name}] must be a table")
        _no_unknown(path, f"remotes.{name}", table, _REMOTE_KEYS)
        if table.get("type", "s3") not in ("s3", "azure", "gcs"):
            raise UsageError(f"config file {path}: [remotes.{name}] has unsupported type {table['type']!r}")
        _check_keys_of_type(path, name, table)
        _check_gcs_keys(path, name, table)
        style = table.get("addressing_style")
        if style not in (None, "path", "virtual", "auto"):
            raise UsageError(
                f"config file {path}: [remotes.{name}] addressing_style must be path, virtual or auto"
            )
        for key, value in table.items():
            if not isinstance(value, str):
                raise UsageError(f"config file {path}: [remotes.{name}] {key} must be a string")
        remotes[name.lower()] = RemoteConfig(name=name.lower(), **table)
    return remotes


_AZURE_KEYS = {"type", "connection_string"}


def _check_keys_of_type(path: Path, name: str, table: dict[str, Any]) -> None:
    """An Azure remote takes only a connection string; an S3 remote none."""
    if table.get("type") == "azure":
        wrong = sorted(set(table) - _AZURE_KEYS)
        if wrong:
            raise UsageError(
                f"config file {path}: [remotes.{name}] is of type azure: {wrong[0]!r} does not apply "
                "(give connection_string)"
            )
    elif "connection_string" in table:
        raise UsageError(f'config file {path}: [remotes.{name}] connection_string needs type = "azure"')


_GCS_KEYS = {"type", "endpoint", "json_auth_file", "project"}


def _check_gcs_keys(path: Path, name: str, table: dict[str, Any]) -> None:
    """A GCS remote takes an endpoint, a key file and a project; no other remote takes the last two."""
    if table.get("type") == "gcs":
        wrong = sorted(set(table) - _GCS_KEYS)
        if wrong:
            raise UsageError(
                f"config file {path}: [remotes.{name}] is of type gcs: {wrong[0]!r} does not apply "
                "(give json_auth_file, and endpoint or project if needed)"
            )
        return
    for key in ("json_auth_file", "project"):
        if key in table:
            raise UsageError(f'config file {path}: [remotes.{name}] {key} needs type = "gcs"')


def _no_unknown(path: Path, section: str, table: dict[str, Any], known: set[str]) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise UsageError(f"config file {path}: unknown key {unknown[0]!r} in [{section}]")
