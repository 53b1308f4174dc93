"""Result files: named as obsutil names them, one flushed row per object, no empty files, rotation, and
keys with tabs or newlines read back exactly."""

from hypothesis import given
from hypothesis import strategies as st

from ferry.tasks.reports import ReportWriter, clear_failure_reports, escape_field, unescape_field

TASK = "0b7e6c1a-1111-4222-8333-444455556666"


def test_names_rows_and_no_empty_files(tmp_path):
    writer = ReportWriter(tmp_path, TASK)
    writer.succeeded("/src/a b.txt", "s3://b/a b.txt", 10, 10, 12.3)
    writer.failed("/src/bad\tname", "s3://b/bad", 5, "AccessDenied (403)", 4.0)
    # rows are on disk before close: a SIGKILL loses none
    [succeed] = writer.paths()["succeed"]
    assert succeed.read_text().count("\n") == 1
    writer.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2  # no warning file: it would be empty
    assert names[0].startswith("cp_failed_report_") and names[0].endswith(f"_{TASK}.txt")
    assert names[1].startswith("cp_succeed_report_")
    [row] = (tmp_path / names[0]).read_text().splitlines()
    fields = row.split("\t")
    assert fields[0].endswith("Z") and unescape_field(fields[1]) == "/src/bad\tname"
    assert fields[-1] == "AccessDenied (403)"


def test_two_runs_in_one_second_keep_their_own_files(tmp_path):
    for source in ("first", "second"):
        writer = ReportWriter(tmp_path, TASK)
        writer.succeeded(source, "dst", 1, 1, 1.0)
        writer.close()
    reports = sorted(tmp_path.glob("cp_succeed_report_*"))
    assert len(reports) == 2
    assert sorted(p.read_text().split("\t")[1] for p in reports) == ["first", "second"]


def test_rotation_keeps_at_most_max_files(tmp_path):
    writer = ReportWriter(tmp_path, TASK, max_bytes=200, max_files=3)
    for i in range(40):
        writer.succeeded(f"/src/{i:03d}", f"s3://b/{i:03d}", i, i, 1.0)
    writer.close()
    files = sorted(tmp_path.iterdir())
    assert len(files) == 3
    assert all(p.stat().st_size <= 200 for p in files)
    rows = [line for p in files for line in p.read_text().splitlines()]
    assert sum("/src/039" in r for r in rows) == 1  # the newest rows are kept
    assert not any("/src/000" in r for r in rows)  # the oldest file went


def test_clear_removes_only_this_tasks_failure_reports(tmp_path):
    writer = ReportWriter(tmp_path, TASK)
    writer.failed("a", "b", 1, "x", 1.0)
    writer.succeeded("a", "b", 1, 1, 1.0)
    writer.close()
    other = tmp_path / "cp_failed_report_20240101000000_ffffffff-1111-4222-8333-444455556666.txt"
    other.write_text("keep")
    removed = clear_failure_reports(tmp_path, TASK)
    assert len(removed) == 1
    assert other.exists()
    assert len(list(tmp_path.glob("cp_succeed_report_*"))) == 1


@given(st.text())
def test_escaping_round_trips_and_stays_on_one_line(text):
    escaped = escape_field(text)
    assert "\t" not in escaped and "\n" not in escaped and "\r" not in escaped
    assert unescape_field(escaped) == text
