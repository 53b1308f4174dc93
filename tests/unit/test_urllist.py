"""URL list files: every malformed line is reported with its number and reason, the others go on."""

from hypothesis import given
from hypothesis import strategies as st

from ferry.tasks.journal import PlannedObject, TaskJournal
from ferry.tasks.settings import TaskSettings
from ferry.tasks.urllist import _one_line_per_key, parse_line, parse_lines, read_url_list

GOOD = "https://cdn.example.com/img/a%20b.png\timages/a b.png"


def test_blank_lines_and_comments_are_skipped_and_line_numbers_kept():
    lines = ["# header\n", "\n", "   \n", GOOD + "\r\n", "  # indented comment\n", "http://h/x\tx.bin\n"]
    entries = list(parse_lines(lines))
    assert [e.line for e in entries] == [4, 6]
    assert all(e.problem is None for e in entries)
    assert (entries[0].url, entries[0].key) == ("https://cdn.example.com/img/a%20b.png", "images/a b.png")
    assert entries[1].url == "http://h/x"


def test_each_malformed_line_says_why():
    cases = {
        "http://h/x": "no tab",
        "ftp://h/x\tk": "bad URL scheme 'ftp'",
        "h/x\tk": "bad URL scheme none",
        "http://h/x\t": "empty destination key",
        "http://h/x\t../up": "unsafe destination key: the key has a '..' path component",
        "http://h/x\t/abs": "unsafe destination key: the key is an absolute path",
        "http://h/x\ta//b": "unsafe destination key: the key has an empty path component",
        "http://h/x\tdir/": "it must name an object",
        "http://h/x\ta\tb": "more than one tab",
        "http://h/dir/\tk": "the URL ends in /",
        "http://u:p@h/x\tk": "user name or password",
        "http://h/x\tk\udcff": "not valid UTF-8",
    }
    lines = [*cases, GOOD]
    entries = list(parse_lines(lines))
    assert len(entries) == len(lines)
    for number, (entry, (text, phrase)) in enumerate(zip(entries, cases.items(), strict=False), 1):
        # A line that is not UTF-8 keeps its bad bytes as \xNN: the journal and reports hold only text.
        shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        assert entry.line == number and entry.text == shown
        assert entry.problem is not None and entry.problem.startswith(f"URL list line {number}: ")
        assert phrase in entry.problem, entry.problem
        assert entry.url == "" and entry.key == ""
    assert entries[-1].problem is None  # the good line after all the bad ones


@given(st.text(alphabet=st.characters(blacklist_characters="\t\r\n", blacklist_categories=("Cs",))))
def test_a_line_without_a_tab_is_never_accepted(text):
    if not text.strip() or text.strip().startswith("#"):
        assert list(parse_lines([text])) == []
        return
    assert "no tab" in (parse_line(1, text).problem or "")


@given(
    st.lists(st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True), min_size=1, max_size=4),
    st.lists(st.from_regex(r"[A-Za-z0-9 ._-]{0,6}[A-Za-z0-9_]", fullmatch=True), min_size=1, max_size=3),
)
def test_good_lines_keep_their_key_exactly(path, key_parts):
    key = "/".join(key_parts)
    entry = parse_line(7, f"http://example.com/{'/'.join(path)}\t{key}")
    if any(part.strip(".") == "" for part in key_parts):
        return  # "." or ".." components are refused, as tested above
    assert entry.problem is None and entry.key == key


def test_a_list_file_streams_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "list.txt"
    path.write_bytes(("\ufeff" + GOOD + "\nbad line\n").encode())
    entries = list(read_url_list(path))
    assert entries[0].problem is None and entries[0].line == 1
    assert "line 2" in (entries[1].problem or "")


def test_malformed_lines_become_failed_journal_rows(tmp_path):
    """The rows the planner makes of malformed lines (no destination, the reason) are journaled as failed,
    and stay failed on a requeue: no retry can fix a line."""
    entries = [e for e in parse_lines(["no tab here", "ftp://x/y\tk", "no tab here"]) if e.problem]
    rows = [PlannedObject(f"line {e.line}: {e.text}", "", 0, 0.0, None, e.problem) for e in entries]
    journal = TaskJournal.create(
        tmp_path, "00000000-0000-4000-8000-000000000001", "copy", "l", "d", TaskSettings()
    )
    assert journal.add_planned(rows) == 3  # the same text on two lines: two rows
    failed = list(journal.objects(("failed",)))
    assert [o.reason for o in failed] == [e.problem for e in entries]
    assert journal.requeue(("failed",)) == 0
    journal.close()


def test_no_proxy_follows_curls_rules():
    from ferry.storage.http import bypasses_proxy

    rules = "localhost, .internal.example,files.example:8080,[::1]"
    assert bypasses_proxy("localhost", None, rules)
    assert bypasses_proxy("a.internal.example", 443, rules) and bypasses_proxy("internal.example", 80, rules)
    assert not bypasses_proxy("notinternal.example", 80, rules)
    assert bypasses_proxy("files.example", 8080, rules) and not bypasses_proxy("files.example", 80, rules)
    assert not bypasses_proxy("cdn.example.com", 443, rules)
    assert bypasses_proxy("anything", 1, "*") and not bypasses_proxy("anything", 1, "")


def test_a_key_named_again_fails_on_the_later_line_and_names_the_first():
    entries = [parse_line(n, f"http://h.example/{n}\tk/{n % 3000}") for n in range(1, 6001)]
    out = list(_one_line_per_key(entries))
    assert [e.line for e in out if e.problem is None] == list(range(1, 3001))
    assert out[3000].problem == (
        "URL list line 3001: line 1 already names the same destination key; each key may be written by "
        "one line only"
    )
