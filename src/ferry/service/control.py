"""What the API's calls do to groups and tasks: validate, store, schedule. No transfer happens here.

Every state change is one database transaction whose updates are conditional on the state it read, so a
worker claiming a task at the same moment cannot be overridden (see :meth:`Scheduler._claim`).
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ferry.errors import FerryError, UsageError
from ferry.service import nodes, states
from ferry.service.db import Database, Task, TaskGroup, now
from ferry.service.errors import (
    CANNOT_START,
    CANNOT_STOP,
    IN_PROGRESS,
    NO_CREDENTIALS,
    NOT_FOUND,
    UNSUPPORTED,
    ApiError,
    bad_request,
)
from ferry.service.schemas import Credentials, GroupCreate, NodeIn, RetryBody, SrcNodeIn
from ferry.service.split import SplitError, split_group
from ferry.service.vault import NO_CREDENTIALS_REASON, GroupSecrets, NodeSecrets, Vault
from ferry.service.worker import Scheduler, ServiceSettings, refresh_group, task_settings
from ferry.tasks.journal import remove_task


@dataclass
class Service:
    """Everything a request handler needs."""

    database: Database
    vault: Vault
    scheduler: Scheduler
    settings: ServiceSettings


# --- lookups ------------------------------------------------------------------------------------------------


def get_group(session: Session, project_id: str, group_id: str) -> TaskGroup:
    group = session.get(TaskGroup, group_id)
    if group is None or group.project_id != project_id:
        raise ApiError(400, NOT_FOUND, f"no task group {group_id} in this project")
    return group


def get_task(session: Session, project_id: str, task_id: str) -> Task:
    task = session.get(Task, task_id)
    if task is None or task.project_id != project_id:
        raise ApiError(400, NOT_FOUND, f"no task {task_id} in this project")
    return task


def group_tasks(session: Session, group_id: str) -> list[Task]:
    return list(session.scalars(select(Task).where(Task.group_id == group_id).order_by(Task.position)))


# --- secrets ------------------------------------------------------------------------------------------------


NODE_FIELDS = {
    "ak": "ak",
    "sk": "sk",
    "connection_string": "connection_string",
    "json_auth_file": "json_auth_file",
    "cdn_key": "cdn_authentication_key",
}
"""The create body's node field of each :class:`NodeSecrets` field."""
BODY_FIELDS = {
    "src": {
        "ak": "src_ak",
        "sk": "src_sk",
        "connection_string": "connection_string",
        "json_auth_file": "json_auth_file",
        "cdn_key": "source_cdn_authentication_key",
    },
    "dst": {
        "ak": "dst_ak",
        "sk": "dst_sk",
        "connection_string": "dst_connection_string",
        "json_auth_file": "dst_json_auth_file",
    },
}
"""The start and retry body's field of each side's :class:`NodeSecrets` field. OMS's own fields
(``connection_string``, ``json_auth_file``, ``source_cdn_authentication_key``) are the source's, as OMS
migrates only to its own cloud; ``dst_connection_string`` and ``dst_json_auth_file`` are ferry's, for an
Azure or Google destination."""


def node_secrets(node: NodeIn) -> NodeSecrets:
    return NodeSecrets(
        ak=node.ak or None,
        sk=node.sk or None,
        connection_string=node.connection_string or None,
        json_auth_file=node.json_auth_file or None,
        cdn_key=(node.cdn_authentication_key or None) if isinstance(node, SrcNodeIn) else None,
    )


def body_secrets(body: Credentials) -> GroupSecrets:
    source = NodeSecrets(
        ak=body.src_ak or None,
        sk=body.src_sk or None,
        connection_string=body.connection_string or None,
        json_auth_file=body.json_auth_file or None,
        cdn_key=body.source_cdn_authentication_key or None,
    )
    destination = NodeSecrets(
        ak=body.dst_ak or None,
        sk=body.dst_sk or None,
        connection_string=body.dst_connection_string or None,
        json_auth_file=body.dst_json_auth_file or None,
    )
    return GroupSecrets(source, destination)


def _check_secrets(node: dict[str, Any], secrets: NodeSecrets, where: str) -> None:
    """400 when secrets given for a node cannot work (malformed), naming the field, never its value."""
    problem = nodes.secrets_problem(node, secrets)
    if problem is not None:
        raise bad_request(f"{where}: {problem}")


def _usable_secrets(service: Service, group: TaskGroup, given: Credentials) -> GroupSecrets:
    """The group's secrets with those of the body applied; 400 when a side still lacks what it needs."""
    newer = body_secrets(given)
    for side, node, secrets in (
        ("src", group.src_node, newer.source),
        ("dst", group.dst_node, newer.destination),
    ):
        for name in ("connection_string", "json_auth_file"):
            if getattr(secrets, name):
                _check_secrets(node, NodeSecrets(**{name: getattr(secrets, name)}), BODY_FIELDS[side][name])
    merged = service.vault.merged(group.id, newer)
    merged = GroupSecrets(
        nodes.used_secrets(group.src_node, merged.source),
        nodes.used_secrets(group.dst_node, merged.destination),
    )
    missing = [
        BODY_FIELDS[side][name]
        for side, node, secrets in (
            ("src", group.src_node, merged.source),
            ("dst", group.dst_node, merged.destination),
        )
        for name in nodes.missing_secrets(node, secrets)
    ]
    if missing:
        held = service.vault.get(group.id) is not None
        why = (
            "the service does not hold this group's credentials" if not held else "credentials are incomplete"
        )
        if not held:
            why += f" ({NO_CREDENTIALS_REASON})"
        raise ApiError(400, NO_CREDENTIALS, f"{why}: give {', '.join(missing)} in the body")
    return merged


