"""How a group splits into tasks: one task per prefix, or one per chunk of an object list. Pure."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

LIST_CHUNK = 1000
"""Object keys per task of a LIST group."""


class SplitError(ValueError):
    """The prefixes or keys cannot make a group; ``str()`` says why."""


def overlapping(prefixes: Sequence[str]) -> tuple[str, str] | None:
    """Two distinct prefixes one of which starts with the other (their objects would be migrated twice),
    or ``None``. Equal prefixes are not an overlap: they are merged."""
    ordered = sorted(set(prefixes))
    for shorter, longer in itertools.pairwise(ordered):
        if longer.startswith(shorter):
            return shorter, longer
    return None


def split_group(
    task_type: str, object_key: Sequence[str], chunk: int = LIST_CHUNK
) -> list[tuple[str, dict[str, Any]]]:
    """The tasks of a group as (name, source) pairs: source is ``{"prefix": p}`` or ``{"keys": [...]}``.
    PREFIX without prefixes is the whole bucket; repeated prefixes or keys count once."""
    if task_type == "PREFIX":
        prefixes = sorted(set(object_key)) or [""]
        clash = overlapping(prefixes)
        if clash is not None:
            raise SplitError(
                f"the prefixes {clash[0]!r} and {clash[1]!r} overlap: their common objects would be "
                "migrated twice"
            )
        return [(prefix or "(whole bucket)", {"prefix": prefix}) for prefix in prefixes]
    if task_type == "LIST":
        keys = list(dict.fromkeys(object_key))
        if not keys:
            raise SplitError("a LIST group needs its object keys in src_node.object_key")
        return [
            (
                f"keys {start + 1}-{min(start + chunk, len(keys))} of {len(keys)}",
                {"keys": keys[start : start + chunk]},
            )
            for start in range(0, len(keys), chunk)
        ]
    raise SplitError(f"task_type {task_type!r} is not supported")
