"""The pure parts of the Azure store: block and upload ids (property-tested), connection-string checks,
secret scrubbing, and Azure remotes in the config file."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ferry.config import load_config
from ferry.errors import CredentialsError, UsageError
from ferry.storage.azure import check_connection_string, scrub
from ferry.storage.azure_ids import (
    BLOCK_ID_LENGTH,
    MAX_BLOCKS,
    MalformedUploadId,
    UploadPlan,
    block_id,
    new_token,
    parse_block_id,
)

tokens = st.text(alphabet="0123456789abcdef", min_size=16, max_size=16)
numbers = st.integers(min_value=1, max_value=MAX_BLOCKS)
md5s = st.binary(min_size=16, max_size=16).map(bytes.hex)


@given(tokens, numbers, md5s)
def test_block_ids_round_trip_with_one_length_within_azures_limit(token, number, md5):
    text = block_id(token, number, md5)
    assert len(text) == BLOCK_ID_LENGTH
    assert len(text.encode()) <= 64  # Azure's limit before base64
    assert len(base64.b64encode(text.encode())) == len(base64.b64encode(b"x" * BLOCK_ID_LENGTH))
    assert parse_block_id(text) == (token, number, md5)


@given(tokens, numbers, numbers, md5s, md5s)
def test_block_ids_differ_when_part_or_content_differ(token, n1, n2, m1, m2):
    assert (block_id(token, n1, m1) == block_id(token, n2, m2)) == (n1 == n2 and m1 == m2)


@given(st.text(max_size=80))
def test_parse_block_id_never_raises_on_foreign_ids(text):
    parsed = parse_block_id(text)
    if parsed is not None:
        assert block_id(*parsed) == text


@pytest.mark.parametrize(
    ("token", "number", "md5"),
    [
        ("short", 1, "0" * 32),
        ("0" * 16, 0, "0" * 32),
        ("0" * 16, MAX_BLOCKS + 1, "0" * 32),
        ("0" * 16, 1, "xy"),
    ],
)
def test_block_id_refuses_what_would_break_the_fixed_length(token, number, md5):
    with pytest.raises(ValueError):
        block_id(token, number, md5)


def test_tokens_are_fresh_and_well_formed():
    seen = {new_token() for _ in range(200)}
    assert len(seen) == 200
    assert all(parse_block_id(block_id(t, 1, "0" * 32)) for t in seen)


metadata = st.dictionaries(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True), st.text(max_size=30)
)


@settings(max_examples=60)
@given(tokens, st.none() | st.text(max_size=40), metadata, st.sampled_from([None, "Hot", "Cool", "Archive"]))
def test_upload_ids_carry_the_write_options_to_completion(token, content_type, meta, tier):
    plan = UploadPlan(token, content_type, meta, tier)
    upload_id = plan.upload_id()
    assert upload_id.isascii() and ";" not in upload_id and "\n" not in upload_id
    assert UploadPlan.parse(upload_id) == plan


@pytest.mark.parametrize(
    "upload_id", ["", "abc", "0123456789abcdef", "0123456789abcdef.!!", "zz.e30", "0" * 16 + ".WzFd"]
)
def test_foreign_upload_ids_are_refused(upload_id):
    with pytest.raises(MalformedUploadId):
        UploadPlan.parse(upload_id)


GOOD = (
    "DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=c2VjcmV0;BlobEndpoint=http://127.0.0.1:1/acct;"
)


@pytest.mark.parametrize(
    "text",
    [
        GOOD,
        "UseDevelopmentStorage=true",
        "BlobEndpoint=https://a.example/;SharedAccessSignature=sv=1&sig=abc",
    ],
)
def test_workable_connection_strings_pass(text):
    check_connection_string(text, "az")


@pytest.mark.parametrize(
    ("text", "error", "phrase"),
    [
        ("", UsageError, "empty"),
        ("secret-without-equals", UsageError, "malformed"),
        ("AccountName=a", UsageError, "neither an AccountKey"),
        ("AccountKey=c2VjcmV0", UsageError, "no AccountName"),
        ("AccountName=a;AccountKey=not base64!", CredentialsError, "not valid base64"),
        ("SharedAccessSignature=sig=x", UsageError, "neither an AccountName nor a BlobEndpoint"),
        ("AccountName=a;AccountKey=c2VjcmV0;BlobEndpoint=127.0.0.1", UsageError, "not an http(s) URL"),
    ],
)
def test_broken_connection_strings_name_the_cause_not_the_secret(text, error, phrase):
    with pytest.raises(error) as caught:
        check_connection_string(text, "az")
    message = str(caught.value)
    assert phrase in message and "\n" not in message
    for secret in ("c2VjcmV0", "not base64", "secret-without"):
        assert secret not in message


def test_scrub_blanks_signatures_and_keys():
    text = "GET /c/k?sv=1&sig=SECRETSIG&se=2 failed\nAccountKey=SECRETKEY;x"
    cleaned = scrub(text)
    assert "SECRETSIG" not in cleaned and "SECRETKEY" not in cleaned and "\n" not in cleaned
    assert "sv=1" in cleaned


def test_azure_remotes_in_the_config_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[remotes.blob]\ntype = "azure"\nconnection_string = "AccountName=a;AccountKey=SECRET"\n')
    remote = load_config(path).remote("blob")
    assert remote.type == "azure" and remote.connection_string == "AccountName=a;AccountKey=SECRET"
    assert "SECRET" not in repr(remote)
    assert load_config(path).remote("az").type == "azure"  # az:// without a section: the environment


@pytest.mark.parametrize(
    ("table", "phrase"),
    [
        ('type = "azure"\nendpoint = "http://x"\n', "does not apply"),
        ('connection_string = "x"\n', 'needs type = "azure"'),
        ('type = "ftp"\n', "unsupported type"),
    ],
)
def test_azure_remote_config_mistakes(tmp_path, table, phrase):
    path = tmp_path / "c.toml"
    path.write_text(f"[remotes.blob]\n{table}")
    with pytest.raises(UsageError, match=phrase):
        load_config(path)
