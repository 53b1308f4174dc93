"""A task's settings: what it was asked to do, typed, checked once, kept in its journal.

``ferry cp -r``, ``--recover``, ``ferry task resume``, the library and the migration service all describe a
task with one :class:`TaskSettings`. It is built and checked when the task is created (a bad flag is a
:class:`~ferry.errors.UsageError` before anything is journaled), stored in the journal as JSON, and read back
typed: nothing is re-parsed from strings on a recover. A field left at ``None`` means "the configuration's
default at run time", so a recover follows a changed config file for what the task never chose itself.

Settings never hold a secret: keys, tokens and connection strings reach a run in memory only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from ferry.config import Defaults
from ferry.errors import UsageError
from ferry.tasks.filters import ObjectFilter
from ferry.transfer.options import TransferOptions, check_payer, parse_meta, resolve_options
from ferry.units import parse_size

SETTINGS_VERSION = 2

SkipRule = Literal["engine", "none", "exists", "checksum"]
"""Which objects a run leaves alone because the destination has them (see :mod:`ferry.tasks.skip`):
``engine`` — only with ``incremental``, the engine's size/time rule (obsutil's ``-u``); ``none`` — move
everything; ``exists`` — whatever the destination has; ``checksum`` — what it has with the same checksum."""

DEFAULT_JOBS = 16
DEFAULT_LARGE_JOBS = 4
"""Without an explicit job count, at most this many objects at or above the threshold move at once (each
has its own parts in flight, so memory stays bounded); small objects, which mostly wait on the server, use
all the job slots. An explicit count applies to every object."""
MAX_JOBS = 1000


@dataclass(frozen=True, kw_only=True)
class TaskSettings:
    """Everything a task keeps besides its source, destination and plan. ``None`` is "the default"."""

    # how objects move
    threshold: int | None = None
    copy_threshold: int | None = None
    part_size: int | Literal["auto"] | None = None
    parallel: int | None = None
    jobs: int | None = None
    retries: int | None = None
    bwlimit: int | None = None
    bandwidth_windows: tuple[tuple[int, int, int], ...] = ()
    """Daily windows with their own limit: (start minute, end minute of the UTC day, bytes per second)."""
    verify_length: bool = False
    verify_md5: bool = False
    metadata: Mapping[str, str] = field(default_factory=dict)
    no_user_metadata: bool = False
    """Copies leave the source's user metadata behind (its Content-Type still goes)."""
    acl: str | None = None
    storage_class: str | None = None
    crr: bool = False
    payer: str | None = None
    # which objects
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    time_range: str | None = None
    mf: bool = False
    copy_links: bool = False
    """An upload follows symbolic links (``-L``); without it they are left out with a warning."""
    modified_after: float | None = None
    """Only objects modified strictly after this UNIX time (the service's ``migrate_since``)."""
    incremental: bool = False
    skip_rule: SkipRule = "engine"
    delete_extras: bool = False
    """``sync --delete``: once every object is copied, delete what the destination has and the source
    does not (see :mod:`ferry.tasks.sync`)."""
    max_delete: int | None = None
    """Delete nothing when there would be more than this many to delete."""
    verify_after: bool = False
    """After moving, check every done or skipped object against the destination (the service's verify
    after migrating): one that differs becomes failed, ``differs at destination: size`` (or ``md5``)."""
    # where things go
    checkpoint_dir: str | None = None
    temp_dir: str | None = None
    output_dir: str | None = None

    def __post_init__(self) -> None:
        self.check()

    # --- checking -------------------------------------------------------------------------------------------

    def check(self) -> None:
        """Raise UsageError for a value no run could use (so a bad task is never created)."""
        if self.jobs is not None and not 1 <= self.jobs <= MAX_JOBS:
            raise UsageError(f"invalid job count {self.jobs}: it must be between 1 and {MAX_JOBS}")
        if self.max_delete is not None and self.max_delete < 0:
            raise UsageError(f"invalid --max-delete {self.max_delete}: it cannot be negative")
        self.object_filter()
        check_payer(self.payer)
        resolve_options(Defaults(), **self._option_values())

    # --- what a run makes of them ---------------------------------------------------------------------------

    def _option_values(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "copy_threshold": self.copy_threshold,
            "part_size": self.part_size,
            "parallel": self.parallel,
            "checkpoint_dir": self.checkpoint_dir,
            "verify_length": self.verify_length,
            "verify_md5": self.verify_md5,
            "metadata": dict(self.metadata) or None,
            "acl": self.acl,
            "storage_class": self.storage_class,
            "stream_copy": self.crr,
            "retries": self.retries,
            "bwlimit": self.bwlimit,
            "bandwidth_windows": self.bandwidth_windows,
            "copy_user_metadata": not self.no_user_metadata,
            "incremental": self.incremental,
        }

    def transfer_options(
        self, defaults: Defaults, *, dry_run: bool = False, incremental: bool | None = None
    ) -> TransferOptions:
        """The engine's options for this task, unset values taken from ``defaults``; ``incremental``
        overrides the kept flag (a run's skip rule decides whether the engine checks the destination)."""
        values = self._option_values()
        if incremental is not None:
            values["incremental"] = incremental
        return resolve_options(defaults, dry_run=dry_run, **values)

    def job_count(self, defaults: Defaults | None = None) -> int:
        """The task's job count, else the configuration's (``defaultJobs``), else ferry's."""
        return self.jobs or (defaults.jobs if defaults is not None else None) or DEFAULT_JOBS

    def large_jobs(self, defaults: Defaults | None = None) -> int | None:
        """How many large objects may move at once (``None``: as many as there are jobs)."""
        chosen = self.jobs or (defaults.jobs if defaults is not None else None)
        return None if chosen else DEFAULT_LARGE_JOBS

    def object_filter(self) -> ObjectFilter:
        return ObjectFilter.build(list(self.include), list(self.exclude), self.time_range, self.mf)

    def filters_given(self) -> bool:
        return bool(self.include or self.exclude or self.time_range)

    # --- keeping them ---------------------------------------------------------------------------------------

    def to_json(self) -> str:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["metadata"] = dict(self.metadata)
        values["include"], values["exclude"] = list(self.include), list(self.exclude)
        return json.dumps({"version": SETTINGS_VERSION, **values}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TaskSettings:
        """Read settings back. Journals of ferry before typed settings kept the command line's option
        dict; it is read the same way :meth:`from_options` reads a command line. ValueError when the text
        is not settings at all."""
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ValueError("settings are not a JSON object")
        if value.pop("version", None) != SETTINGS_VERSION:
            return cls.from_options(value)
        known = {f.name for f in fields(cls)}
        unknown = set(value) - known
        if unknown:
            raise ValueError(f"unknown settings {sorted(unknown)}")
        value["include"] = tuple(value.get("include") or ())
        value["exclude"] = tuple(value.get("exclude") or ())
        value["bandwidth_windows"] = _windows(value.get("bandwidth_windows") or ())
        return cls(**value)

    @classmethod
    def from_options(cls, given: Mapping[str, Any]) -> TaskSettings:
        """Settings from option values as a command line or an API body gives them: sizes as text
        (``50MiB``) or integers, ``meta`` as obsutil's ``k1:v1#k2:v2``, booleans, lists. Keys whose value
        is unset (``None``, ``False``, empty) are left at their defaults; unknown keys are ignored.
        UsageError names the first bad value."""
        values: dict[str, Any] = {}
        for name, value in given.items():
            if value is None or value is False or value == [] or value == ():
                continue
            target = _OPTION_NAMES.get(name, name)
            if target not in _FIELDS:
                continue
            values[target] = _convert(target, value)
        return cls(**values)

    def overridden(self, given: TaskSettings) -> TaskSettings:
        """These settings with every value ``given`` sets replacing the kept one (a recover's flags). An
        unset value of ``given`` never clears a kept one."""
        blank = TaskSettings()
        changes = {
            f.name: getattr(given, f.name)
            for f in fields(self)
            if getattr(given, f.name) != getattr(blank, f.name)
        }
        return replace(self, **changes)

    def without_filters(self) -> TaskSettings:
        return replace(self, include=(), exclude=(), time_range=None, mf=False)


_FIELDS = {f.name: f for f in fields(TaskSettings)}
_OPTION_NAMES = {"meta": "metadata", "since": "modified_after", "migrate_since": "modified_after"}
_SIZES = {"threshold": "threshold", "copy_threshold": "copy threshold", "bwlimit": "bandwidth limit"}
_COUNTS = {"parallel", "jobs", "retries", "max_delete"}
_TEXTS = {"acl", "storage_class", "payer", "time_range", "checkpoint_dir", "temp_dir", "output_dir"}


def _convert(name: str, value: Any) -> Any:
    """One given option as its typed setting."""
    if name in _SIZES:
        return _size(value, _SIZES[name])
    if name == "part_size":
        return "auto" if value == "auto" else _size(value, "part size")
    if name in _COUNTS:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"invalid {name.replace('_', ' ')} {value!r}: expected a whole number")
        return value
    if name == "metadata":
        return parse_meta(value) if isinstance(value, str) else dict(value)
    if name in ("include", "exclude"):
        return (value,) if isinstance(value, str) else tuple(value)
    if name == "modified_after":
        return float(value)
    if name == "bandwidth_windows":
        return _windows(value)
    if name in _TEXTS:
        return str(value)
    if name == "skip_rule":
        if value not in ("engine", "none", "exists", "checksum"):
            raise UsageError(f"invalid skip rule {value!r}")
        return value
    return bool(value)


def _windows(value: Any) -> tuple[tuple[int, int, int], ...]:
    try:
        windows = tuple((int(start), int(end), int(rate)) for start, end, rate in value)
    except (TypeError, ValueError):
        raise UsageError("invalid bandwidth windows: each is (start minute, end minute, rate)") from None
    for start, end, rate in windows:
        if not (0 <= start < 1440 and 0 <= end < 1440 and start != end and rate >= 1024):
            raise UsageError("invalid bandwidth window: minutes of the day, not equal, at least 1KiB/s")
    return windows


def _size(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise UsageError(f"invalid {what} {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise UsageError(f"invalid {what} {value}: it cannot be negative")
        return value
    return parse_size(str(value), what=what)
