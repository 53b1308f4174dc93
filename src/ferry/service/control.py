"""What the API's calls do to groups and tasks: validate, store, schedule. No transfer happens here.

Every state change is one database transaction whose updates are conditional on the state it read, so a
worker claiming a task at the same moment cannot be overridden (see :meth:`Scheduler._claim`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, make_transient

from ferry.errors import FerryError, UsageError
from ferry.service import nodes, source_cdn, states, views
from ferry.service.codes import LIMIT_REACHED
from ferry.service.db import Database, Task, TaskGroup, now
from ferry.service.endpoints import EndpointTable
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
from ferry.service.limits import ProjectLimits
from ferry.service.schemas import (
    PLAIN,
    BandwidthBody,
    BandwidthWindow,
    Credentials,
    GroupCreate,
    NodeIn,
    RetryBody,
    SrcNodeIn,
)
from ferry.service.split import SplitError, split_group
from ferry.service.vault import NO_CREDENTIALS_REASON, GroupSecrets, NodeSecrets, Vault
from ferry.service.worker import Scheduler, ServiceSettings, refresh_group, task_settings
from ferry.storage.s3 import ClientSettings
from ferry.tasks import listfile
from ferry.tasks.journal import remove_shared_task
from ferry.transfer.ratelimit import overlapping


@dataclass
class Service:
    """Everything a request handler needs."""

    database: Database
    vault: Vault
    scheduler: Scheduler
    settings: ServiceSettings
    endpoints: EndpointTable = field(default_factory=EndpointTable)
    limits: ProjectLimits = field(default_factory=ProjectLimits)


# --- lookups ------------------------------------------------------------------------------------------------


def get_group(session: Session, project_id: str, group_id: str) -> TaskGroup:
    group = session.get(TaskGroup, group_id)
    if group is None or group.project_id != project_id:
        raise ApiError(400, NOT_FOUND, f"no task group {group_id} in this project")
    return group


def get_task(session: Session, project_id: str, number: int) -> Task:
    """A task by its id on the API (its number)."""
    task = session.scalar(select(Task).where(Task.number == number))
    if task is None or task.project_id != project_id:
        raise ApiError(400, NOT_FOUND, f"no task {number} in this project")
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
    _refuse_unsupported(unsupported_credentials(given))
    newer = body_secrets(given)
    for side, node, secrets in (
        ("src", group.src_node, newer.source),
        ("dst", group.dst_node, newer.destination),
    ):
        takes = nodes.takes(node)
        wrong = [
            BODY_FIELDS[side][name] for name, value in vars(secrets).items() if value and name not in takes
        ]
        if wrong:
            raise bad_request(
                f"{', '.join(wrong)}: not a credential of the {side} (cloud_type {node.get('cloud_type')})"
            )
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


def _node_record(service: Service, node: NodeIn, extra: dict[str, Any]) -> dict[str, Any]:
    backend = nodes.backend_for(node.cloud_type)
    cloud_type = backend.name if backend is not None else node.cloud_type
    endpoint = node.endpoint.rstrip("/") if node.endpoint else None
    if endpoint is None and backend is not None and backend.needs_endpoint:
        endpoint = service.endpoints.resolve(cloud_type, node.region)
    if endpoint is None and cloud_type == "AWS":  # boto finds AWS's own; an operator may override it
        endpoint = service.endpoints.override(cloud_type, node.region)
    record = {
        "cloud_type": cloud_type,
        "region": node.region,
        "endpoint": endpoint,
        "bucket": node.bucket or "",
        "addressing_style": node.addressing_style,
    }
    record.update(extra)
    return record


def _cdn_given(body: GroupCreate) -> bool:
    """Whether the body asks for a CDN source: OMS's ``source_cdn`` with anything in it but defaults."""
    cdn = body.source_cdn
    if cdn is None:
        return False
    return bool(cdn.domain or cdn.authentication_key or (cdn.authentication_type or "NONE") != "NONE")


