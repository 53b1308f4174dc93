"""The migration service beyond S3: groups from Azure Blob (Azurite), to Google Cloud Storage (the GCS
emulator) and from URL lists (nginx, its CDN-signed location included) into the real RGW, with ``ferry
serve`` as a real process. Wrong or missing secrets fail a group with one clear reason, a retry that gives
the right ones (``connection_string``, ``source_cdn_authentication_key``) completes it, and no secret is
ever found in the data dir, the service log or any response or CLI output."""

from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.conftest import MiB
from tests.support.gcs import gcs_keys, sha256_gcs
from tests.support.service import (
    Service,
    api_for,
    assert_error,
    assert_no_secrets,
    create,
    digests,
    ferry_run,
    node,
    put_objects,
    secrets_of,
)

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.support.emulators"]  # azurite, container, emulator, gcs, gbucket, nginx, site

SMALL = {"threshold": "6MiB", "part_size": "5MiB"}
WRONG_CDN_KEY = "not-the-cdn-key-7f3a1c"


@pytest.fixture(scope="module")
def service(tmp_path_factory, rgw):
    """One service on SQLite for the whole module (starting one costs seconds)."""
    root = tmp_path_factory.mktemp("cloud-service")
    (root / "home").mkdir()
    started = Service(home=root / "home", data_dir=root / "svc").start()
    yield started
    started.stop()


@pytest.fixture
def seen():
    """Every response body and CLI output the test received."""
    return []


def account_key(connection_string: str) -> str:
    return next(
        part.split("=", 1)[1] for part in connection_string.split(";") if part.startswith("AccountKey=")
    )


def without_endpoint(connection_string: str) -> str:
    """Azurite's connection string without its BlobEndpoint: the node's ``endpoint`` supplies it."""
    return ";".join(
        part for part in connection_string.split(";") if part and not part.startswith("BlobEndpoint=")
    )


