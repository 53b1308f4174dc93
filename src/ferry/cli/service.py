"""``ferry serve``, ``ferry token ...``, ``ferry key ...`` and ``ferry group ...``: run the migration
service, issue its tokens and access keys, and drive it from the command line.

FastAPI, uvicorn, SQLAlchemy and httpx are imported inside the commands, so ``ferry cp`` never pays for
them at start-up.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ferry.cli import secrets
from ferry.errors import FerryError, IncompleteError, UsageError

if TYPE_CHECKING:
    from ferry.service.client import ServiceClient
    from ferry.service.db import Database
    from ferry.storage.netguard import Policy

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where the service keeps its state. [default: ~/.ferry/service]"),
]
DbUrl = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="FERRY_DB",
        show_envvar=True,
        callback=secrets.database_url,
        help="Database URL: postgresql://USER:PASSWORD@HOST:PORT/DB. [default: SQLite in the data dir]",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
AllowPrivate = Annotated[
    bool,
    typer.Option(
        "--allow-private-endpoints",
        help="Let groups reach loopback, private, link-local and metadata addresses (refused by "
        "default: a caller could make the service fetch its own network).",
    ),
]
AllowNetwork = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-network",
        metavar="CIDR",
        help="A network groups may reach although it is internal (repeatable), e.g. 10.20.0.0/16.",
    ),
]


def _policy(allow_private: bool, allow_network: list[str] | None) -> Policy:
    from ferry.storage.netguard import Policy, parse_networks

    try:
        return Policy(allow_private, parse_networks(allow_network or ()))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)] = 8080,
    db: DbUrl = None,
    data_dir: DataDir = None,
    workers: Annotated[int, typer.Option("--workers", help="Tasks run at once.", min=1, max=64)] = 2,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="A Dask scheduler (tcp://HOST:8786) whose `ferry worker`s run the chunks. "
            "[default: an in-process cluster]",
        ),
    ] = None,
    endpoints: Annotated[
        Path | None,
        typer.Option(
            "--endpoints",
            help='A TOML file mapping cloud_type and region (or "*") to endpoint URLs, for private clouds '
            "and overrides.",
        ),
    ] = None,
    allow_private: AllowPrivate = False,
    allow_network: AllowNetwork = None,
    max_groups: Annotated[
        int, typer.Option("--max-groups", help="Task groups one project may keep.", min=1, max=10**9)
    ] = 1000,
    max_tasks: Annotated[
        int, typer.Option("--max-tasks", help="Tasks one project may keep.", min=1, max=10**9)
    ] = 10_000,
    tls_cert: Annotated[
        Path | None,
        typer.Option("--tls-cert", help="Serve HTTPS with this certificate (PEM; with --tls-key)."),
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-key", help="The certificate's private key (PEM).")
    ] = None,
) -> None:
    """Run the migration service (OMS-style REST API; docs at /docs)."""
    from ferry.service.limits import ProjectLimits
    from ferry.service.server import default_data_dir
    from ferry.service.server import serve as run_server

    if (tls_cert is None) != (tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    for given in (tls_cert, tls_key):
        if given is not None and not given.is_file():
            raise UsageError(f"{given}: no such file")
    tls = (str(tls_cert), str(tls_key)) if tls_cert is not None and tls_key is not None else None
    policy = _policy(allow_private, allow_network)
    with _database_errors(db):
        run_server(
            host,
            port,
            (data_dir or default_data_dir()).expanduser(),
            db,
            workers,
            scheduler,
            endpoints,
            policy=policy,
            limits=ProjectLimits(max_groups, max_tasks),
            tls=tls,
        )


def worker(
    scheduler: Annotated[str, typer.Option("--scheduler", help="The Dask scheduler: tcp://HOST:8786.")],
    db: DbUrl = None,
    name: Annotated[str | None, typer.Option("--name", help="This worker's name in `group show`.")] = None,
    threads: Annotated[int, typer.Option("--threads", help="Chunks run at once.", min=1, max=64)] = 2,
    allow_private: AllowPrivate = False,
    allow_network: AllowNetwork = None,
) -> None:
    """Run a Dask worker for the migration service's chunks (on any machine that can reach the
    scheduler, the database and the stores). Logs one line per chunk."""
    from ferry.service.cluster_worker import run_worker
    from ferry.storage import netguard

    netguard.install(_policy(allow_private, allow_network))  # a worker fetches what callers name, too

    if not db:
        raise UsageError("ferry worker needs the service's database: --db URL or FERRY_DB")
    with _database_errors(db):
        run_worker(scheduler, db, name, threads)


# --- tokens -------------------------------------------------------------------------------------------------

token_app = typer.Typer(help="Tokens for the migration service's API.", no_args_is_help=True)


@contextlib.contextmanager
def _tokens_db(data_dir: Path | None, db: str | None) -> Iterator[Database]:
    """The service's database for a token or key command: its errors as one line, closed afterwards."""
    from ferry.service.server import open_for_tokens

    with _database_errors(db):
        database = open_for_tokens(data_dir.expanduser() if data_dir else None, db)
        try:
            yield database
        finally:
            database.dispose()


