"""Request and response bodies (Pydantic). Secret fields are ``repr=False`` and never appear in a
response model; lengths follow OMS's API reference (the retry body's are the seed's)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

PrefixKey = Annotated[str, StringConstraints(max_length=1024)]
UrlLine = Annotated[str, StringConstraints(max_length=8192)]
Secret100 = Annotated[str | None, Field(default=None, max_length=100, repr=False)]
ConnectionString = Annotated[str | None, Field(default=None, max_length=2048, repr=False)]
JsonAuthFile = Annotated[str | None, Field(default=None, max_length=65535, repr=False)]
CdnKey = Annotated[str | None, Field(default=None, max_length=255, repr=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


PLAIN = ("plain_text", "PLAIN_TEXT")
"""``*_crypto_type`` values that mean the credentials are given as they are (not KMS-encrypted)."""
CryptoType = Annotated[str | None, Field(default=None, max_length=32)]
KmsKeyId = Annotated[str | None, Field(default=None, max_length=255)]


class ListFileIn(_Strict):
    """OMS's list file: an object of a bucket holding the keys (LIST) or URL lines (URL_LIST)."""

    list_file_key: str = Field(min_length=1, max_length=1024)
    obs_bucket: str = Field(min_length=1, max_length=1024)
    list_file_num: str | None = Field(default=None, max_length=32)


class NodeIn(_Strict):
    cloud_type: str = Field(
        default="AWS",
        min_length=1,
        max_length=32,
        description="AWS, HuaweiCloud (HEC), Aliyun, Tencent, Qiniu, Baidu, KingsoftCloud, UCloud, "
        "QingCloud, "
        "Ceph, MinIO, S3, Azure, Google; URLSource (source)",
    )
    region: str | None = Field(default=None, max_length=100)
    endpoint: str | None = Field(
        default=None,
        max_length=1024,
        description="ferry's own: the service's http(s) URL (else found from cloud_type and region)",
    )
    bucket: str | None = Field(
        default=None, min_length=1, max_length=1024, description="bucket (Azure: container); not URLSource"
    )
    ak: Secret100 = None
    sk: Secret100 = None
    crypto_type: CryptoType = Field(default=None, description="only plain_text: KMS is not supported")
    kms_key_id: KmsKeyId = Field(default=None, description="not supported (KMS-encrypted keys)")
    connection_string: ConnectionString = Field(default=None, description="Azure: the connection string")
    json_auth_file: JsonAuthFile = Field(
        default=None, description="Google: the content of a service-account JSON key file"
    )
    addressing_style: Literal["path", "virtual", "auto"] | None = None


class SrcNodeIn(NodeIn):
    object_key: list[PrefixKey] = Field(
        default_factory=list,
        max_length=100_000,
        description='PREFIX: key prefixes (none, or [""]: the whole bucket); LIST: the object keys',
    )
    app_id: str | None = Field(default=None, max_length=100, description="Tencent's APPID (kept, unused)")
    list_file: ListFileIn | None = Field(
        default=None,
        description="LIST / URL_LIST: an object of a bucket on the destination's cloud (read with its keys) "
        "holding the object keys, or the URL list's lines",
    )
    url_list: list[UrlLine] = Field(
        default_factory=list,
        max_length=100_000,
        description="ferry's own (URL_LIST): the lines of a URL list, each 'URL<TAB>destination key'",
    )
    cdn_authentication_key: CdnKey = Field(
        default=None, description="URLSource: the CDN's key; every request is signed with it (type A)"
    )


class DstNodeIn(NodeIn):
    cloud_type: str = Field(default="HEC", min_length=1, max_length=32, description="HEC (Huawei OBS) etc.")
    save_prefix: str = Field(default="", max_length=1024, description="prepended to every object key")


class TransferIn(_Strict):
    """How objects move; sizes as bytes or text such as ``8MiB``."""

    threshold: int | str | None = Field(default=None, description="objects at or above go multipart")
    part_size: int | str | None = Field(default=None, description="part size, or auto")
    parallel: int | None = Field(default=None, ge=1, le=256, description="parts in flight per object")
    jobs: int = Field(default=4, ge=1, le=64, description="objects in flight per task")
    bwlimit: int | str | None = Field(default=None, description="bytes per second per task")
    retries: int | None = Field(default=None, ge=0, le=100, description="retries per request")


class BandwidthWindow(_Strict):
    start: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM, UTC")
    end: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM, UTC")
    max_bandwidth: int = Field(ge=1024 * 1024, le=200 * 1024 * 1024, description="bytes per second")


class BandwidthBody(_Strict):
    """The body of UpdateTaskGroup and UpdateBandwidthPolicy."""

    bandwidth_policy: list[BandwidthWindow] = Field(default_factory=list, max_length=5)


