"""CDN type A signing: the signature a CDN would compute over the path actually sent verifies, the URL's
own query survives, and urllib3 sends exactly the URL that was signed."""

import hashlib
import re
import time
from urllib.parse import quote, unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from urllib3.util import parse_url

from ferry.errors import UsageError
from ferry.storage.cdn import cdn_url, unreachable_key
from ferry.storage.cdnsign import TypeASigner, sign_type_a, type_a_hash
from ferry.urls import HttpLocation, canonical_url, parse_location

AUTH = re.compile(r"^auth_key=(\d+)-([0-9A-Za-z]+)-([0-9A-Za-z]+)-([0-9a-f]{32})$")

segment = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#\t\r\n\x00"),
    min_size=1,
    max_size=12,
).filter(lambda s: s not in (".", ".."))
escaped = st.sampled_from(["%20", "%2F", "%2f", "%25", "%C3%BC", "%e4%b8%ad", "%7E", "%zz", "%"])
path_part = st.lists(st.one_of(segment, escaped), min_size=1, max_size=3).map("".join)
paths = st.lists(path_part, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))
query_arg = st.from_regex(r"[a-z]{1,5}(=[A-Za-z0-9%._~ -]{0,8})?", fullmatch=True)
queries = st.lists(query_arg, max_size=3).map("&".join)
keys = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)
fields = st.from_regex(r"[0-9A-Za-z]{1,32}", fullmatch=True)


def split_signature(signed):
    query = urlsplit(signed).query
    before, _, last = query.rpartition("&")
    match = AUTH.match(last)
    assert match, signed
    return before, match


@given(paths, queries, keys, st.integers(0, 2**40), fields, fields)
def test_the_signature_verifies_over_the_path_as_sent(path, query, key, stamp, rand, uid):
    url = canonical_url(f"https://cdn.example.com{path}" + (f"?{query}" if query else ""))
    signed = sign_type_a(url, key, timestamp=stamp, rand=rand, uid=uid)

    # What urllib3 sends is what was signed: the canonical form is a fixed point.
    assert parse_url(signed).url == signed
    sent_path = parse_url(signed).request_uri.split("?", 1)[0]
    assert sent_path == urlsplit(url).path == urlsplit(signed).path

    before, match = split_signature(signed)
    ts, got_rand, got_uid, digest = match.groups()
    assert (int(ts), got_rand, got_uid) == (stamp, rand, uid)
    expected = hashlib.md5(f"{sent_path}-{ts}-{got_rand}-{got_uid}-{key}".encode()).hexdigest()
    assert digest == expected == type_a_hash(sent_path, stamp, rand, uid, key)
    # The URL's own query is kept as it was, the signature appended with '&'.
    assert before == urlsplit(url).query
    assert signed == (f"{url}&" if urlsplit(url).query else f"{url}?") + match.group(0)


@given(paths)
def test_canonical_urls_are_stable_and_paths_are_escaped(path):
    url = canonical_url(f"http://h{path}")
    assert canonical_url(url) == url
    assert " " not in url and "\t" not in url
    assert all(re.fullmatch(r"%[0-9A-F]{2}", e) for e in re.findall(r"%..", urlsplit(url).path))


def test_a_published_example():
    # md5sum("/test.jpg-1582791032-im1acp76sx9sdqe601v-0-dimtm5evg50ijsx2hvuwyfoiu65"), as documented
    assert (
        type_a_hash("/test.jpg", 1582791032, "im1acp76sx9sdqe601v", "0", "dimtm5evg50ijsx2hvuwyfoiu65")
        == "3fbb88382c9356b6faaf9d68c7b2ae3a"
    )


def test_defaults_now_random_hex_uid_zero():
    before = int(time.time())
    signed = sign_type_a("http://h/a%20b.txt", "secret-key")
    after = int(time.time())
    _, match = split_signature(signed)
    ts, rand, uid, _ = match.groups()
    assert before <= int(ts) <= after
    assert re.fullmatch(r"[0-9a-f]{32}", rand) and uid == "0"
    assert signed.startswith("http://h/a%20b.txt?auth_key=")
    assert "secret-key" not in signed


def test_an_existing_auth_key_is_replaced_and_other_arguments_kept():
    signed = sign_type_a("http://h/x?a=1&auth_key=old&b=2", "k", timestamp=5, rand="0")
    assert signed.startswith("http://h/x?a=1&b=2&auth_key=5-0-0-")
    assert signed.count("auth_key=") == 1


@pytest.mark.parametrize(("rand", "uid"), [("a-b", "0"), ("0", "x y"), ("", "0"), ("0", "")])
def test_fields_with_separators_are_refused(rand, uid):
    with pytest.raises(ValueError):
        sign_type_a("http://h/x", "k", rand=rand, uid=uid)


def test_the_signer_never_shows_its_key():
    signer = TypeASigner("top-secret-key")
    assert "top-secret-key" not in repr(signer)
    text = signer.redact("GET http://h/x?auth_key=1-0-0-abc&z=1 with top-secret-key inside")
    assert "top-secret-key" not in text and "abc" not in text and "auth_key=***" in text
    with pytest.raises(ValueError):
        TypeASigner("")


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("ftp://h/x", "bad URL scheme 'ftp'"),
        ("http://u:pw@h/x", "user name or password"),
        ("http://h:99999/x", "not a valid URL"),
        ("http:///x", "has no host"),
    ],
)
def test_bad_urls_are_refused(text, phrase):
    with pytest.raises(UsageError, match=re.escape(phrase)):
        canonical_url(text)


def test_http_locations():
    location = parse_location("HTTPS://Example.COM/a b/../c%2fd.txt?v=1#top")
    assert isinstance(location, HttpLocation)
    assert location.url == "https://example.com/c%2Fd.txt?v=1"
    assert location.key == "c/d.txt"
    assert parse_location("http://h").url == "http://h/"
    assert quote("ü") in canonical_url("http://h/ü")


def test_tencents_typea_puts_the_same_signature_in_sign():
    signer = TypeASigner("k3y-of-tencent", param="sign")
    signed = signer.sign("https://cdn.example.com/a/b.jpg?x=1")
    query = urlsplit(signed).query
    assert query.startswith("x=1&sign=") and "auth_key" not in query
    stamp, rand, uid, digest = query.split("sign=", 1)[1].split("-")
    assert digest == type_a_hash("/a/b.jpg", int(stamp), rand, uid, "k3y-of-tencent")
    assert "sign=***" in signer.redact(signed) and digest not in signer.redact(signed)


cdn_keys = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=40
).filter(lambda key: unreachable_key(key) is None)


@given(cdn_keys)
def test_a_cdn_url_names_the_bucket_key_exactly(key):
    """What urllib3 sends (the canonical form) is the URL built, and its path is the key."""
    url = cdn_url("https://cdn.example.com", key)
    assert canonical_url(url) == url
    assert unquote(urlsplit(url).path) == "/" + key
    assert urlsplit(url).query == "" and urlsplit(url).fragment == ""


@pytest.mark.parametrize("key", [".", "a/./b", "../x", "a/..", "a/../b"])
def test_keys_with_dot_segments_have_no_cdn_url(key):
    assert unreachable_key(key) is not None