def put_blobs(container, objects: dict[str, int]) -> dict[str, str]:
    """Upload random blobs (key -> size) to Azurite; returns key -> SHA-256."""
    digests_by_key = {}
    for key, size in objects.items():
        data = hashlib.sha256(key.encode()).digest() * (size // 32) + b"z" * (size % 32)
        container.upload_blob(key, data, overwrite=True)
        digests_by_key[key] = hashlib.sha256(data).hexdigest()
    return digests_by_key


def service_account_key() -> tuple[str, str]:
    """A well-formed service-account key file's content (made here), and a line of its private key."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    content = json.dumps(
        {
            "type": "service_account",
            "client_email": "ferry@example.invalid",
            "token_uri": "x",
            "project_id": "ferry-test",
            "private_key": pem,
        }
    )
    return content, pem.splitlines()[1]


# --- Azure Blob -> S3 ---------------------------------------------------------------------------------------


def test_an_azure_group_to_rgw_arrives_byte_identical(service, seen, rgw, azurite, container, other_bucket):
    objects = {f"photos/{n:02}.jpg": 500 + n * 97 for n in range(30)}
    objects["photos/big.bin"] = 7 * MiB + 5  # multipart: 2 parts of 5 MiB
    objects["elsewhere/not-this.txt"] = 10
    source = put_blobs(container, objects)
    connection = without_endpoint(azurite.connection_string)
    api = api_for(service, seen)

    malformed = {"cloud_type": "Azure", "bucket": container.container_name, "connection_string": "s3cr3t-x"}
    body = assert_error(
        api.post("/taskgroups", json={"src_node": malformed, "dst_node": node(rgw, other_bucket)}),
        400,
        "OMS.0064",
    )
    assert "src_node: the Azure connection string is malformed" in body["error_msg"]
    missing = {"cloud_type": "Azure", "bucket": container.container_name}
    body = assert_error(
        api.post("/taskgroups", json={"src_node": missing, "dst_node": node(rgw, other_bucket)}),
        400,
        "OMS.0064",
    )
    assert "connection_string is required for cloud_type Azure" in body["error_msg"]

    src = {
        "cloud_type": "Azure",
        "endpoint": azurite.endpoint,
        "bucket": container.container_name,
        "connection_string": connection,
        "object_key": ["photos/"],
    }
    dst = node(rgw, other_bucket, second=True, save_prefix="from-azure")
    group_id = create(api, src, dst, transfer={**SMALL, "jobs": 6})
    group = api.wait(group_id)

    assert group["status_name"] == "succeeded", group
    assert (group["success_num"], group["fail_num"], group["total_num"]) == (31, 0, 31)
    assert group["src_node"]["cloud_type"] == "Azure" and group["src_node"]["endpoint"] == azurite.endpoint
    assert "connection_string" not in group["src_node"]
    expected = {key: digest for key, digest in source.items() if key.startswith("photos/")}
    assert digests(rgw.client(second=True), other_bucket, "from-azure/") == expected
    assert_no_secrets(service, seen, [connection, account_key(connection), *secrets_of(rgw)])


def test_a_wrong_connection_string_fails_and_a_retry_with_the_right_one_completes(
    service, seen, rgw, s3, bucket, azurite, container
):
    """Through the command-line client, the secrets in its environment variables."""
    source = put_blobs(container, {f"d/{n:02}.txt": 200 + n for n in range(12)})
    right = without_endpoint(azurite.connection_string)
    wrong_key = base64.b64encode(b"not the account key, but base64 all the same!").decode()
    wrong = right.replace(account_key(right), wrong_key)
    project = "cli-azure"
    env = {
        "FERRY_SERVER": service.url,
        "FERRY_TOKEN": service.token(project),
        "FERRY_PROJECT": project,
        "FERRY_SRC_CONNECTION_STRING": wrong,
        "FERRY_DST_AK": rgw.access_key,
        "FERRY_DST_SK": rgw.secret_key,
    }

    def ferry(*args: str, **extra: str):
        done = ferry_run(service.home, *args, env={**env, **extra})
        seen.extend([done.stdout, done.stderr])
        return done

    created = ferry(
        "group", "create", "--src-type", "Azure", "--src-endpoint", azurite.endpoint,
        "--src-bucket", container.container_name, "--prefix", "d/", "--dst-type", "Ceph",
        "--dst-endpoint", rgw.endpoint, "--dst-bucket", bucket, "--dst-prefix", "retried", "--wait", "--json",
    )  # fmt: skip
    assert created.returncode == 8, created.stderr
    group = json.loads(created.stdout)
    assert group["status_name"] == "failed", group
    assert "credentials were refused" in group["error_reason"]["error_msg"], group
    assert created.stderr.count("\n") == 1 and "credentials were refused" in created.stderr

    refused = ferry("group", "retry", group["group_id"], FERRY_SRC_CONNECTION_STRING="AccountName=x;Key")
    assert refused.returncode == 3 and refused.stderr.count("\n") == 1
    assert "connection_string: the Azure connection string is malformed" in refused.stderr

    retried = ferry(
        "group", "retry", group["group_id"], "--wait", "--json", FERRY_SRC_CONNECTION_STRING=right
    )
    assert retried.returncode == 0, retried.stderr
    group = json.loads(retried.stdout)
    assert (group["status_name"], group["success_num"], group["retry_count"]) == ("succeeded", 12, 1)
    assert digests(s3, bucket, "retried/") == source
    assert_no_secrets(service, seen, [right, wrong, account_key(right), wrong_key, *secrets_of(rgw)])


# --- S3 -> Google Cloud Storage -----------------------------------------------------------------------------


def test_an_rgw_group_to_gcs_completes(service, seen, rgw, s3, bucket, emulator, gcs, gbucket):
    objects = {f"g/{n:02}.txt": 300 + n for n in range(10)}
    objects["g/big.bin"] = 7 * MiB + 3  # one resumable session, fed two parts
    source = put_objects(s3, bucket, objects)
    key, key_line = service_account_key()
    api = api_for(service, seen)

    dst = {
        "cloud_type": "Google",
        "endpoint": emulator.endpoint,
        "bucket": gbucket,
        "save_prefix": "into-gcs",
    }
    for bad, phrase in (
        ("/etc/ferry/gcs-key.json", "content of a service-account JSON key file, not its name"),
        ('{"type": "authorized_user"}', "not a service-account key"),
    ):
        body = assert_error(
            api.post(
                "/taskgroups",
                json={"src_node": node(rgw, bucket), "dst_node": {**dst, "json_auth_file": bad}},
            ),
            400,
            "OMS.0064",
        )
        assert body["error_msg"].startswith("dst_node: the json_auth_file") and phrase in body["error_msg"]
    body = assert_error(
        api.post("/taskgroups", json={"src_node": node(rgw, bucket), "dst_node": {**dst, "endpoint": None}}),
        400,
        "OMS.0064",
    )
    assert (
        "json_auth_file is required for cloud_type Google" in body["error_msg"]
    )  # Google itself needs a key

    # The emulator, on plain HTTP, is spoken to without credentials; a key given is still checked.
    group_id = create(
        api,
        node(rgw, bucket, object_key=["g/"]),
        {**dst, "json_auth_file": key},
        transfer={**SMALL, "jobs": 4},
    )
    group = api.wait(group_id)

    assert group["status_name"] == "succeeded", group
    assert (group["success_num"], group["dst_node"]["cloud_type"]) == (11, "Google")
    assert gcs_keys(gcs, gbucket, "into-gcs/") == sorted(source)
    assert {k: sha256_gcs(gcs, gbucket, f"into-gcs/{k}") for k in source} == source
    assert_no_secrets(service, seen, [key_line, *secrets_of(rgw)])


# --- URL lists, from nginx ----------------------------------------------------------------------------------


def test_a_url_list_group_and_the_cdn_key(service, seen, rgw, s3, bucket, nginx, site):
    public = {"a.txt": 1000, "dir/b.txt": 2000, "c d.txt": 3000}
    signed = {"s1.txt": 4000, "big.bin": 7 * MiB + 11}
    expected = {}
    for root, names, prefix in (
        (nginx.www / site, public, "pub"),
        (nginx.www / "signed" / site, signed, "sig"),
    ):
        for name, size in names.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            data = hashlib.sha256(name.encode()).digest() * (size // 32) + b"u" * (size % 32)
            path.write_bytes(data)
            path.parent.chmod(0o755)
            expected[f"{prefix}/{name}"] = hashlib.sha256(data).hexdigest()
    public_lines = [f"{nginx.url}/{site}/{quote(name)}\tpub/{name}" for name in public]
    signed_lines = [f"{nginx.url}/signed/{site}/{quote(name)}\tsig/{name}" for name in signed]
    api = api_for(service, seen)

    # With the key at create: every URL arrives, the signed ones too.
    src = {
        "cloud_type": "URLSource",
        "url_list": ["# what to fetch", *public_lines, "", *signed_lines],
        "cdn_authentication_key": nginx.key,
    }
    group_id = create(api, src, node(rgw, bucket, save_prefix="web"), task_type="URL_LIST", transfer=SMALL)
    group = api.wait(group_id)
    assert group["status_name"] == "succeeded", group
    assert (group["task_type"], group["src_node"]["cloud_type"], group["success_num"]) == (
        "URL_LIST",
        "URLSource",
        5,
    )
    [task] = api.get("/tasks", params={"group_id": group_id}).json()["tasks"]
    assert task["name"] == "URL list lines 2-7"
    assert digests(s3, bucket, "web/") == expected

    # Without the key the signed location refuses every object; a retry with a wrong key fails as well,
    # and one with the right key completes the group.
    src = {"cloud_type": "URLSource", "url_list": [*signed_lines, signed_lines[0]]}  # a URL twice: once
    group_id = create(api, src, node(rgw, bucket, save_prefix="later"), task_type="URL_LIST", transfer=SMALL)
    group = api.wait(group_id)
    assert (group["status_name"], group["fail_num"], group["total_num"]) == ("failed", 2, 2), group
    failed = api.failed(group_id)
    assert {obj["key"] for obj in failed["objects"]} == {line.split("\t")[0] for line in signed_lines}
    for obj in failed["objects"]:
        assert "access denied (HTTP 403" in obj["reason"] and "source_cdn_authentication_key" in obj["reason"]

    retry = f"/taskgroups/{group_id}/retry"
    assert api.put(retry, json={"source_cdn_authentication_key": WRONG_CDN_KEY}).status_code == 200
    group = api.wait(group_id)
    assert (group["status_name"], group["fail_num"]) == ("failed", 2), group
    assert "the CDN refused the signed request" in api.failed(group_id)["objects"][0]["reason"]

    assert api.put(retry, json={"source_cdn_authentication_key": nginx.key}).status_code == 200
    group = api.wait(group_id)
    assert (group["status_name"], group["success_num"], group["fail_num"]) == ("succeeded", 2, 0), group
    assert digests(s3, bucket, "later/") == {k: v for k, v in expected.items() if k.startswith("sig/")}

    assert_error(
        api.post(
            "/taskgroups",
            json={
                "src_node": {**src, "url_list": []},
                "dst_node": node(rgw, bucket),
                "task_type": "URL_LIST",
            },
        ),
        400,
        "OMS.0064",
    )
    body = assert_error(
        api.post(
            "/taskgroups", json={"src_node": node(rgw, bucket), "dst_node": {"cloud_type": "URLSource"}}
        ),
        400,
        "OMS.0064",
    )
    assert "URLSource can only be a source" in body["error_msg"]
    assert_no_secrets(service, seen, [nginx.key, WRONG_CDN_KEY, *secrets_of(rgw)])