def unsupported_fields(body: GroupCreate) -> list[str]:
    """The OMS fields of a create body given at a value ferry cannot honour (each is accepted at its
    default): notifications, KMS, restoring archived objects."""
    named = []
    for side, node in (("src_node", body.src_node), ("dst_node", body.dst_node)):
        if node.crypto_type is not None and node.crypto_type not in PLAIN:
            named.append(f"{side}.crypto_type")
        if node.kms_key_id:
            named.append(f"{side}.kms_key_id")
    if body.enable_restore:
        named.append("enable_restore")
    if body.enable_kms:
        named.append("enable_kms")
    if body.source_cdn is not None:
        if body.source_cdn.crypto_type is not None and body.source_cdn.crypto_type not in PLAIN:
            named.append("source_cdn.crypto_type")
        if body.source_cdn.kms_key_id:
            named.append("source_cdn.kms_key_id")
    if body.smn_config is not None and body.smn_config.topic_urn:
        named.append("smn_config")
    if body.dst_storage_policy == "SRC_STORAGE_MAPPING":
        named.append("dst_storage_policy SRC_STORAGE_MAPPING")
    return named


STORAGE_POLICIES = {"STANDARD": "standard", "IA": "warm", "ARCHIVE": "cold", "DEEP_ARCHIVE": "deep_archive"}
"""OMS's ``dst_storage_policy`` as ferry's storage class names (OBS's: warm, cold)."""


def unsupported_credentials(body: Credentials) -> list[str]:
    named = [
        name
        for name in ("src_crypto_type", "dst_crypto_type", "source_cdn_crypto_type")
        if getattr(body, name) is not None and getattr(body, name) not in PLAIN
    ]
    named += [
        name
        for name in ("src_kms_key_id", "dst_kms_key_id", "source_cdn_kms_key_id", "src_security_token")
        if getattr(body, name)
    ]
    if body.dst_security_token:
        named.append("dst_security_token")
    return named


def _refuse_unsupported(named: list[str]) -> None:
    if named:
        raise ApiError(
            400,
            UNSUPPORTED,
            f"not supported by this service (accepted only at the default): {', '.join(named)}",
        )


def bandwidth_windows(policy: list[BandwidthWindow]) -> list[list[int]]:
    """OMS's windows as the limiter's (start minute, end minute, bytes per second); 400 when two overlap."""
    windows = [[_minute(w.start), _minute(w.end), w.max_bandwidth] for w in policy]
    if any(start == end for start, end, _ in windows):
        raise bad_request("bandwidth_policy: a window must not start where it ends")
    if overlapping(tuple((start, end, rate) for start, end, rate in windows)):
        raise bad_request("bandwidth_policy: the windows overlap")
    return windows


