"""The conventions people reach for first: --version, usage on a bare `ferry`, completion scripts."""

from ferry import __version__
from ferry.cli.main import main


def test_version_flag(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"ferry {__version__}"


def test_bare_ferry_prints_usage_and_no_empty_error(capsys):
    assert main([]) == 3
    out, err = capsys.readouterr()
    assert "Usage: ferry" in out and "check" in out and "sync" in out and "ls" in out
    assert "error" not in err


def test_completion_scripts(capsys):
    for shell, marker in (("bash", "complete -o"), ("zsh", "compdef"), ("fish", "complete --command ferry")):
        assert main(["completion", shell]) == 0
        out = capsys.readouterr().out
        assert marker in out and "_FERRY_COMPLETE" in out
    assert main(["completion", "tcsh"]) == 3
    assert "choose one of bash, zsh, fish" in capsys.readouterr().err
