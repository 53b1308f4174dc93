"""The migration service's pure parts: how a group splits into tasks, a group's status from its tasks',
which objects a run skips, error messages that never echo a value, secrets kept out of repr, and the
Alembic migrations building exactly the schema the models describe."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ferry.errors import UsageError
from ferry.service import states
from ferry.service.db import Database, normalise_url, open_database, safe_url, schema
from ferry.service.errors import describe_validation
from ferry.service.schemas import RetryBody
from ferry.service.split import SplitError, overlapping, split_group
from ferry.service.vault import GroupSecrets, NodeSecrets, Vault
from ferry.service.worker import task_settings
from ferry.storage.base import ObjectInfo
from ferry.tasks.settings import TaskSettings
from ferry.tasks.skip import EXISTS_REASON, SAME_CONTENT_REASON, already_there, run_rule
from ferry.transfer.engine import UP_TO_DATE

keys = st.lists(st.text(alphabet="ab/.-", min_size=1, max_size=6), max_size=60)


@given(keys, st.integers(min_value=1, max_value=7))
def test_a_list_group_is_split_into_chunks_covering_every_key_once_in_order(object_key, chunk):
    if not object_key:
        with pytest.raises(SplitError):
            split_group("LIST", object_key, chunk)
        return
    units = split_group("LIST", object_key, chunk)
    covered = [key for _, source in units for key in source["keys"]]
    assert covered == list(dict.fromkeys(object_key))
    assert all(1 <= len(source["keys"]) <= chunk for _, source in units)
    assert len(units) == -(-len(covered) // chunk)


@given(keys)
def test_overlapping_prefixes_are_found_exactly_when_one_extends_another(prefixes):
    distinct = set(prefixes)
    brute = any(a != b and b.startswith(a) for a, b in itertools.permutations(distinct, 2))
    clash = overlapping(prefixes)
    assert (clash is not None) == brute
    if clash is not None:
        assert clash[1].startswith(clash[0]) and clash[0] != clash[1]
        with pytest.raises(SplitError, match="overlap"):
            split_group("PREFIX", prefixes)
    else:
        units = split_group("PREFIX", prefixes)
        assert [source["prefix"] for _, source in units] == (sorted(distinct) or [""])


def test_a_prefix_group_without_prefixes_is_the_whole_bucket():
    assert split_group("PREFIX", []) == [("(whole bucket)", {"prefix": ""})]


@given(st.lists(st.sampled_from(states.STATUSES), max_size=8))
def test_group_status_follows_its_most_active_task(task_statuses):
    status = states.group_status(task_statuses)
    if not task_statuses or set(task_statuses) == {states.SUCCEEDED}:
        assert status == states.SUCCEEDED
    else:
        assert status in task_statuses
        order = [states.EXECUTING, states.WAITING, states.STOPPING, states.STOPPED, states.FAILED]
        assert all(order.index(status) <= order.index(s) for s in task_statuses if s != states.SUCCEEDED)
    assert status in states.GROUP_CODES


def skip_rule(overwrite, check, recheck_all):
    """The rule a run of a group's task applies, through the task settings the group gives its tasks."""
    group = {"overwrite": overwrite, "consistency_check": check, "transfer": {}}
    settings = task_settings(group, Path("checkpoint"))
    return run_rule(settings, recheck_all)


def test_skip_rules():
    assert skip_rule("never", "size_mtime", False) == "exists"
    assert skip_rule("if_different", "size_mtime", False) == "engine"
    assert skip_rule("if_different", "checksum", False) == "checksum"
    assert skip_rule("always", "size_mtime", False) == "none"
    assert skip_rule("always", "size_mtime", True) == "engine"  # a full retry skips what is migrated
    assert skip_rule("always", "checksum", True) == "checksum"
    assert run_rule(TaskSettings(), False) == "none"  # cp -r without -u moves everything
    assert run_rule(TaskSettings(incremental=True), False) == "engine"  # cp -r -u


def info(size=10, mtime=100.0, etag=None, md5=None):
    return ObjectInfo("k", size, mtime, etag, {"md5chksum": md5} if md5 else {})