def _minute(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def update_bandwidth(service: Service, group_id: str, body: BandwidthBody) -> None:
    """A group's new bandwidth policy: each of its tasks follows it from its next run on."""
    windows = bandwidth_windows(body.bandwidth_policy)
    with service.database.session() as session:
        group = session.get(TaskGroup, group_id)
        assert group is not None
        settings = dict(group.settings)
        settings["bandwidth_windows"] = windows
        settings["oms"] = {
            **dict(settings.get("oms") or {}),
            "bandwidth_policy": [w.model_dump() for w in body.bandwidth_policy],
        }
        group.settings = settings
        group.updated_at = now()


def group_settings(body: GroupCreate) -> dict[str, Any]:
    """What a group keeps besides its nodes: the rules its tasks run by (``worker.task_settings`` reads
    them) and the OMS fields as given (shown back by ``GET``)."""
    return {
        "overwrite": views.OVERWRITE_MODES[body.object_overwrite_mode],
        "consistency_check": views.CHECKS[body.consistency_check],
        "migrate_since": body.migrate_since,
        "storage_class": STORAGE_POLICIES.get(body.dst_storage_policy or ""),
        "payer": "requester" if body.enable_requester_pays else None,
        "bandwidth_windows": bandwidth_windows(body.bandwidth_policy),
        "metadata_migration": body.enable_metadata_migration,
        "verify_after_migration": body.verify_after_migration,
        "transfer": body.transfer.model_dump(),
        "oms": {
            "enable_metadata_migration": body.enable_metadata_migration,
            "enable_failed_object_recording": body.enable_failed_object_recording,
            "object_overwrite_mode": body.object_overwrite_mode,
            "consistency_check": body.consistency_check,
            "dst_storage_policy": body.dst_storage_policy,
            "enable_requester_pays": body.enable_requester_pays,
            "bandwidth_policy": [w.model_dump() for w in body.bandwidth_policy],
        },
    }


def create_group(service: Service, project_id: str, body: GroupCreate) -> tuple[str, list[int]]:
    _refuse_unsupported(unsupported_fields(body))
    if body.task_type != "PREFIX" and "" in body.src_node.object_key:
        raise bad_request("src_node.object_key: an object key cannot be empty")
    src = _node_record(
        service,
        body.src_node,
        {
            "object_key": list(body.src_node.object_key),
            "app_id": body.src_node.app_id,
            "list_file": body.src_node.list_file.model_dump() if body.src_node.list_file else None,
        },
    )
    dst = _node_record(service, body.dst_node, {"save_prefix": body.dst_node.save_prefix})
    for side, node in (("src", src), ("dst", dst)):
        problem = nodes.check_node(node, side, body.task_type)
        if problem is not None:
            code = UNSUPPORTED if nodes.backend_for(node["cloud_type"]) is None else "OMS.0064"
            raise ApiError(400, code, f"{side}_node: {problem}")
    src_secrets = node_secrets(body.src_node)
    if _cdn_given(body):
        assert body.source_cdn is not None
        try:
            src["source_cdn"] = source_cdn.record(body.source_cdn, body.task_type, src["cloud_type"])
        except source_cdn.CdnProblem as exc:
            raise bad_request(str(exc)) from None
        src_secrets = replace(src_secrets, cdn_key=body.source_cdn.authentication_key or src_secrets.cdn_key)
        if source_cdn.signs(src) and not src_secrets.cdn_key:
            raise bad_request(
                "source_cdn.authentication_key is required for authentication_type "
                f"{src['source_cdn']['authentication_type']}"
            )
    secrets = GroupSecrets(
        nodes.used_secrets(src, src_secrets),
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
    settings = group_settings(body)
    if "source_cdn" in src:
        settings["oms"]["source_cdn"] = src["source_cdn"]
    try:
        task_settings(settings, Path("checkpoint")).transfer_options(service.settings.defaults)
        if body.src_node.list_file is not None:
            units = [check_list_file(service, body, dst, secrets.destination)]
        else:
            units = split_group(body.task_type, body.src_node.object_key, url_list=body.src_node.url_list)
    except (UsageError, SplitError) as exc:
        raise bad_request(str(exc)) from None
    _check_limits(service, project_id, len(units))
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
    _store_group(service.database, group, tasks)
    service.scheduler.submit([task.id for task in tasks])
    return group_id, [task.number for task in tasks]


def _store_group(database: Database, group: TaskGroup, tasks: list[Task]) -> None:
    """Insert a group and its tasks, numbering the tasks after the highest number in use (a create at
    the same moment that took the same numbers makes this one try again)."""
    for attempt in range(8):
        try:
            with database.session() as session:
                first = (session.scalar(select(func.max(Task.number))) or 0) + 1
                for offset, task in enumerate(tasks):
                    task.number = first + offset
                session.add(group)
                session.flush()
                session.add_all(tasks)
            return
        except (IntegrityError, OperationalError):  # SQLite: a snapshot older than the other's commit
            if attempt == 7:
                raise
            make_transient(group)
            for task in tasks:
                make_transient(task)


LIST_FILE_PROBE = 64 * 1024
"""The bytes of a list file read when its group is created, to refuse one that is not UTF-8 text."""


def check_list_file(
    service: Service, body: GroupCreate, dst: dict[str, Any], secrets: NodeSecrets
) -> tuple[str, dict[str, Any]]:
    """The one task of a group whose list is OMS's list file: an object of a bucket on the destination's
    cloud (read with the destination's keys) holding object keys (LIST) or ``URL<TAB>key`` lines
    (URL_LIST). Here it is only found and its first bytes checked to be text: the task reads it as a
    stream when it plans (:mod:`ferry.tasks.listfile`), so its size has no limit."""
    list_file = body.src_node.list_file
    assert list_file is not None
    if body.task_type == "PREFIX":
        raise bad_request("src_node.list_file: a list file is for LIST and URL_LIST groups")
    if body.src_node.object_key or body.src_node.url_list:
        raise bad_request("src_node.list_file: give the list file or object_key / url_list, not both")
    defaults = service.settings.defaults
    client = ClientSettings(connect_timeout=defaults.connect_timeout, read_timeout=defaults.read_timeout)
    bucket, key = list_file.obs_bucket, list_file.list_file_key
    where = f"src_node.list_file {bucket}/{key}"
    try:
        store = nodes.open_store({**dst, "bucket": bucket}, secrets, client, "list_file")
        info = store.stat(key)
        head = store.read_range(key, 0, min(info.size, LIST_FILE_PROBE), if_match=info.etag)
    except FerryError as exc:
        raise bad_request(f"{where}: cannot be read: {exc.message}") from None
    if not info.size:
        raise bad_request(f"{where}: the list file is empty")
    problem = listfile.not_text(head, whole=len(head) == info.size)
    if problem is not None:
        raise bad_request(f"{where}: not UTF-8 text ({problem})")
    urls = body.task_type == "URL_LIST"
    name = f"{'URL list' if urls else 'keys'} in the list file {bucket}/{key}"
    return name, {"list_file": {"bucket": bucket, "key": key, "urls": urls}}


def _check_limits(service: Service, project_id: str, new_tasks: int) -> None:
    limits = service.limits
    with service.database.session() as session:
        groups = session.scalar(select(func.count()).where(TaskGroup.project_id == project_id)) or 0
        tasks = session.scalar(select(func.count()).where(Task.project_id == project_id)) or 0
    if groups >= limits.groups:
        raise ApiError(
            400,
            LIMIT_REACHED,
            f"the project has {groups} task groups, the most the service keeps for one "
            "project: delete finished groups first",
        )
    if tasks + new_tasks > limits.tasks:
        raise ApiError(
            400,
            LIMIT_REACHED,
            f"the project has {tasks} tasks and this group would add {new_tasks}: the "
            f"service keeps at most {limits.tasks} for one project; delete finished groups first",
        )


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
            remove_shared_task(session.connection(), task.id)
        session.delete(group)
    service.vault.forget(group_id)


# --- tasks --------------------------------------------------------------------------------------------------


def stop_task(service: Service, project_id: str, number: int) -> None:
    with service.database.session() as session:
        task = get_task(session, project_id, number)
        if task.status not in (states.WAITING, states.EXECUTING):
            raise ApiError(
                400,
                CANNOT_STOP,
                f"the task's status is {task.status}: only a waiting or executing task can be stopped",
            )
        ids = _stop_tasks(session, Task.id == task.id)
        refresh_group(session, task.group_id)
    for stopping in ids:
        service.scheduler.stop(stopping)


def start_task(service: Service, project_id: str, number: int, body: RetryBody) -> None:
    with service.database.session() as session:
        task = get_task(session, project_id, number)
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
        ids = _requeue(session, (Task.id == task.id) & Task.status.in_((states.STOPPED, states.FAILED)), mode)
        refresh_group(session, group.id)
        service.vault.put(group.id, secrets)
    service.scheduler.submit(ids)


def delete_task(service: Service, project_id: str, number: int) -> None:
    with service.database.session() as session:
        task = get_task(session, project_id, number)
        if task.status in states.ACTIVE:
            raise ApiError(
                400, IN_PROGRESS, f"the task's status is {task.status}: stop it before deleting it"
            )
        remove_shared_task(session.connection(), task.id)
        group_id = task.group_id
        session.delete(task)
        session.flush()
        refresh_group(session, group_id)