class SourceCdnIn(_Strict):
    """Read the source bucket's objects through a CDN: listed on the bucket, fetched from
    ``{protocol}://{domain}/{key}``."""

    domain: str | None = Field(default=None, max_length=255, description="the CDN's host name (:port)")
    protocol: str | None = Field(default=None, max_length=16, description="http or https (default)")
    authentication_type: str | None = Field(
        default=None,
        max_length=32,
        description="NONE (default), ALIYUN_OSS_A or TENCENT_COS_A (type A URL signing); others: 400",
    )
    authentication_key: CdnKey = Field(default=None, description="the CDN's key (signing types)")
    crypto_type: CryptoType = None
    kms_key_id: KmsKeyId = None


class SmnConfigIn(_Strict):
    topic_urn: str | None = Field(default=None, max_length=1024)
    language: str | None = Field(default=None, max_length=32)
    trigger_conditions: list[str] = Field(default_factory=list, max_length=8)
    message_template_name: str | None = Field(default=None, max_length=255)


OverwriteMode = Literal[
    "NO_OVERWRITE", "SIZE_LAST_MODIFIED_COMPARISON_OVERWRITE", "CRC64_COMPARISON_OVERWRITE", "FULL_OVERWRITE"
]
ConsistencyCheck = Literal["size_last_modified", "crc64", "no_check"]


class GroupCreate(_Strict):
    src_node: SrcNodeIn
    dst_node: DstNodeIn
    description: str = Field(default="", max_length=255, pattern=r"^[^\^<>&\"']*$")
    task_type: Literal["PREFIX", "LIST", "URL_LIST"] = "PREFIX"
    enable_metadata_migration: bool = False
    enable_failed_object_recording: bool = True
    enable_restore: bool = Field(default=False, description="only false: archived objects are not restored")
    enable_kms: bool = Field(default=False, description="only false")
    bandwidth_policy: list[BandwidthWindow] = Field(
        default_factory=list,
        max_length=5,
        description="up to 5 daily windows (UTC), each with its own limit; outside them, transfer.bwlimit",
    )
    smn_config: SmnConfigIn | None = Field(default=None, description="not supported (notifications)")
    source_cdn: SourceCdnIn | None = Field(
        default=None, description="read the source's objects through a CDN domain (PREFIX and LIST groups)"
    )
    migrate_since: int | None = Field(
        default=None, ge=0, le=253_402_300_799, description="only objects modified after (UNIX s)"
    )
    object_overwrite_mode: OverwriteMode = Field(
        default="SIZE_LAST_MODIFIED_COMPARISON_OVERWRITE",
        description="NO_OVERWRITE: an existing destination object is left alone; SIZE_LAST_MODIFIED_: "
        "overwritten when the sizes differ or the source is newer; CRC64_: when the checksums (MD5/ETag) "
        "differ; FULL_OVERWRITE: always",
    )
    consistency_check: ConsistencyCheck = Field(
        default="size_last_modified",
        description="how a migrated object is checked: its size (size_last_modified), its MD5 (crc64: "
        "ferry compares MD5/ETag, the checksum S3-compatible stores keep), or not at all",
    )
    dst_storage_policy: Literal["STANDARD", "IA", "ARCHIVE", "DEEP_ARCHIVE", "SRC_STORAGE_MAPPING"] | None = (
        Field(default=None, description="the destination's storage class (none: the bucket's default)")
    )
    enable_requester_pays: bool = False
    verify_after_migration: bool = Field(
        default=False,
        description="ferry's own: after migrating, check every object against the destination (size, then "
        "MD5 where both sides have one); one that differs is a failed object, 'differs at destination: "
        "size' or 'md5', retried like any other",
    )
    transfer: TransferIn = Field(default_factory=TransferIn, description="ferry's own: transfer tuning")


class Credentials(_Strict):
    """The body of retry and start: keys given again (the service forgets them on restart)."""

    src_ak: Secret100 = None
    src_sk: Secret100 = None
    src_crypto_type: CryptoType = None
    src_kms_key_id: KmsKeyId = None
    src_security_token: Secret100 = Field(default=None, description="not supported (temporary keys)")
    dst_crypto_type: CryptoType = None
    dst_kms_key_id: KmsKeyId = None
    dst_security_token: Secret100 = Field(default=None, description="not supported (temporary keys)")
    source_cdn_crypto_type: CryptoType = None
    source_cdn_kms_key_id: KmsKeyId = None
    connection_string: ConnectionString = Field(default=None, description="the Azure source's")
    json_auth_file: JsonAuthFile = Field(
        default=None, description="the Google source's: the content of a service-account JSON key file"
    )
    dst_ak: Secret100 = None
    dst_sk: Secret100 = None
    source_cdn_authentication_key: CdnKey = Field(
        default=None, description="the CDN's key: a URLSource's, or the source_cdn's"
    )
    dst_connection_string: ConnectionString = Field(
        default=None, description="ferry's own: an Azure destination's connection string"
    )
    dst_json_auth_file: JsonAuthFile = Field(
        default=None, description="ferry's own: a Google destination's JSON key file content"
    )


class RetryBody(Credentials):
    migrate_failed_object: bool | None = Field(
        default=False,
        description="true: only the objects recorded as failed; false: every object of the failed "
        "tasks is checked again and those already migrated are skipped",
    )


