"""Where each object of a batch task goes. Pure functions.

Object keys are untrusted input: on download a key becomes a local path only if it names a place strictly
inside the destination folder. ``../x``, ``/abs``, ``a/../../b``, a NUL, or empty and ``.`` components are
refused with a reason, and the rest of the task goes on.
"""

from __future__ import annotations

import os
from pathlib import PurePosixPath


class UnsafeKeyError(ValueError):
    """A key that cannot be written under the destination folder; ``str()`` says why."""


def relative_key(key: str, prefix: str) -> str:
    """The part of ``key`` below ``prefix`` (which the listing guarantees it starts with)."""
    if not key.startswith(prefix):
        raise ValueError(f"{key!r} is not under {prefix!r}")
    return key[len(prefix) :]


def folder_prefix(prefix: str) -> str:
    """A listing prefix for ``-r``: ``dir`` means the folder ``dir/``; empty means the whole bucket."""
    return prefix if prefix == "" or prefix.endswith("/") else prefix + "/"


def join_key(prefix: str, relative: str) -> str:
    """The destination key for ``relative`` under the destination ``prefix``."""
    return folder_prefix(prefix) + relative


def local_relative(path: str, root: str) -> str:
    """A local file's key relative to the folder being uploaded, with ``/`` separators.

    The listing builds each path by joining names onto ``root``: when the rest has no empty, ``.`` or ``..``
    component, it is the key as it stands (``os.path.relpath`` normalises both paths lexically, which
    changes nothing below ``root``, after two ``getcwd`` calls per file); anything else goes the long way.
    tests/unit/test_keys.py holds the two to the same answers."""
    base = root.rstrip("/")
    folder = path.endswith("/")
    rest = path[len(base) + 1 :].rstrip("/") if base and path.startswith(base + "/") else ""
    if rest and os.sep == "/" and _plain(rest):
        return rest + "/" if folder else rest
    relative = os.path.relpath(path.rstrip("/"), root)
    key = PurePosixPath(*relative.split(os.sep)).as_posix()
    return key + "/" if folder else key


def _plain(relative: str) -> bool:
    """No empty, ``.`` or ``..`` component: a relative path that normalises to itself."""
    return all(part not in ("", ".", "..") for part in relative.split("/"))


def safe_local_path(root: str, relative: str) -> str:
    """The local path for an object key below ``root``; UnsafeKeyError when the key would escape it or
    cannot be a path. A key ending in ``/`` (a folder object) gives a path ending in ``/``."""
    if "\x00" in relative:
        raise UnsafeKeyError("the key contains a NUL character")
    if relative.startswith("/"):
        raise UnsafeKeyError("the key is an absolute path")
    folder = relative.endswith("/")
    parts = relative.rstrip("/").split("/") if relative.rstrip("/") else []
    if not parts:
        raise UnsafeKeyError("the key names the destination folder itself")
    for part in parts:
        if part == "":
            raise UnsafeKeyError("the key has an empty path component (//)")
        if part in (".", ".."):
            raise UnsafeKeyError(f"the key has a {part!r} path component")
        if len(part.encode("utf-8", "surrogateescape")) > 255:
            raise UnsafeKeyError("a component of the key is longer than a file name may be")
    path = os.path.join(root, *parts)
    return path + "/" if folder else path
