"""The official OMS SDK (``huaweicloudsdkoms``), unpatched, drives ``ferry serve``: requests signed with an
access key from ``ferry key create``, OMS's bodies both ways, endpoints found from cloud type and region
through ``ferry serve --endpoints`` (the real RGW stands in for two clouds)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkoms.v2 import OmsClient
from huaweicloudsdkoms.v2 import model as m
from tests.conftest import MiB
from tests.support.service import Service, digests, ferry_run, publish_on_cdn, put_objects

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.support.emulators"]  # nginx, site

PROJECT = "0123456789abcdef0123456789abcdef"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def oms(tmp_path_factory, rgw):
    """A service whose Aliyun and HEC (Huawei OBS) both live at the RGW, and an SDK client of it."""
    root = tmp_path_factory.mktemp("sdk-service")
    (root / "home").mkdir()
    endpoints = root / "endpoints.toml"
    endpoints.write_text(f'[Aliyun]\n"{REGION}" = "{rgw.endpoint}"\n\n[HEC]\n"*" = "{rgw.endpoint}"\n')
    service = Service(home=root / "home", data_dir=root / "svc", args=["--endpoints", str(endpoints)])
    service.start()
    ak, sk = service.access_key(PROJECT)
    yield service, sdk_client(service, ak, sk)
    service.stop()


def sdk_client(service: Service, ak: str, sk: str, project: str = PROJECT) -> OmsClient:
    config = HttpConfig.get_default_config()
    config.timeout = (5, 30)
    return (
        OmsClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(ak, sk, project))
        .with_endpoint(service.url)
        .build()
    )


def src_node(rgw, bucket: str, sk: str | None = None, **extra) -> m.TaskGroupSrcNode:
    return m.TaskGroupSrcNode(
        cloud_type="Aliyun",
        region=REGION,
        bucket=bucket,
        ak=rgw.access_key,
        sk=sk or rgw.secret_key,
        **extra,
    )


def dst_node(rgw, bucket: str, save_prefix: str = "") -> m.TaskGroupDstNode:
    return m.TaskGroupDstNode(
        region=REGION, bucket=bucket, ak=rgw.access_key_2, sk=rgw.secret_key_2, save_prefix=save_prefix
    )


def create(client: OmsClient, body: m.CreateTaskGroupReq) -> str:
    group_id = client.create_task_group(m.CreateTaskGroupRequest(body=body)).group_id
    assert isinstance(group_id, str) and group_id
    return group_id


def wait(client: OmsClient, group_id: str, until: tuple[int, ...] = (3, 5, 6), timeout: float = 90):
    deadline = time.monotonic() + timeout
    while True:
        group = client.show_task_group(m.ShowTaskGroupRequest(group_id=group_id))
        if group.status in until:
            return group
        assert time.monotonic() < deadline, f"group still {group.status}: {group}"
        time.sleep(0.3)


UNKNOWN_TO_FERRY = {
    # fields ferry has nothing for (notifications, list files...), or that were not given
    "migrate_since",
    "smn_config",
    "smn_info",
    "source_cdn",
    "list_file",
    "app_id",
    "dst_storage_policy",
    "left_time",
    "success_record_error_reason",
    "skip_record_error_reason",
    "task_priority",
    "error_reason",
    "list_file_key",
    "error_code",
}


def unset(model) -> list[str]:
    """The fields of an SDK model (and the models inside it) the response left None."""
    missing = []
    for name in model.openapi_types:
        value = getattr(model, name)
        if value is None and name not in UNKNOWN_TO_FERRY:
            missing.append(name)
        elif hasattr(value, "openapi_types"):
            missing += [f"{name}.{inner}" for inner in unset(value)]
    return missing


def test_the_sdk_creates_lists_shows_and_deletes_a_group(oms, rgw, s3, bucket, other_bucket):
    _service, client = oms
    objects = {f"docs/{n:02}.txt": 300 + n for n in range(12)}
    objects["docs/big.bin"] = 6 * MiB + 5
    source = put_objects(s3, bucket, objects)
    s3.put_object(
        Bucket=bucket, Key="docs/photo.png", Body=b"png", ContentType="image/png", Metadata={"a": "1"}
    )
    objects["docs/photo.png"] = 3
    source["docs/photo.png"] = digests(s3, bucket, "docs/photo.png")[""]

    body = m.CreateTaskGroupReq(
        src_node=src_node(rgw, bucket, object_key=[""]),
        dst_node=dst_node(rgw, other_bucket, save_prefix="in/"),
        description="through the SDK",
        task_type="PREFIX",
        enable_metadata_migration=True,
        enable_failed_object_recording=True,
        enable_restore=False,
        object_overwrite_mode="SIZE_LAST_MODIFIED_COMPARISON_OVERWRITE",
        consistency_check="size_last_modified",
        enable_requester_pays=False,
    )
    group_id = create(client, body)
    group = wait(client, group_id)

    assert group.status == 6, group
    assert (group.total_num, group.success_num, group.fail_num, group.skip_num) == (14, 14, 0, 0)
    assert group.complete_size == group.total_size == sum(objects.values())
    assert (group.total_task_num, group.complete_task_num, group.failed_task_num) == (1, 1, 0)
    assert group.start_time > 1_700_000_000_000  # epoch milliseconds
    assert group.src_node.cloud_type == "Aliyun" and group.src_node.object_key == [""]
    assert (group.dst_node.bucket, group.dst_node.save_prefix) == (other_bucket, "in/")
    assert group.object_overwrite_mode == "SIZE_LAST_MODIFIED_COMPARISON_OVERWRITE"
    assert unset(group) == []
    assert digests(rgw.client(second=True), other_bucket, "in/") == source
    head = rgw.client(second=True).head_object(Bucket=other_bucket, Key="in/docs/photo.png")
    assert (head["ContentType"], head["Metadata"]) == ("image/png", {"a": "1"})  # metadata migrated

    listed = client.list_task_group(m.ListTaskGroupRequest(status=6, limit=100))
    assert group_id in [g.group_id for g in listed.taskgroups]
    assert all(g.status == 6 for g in listed.taskgroups)
    assert [unset(g) for g in listed.taskgroups if g.group_id == group_id] == [[]]

    tasks = client.list_tasks(m.ListTasksRequest(group_id=group_id, limit=10))
    assert tasks.count == 1
    task = tasks.tasks[0]
    assert isinstance(task.id, int) and task.status == 5 and task.successful_num == 14
    assert unset(task) == []
    shown = client.show_task(m.ShowTaskRequest(task_id=str(task.id)))
    assert (shown.id, shown.group_id, shown.failed_num) == (task.id, group_id, 0)

    client.delete_task_group(m.DeleteTaskGroupRequest(group_id=group_id))
    with pytest.raises(ClientRequestException) as gone:
        client.show_task_group(m.ShowTaskGroupRequest(group_id=group_id))
    assert (gone.value.status_code, gone.value.error_code) == (400, "OMS.1009")


def test_a_wrong_source_key_fails_and_retry_with_the_right_keys_completes(oms, rgw, s3, bucket, other_bucket):
    _service, client = oms
    source = put_objects(s3, bucket, {f"r/{n:02}": 700 + n for n in range(7)})
    s3.put_object(Bucket=bucket, Key="r/page.html", Body=b"<p>", ContentType="text/html", Metadata={"b": "2"})
    source["r/page.html"] = digests(s3, bucket, "r/page.html")[""]
    body = m.CreateTaskGroupReq(
        src_node=src_node(rgw, bucket, sk="not-the-secret", object_key=["r/"]),
        dst_node=dst_node(rgw, other_bucket),
    )
    group_id = create(client, body)
    group = wait(client, group_id)
    assert group.status == 5, group
    assert group.error_reason.error_code == "FERRY.0030" and group.error_reason.error_msg

    retry = m.RetryTaskGroupReq(
        src_ak=rgw.access_key,
        src_sk=rgw.secret_key,
        dst_ak=rgw.access_key_2,
        dst_sk=rgw.secret_key_2,
        migrate_failed_object=True,
    )
    client.retry_task_group(m.RetryTaskGroupRequest(group_id=group_id, body=retry))
    group = wait(client, group_id, until=(5, 6))
    assert (group.status, group.success_num, group.error_reason) == (6, 8, None), group
    assert digests(rgw.client(second=True), other_bucket) == source
    head = rgw.client(second=True).head_object(Bucket=other_bucket, Key="r/page.html")
    assert (head["ContentType"], head["Metadata"]) == ("text/html", {})  # by default only Content-Type

    # completed: a retry does nothing and succeeds, so a script's "retry until it succeeds" loop ends
    client.retry_task_group(m.RetryTaskGroupRequest(group_id=group_id, body=retry))
    again = client.show_task_group(m.ShowTaskGroupRequest(group_id=group_id))
    assert (again.status, again.success_num) == (6, 8)


def window_around_now(rate: int) -> m.BandwidthPolicyDto:
    """A daily window (UTC) from an hour ago to an hour from now."""
    now = datetime.now(UTC)
    ago, ahead = now - timedelta(hours=1), now + timedelta(hours=1)
    return m.BandwidthPolicyDto(start=ago.strftime("%H:%M"), end=ahead.strftime("%H:%M"), max_bandwidth=rate)


def test_bandwidth_windows_stop_start_and_update(oms, rgw, s3, bucket, other_bucket):
    _service, client = oms
    source = put_objects(s3, bucket, {f"s/{n}.bin": 2 * MiB for n in range(3)})
    body = m.CreateTaskGroupReq(
        src_node=src_node(rgw, bucket, object_key=["s/"]),
        dst_node=dst_node(rgw, other_bucket),
        bandwidth_policy=[window_around_now(MiB)],  # 6 MiB at 1 MiB/s: several seconds
    )
    group_id = create(client, body)
    deadline = time.monotonic() + 30
    while client.show_task_group(m.ShowTaskGroupRequest(group_id=group_id)).complete_size == 0:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    client.stop_task_group(m.StopTaskGroupRequest(group_id=group_id))
    group = wait(client, group_id, until=(3, 5, 6))
    assert group.status == 3 and group.paused_task_num == 1, group
    assert 0 < group.complete_size < 6 * MiB
    assert [(w.start, w.max_bandwidth) for w in group.bandwidth_policy] == [
        (body.bandwidth_policy[0].start, MiB)
    ]

    update = m.UpdateBandwidthPolicyReq(bandwidth_policy=[])  # no window: full speed from the next run
    client.update_task_group(m.UpdateTaskGroupRequest(group_id=group_id, body=update))
    start = m.StartTaskGroupReq(
        src_ak=rgw.access_key, src_sk=rgw.secret_key, dst_ak=rgw.access_key_2, dst_sk=rgw.secret_key_2
    )
    client.start_task_group(m.StartTaskGroupRequest(group_id=group_id, body=start))
    group = wait(client, group_id, until=(5, 6))
    assert group.status == 6 and group.bandwidth_policy == [], group  # (speeds are for benchmarks)
    assert digests(rgw.client(second=True), other_bucket) == source

    overlapping = m.UpdateBandwidthPolicyReq(
        bandwidth_policy=[
            m.BandwidthPolicyDto(start="01:00", end="03:00", max_bandwidth=MiB),
            m.BandwidthPolicyDto(start="02:00", end="04:00", max_bandwidth=MiB),
        ]
    )
    with pytest.raises(ClientRequestException) as refused:
        client.update_task_group(m.UpdateTaskGroupRequest(group_id=group_id, body=overlapping))
    assert refused.value.status_code == 400 and "overlap" in refused.value.error_msg


def test_signatures_keys_and_projects_are_checked(oms, rgw):
    service, _client = oms
    ak, sk = service.access_key(PROJECT)
    with pytest.raises(ClientRequestException) as wrong:
        sdk_client(service, ak, "x" * 40).list_task_group(m.ListTaskGroupRequest())
    assert (wrong.value.status_code, wrong.value.error_code) == (401, "FERRY.0014")
    with pytest.raises(ClientRequestException) as unknown:
        sdk_client(service, "AK" + "0" * 18, sk).list_task_group(m.ListTaskGroupRequest())
    assert (unknown.value.status_code, unknown.value.error_code) == (401, "FERRY.0015")
    other_ak, other_sk = service.access_key("another-project")
    with pytest.raises(ClientRequestException) as other:
        sdk_client(service, other_ak, other_sk).list_task_group(m.ListTaskGroupRequest())
    assert (other.value.status_code, other.value.error_code) == (403, "FERRY.0013")
    assert sk not in service.log() and sk.encode() not in (service.data_dir / "service.db").read_bytes()

    removed = ferry_run(service.home, "key", "rm", ak, "--data-dir", str(service.data_dir))
    assert removed.returncode == 0, removed.stderr
    with pytest.raises(ClientRequestException) as gone:
        sdk_client(service, ak, sk).list_task_group(m.ListTaskGroupRequest())
    assert gone.value.status_code == 401


def test_fields_ferry_cannot_honour_are_refused_by_name(oms, rgw, bucket, other_bucket):
    _service, client = oms
    body = m.CreateTaskGroupReq(
        src_node=src_node(rgw, bucket),
        dst_node=dst_node(rgw, other_bucket),
        smn_config=m.SmnConfig(topic_urn="urn:smn:region:project:topic", trigger_conditions=["FAILURE"]),
    )
    with pytest.raises(ClientRequestException) as refused:
        create(client, body)
    assert refused.value.status_code == 400 and "smn_config" in refused.value.error_msg

    cloud_types = client.show_cloud_type(m.ShowCloudTypeRequest(type="dst")).body
    assert "HuaweiCloud" in cloud_types and "URLSource" not in cloud_types
    assert client.list_api_versions(m.ListApiVersionsRequest()).versions[0].id == "v2"
    assert client.show_api_info(m.ShowApiInfoRequest(version="v2")).status == "CURRENT"


def test_key_commands_and_a_bad_endpoints_file(tmp_path, oms):
    service, _client = oms
    where = ["--data-dir", str(service.data_dir)]
    issued = ferry_run(service.home, "key", "create", "--project", "cli-project", *where)
    assert issued.returncode == 0, issued.stderr
    ak, sk = issued.stdout.splitlines()[0].split(" ")
    assert len(ak) == 20 and len(sk) == 40 and sk not in issued.stderr
    listed = ferry_run(service.home, "key", "list", "--project", "cli-project", *where)
    assert listed.returncode == 0 and ak in listed.stdout and sk not in listed.stdout
    assert sdk_client(service, ak, sk, "cli-project").list_task_group(m.ListTaskGroupRequest()).count == 0
    missing = ferry_run(service.home, "key", "rm", "NOSUCHKEY", *where)
    assert missing.returncode == 3 and missing.stderr.count("\n") == 1 and "NOSUCHKEY" in missing.stderr

    bad = tmp_path / "endpoints.toml"
    bad.write_text('[Ceph]\n"*" = "ftp://10.0.0.1"\n')
    served = ferry_run(service.home, "serve", "--data-dir", str(tmp_path / "svc"), "--endpoints", str(bad))
    assert served.returncode == 3, served.stderr
    assert served.stderr.count("\n") == 1 and "Ceph.*" in served.stderr and "Traceback" not in served.stderr


def test_a_retry_credential_that_does_not_fit_the_source_is_refused_by_name(oms, rgw, bucket, other_bucket):
    _service, client = oms
    body = m.CreateTaskGroupReq(
        src_node=src_node(rgw, bucket, sk="not-the-secret", object_key=["nothing-here/"]),
        dst_node=dst_node(rgw, other_bucket),
    )
    group_id = create(client, body)
    assert wait(client, group_id).status == 5
    azure_only = m.RetryTaskGroupReq(connection_string="DefaultEndpointsProtocol=https;AccountName=x")
    with pytest.raises(ClientRequestException) as refused:
        client.retry_task_group(m.RetryTaskGroupRequest(group_id=group_id, body=azure_only))
    assert refused.value.status_code == 400 and "connection_string" in refused.value.error_msg
    assert "AccountName" not in refused.value.error_msg
    kms = m.RetryTaskGroupReq(src_ak=rgw.access_key, src_sk=rgw.secret_key, src_kms_key_id="key-1")
    with pytest.raises(ClientRequestException) as refused:
        client.retry_task_group(m.RetryTaskGroupRequest(group_id=group_id, body=kms))
    assert refused.value.error_code == "FERRY.0021" and "src_kms_key_id" in refused.value.error_msg
    client.delete_task_group(m.DeleteTaskGroupRequest(group_id=group_id))


def test_a_list_group_reads_its_keys_from_a_list_file(oms, rgw, s3, bucket, other_bucket):
    _service, client = oms
    source = put_objects(s3, bucket, {f"l/{n:02}": 100 + n for n in range(6)})
    listed = ["l/01", "l/03", "l/05"]
    rgw.client(second=True).put_object(Bucket=other_bucket, Key="lists/keys.txt", Body="\n".join(listed))
    list_file = m.ListFile(list_file_key="lists/keys.txt", obs_bucket=other_bucket)
    body = m.CreateTaskGroupReq(
        src_node=src_node(rgw, bucket, list_file=list_file),
        dst_node=dst_node(rgw, other_bucket, save_prefix="copied/"),
        task_type="LIST",
    )
    group = wait(client, create(client, body))
    assert (group.status, group.success_num) == (6, 3), group
    assert group.src_node.list_file.list_file_key == "lists/keys.txt"
    moved = digests(rgw.client(second=True), other_bucket, "copied/")
    assert moved == {key: source[key] for key in listed}

    missing = m.ListFile(list_file_key="lists/none.txt", obs_bucket=other_bucket)
    body.src_node = src_node(rgw, bucket, list_file=missing)
    with pytest.raises(ClientRequestException) as refused:
        create(client, body)
    assert refused.value.status_code == 400 and "lists/none.txt" in refused.value.error_msg


def test_a_group_read_through_a_signed_cdn(oms, rgw, s3, bucket, other_bucket, nginx, site):
    """OMS's source_cdn from the SDK: listed on the bucket, fetched from nginx's type A signed location;
    a wrong key fails the objects and the retry body's source_cdn_authentication_key completes them."""
    service, client = oms
    source = publish_on_cdn(s3, bucket, nginx.www, {f"signed/{site}/{n}.txt": 900 + n for n in range(3)})
    domain = nginx.url.split("://", 1)[1]
    body = m.CreateTaskGroupReq(
        src_node=src_node(rgw, bucket, object_key=[f"signed/{site}/"]),
        dst_node=dst_node(rgw, other_bucket),
        source_cdn=m.SourceCdnReq(
            domain=domain,
            protocol="http",
            authentication_type="ALIYUN_OSS_A",
            authentication_key="wrong-key-1",
        ),
    )
    group_id = create(client, body)
    group = wait(client, group_id)
    assert (group.status, group.fail_num) == (5, 3), group
    assert (group.source_cdn.domain, group.source_cdn.authentication_type) == (domain, "ALIYUN_OSS_A")
    retry = m.RetryTaskGroupReq(
        src_ak=rgw.access_key,
        src_sk=rgw.secret_key,
        dst_ak=rgw.access_key_2,
        dst_sk=rgw.secret_key_2,
        source_cdn_authentication_key=nginx.key,
        migrate_failed_object=True,
    )
    client.retry_task_group(m.RetryTaskGroupRequest(group_id=group_id, body=retry))
    group = wait(client, group_id, until=(5, 6))
    assert (group.status, group.success_num) == (6, 3), group
    assert digests(rgw.client(second=True), other_bucket) == source
    unsupported = m.CreateTaskGroupReq(
        src_node=src_node(rgw, bucket),
        dst_node=dst_node(rgw, other_bucket),
        source_cdn=m.SourceCdnReq(
            domain=domain, protocol="https", authentication_type="KSYUN_PRIVATE_AUTHENTICATION"
        ),
    )
    with pytest.raises(ClientRequestException) as refused:
        create(client, unsupported)
    assert refused.value.status_code == 400 and "KSYUN_PRIVATE_AUTHENTICATION" in refused.value.error_msg
    assert nginx.key not in service.log() and "wrong-key-1" not in service.log()
