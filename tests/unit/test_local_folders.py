"""The local store's folders on the real filesystem: folders it already made are not made again for every
file, yet a folder removed since is made again, a link swapped in for one is still refused, and many
threads writing into the same few folders (their renames made durable a batch at a time) all land."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from ferry.errors import TransferError
from ferry.storage.base import WriteOptions
from ferry.storage.local import LocalStore


def test_a_folder_removed_after_a_write_is_made_again(tmp_path: Path) -> None:
    dl = tmp_path / "dl"
    store = LocalStore(root=str(dl))
    store.put(str(dl / "a" / "b" / "x.bin"), b"x", WriteOptions())
    shutil.rmtree(dl / "a")
    store.put(str(dl / "a" / "b" / "y.bin"), b"y", WriteOptions())
    assert (dl / "a" / "b" / "y.bin").read_bytes() == b"y"
    shutil.rmtree(dl)  # the root itself too
    store.put(str(dl / "a" / "z.bin"), b"z", WriteOptions())
    assert (dl / "a" / "z.bin").read_bytes() == b"z"


def test_a_link_swapped_in_for_a_folder_already_written_is_not_followed(tmp_path: Path) -> None:
    dl, elsewhere = tmp_path / "dl", tmp_path / "elsewhere"
    elsewhere.mkdir()
    store = LocalStore(root=str(dl))
    store.put(str(dl / "a" / "x.bin"), b"x", WriteOptions())
    shutil.rmtree(dl / "a")
    (dl / "a").symlink_to(elsewhere)
    with pytest.raises(TransferError, match="is a symbolic link"):
        store.put(str(dl / "a" / "y.bin"), b"y", WriteOptions())
    assert list(elsewhere.iterdir()) == []


def test_many_threads_writing_into_a_few_folders_all_land(tmp_path: Path) -> None:
    dl = tmp_path / "dl"
    store = LocalStore(root=str(dl))
    files = {dl / f"f{i % 3}" / f"o{i:04d}.bin": os.urandom(100 + i) for i in range(600)}
    queue = list(files.items())
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        while True:
            with lock:
                if not queue:
                    return
                path, data = queue.pop()
            try:
                store.put(str(path), data, WriteOptions())
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert {p: p.read_bytes() for p in files} == files
    assert sorted(p.name for p in dl.rglob("*") if p.is_file()) == sorted(p.name for p in files)