_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """``3600``, ``90m``, ``12h``, ``30d`` as seconds; UsageError otherwise."""
    value = text.strip().lower()
    unit = value[-1:] if value[-1:] in "smhd" else ""
    number = value[: len(value) - len(unit)]
    if not number.isdigit() or len(number) > 9 or int(number) == 0:
        raise UsageError(
            f"invalid --expires-in {text[:40]!r}: expected a duration such as 3600, 90m, 12h or 30d"
        )
    return float(int(number) * _DURATION_UNITS[unit])


@token_app.command("create")
def token_create(
    project: Annotated[str, typer.Option("--project", help="The project the token grants.")],
    data_dir: DataDir = None,
    db: DbUrl = None,
    json_output: Json = False,
    expires_in: Annotated[
        str | None,
        typer.Option(
            "--expires-in", help="Refuse the token after this long: 3600, 90m, 12h, 30d. [default: never]"
        ),
    ] = None,
) -> None:
    """Issue a token for a project. It is printed once; the service keeps only its hash."""
    from ferry.service.auth import create_token

    lifetime = parse_duration(expires_in) if expires_in is not None else None
    with _tokens_db(data_dir, db) as database:
        try:
            issued = create_token(database, project, lifetime)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if json_output:
        print(json.dumps({"id": issued.id, "project_id": issued.project_id, "token": issued.token}))
    else:
        print(issued.token)
        print(
            f"token {issued.id} for project {project}: keep it now, it cannot be shown again", file=sys.stderr
        )


@token_app.command("list")
def token_list(
    project: Annotated[str | None, typer.Option("--project", help="Only this project's.")] = None,
    data_dir: DataDir = None,
    db: DbUrl = None,
    json_output: Json = False,
) -> None:
    """The tokens issued (their ids and projects; never the tokens)."""
    from ferry.service.auth import list_tokens

    with _tokens_db(data_dir, db) as database:
        rows = list_tokens(database, project)
    if json_output:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        expires = f"  expires {_when(row['expires_at'])}" if row.get("expires_at") else ""
        print(f"{row['id']}  project {row['project_id']}  created {_when(row['created_at'])}{expires}")


@token_app.command("rm")
def token_rm(token_id: str, data_dir: DataDir = None, db: DbUrl = None) -> None:
    """Revoke a token by its id."""
    from ferry.service.auth import revoke_token

    with _tokens_db(data_dir, db) as database:
        found = revoke_token(database, token_id)
    if not found:
        raise UsageError(f"no token with id {token_id}")
    print(f"revoked token {token_id}")


# --- access keys --------------------------------------------------------------------------------------------

key_app = typer.Typer(
    help="Access keys (AK/SK) for requests signed as Huawei Cloud's SDKs sign them.", no_args_is_help=True
)


def _data_dir(data_dir: Path | None) -> Path:
    from ferry.service.server import default_data_dir

    return (data_dir or default_data_dir()).expanduser()


@key_app.command("create")
def key_create(
    project: Annotated[str, typer.Option("--project", help="The project the key grants.")],
    data_dir: DataDir = None,
    db: DbUrl = None,
    json_output: Json = False,
) -> None:
    """Issue an access key and its secret key for a project: printed once as `AK SK`; the service keeps
    the secret sealed under the data dir's seal.key."""
    from ferry.service.keys import Sealer, create_key

    with _tokens_db(data_dir, db) as database:
        try:
            issued = create_key(database, Sealer(_data_dir(data_dir)), project)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if json_output:
        print(
            json.dumps(
                {"access_key": issued.access_key, "secret_key": issued.secret_key, "project_id": project}
            )
        )
    else:
        print(f"{issued.access_key} {issued.secret_key}")
        print(
            f"access key for project {project}: keep the secret key now, it cannot be shown again",
            file=sys.stderr,
        )


