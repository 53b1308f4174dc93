"""The config file takes obsutil's default names beside ferry's; an explicit threshold governs copies."""

from __future__ import annotations

import pytest

from ferry.config import Defaults, load_config
from ferry.errors import UsageError
from ferry.tasks.settings import DEFAULT_JOBS, TaskSettings
from ferry.transfer.options import resolve_options
from ferry.transfer.parts import MAX_COPY_OBJECT


def test_obsutil_names_are_read_with_obsutils_meaning(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        "[defaults]\ndefaultJobs = 3\ndefaultParallels = 7\ndefaultBigfileThreshold = 52428800\n"
        "defaultPartSize = 'auto'\ndefaultTempFileDir = '/tmp/t'\nrecordMaxLogSize = '1MB'\n"
        "recordBackups = 9\n"
    )
    defaults = load_config(path).defaults
    assert defaults == Defaults(
        jobs=3,
        parallel=7,
        threshold="52428800",
        copy_threshold="52428800",  # obsutil's threshold is the copies' too
        part_size="auto",
        temp_dir="/tmp/t",
        record_max_size="1MB",
        record_backups=9,
    )
    assert TaskSettings().job_count(defaults) == 3 and TaskSettings(jobs=5).job_count(defaults) == 5
    assert TaskSettings().job_count() == DEFAULT_JOBS
    assert resolve_options(defaults).copy_threshold == 50 * 1024**2


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("defaultJobs = 0", "defaultJobs (jobs) must be a whole number"),
        ("defaultParallels = -1", "defaultParallels (parallel)"),
        ("defaultBigfileThreshold = 'lots'", "invalid defaultBigfileThreshold (threshold)"),
        ("defaultJobs = 2\njobs = 3", "both defaultJobs and jobs"),
        ("defaultThings = 1", "unknown key 'defaultThings'"),
    ],
)
def test_bad_obsutil_values_name_the_key(tmp_path, text, phrase):
    path = tmp_path / "c.toml"
    path.write_text(f"[defaults]\n{text}\n")
    with pytest.raises(UsageError, match=phrase.replace("(", r"\(").replace(")", r"\)")):
        load_config(path)


def test_an_explicit_threshold_governs_server_side_copies():
    assert resolve_options(Defaults()).copy_threshold == 4 * 1024**3  # one CopyObject: fastest
    assert resolve_options(Defaults(), threshold="50MB").copy_threshold == 50 * 1024**2
    assert resolve_options(Defaults(), threshold="8GiB").copy_threshold == MAX_COPY_OBJECT
    assert resolve_options(Defaults(), threshold="50MB", copy_threshold="1GiB").copy_threshold == 1024**3
    with pytest.raises(UsageError, match="at most 5 GB"):
        resolve_options(Defaults(), copy_threshold="6GiB")


def test_an_etag_is_an_md5_only_when_single_part_and_not_encrypted():
    from ferry.storage.base import ObjectInfo

    md5 = "0cc175b9c0f1b6a831c399e269772661"
    assert ObjectInfo("k", 1, 0, md5).md5_hex() == md5
    assert ObjectInfo("k", 1, 0, md5, encrypted=True).md5_hex() is None  # KMS or customer key
    assert ObjectInfo("k", 1, 0, "0cc175b9c0f1b6a831c399e269772661-2").md5_hex() is None
    recorded = ObjectInfo("k", 1, 0, md5, {"md5chksum": "DMF1ucDxtqgxw5niaXcmYQ=="}, encrypted=True)
    assert recorded.md5_hex() == md5 and recorded.etag_md5() is None
