"""How a group splits into tasks: one task per prefix, or one per chunk of an object list or URL list.
Pure."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from ferry.tasks.urllist import parse_line

LIST_CHUNK = 1000
"""Object keys (or URL list lines) per task of a LIST (or URL_LIST) group."""


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


def url_lines(lines: Sequence[str]) -> list[list[Any]]:
    """The meaningful lines of a URL list given as a JSON array, as ``[line number, text]`` pairs: blank
    lines and ``#`` comments are dropped, and so is a line whose URL an earlier line already names (the
    first line's destination wins, as in ``cp --url-list``). Malformed lines are kept: each becomes a
    failed object whose reason names its line."""
    kept: list[list[Any]] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        text = line.rstrip("\r\n")
        if "\n" in text or "\r" in text:
            raise SplitError(f"src_node.url_list line {number}: a line cannot contain a line break")
        if not text.strip() or text.strip().startswith("#"):
            continue
        url = parse_line(number, text).url
        if url and url in seen:
            continue
        seen.add(url)
        kept.append([number, text])
    return kept


def split_group(
    task_type: str, object_key: Sequence[str], chunk: int = LIST_CHUNK, url_list: Sequence[str] = ()
) -> list[tuple[str, dict[str, Any]]]:
    """The tasks of a group as (name, source) pairs: source is ``{"prefix": p}``, ``{"keys": [...]}`` or
    ``{"urls": [[line number, line], ...]}``. PREFIX without prefixes is the whole bucket; repeated
    prefixes, keys or URLs count once."""
    if url_list and task_type != "URL_LIST":
        raise SplitError("src_node.url_list is for URL_LIST groups only")
    if task_type == "URL_LIST":
        if object_key:
            raise SplitError("a URL_LIST group takes its URLs in src_node.url_list, not in object_key")
        lines = url_lines(url_list)
        if not lines:
            raise SplitError("a URL_LIST group needs 'URL<TAB>destination key' lines in src_node.url_list")
        return [
            (f"URL list lines {part[0][0]}-{part[-1][0]}", {"urls": part})
            for part in (lines[start : start + chunk] for start in range(0, len(lines), chunk))
        ]
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