@key_app.command("list")
def key_list(
    project: Annotated[str | None, typer.Option("--project", help="Only this project's.")] = None,
    data_dir: DataDir = None,
    db: DbUrl = None,
    json_output: Json = False,
) -> None:
    """The access keys issued (never their secrets)."""
    from ferry.service.keys import list_keys

    with _tokens_db(data_dir, db) as database:
        rows = list_keys(database, project)
    if json_output:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        print(f"{row['access_key']}  project {row['project_id']}  created {_when(row['created_at'])}")


@key_app.command("rm")
def key_rm(access_key: str, data_dir: DataDir = None, db: DbUrl = None) -> None:
    """Remove an access key: requests signed with it are refused from then on."""
    from ferry.service.keys import remove_key

    with _tokens_db(data_dir, db) as database:
        found = remove_key(database, access_key)
    if not found:
        raise UsageError(f"no access key {access_key}")
    print(f"removed access key {access_key}")


@contextlib.contextmanager
def _database_errors(url: str | None) -> Iterator[None]:
    """SQLAlchemy's errors as one line (without the URL's password)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except SQLAlchemyError as exc:
        from ferry.service.db import safe_url

        origin = getattr(exc, "orig", None) or exc
        reason = (str(origin).strip().splitlines() or [type(exc).__name__])[0]
        where = safe_url(url) if url else "the service database"
        raise FerryError(f"cannot use {where}: {reason}") from None


# --- task groups --------------------------------------------------------------------------------------------

group_app = typer.Typer(
    help="Task groups of the migration service: create, list, show, stop, start, retry, rm.",
    no_args_is_help=True,
)

Server = Annotated[
    str,
    typer.Option("--server", envvar="FERRY_SERVER", show_envvar=True, help="The service's URL."),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="FERRY_TOKEN",
        show_envvar=True,
        callback=secrets.secret,
        help="X-Auth-Token (ferry token create); - reads it from standard input.",
    ),
]
Project = Annotated[
    str | None, typer.Option("--project", envvar="FERRY_PROJECT", show_envvar=True, help="Project id.")
]
SrcAk = Annotated[str | None, typer.Option("--src-ak", envvar="FERRY_SRC_AK", help="Source access key.")]
SrcSk = Annotated[
    str | None,
    typer.Option("--src-sk", envvar="FERRY_SRC_SK", callback=secrets.secret, help="Source secret key."),
]
DstAk = Annotated[str | None, typer.Option("--dst-ak", envvar="FERRY_DST_AK", help="Destination access key.")]
DstSk = Annotated[
    str | None,
    typer.Option("--dst-sk", envvar="FERRY_DST_SK", callback=secrets.secret, help="Destination secret key."),
]
SrcConnection = Annotated[
    str | None,
    typer.Option(
        "--src-connection-string",
        envvar="FERRY_SRC_CONNECTION_STRING",
        callback=secrets.secret,
        help="Azure source's connection string.",
    ),
]
DstConnection = Annotated[
    str | None,
    typer.Option(
        "--dst-connection-string",
        envvar="FERRY_DST_CONNECTION_STRING",
        callback=secrets.secret,
        help="Azure destination's connection string.",
    ),
]
SrcKeyFile = Annotated[
    Path | None,
    typer.Option(
        "--src-json-auth-file",
        envvar="FERRY_SRC_JSON_AUTH_FILE",
        help="Google source: a service-account JSON key file (its content is sent).",
    ),
]
DstKeyFile = Annotated[
    Path | None,
    typer.Option(
        "--dst-json-auth-file",
        envvar="FERRY_DST_JSON_AUTH_FILE",
        help="Google destination: a service-account JSON key file (its content is sent).",
    ),
]
CdnKey = Annotated[
    str | None,
    typer.Option(
        "--cdn-auth-key",
        envvar="FERRY_CDN_AUTH_KEY",
        callback=secrets.secret,
        help="URL list: the CDN's key (type A).",
    ),
]
Wait = Annotated[
    bool, typer.Option("--wait", help="Wait until the group stops running; exit 8 if it failed.")
]
DEFAULT_SERVER = "http://127.0.0.1:8080"


def _client(server: str, token: str | None, project: str | None) -> ServiceClient:
    from ferry.service.client import ServiceClient

    return ServiceClient(server, token, project or "")


def _credentials(
    src_ak: str | None,
    src_sk: str | None,
    dst_ak: str | None,
    dst_sk: str | None,
    src_connection: str | None = None,
    dst_connection: str | None = None,
    src_key_file: Path | None = None,
    dst_key_file: Path | None = None,
    cdn_key: str | None = None,
) -> dict[str, Any]:
    """The credential fields of a start or retry body (OMS's names are the source's)."""
    given = {
        "src_ak": src_ak,
        "src_sk": src_sk,
        "dst_ak": dst_ak,
        "dst_sk": dst_sk,
        "connection_string": src_connection,
        "dst_connection_string": dst_connection,
        "json_auth_file": _key_file(src_key_file),
        "dst_json_auth_file": _key_file(dst_key_file),
        "source_cdn_authentication_key": cdn_key,
    }
    return {k: v for k, v in given.items() if v}


def _key_file(path: Path | None) -> str | None:
    """A service-account key file's content: the service takes the key itself, as OMS does."""
    if path is None:
        return None
    try:
        return path.expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the key file {path}: {exc.strerror or type(exc).__name__}") from None
    except UnicodeDecodeError:
        raise UsageError(f"the key file {path} is not a JSON key file: it is not text") from None


