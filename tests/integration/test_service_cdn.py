"""OMS's ``source_cdn``: a group lists its source bucket on the real RGW and reads each object's bytes
through a CDN domain — the real nginx on loopback, serving the same keys as the bucket, its type A signed
location included — with ``ferry serve`` as a real process. The bytes arrive identical; an object the CDN
does not serve, or serves with another size or content, fails alone with a clear reason; an unsupported
``authentication_type`` is a 400 naming it; a wrong CDN key fails the objects and a retry with
``source_cdn_authentication_key`` completes the group; the key is never in the database or the log."""

from __future__ import annotations

import pytest
from tests.conftest import MiB
from tests.support.service import (
    Service,
    api_for,
    assert_error,
    assert_no_secrets,
    create,
    digests,
    free_port,
    node,
    publish_on_cdn,
    secrets_of,
)

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.support.emulators"]  # nginx, site

SMALL = {"threshold": "6MiB", "part_size": "5MiB", "retries": 1}
WRONG_CDN_KEY = "not-the-cdn-key-3b9e2d"


@pytest.fixture(scope="module")
def service(tmp_path_factory, rgw):
    root = tmp_path_factory.mktemp("cdn-service")
    (root / "home").mkdir()
    started = Service(home=root / "home", data_dir=root / "svc").start()
    yield started
    started.stop()


@pytest.fixture
def seen():
    return []


def cdn(nginx, **fields) -> dict:
    return {"domain": nginx.url.split("://", 1)[1], "protocol": "http", **fields}


def test_a_bucket_read_through_a_cdn_arrives_byte_identical(
    service, seen, rgw, s3, bucket, other_bucket, nginx, site
):
    expected = publish_on_cdn(
        s3,
        bucket,
        nginx.www,
        {f"{site}/a.txt": 1000, f"{site}/dir/b c.txt": 2000, f"{site}/big.bin": 7 * MiB + 11},
    )
    api = api_for(service, seen)
    dst = node(rgw, other_bucket, second=True, save_prefix="cdn")
    group_id = create(
        api,
        node(rgw, bucket, object_key=[f"{site}/"]),
        dst,
        source_cdn=cdn(nginx, authentication_type="NONE"),
        consistency_check="crc64",
        transfer=SMALL,
    )
    group = api.wait(group_id)
    assert (group["status_name"], group["success_num"], group["fail_num"]) == ("succeeded", 3, 0), group
    assert group["source_cdn"] == {**cdn(nginx), "authentication_type": "NONE"}
    assert digests(rgw.client(second=True), other_bucket, "cdn/") == expected
    # The bytes came from nginx: each object was fetched there (HEAD, then its GETs).
    log = nginx.access_log.read_text(errors="replace")
    assert all(f"/{site}/" in log and key.rsplit("/", 1)[1].replace(" ", "%20") in log for key in expected)


def test_what_the_cdn_does_not_serve_as_listed_fails_alone(
    service, seen, rgw, s3, bucket, other_bucket, nginx, site
):
    good = publish_on_cdn(s3, bucket, nginx.www, {f"{site}/good.txt": 3000})
    publish_on_cdn(s3, bucket, nginx.www, {f"{site}/short.txt": 5000, f"{site}/other.txt": 4000})
    (nginx.www / site / "short.txt").write_bytes(b"s" * 4999)  # another size on the CDN
    (nginx.www / site / "other.txt").write_bytes(b"o" * 4000)  # the same size, other bytes
    s3.put_object(Bucket=bucket, Key=f"{site}/missing.txt", Body=b"m" * 10)  # not on the CDN at all
    api = api_for(service, seen)
    group_id = create(
        api,
        node(rgw, bucket, object_key=[f"{site}/"]),
        node(rgw, other_bucket, second=True),
        source_cdn=cdn(nginx),
        consistency_check="crc64",
        transfer=SMALL,
    )
    group = api.wait(group_id)
    assert (group["status_name"], group["success_num"], group["fail_num"]) == ("failed", 1, 3), group
    reasons = {obj["key"].rsplit("/", 1)[1]: obj["reason"] for obj in api.failed(group_id)["objects"]}
    assert "the CDN does not serve" in reasons["missing.txt"] and "HTTP 404" in reasons["missing.txt"]
    assert "the CDN serves 4999 bytes, the bucket lists 5000" in reasons["short.txt"]
    assert "MD5 mismatch" in reasons["other.txt"]
    assert digests(rgw.client(second=True), other_bucket) == good


