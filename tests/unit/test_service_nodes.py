"""The service's cloud types without a server: what each node needs and may be, how a URL list splits into
tasks, which request field feeds which side's secrets, and that no opener falls back to the service's own
environment."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st

from ferry.errors import CredentialsError
from ferry.service import nodes, source_cdn
from ferry.service.control import body_secrets
from ferry.service.schemas import RetryBody, SourceCdnIn
from ferry.service.split import SplitError, split_group, url_lines
from ferry.service.vault import NodeSecrets
from ferry.storage.cdn import CdnSource
from ferry.storage.http import HttpSource
from ferry.storage.s3 import ClientSettings

AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
CONNECTION = f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY}"


def node(cloud_type: str, **extra: object) -> dict[str, object]:
    return {"cloud_type": cloud_type, "bucket": "b", "endpoint": None, **extra}


# --- what a node needs and may be ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "side", "task_type", "problem"),
    [
        (node("Azure"), "src", "PREFIX", None),
        (node("azure"), "dst", "LIST", None),
        (node("Google"), "dst", "PREFIX", None),
        (node("Google", endpoint="http://127.0.0.1:9023"), "src", "LIST", None),
        (node("URLSource", bucket=""), "src", "URL_LIST", None),
        (node("URLSource", bucket=""), "dst", "PREFIX", "can only be a source"),
        (node("URLSource", bucket=""), "src", "PREFIX", "does not take task_type PREFIX"),
        (node("Ceph", endpoint="http://x"), "src", "URL_LIST", "does not take task_type URL_LIST"),
        (node("Azure", bucket=""), "src", "PREFIX", "needs a bucket"),
        (node("Azure", endpoint="ftp://x"), "src", "PREFIX", "http:// or https://"),
        (node("Wasabi"), "src", "PREFIX", "not supported yet"),
        (node("Qiniu"), "src", "PREFIX", "no endpoint is known for cloud_type Qiniu"),
        (node("HEC", endpoint="https://obs.example"), "dst", "PREFIX", None),
    ],
)
def test_what_each_cloud_type_may_be(record, side, task_type, problem):
    found = nodes.check_node(record, side, task_type)
    assert found is None if problem is None else problem in (found or "")


def test_the_secrets_each_node_needs():
    nothing = NodeSecrets()
    assert nodes.missing_secrets(node("Azure"), nothing) == ["connection_string"]
    assert nodes.missing_secrets(node("Google"), nothing) == ["json_auth_file"]
    assert nodes.missing_secrets(node("Google", endpoint="https://storage.example"), nothing) == [
        "json_auth_file"
    ]
    assert nodes.missing_secrets(node("Google", endpoint="http://127.0.0.1:9023"), nothing) == []
    assert nodes.missing_secrets(node("URLSource"), nothing) == []
    assert nodes.missing_secrets(node("Ceph"), NodeSecrets(ak="a")) == ["sk"]
    # secrets a node does not use are dropped, not kept in memory
    kept = nodes.used_secrets(node("Azure"), NodeSecrets(ak="a", sk="s", connection_string="c", cdn_key="k"))
    assert kept == NodeSecrets(connection_string="c")
    assert nodes.used_secrets(node("URLSource"), NodeSecrets(ak="a", cdn_key="k")) == NodeSecrets(cdn_key="k")


def test_retry_fields_feed_the_right_side():
    body = RetryBody(
        src_ak="sa",
        connection_string="src-conn",
        json_auth_file="src-key",
        source_cdn_authentication_key="cdn",
        dst_sk="ds",
        dst_connection_string="dst-conn",
        dst_json_auth_file="dst-key",
    )
    secrets = body_secrets(body)
    assert secrets.source == NodeSecrets(
        ak="sa", connection_string="src-conn", json_auth_file="src-key", cdn_key="cdn"
    )
    assert secrets.destination == NodeSecrets(sk="ds", connection_string="dst-conn", json_auth_file="dst-key")
    assert "src-conn" not in repr(body) + repr(secrets) and "dst-key" not in repr(body) + repr(secrets)


def service_account_key() -> str:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "client_email": "ferry@example.invalid",
            "token_uri": "x",
            "private_key": pem,
        }
    )


def test_malformed_secrets_are_named_without_their_value():
    azure, google = node("Azure"), node("Google")
    for text, phrase in (
        ("secret-connection-string", "malformed"),
        ("AccountName=a;AccountKey=sekrit!!", "not valid base64"),
    ):
        problem = nodes.secrets_problem(azure, NodeSecrets(connection_string=text))
        assert problem and phrase in problem and text not in problem and "sekrit" not in problem
    assert nodes.secrets_problem(azure, NodeSecrets(connection_string=CONNECTION)) is None
    # an account key without AccountName/BlobEndpoint works once the node's endpoint supplies it
    sas_only = "SharedAccessSignature=sv=2020&sig=SECRETSIG"
    assert nodes.secrets_problem(azure, NodeSecrets(connection_string=sas_only)) is not None
    with_endpoint = node("Azure", endpoint="http://127.0.0.1:10000/devstoreaccount1")
    assert nodes.secrets_problem(with_endpoint, NodeSecrets(connection_string=sas_only)) is None

    for text, phrase in (
        ("/etc/ferry/key.json", "content of a service-account JSON key file, not its name"),
        ('{"type": "service_account", "private_key": ', "not valid JSON"),
        ('{"type": "authorized_user", "client_secret": "TOPSECRET"}', "not a service-account key"),
    ):
        problem = nodes.secrets_problem(google, NodeSecrets(json_auth_file=text))
        assert problem and problem.startswith("the json_auth_file") and phrase in problem
        assert "TOPSECRET" not in problem and "/etc/ferry" not in problem
    assert nodes.secrets_problem(google, NodeSecrets(json_auth_file=service_account_key())) is None


def test_the_blob_endpoint_of_a_node_replaces_the_connection_strings():
    text = "AccountName=a;AccountKey=c2VjcmV0;BlobEndpoint=https://a.blob.core.windows.net;"
    assert nodes.with_blob_endpoint(text, None) == text
    assert nodes.with_blob_endpoint(text, "http://127.0.0.1:10000/a") == (
        "AccountName=a;AccountKey=c2VjcmV0;BlobEndpoint=http://127.0.0.1:10000/a"
    )


def test_openers_never_use_the_services_own_credentials(monkeypatch, tmp_path):
    key = tmp_path / "key.json"
    key.write_text(service_account_key())
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", CONNECTION)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    settings = ClientSettings()
    for record in (node("Azure"), node("Google"), node("Ceph", endpoint="http://127.0.0.1:1")):
        with pytest.raises(CredentialsError, match="needs its"):
            nodes.open_store(record, NodeSecrets(), settings, "src")
    # an emulator on plain HTTP needs none; the service's GOOGLE_APPLICATION_CREDENTIALS is not even read
    key.write_text("not a key")
    store = nodes.open_store(node("Google", endpoint="http://127.0.0.1:1"), NodeSecrets(), settings, "dst")
    assert store.url("k") == "dst://b/k"
    azure = nodes.open_store(
        node("Azure", endpoint="http://127.0.0.1:1/devstoreaccount1"),
        NodeSecrets(connection_string=f"AccountName=devstoreaccount1;AccountKey={AZURITE_KEY}"),
        settings,
        "src",
    )
    assert azure.url("k") == "src://b/k"
    urls = nodes.open_store(node("URLSource"), NodeSecrets(cdn_key="k"), settings, "src")
    assert isinstance(urls, HttpSource) and urls.url("http://h/x") == "http://h/x"


# --- URL lists as tasks -------------------------------------------------------------------------------------


def test_a_url_list_splits_into_chunks_of_lines_keeping_their_numbers():
    lines = [
        "# a comment",
        "http://h/a.txt\ta.txt",
        "",
        "http://h/b.txt\tb.txt",
        "no tab here",
        "http://h/a.txt\tagain.txt",  # the same URL again: the first line wins
        "http://h/c.txt\tc.txt\r\n",
    ]
    assert url_lines(lines) == [
        [2, "http://h/a.txt\ta.txt"],
        [4, "http://h/b.txt\tb.txt"],
        [5, "no tab here"],  # malformed: kept, it becomes a failed object naming its line
        [7, "http://h/c.txt\tc.txt"],
    ]
    tasks = split_group("URL_LIST", [], chunk=3, url_list=lines)
    assert [name for name, _ in tasks] == ["URL list lines 2-5", "URL list lines 7-7"]
    assert tasks[1][1] == {"urls": [[7, "http://h/c.txt\tc.txt"]]}


@pytest.mark.parametrize(
    ("task_type", "object_key", "url_list", "phrase"),
    [
        ("URL_LIST", [], [], "needs 'URL<TAB>destination key' lines"),
        ("URL_LIST", [], ["# only a comment", " "], "needs 'URL<TAB>destination key' lines"),
        ("URL_LIST", ["a/"], ["http://h/a\ta"], "not in object_key"),
        ("PREFIX", [], ["http://h/a\ta"], "for URL_LIST groups only"),
        ("URL_LIST", [], ["http://h/a\ta\nhttp://h/b\tb"], "line 1: a line cannot contain a line break"),
    ],
)
def test_url_list_groups_that_cannot_be_split(task_type, object_key, url_list, phrase):
    with pytest.raises(SplitError, match=phrase):
        split_group(task_type, object_key, url_list=url_list)


@given(
    st.lists(st.integers(min_value=0, max_value=30), max_size=60),
    st.integers(min_value=1, max_value=7),
)
def test_every_distinct_url_lands_in_exactly_one_task_in_order(ids, chunk):
    lines = [f"http://h/{n}\tk{n}" for n in ids]
    if not lines:
        return
    tasks = split_group("URL_LIST", [], chunk=chunk, url_list=lines)
    planned = [line for _, source in tasks for line in source["urls"]]
    assert [text for _, text in planned] == [f"http://h/{n}\tk{n}" for n in dict.fromkeys(ids)]
    assert [number for number, _ in planned] == sorted(number for number, _ in planned)
    assert all(0 < len(source["urls"]) <= chunk for _, source in tasks)


def test_a_source_read_through_a_signing_cdn_takes_and_needs_its_key():
    plain = node("Ceph", endpoint="https://s3.example.com")
    signing = {
        **plain,
        "source_cdn": {
            "domain": "cdn.example.com",
            "protocol": "https",
            "authentication_type": "TENCENT_COS_A",
        },
    }
    unsigned = {**plain, "source_cdn": {**signing["source_cdn"], "authentication_type": "NONE"}}
    keys = NodeSecrets(ak="a", sk="s", cdn_key="k")
    assert nodes.used_secrets(plain, keys).cdn_key is None
    assert nodes.used_secrets(unsigned, keys).cdn_key is None
    assert nodes.used_secrets(signing, keys).cdn_key == "k"
    assert nodes.missing_secrets(signing, NodeSecrets(ak="a", sk="s")) == ["cdn_key"]
    store = nodes.open_store(signing, keys, ClientSettings(), "src")
    assert isinstance(store, CdnSource) and store.base == "https://cdn.example.com"
    assert store.url("a/b") == "src://b/a/b"  # reports name the bucket's object
    assert "k" not in repr(store.http._signer)


@pytest.mark.parametrize(
    ("fields", "task_type", "words"),
    [
        (
            {"domain": "cdn.example.com", "authentication_type": "AZURE_SAS_TOKEN"},
            "PREFIX",
            "'AZURE_SAS_TOKEN'",
        ),
        ({"domain": "cdn.example.com", "protocol": "gopher"}, "PREFIX", "protocol"),
        ({"domain": "cdn.example.com:99999"}, "PREFIX", "port"),
        ({"domain": "user@cdn.example.com"}, "PREFIX", "host name"),
        ({"domain": "cdn.example.com/p"}, "LIST", "host name"),
        ({"authentication_type": "ALIYUN_OSS_A"}, "PREFIX", "host name"),
        ({"domain": "cdn.example.com", "authentication_key": "k"}, "PREFIX", "NONE takes no key"),
        ({"domain": "cdn.example.com"}, "URL_LIST", "URL_LIST"),
    ],
)
def test_a_source_cdn_that_cannot_work_is_refused_naming_the_field(fields, task_type, words):
    with pytest.raises(source_cdn.CdnProblem, match=words):
        source_cdn.record(SourceCdnIn(**fields), task_type, "Ceph")


def test_a_source_cdn_record_keeps_no_key():
    kept = source_cdn.record(
        SourceCdnIn(
            domain="CDN.Example.com:8443", authentication_type="aliyun_oss_a", authentication_key="k"
        ),
        "PREFIX",
        "Aliyun",
    )
    assert kept == {
        "domain": "cdn.example.com:8443",
        "protocol": "https",
        "authentication_type": "ALIYUN_OSS_A",
    }