class StartTaskBody(RetryBody):
    pass


class Created(BaseModel):
    group_id: str
    task_ids: list[int] = Field(description="ferry's own: the numbers of the group's tasks")


class ErrorReason(BaseModel):
    error_code: str
    error_msg: str


class ListFileOut(BaseModel):
    list_file_key: str
    obs_bucket: str
    list_file_num: str | None = None


class FailedObjectRecord(BaseModel):
    result: bool
    """Whether failed objects are recorded (``GET .../failed-objects`` lists them)."""
    list_file_key: str | None = None
    error_code: str | None = None


class SrcNodeOut(BaseModel):
    cloud_type: str
    region: str | None = None
    bucket: str
    app_id: str | None = None
    object_key: list[str] = Field(default_factory=list)
    list_file: ListFileOut | None = None
    endpoint: str | None = None
    """ferry's own (as every field below the SDK's)."""
    addressing_style: str | None = None


class DstNodeOut(BaseModel):
    bucket: str
    region: str | None = None
    save_prefix: str = ""
    cloud_type: str
    endpoint: str | None = None
    addressing_style: str | None = None


class SourceCdnOut(BaseModel):
    domain: str
    protocol: str
    authentication_type: str


class _Common(BaseModel):
    """What groups and tasks both report, in OMS's names; times are epoch milliseconds."""

    description: str
    task_type: str
    enable_metadata_migration: bool
    enable_failed_object_recording: bool
    enable_restore: bool
    bandwidth_policy: list[BandwidthWindow] = Field(default_factory=list)
    migrate_since: int | None = None
    source_cdn: SourceCdnOut | None = None
    migrate_speed: int = 0
    """Bytes per second of the current (or last) run."""
    total_time: int = 0
    """Milliseconds since it started (until it finished)."""
    start_time: int | None = None
    total_num: int = 0
    total_size: int = 0
    complete_size: int = 0
    """Bytes of the objects migrated."""
    failed_object_record: FailedObjectRecord
    object_overwrite_mode: str
    consistency_check: str
    dst_storage_policy: str | None = None
    enable_requester_pays: bool = False
    obs_system: str = "ferry"
    # ferry's own
    status_name: str
    """The status as a word: waiting, executing, stopping, stopped, failed, succeeded."""
    progress: float = 0.0
    """Done (succeeded or skipped) over everything, 0 to 1, by bytes where there are bytes."""
    fail_size: int = 0
    skip_size: int = 0
    transferred_size: int = 0
    """Bytes sent by every run."""
    run_transferred_size: int = 0
    """Bytes sent by the current or last run."""
    create_time: int
    update_time: int
    finish_time: int | None = None
    transfer: dict[str, int | str | None] = Field(default_factory=dict)
    chunks: dict[str, int] = Field(default_factory=dict)
    """The units of work of the task(s) by state: ``queued``, ``running``, ``stopping``, ``done``."""
    workers: list[str] = Field(default_factory=list)
    """The cluster workers running chunks of the task(s) now."""


class TaskOut(_Common):
    id: int
    group_id: str
    name: str
    status: int
    """1 waiting, 2 executing, 3 stopped, 4 failed, 5 succeeded, 7 pausing."""
    error_reason: ErrorReason | None = None
    src_node: SrcNodeOut
    dst_node: DstNodeOut
    successful_num: int = 0
    failed_num: int = 0
    skipped_num: int = 0
    real_size: int = 0
    """Bytes sent by every run."""
    left_time: int | None = None
    is_query_over: bool = False
    """Whether the task's listing of its source is complete."""
    group_type: str = "GROUP_TASK"
    runs: int = 0
    journal_id: str
    """The task's journal: its rows in ``ferry_tasks`` and ``ferry_objects`` of the service's database."""


class GroupOut(_Common):
    group_id: str
    status: int
    """0 waiting, 2 monitoring (tasks executing), 3 paused, 5 migration failed, 6 completed, 7 pausing."""
    error_reason: ErrorReason | None = None
    src_node: SrcNodeOut
    dst_node: DstNodeOut
    total_task_num: int = 0
    create_task_num: int = 0
    failed_task_num: int = 0
    complete_task_num: int = 0
    paused_task_num: int = 0
    executing_task_num: int = 0
    waiting_task_num: int = 0
    create_complete_num: int = 0
    """Objects listed so far."""
    create_complete_size: int = 0
    success_num: int = 0
    fail_num: int = 0
    skip_num: int = 0
    project_id: str
    retry_count: int = 0
    verify_after_migration: bool = False
    workers_connected: int | None = None
    """Workers in the service's Dask cluster (a waiting group runs once one joins)."""


class GroupPage(BaseModel):
    count: int
    taskgroups: list[GroupOut]


class TaskPage(BaseModel):
    count: int
    tasks: list[TaskOut]


class FailedObject(BaseModel):
    task_id: int
    key: str
    dest_key: str
    size: int
    reason: str | None


class FailedPage(BaseModel):
    count: int
    objects: list[FailedObject]