def test_a_signed_cdn_its_key_retry_and_refusals(service, seen, rgw, s3, bucket, other_bucket, nginx, site):
    expected = publish_on_cdn(
        s3, bucket, nginx.www, {f"signed/{site}/s1.txt": 4000, f"signed/{site}/big.bin": 7 * MiB + 5}
    )
    api = api_for(service, seen)
    src = node(rgw, bucket, object_key=[f"signed/{site}/"])
    dst = node(rgw, other_bucket, second=True)

    # A wrong key: the CDN refuses every object; a retry giving the right one completes the group.
    signed = cdn(nginx, authentication_type="ALIYUN_OSS_A", authentication_key=WRONG_CDN_KEY)
    group_id = create(api, src, dst, source_cdn=signed, transfer=SMALL)
    group = api.wait(group_id)
    assert (group["status_name"], group["fail_num"]) == ("failed", 2), group
    for obj in api.failed(group_id)["objects"]:
        assert "the CDN refused the signed request" in obj["reason"], obj
    assert group["source_cdn"] == {**cdn(nginx), "authentication_type": "ALIYUN_OSS_A"}
    retry = f"/taskgroups/{group_id}/retry"
    assert api.put(retry, json={"source_cdn_authentication_key": nginx.key}).status_code == 200
    group = api.wait(group_id)
    assert (group["status_name"], group["success_num"], group["fail_num"]) == ("succeeded", 2, 0), group
    assert digests(rgw.client(second=True), other_bucket) == expected

    # A domain nothing answers on: the objects fail, each with the reason.
    closed = cdn(nginx, domain=f"127.0.0.1:{free_port()}")
    group_id = create(
        api, src, node(rgw, other_bucket, second=True, save_prefix="x"), source_cdn=closed, transfer=SMALL
    )
    group = api.wait(group_id)
    assert (group["status_name"], group["fail_num"]) == ("failed", 2), group

    # Refused at create, each naming the field or value.
    for fields, words in (
        (
            {"authentication_type": "ALIYUN_OSS_B", "authentication_key": "k"},
            "'ALIYUN_OSS_B' is not supported",
        ),
        ({"authentication_type": "QINIU_PRIVATE_AUTHENTICATION"}, "QINIU_PRIVATE_AUTHENTICATION"),
        ({"authentication_type": "TENCENT_COS_A"}, "source_cdn.authentication_key is required"),
        ({"authentication_key": "k"}, "authentication_type NONE takes no key"),
        ({"protocol": "ftp"}, "source_cdn.protocol"),
        ({"domain": "cdn.example.com/path"}, "source_cdn.domain"),
    ):
        body = assert_error(
            api.post(
                "/taskgroups", json={"src_node": src, "dst_node": dst, "source_cdn": cdn(nginx, **fields)}
            ),
            400,
            "OMS.0064",
        )
        assert words in body["error_msg"], body
    url_list = {"cloud_type": "URLSource", "url_list": [f"{nginx.url}/{site}/x\tx"]}
    body = assert_error(
        api.post(
            "/taskgroups",
            json={"src_node": url_list, "dst_node": dst, "task_type": "URL_LIST", "source_cdn": cdn(nginx)},
        ),
        400,
        "OMS.0064",
    )
    assert "URL_LIST" in body["error_msg"]
    assert_no_secrets(service, seen, [nginx.key, WRONG_CDN_KEY, *secrets_of(rgw)])
