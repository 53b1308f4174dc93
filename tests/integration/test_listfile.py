"""OMS list files against the real RGW: a LIST group whose keys are the lines of an object in a bucket, read
as a stream when its task plans; planning cut short resumes without duplicates, gaps or second looks."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest
from tests.support.service import (
    Service,
    api_for,
    assert_error,
    digests,
    node,
    put_objects,
)

from ferry.errors import InterruptedTransfer
from ferry.service import nodes
from ferry.service.vault import NodeSecrets
from ferry.storage.s3 import ClientSettings
from ferry.tasks import listfile
from ferry.tasks.filters import ObjectFilter
from ferry.tasks.journal import PAGE, TaskJournal
from ferry.tasks.plan import NOT_AT_SOURCE, ListFilePlan, planned_objects
from ferry.tasks.settings import TaskSettings
from ferry.transfer.retry import RetryPolicy

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def service(tmp_path_factory, rgw):
    root = tmp_path_factory.mktemp("listfile-service")
    (root / "home").mkdir()
    started = Service(home=root / "home", data_dir=root / "svc").start()
    yield started
    started.stop()


def list_group(rgw, bucket: str, other_bucket: str, key: str) -> dict:
    return {
        "task_type": "LIST",
        "src_node": node(rgw, bucket, list_file={"obs_bucket": other_bucket, "list_file_key": key}),
        "dst_node": node(rgw, other_bucket, second=True, save_prefix="copied/"),
    }


def test_a_list_file_with_crlf_bom_blanks_and_bad_lines_is_migrated(service, rgw, s3, bucket, other_bucket):
    source = put_objects(s3, bucket, {f"k/{n:04}": n % 7 for n in range(200)})
    lines: list[bytes] = []
    for n, key in enumerate(sorted(source)):
        lines.append(key.encode())
        lines += [b"", b"  ", b"\t"] if n % 2 else [key.encode(), b""]  # blank lines, keys given twice
    lines += [b"", b" "] * ((5000 - len(lines)) // 2 - 1)  # a list of 5,000 lines, most of them blank
    lines.insert(300, b"k/\xff\xfe-not-utf8")
    lines.insert(4000, b"k/not-at-the-source")
    data = b"\xef\xbb\xbf" + b"\r\n".join(lines) + b"\r\n"
    rgw.client(second=True).put_object(Bucket=other_bucket, Key="lists/keys.txt", Body=data)

    api = api_for(service, [])
    created = api.post("/taskgroups", json=list_group(rgw, bucket, other_bucket, "lists/keys.txt"))
    assert created.status_code == 200, created.text
    assert len(created.json()["task_ids"]) == 1  # one task reads the whole list
    group = api.wait(created.json()["group_id"], timeout=240)

    assert (group["status_name"], group["success_num"], group["fail_num"]) == ("failed", 200, 2), group
    assert digests(rgw.client(second=True), other_bucket, "copied/") == source
    failed = api.failed(group["group_id"])
    reasons = {obj["key"]: obj["reason"] for obj in failed["objects"]}
    assert reasons.keys() == {"line 301: k/\\xff\\xfe-not-utf8", "k/not-at-the-source"}, failed
    assert reasons["line 301: k/\\xff\\xfe-not-utf8"] == "list file line 301: the line is not valid UTF-8"
    assert "no such object" in reasons["k/not-at-the-source"], failed


def test_a_missing_empty_or_binary_list_file_is_refused_in_one_line(service, rgw, bucket, other_bucket):
    api = api_for(service, [], project="refusals")
    dst = rgw.client(second=True)
    dst.put_object(Bucket=other_bucket, Key="lists/empty.txt", Body=b"")
    dst.put_object(Bucket=other_bucket, Key="lists/binary.gz", Body=b"\x1f\x8b\x08\x00" + bytes(range(256)))
    for key, says in (
        ("lists/none.txt", "cannot be read"),
        ("lists/empty.txt", "the list file is empty"),
        ("lists/binary.gz", "not UTF-8 text"),
    ):
        body = assert_error(
            api.post("/taskgroups", json=list_group(rgw, bucket, other_bucket, key)), 400, "OMS.0064"
        )
        assert f"{other_bucket}/{key}" in body["error_msg"] and says in body["error_msg"], body
    assert api.get("/taskgroups").json()["count"] == 0


class CountingStore:
    """A store whose look-ups are counted (everything else is the real store's)."""

    def __init__(self, store) -> None:
        self.store, self.stats = store, 0
        self.lock = threading.Lock()

    def __getattr__(self, name: str):
        return getattr(self.store, name)

    def stat(self, key: str):
        with self.lock:
            self.stats += 1
        return self.store.stat(key)


def test_planning_cut_short_resumes_without_duplicates_gaps_or_second_looks(
    tmp_path: Path, rgw, bucket, other_bucket
):
    lines = 2 * PAGE + 500
    keys = [f"gone/{n:05}" for n in range(lines)]  # objects that do not exist: each is journaled as failed
    rgw.client(second=True).put_object(Bucket=other_bucket, Key="big.txt", Body="\n".join(keys).encode())
    settings = ClientSettings()
    source = CountingStore(nodes.open_store(node(rgw, bucket), NodeSecrets(rgw.access_key, rgw.secret_key),
                                            settings, "src"))  # fmt: skip
    dest_secrets = NodeSecrets(rgw.access_key_2, rgw.secret_key_2)
    dest = nodes.open_store(node(rgw, other_bucket), dest_secrets, settings, "dst")
    plan = ListFilePlan(other_bucket, "big.txt", "copied/")
    journal = TaskJournal.create(tmp_path, str(uuid.uuid4()), "copy", "src", "dst", TaskSettings(), {})
    everything = ObjectFilter.build([], [], None, False)

    def planning(stop: threading.Event | None = None):
        return planned_objects(plan, source, dest, everything, stop=stop, list_store=dest, workers=8,
                               journaled=journal.known_sources)  # fmt: skip

    stop = threading.Event()

    def cut_short(objects):
        for n, obj in enumerate(objects):
            if n == PAGE + 300:  # a page committed, the next one not: as if the process died here
                stop.set()
            yield obj

    with pytest.raises(InterruptedTransfer):
        journal.add_planned(cut_short(planning(stop)))
    first_looks = source.stats
    assert sum(c.count for c in journal.counts().values()) == PAGE

    source.stats = 0
    journal.add_planned(planning())
    journal.finish_listing()

    planned = list(journal.objects((*journal.counts(),)))
    assert [obj.source_key for obj in planned] == keys  # every line once, in order
    assert {obj.reason for obj in planned} == {NOT_AT_SOURCE}
    assert source.stats == lines - PAGE  # the journaled page was not looked up again
    assert first_looks >= PAGE
    journal.close()


def test_a_list_file_replaced_while_it_is_read_stops_its_reading(rgw, other_bucket):
    client = rgw.client(second=True)
    client.put_object(Bucket=other_bucket, Key="list.txt", Body=b"a\nb\nc\n")
    secrets = NodeSecrets(rgw.access_key_2, rgw.secret_key_2)
    store = nodes.open_store(node(rgw, other_bucket), secrets, ClientSettings(), "dst")
    reading = listfile.pieces(store, "list.txt", threading.Event(), RetryPolicy(attempts=1), piece=2)
    assert next(reading) == b"a\n"
    client.put_object(Bucket=other_bucket, Key="list.txt", Body=b"x\ny\nz\n")
    with pytest.raises(listfile.ListFileError, match="replaced while it was read"):
        next(reading)