# --- groups -------------------------------------------------------------------------------------------------


def _node_record(node: NodeIn, extra: dict[str, Any]) -> dict[str, Any]:
    backend = nodes.backend_for(node.cloud_type)
    record = {
        "cloud_type": backend.name if backend is not None else node.cloud_type,
        "region": node.region,
        "endpoint": node.endpoint.rstrip("/") if node.endpoint else None,
        "bucket": node.bucket or "",
        "addressing_style": node.addressing_style,
    }
    record.update(extra)
    return record


def create_group(service: Service, project_id: str, body: GroupCreate) -> tuple[str, list[str]]:
    src = _node_record(body.src_node, {"object_key": list(body.src_node.object_key)})
    dst = _node_record(body.dst_node, {"save_prefix": body.dst_node.save_prefix})
    for side, node in (("src", src), ("dst", dst)):
        problem = nodes.check_node(node, side, body.task_type)
        if problem is not None:
            code = UNSUPPORTED if nodes.backend_for(node["cloud_type"]) is None else "OMS.0064"
            raise ApiError(400, code, f"{side}_node: {problem}")
    secrets = GroupSecrets(
        nodes.used_secrets(src, node_secrets(body.src_node)),
        nodes.used_secrets(dst, node_secrets(body.dst_node)),
    )
    for side, node, held in (("src", src, secrets.source), ("dst", dst, secrets.destination)):
        missing = [NODE_FIELDS[name] for name in nodes.missing_secrets(node, held)]
        if missing:
            raise bad_request(
                f"{side}_node: {' and '.join(missing)} {'are' if len(missing) > 1 else 'is'} required for "
                f"cloud_type {node['cloud_type']}"
            )
        _check_secrets(node, held, f"{side}_node")
    settings: dict[str, Any] = {
        "overwrite": body.overwrite,
        "consistency_check": body.consistency_check,
        "migrate_since": body.migrate_since,
        "transfer": body.transfer.model_dump(),
    }
    try:
        task_settings(settings, Path("checkpoint")).transfer_options(service.settings.defaults)
        units = split_group(body.task_type, body.src_node.object_key, url_list=body.src_node.url_list)
    except (UsageError, SplitError) as exc:
        raise bad_request(str(exc)) from None
    group_id = str(uuid.uuid4())
    stamp = now()
    # The src record keeps a PREFIX group's prefixes, not a LIST group's keys (nor a URL_LIST group's
    # lines): those live in its tasks.
    if body.task_type != "PREFIX":
        src["object_key"] = []
    group = TaskGroup(
        id=group_id,
        project_id=project_id,
        status=states.WAITING,
        description=body.description,
        task_type=body.task_type,
        src_node=src,
        dst_node=dst,
        settings=settings,
        retry_count=0,
        created_at=stamp,
        updated_at=stamp,
    )
    tasks = [
        Task(
            id=str(uuid.uuid4()),
            group_id=group_id,
            project_id=project_id,
            position=position,
            name=name[:1100],
            source=source,
            status=states.WAITING,
            run_mode="continue",
            speed=0.0,
            runs=0,
            created_at=stamp,
            updated_at=stamp,
            **dict.fromkeys(
                (
                    "total_num",
                    "success_num",
                    "fail_num",
                    "skip_num",
                    "total_size",
                    "success_size",
                    "fail_size",
                    "skip_size",
                    "transferred_size",
                    "run_transferred_size",
                ),
                0,
            ),
        )
        for position, (name, source) in enumerate(units)
    ]
    service.vault.put(group_id, secrets)
    with service.database.session() as session:
        session.add(group)
        session.flush()
        session.add_all(tasks)
    ids = [task.id for task in tasks]
    service.scheduler.submit(ids)
    return group_id, ids


def stop_group(service: Service, project_id: str, group_id: str) -> None:
    with service.database.session() as session:
        group = get_group(session, project_id, group_id)
        if group.status not in (states.WAITING, states.EXECUTING):
            raise ApiError(
                400,
                CANNOT_STOP,
                f"the group's status is {group.status}: only a waiting or executing group can be stopped",
            )
        ids = _stop_tasks(session, Task.group_id == group_id)
        refresh_group(session, group_id)
    for task_id in ids:
        service.scheduler.stop(task_id)


