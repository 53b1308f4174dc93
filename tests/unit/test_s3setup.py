"""When ferry may set up an S3 remote without botocore, and what it then signs with: the same endpoint,
region, keys and checksums a botocore client would use, and botocore for anything else."""

from __future__ import annotations

import pytest

from ferry.config import RemoteConfig
from ferry.storage.s3setup import plain_setup

ENDPOINT = "http://127.0.0.1:7480"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_REGION",
        "AWS_CA_BUNDLE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        "AWS_REQUEST_CHECKSUM_CALCULATION",
        "AWS_RESPONSE_CHECKSUM_VALIDATION",
        "FERRY_S3_DIRECT",
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "no_proxy",
        "NO_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    return tmp_path / "aws-config"


def remote(**fields: str | None) -> RemoteConfig:
    given = {"endpoint": ENDPOINT, "access_key": "AK", "secret_key": "SK"} | fields
    return RemoteConfig(name="r", **given)  # type: ignore[arg-type]


def test_a_remote_with_endpoint_and_keys_is_plain():
    setup = plain_setup(remote(region="eu-1"), None)
    assert setup is not None
    assert (setup.endpoint, setup.region, setup.access_key, setup.secret_key) == (
        ENDPOINT,
        "eu-1",
        "AK",
        "SK",
    )
    assert setup.verify is True and setup.request_checksums and setup.response_checksums
    assert "SK" not in repr(setup)


def test_keys_and_endpoint_from_the_environment(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "EK")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "ES")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "ET")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://minio.example:9000")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "r2")
    setup = plain_setup(RemoteConfig(name="s3"), None)
    assert setup is not None
    assert (setup.endpoint, setup.region, setup.access_key, setup.session_token) == (
        "http://minio.example:9000",
        "r2",
        "EK",
        "ET",
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://s3only.example")
    assert plain_setup(RemoteConfig(name="s3"), None).endpoint == "http://s3only.example"  # type: ignore[union-attr]
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    assert plain_setup(RemoteConfig(name="s3"), None) is None  # AWS itself: botocore's endpoint rules


@pytest.mark.parametrize(
    "fields",
    [
        {"endpoint": None},  # AWS's own endpoints
        {"addressing_style": "virtual"},
        {"access_key": None, "secret_key": None},  # no keys anywhere: botocore's chain decides
        {"access_key": None, "secret_key": None, "profile": "work"},
        {"endpoint": "ftp://127.0.0.1:21"},
    ],
)
def test_what_botocore_decides(fields):
    assert plain_setup(remote(**fields), None) is None


def test_requester_pays_proxies_aws_hosts_and_the_switch_go_to_botocore(monkeypatch):
    assert plain_setup(remote(), "requester") is None
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://s3.eu-west-1.amazonaws.com")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "EK")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "ES")
    assert plain_setup(RemoteConfig(name="s3"), None) is None  # virtual hosts on AWS
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert plain_setup(remote(endpoint="https://obs.example.com"), None) is None
    monkeypatch.setenv("NO_PROXY", "obs.example.com")
    assert plain_setup(remote(endpoint="https://obs.example.com"), None) is not None
    monkeypatch.setenv("FERRY_S3_DIRECT", "0")
    assert plain_setup(remote(), None) is None


def test_the_aws_config_file_is_read_for_what_it_may_change(clean_env, monkeypatch):
    clean_env.write_text(
        "[default]\nregion = cfg-region\nca_bundle = /etc/ca.pem\n"
        "request_checksum_calculation = when_required\nresponse_checksum_validation = WHEN_REQUIRED\n"
    )
    setup = plain_setup(remote(), None)
    assert setup is not None
    assert (setup.region, setup.verify, setup.request_checksums, setup.response_checksums) == (
        "cfg-region",
        "/etc/ca.pem",
        False,
        False,
    )
    monkeypatch.setenv("AWS_DEFAULT_REGION", "env-region")
    monkeypatch.setenv("AWS_CA_BUNDLE", "/env/ca.pem")
    setup = plain_setup(remote(), None)
    assert setup is not None and (setup.region, setup.verify) == ("env-region", "/env/ca.pem")
    assert plain_setup(remote(region="own"), None).region == "own"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        "[default]\ns3 =\n    addressing_style = virtual\n",
        "[default]\nendpoint_url = http://elsewhere\n",
        "[default]\nretry_mode = adaptive\n",
        "not a config file [",
    ],
)
def test_a_config_file_setting_not_read_here_goes_to_botocore(clean_env, text):
    clean_env.write_text(text)
    assert plain_setup(remote(), None) is None


def test_another_profiles_settings_do_not_matter(clean_env):
    clean_env.write_text("[profile other]\ncredential_process = /bin/false\n")
    assert plain_setup(remote(), None) is not None
