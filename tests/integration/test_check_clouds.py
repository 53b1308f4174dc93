"""`ferry check` across stores: a tree copied to Azurite and to the GCS emulator is checked against the local
folder and against RGW; the hashes each store lists (Azure's Content-MD5, GCS's MD5, S3's ETag) decide a
same-size change without reading the bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import write_remotes

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.support.emulators"]  # azurite, container, emulator, gcs, gbucket


@pytest.fixture
def config(tmp_path, rgw, azurite, emulator) -> Path:
    path = write_remotes(tmp_path / "config.toml", rgw)
    with path.open("a") as handle:
        handle.write(f'[remotes.azr]\ntype = "azure"\nconnection_string = "{azurite.connection_string}"\n')
        handle.write(f'[remotes.gcs]\ntype = "gcs"\nendpoint = "{emulator.endpoint}"\n')
    return path


def check(ferry, config, *args):
    run = ferry("check", *args, "--json", config_path=config)
    return run.returncode, json.loads(run.stdout) if run.stdout.strip() else run.stderr


def test_check_across_azure_gcs_s3_and_local(tmp_path, ferry, config, bucket, container, gcs, gbucket):
    src = tmp_path / "tree"
    for rel, body in {"a.txt": b"alpha", "d/b.txt": b"bravo!", "d/e/c.bin": bytes(range(256)) * 40}.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(body)
    azure, google, s3 = f"azr://{container.container_name}/t", f"gcs://{gbucket}/t", f"rgw://{bucket}/t"
    for url in (azure, google, s3):
        run = ferry("cp", "-r", str(src), url, config_path=config)
        assert run.returncode == 0, run.stderr

    for a, b in ((str(src), azure), (str(src), google), (s3, azure), (google, s3)):
        code, summary = check(ferry, config, a, b)
        assert code == 0, summary
        assert summary["same"] == 3 and summary["same_by_size_only"] == 0, (a, b, summary)

    container.upload_blob("t/d/b.txt", b"BRAVO!", overwrite=True)  # the same size, other bytes
    gcs.bucket(gbucket).blob("t/a.txt").delete()
    code, summary = check(ferry, config, google, azure)
    assert code == 8
    assert (summary["differ"], summary["extra"], summary["same"]) == (1, 1, 1), summary
    code, summary = check(ferry, config, str(src), azure)
    assert code == 8 and summary["differ"] == 1
    fix = ferry("cp", "--recover", summary["task_id"], config_path=config)
    assert fix.returncode == 0, fix.stderr
    assert container.download_blob("t/d/b.txt").readall() == b"bravo!"