def _read_lines(path: Path, what: str) -> list[str]:
    try:
        return path.expanduser().read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read the {what} {path}: {exc.strerror or type(exc).__name__}") from None
    except UnicodeDecodeError:
        raise UsageError(f"the {what} {path} is not UTF-8 text") from None


def _size(value: str | None) -> int | str | None:
    return int(value) if value is not None and value.isdigit() else value


@group_app.command("create")
def group_create(
    dst_bucket: Annotated[str, typer.Option("--dst-bucket", help="Destination bucket (Azure: container).")],
    src_bucket: Annotated[
        str | None,
        typer.Option("--src-bucket", help="Source bucket (Azure: container; none for a URL list)."),
    ] = None,
    src_type: Annotated[
        str | None,
        typer.Option(
            "--src-type",
            help="AWS, HuaweiCloud, Aliyun, Tencent, Ceph, MinIO, S3, Azure, Google, URLSource. "
            "[default: S3; URLSource with --url-list]",
        ),
    ] = None,
    src_endpoint: Annotated[str | None, typer.Option("--src-endpoint", help="Source endpoint URL.")] = None,
    src_region: Annotated[str | None, typer.Option("--src-region", help="Source region.")] = None,
    dst_type: Annotated[str, typer.Option("--dst-type", help="Destination cloud type.")] = "S3",
    dst_endpoint: Annotated[
        str | None, typer.Option("--dst-endpoint", help="Destination endpoint URL.")
    ] = None,
    dst_region: Annotated[str | None, typer.Option("--dst-region", help="Destination region.")] = None,
    dst_prefix: Annotated[
        str, typer.Option("--dst-prefix", help="Prepended to every key at the destination.")
    ] = "",
    prefix: Annotated[
        list[str] | None, typer.Option("--prefix", help="A source prefix (one task each); repeatable.")
    ] = None,
    key: Annotated[
        list[str] | None, typer.Option("--key", help="An object to migrate (a LIST group); repeatable.")
    ] = None,
    keys_file: Annotated[
        Path | None, typer.Option("--keys-file", help="A file of object keys, one a line (LIST).")
    ] = None,
    url_list: Annotated[
        Path | None,
        typer.Option("--url-list", help="A file of 'URL<TAB>destination key' lines (a URL_LIST group)."),
    ] = None,
    overwrite: Annotated[
        str,
        typer.Option(
            "--overwrite",
            help="never, if_different (size or time), checksum (MD5/ETag) or always; or OMS's "
            "object_overwrite_mode.",
        ),
    ] = "if_different",
    consistency_check: Annotated[
        str,
        typer.Option(
            "--consistency-check",
            help="size_mtime, checksum or none; or OMS's size_last_modified, crc64, no_check.",
        ),
    ] = "size_mtime",
    since: Annotated[
        int | None, typer.Option("--since", help="Only objects modified after (UNIX time).")
    ] = None,
    verify: Annotated[
        bool,
        typer.Option("--verify", help="After migrating, check every object against the destination."),
    ] = False,
    threshold: Annotated[str | None, typer.Option("--threshold", help="Multipart from this size.")] = None,
    part_size: Annotated[str | None, typer.Option("--part-size", help="Part size, or auto.")] = None,
    jobs: Annotated[int | None, typer.Option("-j", "--jobs", help="Objects at once per task.")] = None,
    parallel: Annotated[
        int | None, typer.Option("-p", "--parallel", help="Parts at once per object.")
    ] = None,
    bwlimit: Annotated[
        str | None, typer.Option("--bwlimit", help="Bytes per second per task, e.g. 20MiB.")
    ] = None,
    description: Annotated[str, typer.Option("--description", help="A note for people.")] = "",
    src_ak: SrcAk = None,
    src_sk: SrcSk = None,
    dst_ak: DstAk = None,
    dst_sk: DstSk = None,
    src_connection: SrcConnection = None,
    dst_connection: DstConnection = None,
    src_key_file: SrcKeyFile = None,
    dst_key_file: DstKeyFile = None,
    cdn_key: CdnKey = None,
    wait: Wait = False,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    project: Project = None,
    json_output: Json = False,
) -> None:
    """Create a task group (it starts at once). Secrets come from flags or the variables shown
    (FERRY_SRC_AK, FERRY_SRC_SK, FERRY_DST_AK, FERRY_DST_SK for S3; FERRY_SRC_CONNECTION_STRING... for
    Azure; FERRY_SRC_JSON_AUTH_FILE... for Google; FERRY_CDN_AUTH_KEY for a URL list); they are sent to the
    service, which keeps what each node uses, and never printed."""
    keys = list(key or [])
    if keys_file is not None:
        keys += [line for line in _read_lines(keys_file, "keys file") if line]
    if keys and prefix:
        raise UsageError("give prefixes (--prefix) or object keys (--key, --keys-file), not both")
    lines = _read_lines(url_list, "URL list") if url_list is not None else []
    if url_list is not None and (keys or prefix):
        raise UsageError("--url-list names the objects itself: give no --prefix, --key or --keys-file")
    task_type = "URL_LIST" if url_list is not None else "LIST" if keys else "PREFIX"
    transfer = {
        "threshold": _size(threshold),
        "part_size": _size(part_size),
        "jobs": jobs,
        "parallel": parallel,
        "bwlimit": _size(bwlimit),
    }
    body = {
        "src_node": {
            "cloud_type": src_type or ("URLSource" if url_list is not None else "S3"),
            "endpoint": src_endpoint,
            "region": src_region,
            "bucket": src_bucket,
            "ak": src_ak,
            "sk": src_sk,
            "connection_string": src_connection,
            "json_auth_file": _key_file(src_key_file),
            "cdn_authentication_key": cdn_key,
            "object_key": keys or list(prefix or []),
            "url_list": lines,
        },
        "dst_node": {
            "cloud_type": dst_type,
            "endpoint": dst_endpoint,
            "region": dst_region,
            "bucket": dst_bucket,
            "ak": dst_ak,
            "sk": dst_sk,
            "connection_string": dst_connection,
            "json_auth_file": _key_file(dst_key_file),
            "save_prefix": dst_prefix,
        },
        "task_type": task_type,
        "object_overwrite_mode": _OVERWRITE.get(overwrite, overwrite),
        "consistency_check": _CHECK.get(consistency_check, consistency_check),
        "migrate_since": since,
        "verify_after_migration": verify,
        "description": description,
        "transfer": {k: v for k, v in transfer.items() if v is not None},
    }
    with _client(server, token, project) as client:
        created = client.create_group(body)
        if json_output and not wait:
            print(json.dumps(created, indent=2))
        elif not json_output:
            print(f"Task group: {created['group_id']} ({len(created['task_ids'])} tasks)", flush=True)
        if wait:
            _wait(client, created["group_id"], json_output)


