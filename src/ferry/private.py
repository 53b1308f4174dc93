"""ferry's own state is private to its user: part records hold upload ids (for GCS a resumable-session URI,
which lets its holder write the object), journals hold keys and URLs, reports hold both. Folders ferry
creates for them are 0700 and their files 0600, whatever the umask. A folder that already exists keeps
its mode: ``--data-dir /tmp`` must not turn ``/tmp`` into 0700."""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents as 0700 folders; existing ones are left as they are."""
    missing = []
    here = Path(path)
    while not here.exists() and here != here.parent:
        missing.append(here)
        here = here.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(folder, DIR_MODE)  # mkdir's mode is masked by the umask
    return path


def create_private(path: Path | str) -> None:
    """Make sure ``path`` exists as a file only its owner can read (before a library creates it with the
    umask's mode: SQLite, for one, gives its -wal and -shm files the database file's mode)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
    os.close(fd)


def open_private(path: Path | str, flags: int) -> int:
    """``os.open`` creating a 0600 file."""
    return os.open(path, flags | os.O_CREAT, FILE_MODE)
