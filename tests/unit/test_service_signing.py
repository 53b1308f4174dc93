"""Signed requests: what the official SDK's own signer produces checks out, and any change to the request,
the key or the clock does not."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from ferry.service import signing
from ferry.service.db import open_database
from ferry.service.keys import Sealer, create_key, list_keys, lookup, remove_key

AK, SK = "AKTESTTESTTESTTEST01", "s" * 40


def signed(method="POST", path="/v2/p 1/taskgroups", query=None, body=b'{"a": 1}', sk=SK):
    request = SdkRequest(
        method=method,
        schema="http",
        host="127.0.0.1:8080",
        resource_path=path,
        uri=path,
        query_params=query or [],
        header_params={"Content-Type": "application/json", "X-Project-Id": "p 1"},
        body=body,
    )
    Signer(SimpleNamespace(ak=AK, sk=sk)).sign(request)
    headers = {k.lower(): str(v) for k, v in request.header_params.items()}
    query_text = request.uri.partition("?")[2]
    return headers, query_text


def check(headers, query_text, method="POST", path="/v2/p 1/taskgroups", body=b'{"a": 1}', clock=None):
    auth = signing.parse_authorization(headers["authorization"])
    assert auth.access_key == AK
    signing.verify(auth, SK, method, path, query_text, headers, body, clock or time.time())


def test_the_sdk_signature_checks_out():
    headers, query = signed()
    check(headers, query)
    headers, query = signed("GET", "/v2/p/taskgroups", [("status", 2), ("limit", 10)], b"")
    check(headers, query, "GET", "/v2/p/taskgroups", b"")


@pytest.mark.parametrize(
    "change",
    [
        {"method": "PUT"},
        {"path": "/v2/p 1/taskgroups/x"},
        {"body": b'{"a": 2}'},
        {"clock": time.time() + 3600},
    ],
)
def test_a_changed_request_or_a_stale_date_is_refused(change):
    headers, query = signed()
    with pytest.raises(signing.SignatureError):
        check(headers, query, **change)


def test_a_wrong_secret_or_a_changed_header_is_refused():
    headers, query = signed(sk="t" * 40)
    with pytest.raises(signing.SignatureError, match="does not match"):
        check(headers, query)
    headers, query = signed()
    headers["x-project-id"] = "other"
    with pytest.raises(signing.SignatureError):
        check(headers, query)
    with pytest.raises(signing.SignatureError):
        signing.parse_authorization("AWS4-HMAC-SHA256 Credential=x")


def test_access_keys_are_sealed_and_removable(tmp_path):
    database = open_database(None, tmp_path / "svc")
    sealer = Sealer(tmp_path / "svc")
    issued = create_key(database, sealer, "proj")
    assert lookup(database, sealer, issued.access_key) == ("proj", issued.secret_key)
    dump = (tmp_path / "svc" / "service.db").read_bytes()
    assert issued.secret_key.encode() not in dump
    assert (tmp_path / "svc" / "seal.key").stat().st_mode & 0o077 == 0
    assert lookup(database, Sealer(tmp_path / "other"), issued.access_key) is None  # another seal key
    assert [row["access_key"] for row in list_keys(database, "proj")] == [issued.access_key]
    assert remove_key(database, issued.access_key)
    assert lookup(database, sealer, issued.access_key) is None
    database.dispose()