MD5 = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("rule", "source", "destination", "reason"),
    [
        ("none", info(), info(), None),
        ("exists", info(), None, None),
        ("exists", info(size=1), info(size=2), EXISTS_REASON),
        ("engine", info(), info(mtime=100.9), UP_TO_DATE),
        ("engine", info(), info(mtime=99.0), None),  # the destination is older
        ("engine", info(), info(size=11, mtime=200), None),
        ("checksum", info(etag=MD5), info(etag=MD5, mtime=1), SAME_CONTENT_REASON),  # mtime does not matter
        ("checksum", info(etag=MD5), info(etag="f" * 32), None),
        ("checksum", info(etag="abc-2"), info(etag="abc-2"), SAME_CONTENT_REASON),  # same multipart ETag
        ("checksum", info(etag="abc-2"), info(etag="def-2"), None),  # cannot tell: move it
        ("checksum", info(etag="abc-2", md5=MD5), info(etag=MD5), SAME_CONTENT_REASON),
        ("checksum", info(size=9, etag=MD5), info(etag=MD5), None),
    ],
)
def test_already_there(rule, source, destination, reason):
    assert already_there(rule, source, destination) == reason


def test_validation_messages_name_the_field_but_never_the_value():
    secret = "s" * 101
    with pytest.raises(ValidationError) as caught:
        RetryBody(src_sk=secret, migrate_failed_object="maybe")  # type: ignore[arg-type]
    message = describe_validation(caught.value.errors())
    assert message.startswith("invalid request: ")
    assert "src_sk" in message and "migrate_failed_object" in message
    assert "sss" not in message and "maybe" not in message


def test_secrets_stay_out_of_repr():
    secrets = GroupSecrets(NodeSecrets(ak="AKIDEXAMPLE", sk="very-secret"), NodeSecrets(sk="other-secret"))
    vault = Vault()
    vault.put("g", secrets)
    body = RetryBody(src_ak="AKIDEXAMPLE", src_sk="very-secret")
    for text in (repr(secrets), str(secrets), repr(vault), repr(body)):
        assert "very-secret" not in text and "other-secret" not in text and "AKIDEXAMPLE" not in text
    merged = vault.merged("g", GroupSecrets(destination=NodeSecrets(ak="new-ak")))
    assert merged.source.sk == "very-secret" and merged.destination == NodeSecrets(
        ak="new-ak", sk="other-secret"
    )


def test_database_urls():
    assert normalise_url("postgresql://u:p@h:1/d") == "postgresql+psycopg://u:p@h:1/d"
    assert normalise_url("postgres://u:p@h/d") == "postgresql+psycopg://u:p@h/d"
    assert normalise_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    with pytest.raises(UsageError):
        normalise_url("mysql://u:p@h/d")
    assert "hunter2" not in safe_url("postgresql+psycopg://u:hunter2@h/d")


def test_the_migrations_build_the_models_schema_and_run_twice(tmp_path):
    database = open_database(None, tmp_path / "svc")
    Database(database.url).migrate()  # already at head: nothing to do
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, schema()) == []
    assert (tmp_path / "svc" / "service.db").stat().st_mode & 0o077 == 0
    database.dispose()


def test_a_starting_service_fails_only_the_tasks_of_services_that_are_gone(tmp_path):
    from ferry.service.db import ServiceInstance, Task, TaskGroup, now
    from ferry.service.worker import STALE_AFTER, fail_interrupted

    drivers = {"me": "a:/me", "alive": "b:/alive", "gone": "c:/gone", "nobody": None, "done": "b:/alive"}
    database = open_database(None, tmp_path / "svc")
    with database.session() as session:
        session.add(ServiceInstance(name="a:/me", heartbeat=now()))  # killed a moment ago
        session.add(ServiceInstance(name="b:/alive", heartbeat=now()))
        session.add(ServiceInstance(name="c:/gone", heartbeat=now() - STALE_AFTER - 1))
        for name in drivers:
            session.add(
                TaskGroup(
                    id=f"g-{name}",
                    project_id="p",
                    status="executing",
                    task_type="PREFIX",
                    src_node={},
                    dst_node={},
                    settings={},
                    created_at=now(),
                    updated_at=now(),
                )
            )
        session.flush()
        for name, driver in drivers.items():
            session.add(
                Task(
                    id=f"t-{name}",
                    group_id=f"g-{name}",
                    project_id="p",
                    position=0,
                    name=name,
                    source={},
                    status="success" if name == "done" else "executing",
                    driver=driver,
                    created_at=now(),
                    updated_at=now(),
                )
            )
    assert fail_interrupted(database) == 1  # a later check: only the dead service's task
    assert fail_interrupted(database, own="a:/me") == 2  # at start-up: its own earlier life, and unowned
    with database.session() as session:
        statuses = {task.name: task.status for task in session.query(Task)}
    assert statuses == {
        "me": "failed",
        "alive": "executing",
        "gone": "failed",
        "nobody": "failed",
        "done": "success",
    }
    database.dispose()