@group_app.command("list")
def group_list(
    status: Annotated[
        str | None,
        typer.Option("--status", help="Only groups in this status: a word (failed...) or OMS's code (5...)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100)] = 10,
    offset: Annotated[int, typer.Option("--offset", min=0)] = 0,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    project: Project = None,
    json_output: Json = False,
) -> None:
    """Task groups, newest first."""
    with _client(server, token, project) as client:
        page = client.list_groups(limit, offset, _status_code(status))
    if json_output:
        print(json.dumps(page, indent=2))
        return
    print(f"{page['count']} task groups")
    for group in page["taskgroups"]:
        print(
            f"{group['group_id']}  {group['status_name']:<10} {group['progress'] * 100:5.1f}%  "
            f"{group['success_num']} succeeded, {group['fail_num']} failed, {group['skip_num']} skipped "
            f"of {group['total_num']}  {group['src_node']['bucket']} --> {group['dst_node']['bucket']}"
        )


@group_app.command("show")
def group_show(
    group_id: str,
    failed: Annotated[int, typer.Option("--failed", help="List up to this many failed objects.", min=0)] = 20,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    project: Project = None,
    json_output: Json = False,
) -> None:
    """A group's status, counts, bytes, progress and failed objects."""
    with _client(server, token, project) as client:
        group = client.show_group(group_id)
        objects: dict[str, Any] = {"count": 0, "objects": []}
        if failed:
            objects = client.failed_objects(group_id, failed)
    group["failed_objects"] = objects["objects"][:failed]
    if json_output:
        print(json.dumps(group, indent=2))
        return
    _print_group(group)
    if objects["count"]:
        print(f"Failed objects:    {objects['count']}")
        for obj in group["failed_objects"]:
            print(f"  {obj['key']} ({obj['size']} bytes): {obj['reason']}")


def _print_group(group: dict[str, Any]) -> None:
    from ferry.units import format_size

    lines = [
        f"Task group:        {group['group_id']}",
        f"Status:            {group['status_name']} ({group['status']})",
    ]
    if group.get("error_reason"):
        lines.append(f"Reason:            {group['error_reason']['error_msg']}")
    src, dst = group["src_node"], group["dst_node"]
    lines += [
        f"Source:            {src['cloud_type']} {src.get('endpoint') or ''} {src['bucket']}",
        f"Destination:       {dst['cloud_type']} {dst.get('endpoint') or ''} "
        f"{dst['bucket']}/{dst['save_prefix']}",
        f"Tasks:             {group['total_task_num']}"
        + ("   (each verified after migrating)" if group.get("verify_after_migration") else ""),
        f"Objects:           {group['total_num']} ({format_size(group['total_size'])}): "
        f"{group['success_num']} succeeded, {group['fail_num']} failed, {group['skip_num']} skipped",
        f"Succeeded bytes:   {group['complete_size']} ({format_size(group['complete_size'])})",
        f"Transferred bytes: {group['transferred_size']} ({format_size(group['transferred_size'])}), "
        f"last run {group['run_transferred_size']}",
        f"Progress:          {group['progress'] * 100:.1f}%   speed {format_size(group['migrate_speed'])}/s",
    ]
    chunks = group.get("chunks") or {}
    if chunks:
        order = ("queued", "running", "stopping", "done")
        counts = ", ".join(f"{chunks[state]} {state}" for state in order if chunks.get(state))
        lines.append(f"Chunks:            {counts}")
    if group.get("workers"):
        lines.append(f"Workers:           {', '.join(group['workers'])}")
    if group.get("status_name") in ("waiting", "executing") and group.get("workers_connected") == 0:
        lines.append("Waiting for a worker: no worker is connected to the service's cluster")
    print("\n".join(lines), flush=True)


@group_app.command("stop")
def group_stop(
    group_id: str,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    project: Project = None,
    json_output: Json = False,
) -> None:
    """Stop (pause) a group; its transfers stay resumable."""
    with _client(server, token, project) as client:
        client.group_action(group_id, "stop")
        if json_output:
            print(json.dumps(client.show_group(group_id), indent=2))
            return
    print(f"stopping task group {group_id}")


@group_app.command("start")
def group_start(
    group_id: str,
    src_ak: SrcAk = None,
    src_sk: SrcSk = None,
    dst_ak: DstAk = None,
    dst_sk: DstSk = None,
    src_connection: SrcConnection = None,
    dst_connection: DstConnection = None,
    src_key_file: SrcKeyFile = None,
    dst_key_file: DstKeyFile = None,
    cdn_key: CdnKey = None,
    wait: Wait = False,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    project: Project = None,
    json_output: Json = False,
) -> None:
    """Start a stopped group again (keys are needed again after a service restart)."""
    credentials = _credentials(
        src_ak,
        src_sk,
        dst_ak,
        dst_sk,
        src_connection,
        dst_connection,
        src_key_file,
        dst_key_file,
        cdn_key,
    )
    with _client(server, token, project) as client:
        if _already_succeeded(client, group_id, json_output):
            return
        client.group_action(group_id, "start", credentials)
        if not json_output:
            print(f"started task group {group_id}", flush=True)
        if wait:
            _wait(client, group_id, json_output)
        elif json_output:
            print(json.dumps(client.show_group(group_id), indent=2))


@group_app.command("retry")
def group_retry(
    group_id: str,
    failed_only: Annotated[
        bool,
        typer.Option(
            "--failed-only",
            help="Move only the objects recorded as failed (migrate_failed_object=true); otherwise every "
            "object of the failed tasks is checked again and those already migrated are skipped.",
        ),
    ] = False,
    src_ak: SrcAk = None,
    src_sk: SrcSk = None,
    dst_ak: DstAk = None,
    dst_sk: DstSk = None,
    src_connection: SrcConnection = None,
    dst_connection: DstConnection = None,
    src_key_file: SrcKeyFile = None,
    dst_key_file: DstKeyFile = None,
    cdn_key: CdnKey = None,
    wait: Wait = False,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    project: Project = None,
    json_output: Json = False,
) -> None:
    """Restart a failed group (PUT .../retry)."""
    body: dict[str, Any] = {
        **_credentials(
            src_ak,
            src_sk,
            dst_ak,
            dst_sk,
            src_connection,
            dst_connection,
            src_key_file,
            dst_key_file,
            cdn_key,
        ),
        "migrate_failed_object": failed_only,
    }
    with _client(server, token, project) as client:
        if _already_succeeded(client, group_id, json_output):
            return
        client.group_action(group_id, "retry", body)
        if not json_output:
            print(f"retrying task group {group_id}", flush=True)
        if wait:
            _wait(client, group_id, json_output)
        elif json_output:
            print(json.dumps(client.show_group(group_id), indent=2))


def _already_succeeded(client: ServiceClient, group_id: str, json_output: bool) -> bool:
    """A start or retry of a group that already succeeded does nothing and exits 0, so "retry until it
    succeeds" loops end."""
    group = client.show_group(group_id)
    if group.get("status_name") != "succeeded":
        return False
    if json_output:
        print(json.dumps(group, indent=2))
    else:
        print(f"task group {group_id} already succeeded: there is nothing to start or retry", flush=True)
    return True


@group_app.command("rm")
def group_rm(
    group_id: str,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    project: Project = None,
    json_output: Json = False,
) -> None:
    """Delete a group that is not running, with its tasks' journals."""
    with _client(server, token, project) as client:
        client.delete_group(group_id)
    print(json.dumps({"id": group_id, "removed": True}) if json_output else f"removed task group {group_id}")


_RUNNING = ("waiting", "executing", "stopping")
_OVERWRITE = {
    "never": "NO_OVERWRITE",
    "if_different": "SIZE_LAST_MODIFIED_COMPARISON_OVERWRITE",
    "checksum": "CRC64_COMPARISON_OVERWRITE",
    "always": "FULL_OVERWRITE",
}
_CHECK = {"size_mtime": "size_last_modified", "checksum": "crc64", "none": "no_check"}


def _status_code(status: str | None) -> int | None:
    """A group status given as a word or as OMS's code."""
    from ferry.service.states import GROUP_CODES

    if status is None:
        return None
    if status.isdigit():
        return int(status)
    if status not in GROUP_CODES:
        raise UsageError(f"invalid --status {status!r}: expected one of {', '.join(GROUP_CODES)} or a code")
    return GROUP_CODES[status]


def _wait(client: ServiceClient, group_id: str, json_output: bool, interval: float = 0.5) -> None:
    while True:
        group = client.show_group(group_id)
        if group["status_name"] not in _RUNNING:
            break
        time.sleep(interval)
    if json_output:
        print(json.dumps(group, indent=2))
    else:
        _print_group(group)
    if group["status_name"] == "failed":
        reason = (group.get("error_reason") or {}).get("error_msg") or "see ferry group show"
        raise IncompleteError(f"task group {group_id} failed: {reason}")


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(timestamp))
