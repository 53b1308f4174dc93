"""`ferry remote add|list|rm`: the config file edited as text (comments kept), written 0600, secrets never
printed."""

import json
import stat

from ferry.cli.main import main
from ferry.config import load_config


def test_add_list_rm_keep_the_rest_of_the_file(tmp_path, monkeypatch, capsys):
    config = tmp_path / "config.toml"
    config.write_text("# my settings\n[defaults]\nretries = 3\n")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-value")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:7480")
    assert main(["remote", "add", "Work", "--from-env", "--config", str(config)]) == 0
    assert main(["remote", "add", "gcp", "--type", "gcs", "--project", "p", "--config", str(config)]) == 0
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    loaded = load_config(config)
    work = loaded.remotes["work"]
    assert (work.access_key, work.secret_key, work.region, work.endpoint) == (
        "AKIAEXAMPLE",
        "s3cr3t-value",
        "eu-west-1",
        "http://127.0.0.1:7480",
    )
    assert loaded.defaults.retries == 3 and config.read_text().startswith("# my settings\n")

    assert main(["remote", "list", "--config", str(config)]) == 0
    assert main(["remote", "list", "--json", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "s3cr3t-value" not in out and "secret_key=(set)" in out
    rows = json.loads(out[out.index("{") :])["remotes"]
    assert [r["name"] for r in rows] == ["work", "gcp"]

    assert main(["remote", "add", "work", "--from-env", "--config", str(config)]) == 3
    assert "already exists" in capsys.readouterr().err
    assert main(["remote", "add", "work", "--from-env", "-f", "--config", str(config)]) == 0
    assert main(["remote", "rm", "work", "--config", str(config)]) == 0
    assert list(load_config(config).remotes) == ["gcp"]
    assert "s3cr3t-value" not in config.read_text()
    assert main(["remote", "rm", "work", "--config", str(config)]) == 3
    assert "no remote 'work'" in capsys.readouterr().err


def test_bad_remote_input(tmp_path, capsys):
    config = tmp_path / "c.toml"
    assert main(["remote", "add", "http", "--config", str(config)]) == 3
    assert main(["remote", "add", "x", "--type", "ftp", "--config", str(config)]) == 3
    assert main(["remote", "add", "x", "--access-key", "AK", "--config", str(config)]) == 3
    err = capsys.readouterr().err
    assert "invalid remote name" in err and "invalid remote type 'ftp'" in err and "--from-env" in err
    assert not config.exists()
