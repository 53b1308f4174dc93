"""obsutil's output shapes: the parameter block, the plain progress line, the closing block, its units."""

from __future__ import annotations

import datetime
import io

from hypothesis import given
from hypothesis import strategies as st

from ferry.cli.obsutil_text import (
    Parameters,
    go_duration,
    obsutil_size,
    obsutil_speed,
    parameter_block,
    print_task_summary,
    progress_line,
)
from ferry.tasks.runner import TaskOutcome
from ferry.units import parse_size

SEED_BLOCK = """Start at 2024-10-08 01:10:07.380968 +0000 UTC

Parallel:      5                   Jobs:          5
Threshold:     50.00MB             PartSize:      auto
VerifyLength:  false               VerifyMd5:     false
CheckpointDir: xxxx

Task id: a628d6da-c562-4a1f-b687-4fa125de0dc3
OutputDir: xxxx
TempFileDir: xxxx
"""


def test_the_parameter_block_is_the_seeds():
    task = "a628d6da-c562-4a1f-b687-4fa125de0dc3"
    params = Parameters(5, 5, 50 * 1024**2, None, False, False, "xxxx", task, "xxxx", "xxxx")
    now = datetime.datetime(2024, 10, 8, 1, 10, 7, 380968, tzinfo=datetime.UTC)
    assert parameter_block(params, now) == SEED_BLOCK


def test_units_and_the_progress_line():
    assert obsutil_size(70) == "70B"
    assert obsutil_size(int(7.2 * 1024**2)) == "7.20MB"
    assert obsutil_speed(2068) == "2.02 KB/s"
    assert obsutil_speed(12) == "12.00 B/s"
    assert [go_duration(s) for s in (0, 0.4, 45, 125, 3603)] == ["0s", "0s", "45s", "2m5s", "1h0m3s"]
    total = int(7.2 * 1024**2)
    line = progress_line(total, total, 2068, 1, 0.028)
    assert line.startswith("[" + "=" * 56 + "] 100.00% tps:35.71 ")
    assert line.endswith(" 7.20MB/7.20MB 0s")
    half = progress_line(50 * 1024**2, 100 * 1024**2, 50 * 1024**2, 0, 2.0)
    assert half.startswith("[" + "=" * 28 + "-" * 28 + "] 50.00% tps:0.00 ") and half.endswith(" 2s")


def test_the_closing_block_uses_obsutils_units():
    out = io.StringIO()
    print_task_summary(TaskOutcome(task_id="t-1", succeeded=1, succeed_bytes=70, transferred=70), out)
    text = out.getvalue()
    assert "Succeed count:      1         Failed count:       0\n" in text
    assert "Succeed bytes:      70 (70B)" in text and "transferred size:70B]" in text
    assert text.endswith("\nTask id: t-1\n")


@given(st.integers(min_value=1024, max_value=2**60))
def test_a_printed_size_reads_back_within_rounding(n):
    assert abs(parse_size(obsutil_size(n)) - n) <= 0.005 * n + 1
