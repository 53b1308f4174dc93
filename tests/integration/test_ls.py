"""`ferry ls` on every store ferry speaks (RGW, Azurite, the GCS emulator, a local folder): buckets, one level
with folders, every object with -r, --json; and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import write_remotes

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.support.emulators"]  # azurite, container, emulator, gcs, gbucket

TREE = {"a.txt": b"1", "a/b.txt": b"22", "a/c/d.txt": b"333", "ab": b"", "z/y": b"4444"}


@pytest.fixture
def config(tmp_path, rgw, azurite, emulator) -> Path:
    path = write_remotes(tmp_path / "config.toml", rgw)
    with path.open("a") as handle:
        handle.write(f'[remotes.azr]\ntype = "azure"\nconnection_string = "{azurite.connection_string}"\n')
        handle.write(f'[remotes.gcs]\ntype = "gcs"\nendpoint = "{emulator.endpoint}"\n')
    return path


def rows(run) -> list[dict]:
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines()]


def names(listed: list[dict]) -> list[str]:
    return [r["key"] for r in listed]


def fill(kind: str, where, tmp_path: Path, s3=None, gcs=None) -> str:
    """Put TREE under ``pre/`` of one store; the URL of that prefix."""
    for key, body in TREE.items():
        if kind == "rgw":
            s3.put_object(Bucket=where, Key=f"pre/{key}", Body=body)
        elif kind == "azr":
            where.upload_blob(f"pre/{key}", body)
        elif kind == "gcs":
            gcs.bucket(where).blob(f"pre/{key}").upload_from_string(body)
        else:
            path = tmp_path / "pre" / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
    if kind == "local":
        return str(tmp_path / "pre") + "/"
    bucket = where.container_name if kind == "azr" else where
    return f"{kind}://{bucket}/pre/"


@pytest.mark.parametrize("kind", ["rgw", "azr", "gcs", "local"])
def test_one_level_and_recursive_on_every_store(
    kind, tmp_path, ferry, config, s3, bucket, container, gcs, gbucket
):
    where = {"rgw": bucket, "azr": container, "gcs": gbucket, "local": None}[kind]
    url = fill(kind, where, tmp_path, s3=s3, gcs=gcs)
    top = rows(ferry("ls", url, "--json", config_path=config))
    assert [(r["type"], r["key"].split("pre/", 1)[1]) for r in top] == [
        ("object", "a.txt"),
        ("folder", "a/"),
        ("object", "ab"),
        ("folder", "z/"),
    ]
    assert next(r for r in top if r["type"] == "object")["size"] == 1
    everything = rows(ferry("ls", url, "-r", "--json", config_path=config))
    relative = [k.split("pre/", 1)[1] for k in names(everything)]
    assert relative == ["a.txt", "a/b.txt", "a/c/d.txt", "ab", "z/y"]
    assert sum(r["size"] for r in everything) == 10

    plain = ferry("ls", url, config_path=config)
    assert plain.returncode == 0, plain.stderr
    assert "PRE" in plain.stdout and "Total: 2 objects (1 B), 2 folders" in plain.stdout


def test_buckets_of_each_remote(ferry, config, bucket, container, gbucket):
    for url, name in (("rgw://", bucket), ("azr://", container.container_name), ("gcs://", gbucket)):
        listed = rows(ferry("ls", url, "--json", config_path=config))
        assert {"type": "bucket", "name": name} in [{k: r[k] for k in ("type", "name")} for r in listed]


def test_ls_bad_input(tmp_path, ferry, config):
    for args, code, phrase in [
        (("ls", "rgw://no-such-bucket-h16/"), 4, "does not exist"),
        (("ls", str(tmp_path / "nope")), 1, "no such file"),
        (("ls", "https://example.com/x"), 7, "cannot be listed"),
        (("ls", "rgw://b-x/", "-r", "-d"), 3, "give one of them"),
        (("ls", "nosuchremote://"), 3, "nosuchremote"),
    ]:
        run = ferry(*args, config_path=config)
        assert run.returncode == code, (args, run.stderr)
        assert phrase in run.stderr and "Traceback" not in run.stderr
