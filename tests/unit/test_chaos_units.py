"""The chaos campaign's own arithmetic: byte flips change exactly what they say, and the report adds the
JSON lines up as anyone re-adding them would."""

import random
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from tests.chaos.faults import flip_bytes, flip_record_line
from tests.chaos.report import tables


@given(st.binary(min_size=1, max_size=4096), st.integers(0, 2**32), st.integers(1, 8))
def test_a_flip_changes_one_bit_in_each_byte_it_names(data, seed, count):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f"
        path.write_bytes(data)
        offsets = flip_bytes(path, random.Random(seed), count)
        after = path.read_bytes()
    assert len(after) == len(data) and len(offsets) == min(count, len(data))
    changed = [i for i in range(len(data)) if data[i] != after[i]]
    assert changed == offsets
    for i in changed:
        assert bin(data[i] ^ after[i]).count("1") == 1


def test_a_record_flip_keeps_the_lines(tmp_path):
    path = tmp_path / "r.rec"
    text = b'{"n":1}|abc\n{"n":2}|def\n'
    path.write_bytes(text)
    assert flip_record_line(path, random.Random(3))
    after = path.read_bytes()
    assert after != text and after.count(b"\n") == 2


def run(n, workload, faults, checked, lost=0, resent=None, data=100):
    anomalies = dict.fromkeys(
        ("lost", "corrupt", "extra", "done_but_missing", "left_behind", "stuck", "recover_not_noop"), 0
    )
    anomalies["lost"] = lost
    return {
        "run": n,
        "workload": workload,
        "faults": faults,
        "faults_by_kind": {"sigkill": faults},
        "objects_checked": checked,
        "anomalies": anomalies,
        "attempts": 2,
        "resent_bytes": resent,
        "data_bytes": data,
    }


def test_the_report_adds_the_lines_up():
    text = tables(
        [run(0, "upload", 3, 10, resent=10), run(1, "copy", 4, 20, lost=1), run(2, "upload", 2, 5, resent=30)]
    )
    assert "| 3 | 9 | 35 | 1 | 20.0% of 0.00 GiB (2 runs measured) |" in text
    assert "| lost | 1 |" in text and "| sigkill | 9 |" in text
    assert "| upload | S3 (RGW) | upload | cp -r | 2 | 5 | 15 | 4 | 0 | 20.0% |" in text
    assert "| copy | S3 (RGW) | server-side copy | cp -r | 1 | 4 | 20 | 2 | 1 | not measured |" in text
