"""Request and response bodies (Pydantic). Secret fields are ``repr=False`` and never appear in a
response model; lengths follow OMS's API reference (the retry body's are the seed's)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Key = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
UrlLine = Annotated[str, StringConstraints(max_length=8192)]
Secret100 = Annotated[str | None, Field(default=None, max_length=100, repr=False)]
ConnectionString = Annotated[str | None, Field(default=None, max_length=2048, repr=False)]
JsonAuthFile = Annotated[str | None, Field(default=None, max_length=65535, repr=False)]
CdnKey = Annotated[str | None, Field(default=None, max_length=255, repr=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NodeIn(_Strict):
    cloud_type: str = Field(
        min_length=1,
        max_length=32,
        description="AWS, HuaweiCloud, Aliyun, Tencent, Ceph, MinIO, S3, Azure, Google; URLSource (source)",
    )
    region: str | None = Field(default=None, max_length=100)
    endpoint: str | None = Field(default=None, max_length=1024, description="http(s) URL of the service")
    bucket: str | None = Field(
        default=None, min_length=1, max_length=1024, description="bucket (Azure: container); not URLSource"
    )
    ak: Secret100 = None
    sk: Secret100 = None
    connection_string: ConnectionString = Field(default=None, description="Azure: the connection string")
    json_auth_file: JsonAuthFile = Field(
        default=None, description="Google: the content of a service-account JSON key file"
    )
    addressing_style: Literal["path", "virtual", "auto"] | None = None


class SrcNodeIn(NodeIn):
    object_key: list[Key] = Field(
        default_factory=list,
        max_length=100_000,
        description="PREFIX: key prefixes (none: the whole bucket); LIST: the object keys",
    )
    url_list: list[UrlLine] = Field(
        default_factory=list,
        max_length=100_000,
        description="URL_LIST: the lines of a URL list, each 'URL<TAB>destination key'",
    )
    cdn_authentication_key: CdnKey = Field(
        default=None, description="URLSource: the CDN's key; every request is signed with it (type A)"
    )


class DstNodeIn(NodeIn):
    save_prefix: str = Field(default="", max_length=1024, description="prepended to every object key")


class TransferIn(_Strict):
    """How objects move; sizes as bytes or text such as ``8MiB``."""

    threshold: int | str | None = Field(default=None, description="objects at or above go multipart")
    part_size: int | str | None = Field(default=None, description="part size, or auto")
    parallel: int | None = Field(default=None, ge=1, le=256, description="parts in flight per object")
    jobs: int = Field(default=4, ge=1, le=64, description="objects in flight per task")
    bwlimit: int | str | None = Field(default=None, description="bytes per second per task")
    retries: int | None = Field(default=None, ge=0, le=100, description="retries per request")


class GroupCreate(_Strict):
    src_node: SrcNodeIn
    dst_node: DstNodeIn
    description: str = Field(default="", max_length=255, pattern=r"^[^\^<>&\"']*$")
    task_type: Literal["PREFIX", "LIST", "URL_LIST"] = "PREFIX"
    overwrite: Literal["always", "never", "if_different"] = Field(
        default="if_different",
        description="always; never (an existing destination object is left alone); if_different "
        "(when the sizes differ or the source is newer)",
    )
    consistency_check: Literal["size_mtime", "checksum"] = Field(
        default="size_mtime",
        description="how a migrated object is checked and recognised: size and mtime, or MD5/ETag",
    )
    migrate_since: int | None = Field(default=None, ge=0, description="only objects modified after (UNIX s)")
    verify_after_migration: bool = Field(
        default=False,
        description="after migrating, check every object against the destination (size, then MD5 where "
        "both sides have one); one that differs is a failed object, 'differs at destination: size' or "
        "'md5', retried like any other",
    )
    transfer: TransferIn = Field(default_factory=TransferIn)


class Credentials(_Strict):
    """The body of retry and start: keys given again (the service forgets them on restart)."""

    src_ak: Secret100 = None
    src_sk: Secret100 = None
    connection_string: ConnectionString = Field(default=None, description="the Azure source's")
    json_auth_file: JsonAuthFile = Field(
        default=None, description="the Google source's: the content of a service-account JSON key file"
    )
    dst_ak: Secret100 = None
    dst_sk: Secret100 = None
    source_cdn_authentication_key: CdnKey = Field(default=None, description="the URLSource's CDN key")
    dst_connection_string: ConnectionString = Field(
        default=None, description="ferry's own: an Azure destination's connection string"
    )
    dst_json_auth_file: JsonAuthFile = Field(
        default=None, description="ferry's own: a Google destination's JSON key file content"
    )


class RetryBody(Credentials):
    migrate_failed_object: bool = Field(
        default=False,
        description="true: only the objects recorded as failed; false: every object of the failed "
        "tasks is checked again and those already migrated are skipped",
    )


class StartTaskBody(RetryBody):
    pass


class Created(BaseModel):
    id: str
    task_ids: list[str]


class NodeOut(BaseModel):
    cloud_type: str
    region: str | None = None
    endpoint: str | None = None
    bucket: str
    addressing_style: str | None = None


class SrcNodeOut(NodeOut):
    object_key: list[str] = Field(default_factory=list)


class DstNodeOut(NodeOut):
    save_prefix: str = ""


class Counters(BaseModel):
    total_num: int = 0
    success_num: int = 0
    fail_num: int = 0
    skip_num: int = 0
    total_size: int = 0
    success_size: int = 0
    fail_size: int = 0
    skip_size: int = 0
    transferred_size: int = 0
    """Bytes sent by every run."""
    run_transferred_size: int = 0
    """Bytes sent by the current or last run (of every task)."""
    progress: float = 0.0
    """Objects done (succeeded or skipped) over all objects, 0 to 1."""
    speed: float = 0.0
    """Bytes per second of the current (or last) run."""
    chunks: dict[str, int] = {}
    """The units of work of the task(s) by state: ``queued``, ``running``, ``stopping``, ``done``."""
    workers: list[str] = []
    """The cluster workers running chunks of the task(s) now."""


class TaskOut(Counters):
    id: str
    group_id: str
    name: str
    status: str
    status_code: int
    error_reason: str | None = None
    runs: int = 0
    created_at: str
    updated_at: str
    started_at: str | None = None
    finished_at: str | None = None


class GroupOut(Counters):
    id: str
    project_id: str
    status: str
    status_code: int
    error_reason: str | None = None
    description: str
    task_type: str
    src_node: SrcNodeOut
    dst_node: DstNodeOut
    overwrite: str
    consistency_check: str
    migrate_since: int | None = None
    verify_after_migration: bool = False
    transfer: dict[str, int | str | None]
    task_count: int
    workers_connected: int | None = None
    """Workers in the service's Dask cluster (a waiting group runs once one joins)."""
    retry_count: int
    created_at: str
    updated_at: str
    started_at: str | None = None
    finished_at: str | None = None


class GroupPage(BaseModel):
    count: int
    taskgroups: list[GroupOut]


class TaskPage(BaseModel):
    count: int
    tasks: list[TaskOut]


class FailedObject(BaseModel):
    task_id: str
    key: str
    dest_key: str
    size: int
    reason: str | None


class FailedPage(BaseModel):
    count: int
    objects: list[FailedObject]
