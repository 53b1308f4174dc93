"""schemathesis against the service's own /openapi.json, with a valid token: whatever it sends, within the
schema and beyond it, no request gets a 5xx."""

import subprocess
import sys
from pathlib import Path

import pytest
from tests.support.service import Service, free_port

pytestmark = pytest.mark.integration

PROJECT = "fuzz"


def test_no_generated_request_gets_a_server_error(tmp_path):
    # Groups it creates name endpoints anywhere: every connection the service tries goes to a proxy on
    # loopback where nothing listens, so it is refused at once and nothing leaves the machine.
    dead = f"http://127.0.0.1:{free_port()}"
    proxies = {name: dead for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")}
    home = tmp_path / "home"
    home.mkdir()
    service = Service(home=home, data_dir=tmp_path / "svc", env={**proxies, "NO_PROXY": "", "no_proxy": ""})
    service.start()
    try:
        token = service.token(PROJECT)
        config = tmp_path / "schemathesis.toml"
        config.write_text(f'[parameters]\nproject_id = "{PROJECT}"\n', encoding="utf-8")
        run = subprocess.run(
            [
                str(Path(sys.executable).with_name("schemathesis")),
                "--config-file",
                str(config),
                "run",
                f"{service.url}/openapi.json",
                "--checks",
                "not_a_server_error",
                "--header",
                f"X-Auth-Token: {token}",
                "--max-examples",
                "25",
                "--max-time",
                "90",
                "--request-timeout",
                "20",
                "--seed",
                "1",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=240,
            stdin=subprocess.DEVNULL,
            cwd=tmp_path,
        )
        log = service.log()
    finally:
        service.stop()
    found = run.stdout.partition("FAILURES")[2].partition("WARNINGS")[0] or run.stdout[-6000:]
    assert run.returncode == 0, found[:12000] + run.stderr[-2000:]
    assert "Traceback" not in log, log[-6000:]