def _stop_tasks(session: Session, where: Any) -> list[str]:
    """Waiting tasks become stopped, executing ones stopping (their worker is told next)."""
    session.execute(
        update(Task)
        .where(where, Task.status == states.WAITING)
        .values(status=states.STOPPED, updated_at=now())
    )
    session.execute(
        update(Task)
        .where(where, Task.status == states.EXECUTING)
        .values(status=states.STOPPING, updated_at=now())
    )
    return list(session.scalars(select(Task.id).where(where, Task.status == states.STOPPING)))


def start_group(service: Service, project_id: str, group_id: str, body: Credentials) -> None:
    with service.database.session() as session:
        group = get_group(session, project_id, group_id)
        if group.status == states.SUCCEEDED:
            return  # nothing to do: "start until it succeeds" loops end
        if group.status != states.STOPPED:
            hint = " (a failed group is retried: PUT .../retry)" if group.status == states.FAILED else ""
            raise ApiError(
                400,
                CANNOT_START,
                f"the group's status is {group.status}: only a stopped group can be started{hint}",
            )
        secrets = _usable_secrets(service, group, body)
        ids = _requeue(session, (Task.group_id == group_id) & (Task.status == states.STOPPED), "continue")
        refresh_group(session, group_id)
        service.vault.put(group_id, secrets)
    service.scheduler.submit(ids)


def retry_group(service: Service, project_id: str, group_id: str, body: RetryBody) -> None:
    """The seed's retry: the failed tasks of a failed group run again, with the keys given again.
    ``migrate_failed_object`` true: only what the journals record as failed (or never reached);
    false: every object of those tasks is checked again and those already migrated are skipped."""
    with service.database.session() as session:
        group = get_group(session, project_id, group_id)
        if group.status == states.SUCCEEDED:
            return  # nothing to retry: "retry until it succeeds" loops end
        if group.status != states.FAILED:
            raise ApiError(
                400, CANNOT_START, f"the group's status is {group.status}: only a failed group can be retried"
            )
        secrets = _usable_secrets(service, group, body)
        mode = "continue" if body.migrate_failed_object else "all"
        ids = _requeue(session, (Task.group_id == group_id) & (Task.status == states.FAILED), mode)
        group.retry_count += 1
        refresh_group(session, group_id)
        service.vault.put(group_id, secrets)
    service.scheduler.submit(ids)


def _requeue(session: Session, where: Any, mode: str) -> list[str]:
    ids = list(session.scalars(select(Task.id).where(where)))
    if ids:
        session.execute(
            update(Task)
            .where(Task.id.in_(ids))
            .values(
                status=states.WAITING, run_mode=mode, error_reason=None, finished_at=None, updated_at=now()
            )
        )
    return ids


def delete_group(service: Service, project_id: str, group_id: str) -> None:
    with service.database.session() as session:
        group = get_group(session, project_id, group_id)
        tasks = group_tasks(session, group_id)
        busy = [task for task in tasks if task.status in states.ACTIVE]
        if busy:
            raise ApiError(
                400,
                IN_PROGRESS,
                f"the group's status is {group.status}: stop it before deleting it (PUT .../stop)",
            )
        for task in tasks:
            _remove_journal(service, task.id)
        session.delete(group)
    service.vault.forget(group_id)


def _remove_journal(service: Service, task_id: str) -> None:
    with contextlib.suppress(FerryError):  # never planned: no journal
        remove_task(service.settings.checkpoint_dir, task_id)


# --- tasks --------------------------------------------------------------------------------------------------


def stop_task(service: Service, project_id: str, task_id: str) -> None:
    with service.database.session() as session:
        task = get_task(session, project_id, task_id)
        if task.status not in (states.WAITING, states.EXECUTING):
            raise ApiError(
                400,
                CANNOT_STOP,
                f"the task's status is {task.status}: only a waiting or executing task can be stopped",
            )
        ids = _stop_tasks(session, Task.id == task_id)
        refresh_group(session, task.group_id)
    for stopping in ids:
        service.scheduler.stop(stopping)


def start_task(service: Service, project_id: str, task_id: str, body: RetryBody) -> None:
    with service.database.session() as session:
        task = get_task(session, project_id, task_id)
        if task.status == states.SUCCEEDED:
            return  # nothing to do, as for a group
        if task.status not in (states.STOPPED, states.FAILED):
            raise ApiError(
                400,
                CANNOT_START,
                f"the task's status is {task.status}: only a stopped or failed task can be started",
            )
        group = session.get(TaskGroup, task.group_id)
        assert group is not None
        secrets = _usable_secrets(service, group, body)
        mode = "all" if task.status == states.FAILED and not body.migrate_failed_object else "continue"
        ids = _requeue(session, (Task.id == task_id) & Task.status.in_((states.STOPPED, states.FAILED)), mode)
        refresh_group(session, group.id)
        service.vault.put(group.id, secrets)
    service.scheduler.submit(ids)


def delete_task(service: Service, project_id: str, task_id: str) -> None:
    with service.database.session() as session:
        task = get_task(session, project_id, task_id)
        if task.status in states.ACTIVE:
            raise ApiError(
                400, IN_PROGRESS, f"the task's status is {task.status}: stop it before deleting it"
            )
        _remove_journal(service, task_id)
        group_id = task.group_id
        session.delete(task)
        session.flush()
        refresh_group(session, group_id)
