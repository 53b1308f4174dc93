"""A plain `ferry cp` command line is read without Typer (ferry.cli.cp_args): it must mean exactly what
the Typer app's `cp` would make of it, and anything unusual must go to the Typer app."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ferry.cli import cp_args
from ferry.cli.app import _command_for
from ferry.cli.copy import copy
from ferry.cli.cp_args import FLAG, INT, LIST, OPTIONS, PATH, TEXT, plain_cp
from ferry.cli.main import main


def typer_cp() -> Any:
    return _command_for(["cp"]).commands["cp"]


def kind_of(param: Any) -> str:
    if param.is_flag:
        return FLAG
    if param.multiple:
        return LIST
    name = param.type.name
    return {"integer": INT, "int": INT, "path": PATH, "text": TEXT, "str": TEXT}[name]


def test_the_table_is_the_typer_commands_options():
    """Every option of Typer's cp is in the table (or left to Typer) with the same flags and kind, and
    copy() has the same defaults as the command: an option added to one and not the other fails here."""
    params = {p.name: p for p in typer_cp().params}
    options = {n: p for n, p in params.items() if p.param_type_name == "option"}
    assert set(OPTIONS) | set(cp_args.LEFT_TO_TYPER) == set(options)
    for name, param in options.items():  # an option read from a variable is Typer's, and so is its variable
        if param.envvar:
            assert name in cp_args.LEFT_TO_TYPER, name
            assert {param.envvar, f"{param.envvar}_FILE"} <= set(cp_args._TYPER_VARIABLES), name
    for name, (kind, flags) in OPTIONS.items():
        param = options[name]
        assert (kind, set(flags)) == (kind_of(param), set(param.opts)), name
        assert not param.secondary_opts, name
    defaults = {n: p.default for n, p in inspect.signature(copy).parameters.items()}
    assert set(defaults) == set(params)
    for name, param in params.items():
        assert defaults[name] == (param.default if param.default != () else None), name


def clicks_reading(args: list[str]) -> dict[str, Any]:
    """What click parses, with Typer's own conversion after it (a path option's value becomes a Path)."""
    ctx = typer_cp().make_context("cp", list(args))
    params = dict(ctx.params)
    for name, (kind, _) in OPTIONS.items():
        if kind == PATH and params[name] is not None:
            params[name] = Path(params[name])
    return {name: normal(value) for name, value in params.items() if name != "cdn_auth_key"}


def fast_reading(values: dict[str, Any]) -> dict[str, Any]:
    defaults = {n: p.default for n, p in inspect.signature(copy).parameters.items()}
    return {
        name: normal(values.get(name, default))
        for name, default in defaults.items()
        if name != "cdn_auth_key"
    }


def normal(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value] or None
    return value


@pytest.mark.parametrize(
    "args",
    [
        ["cp", "a.bin", "s3://bkt/k"],
        ["cp", "-q", "-f", "a.bin", "s3://bkt/k"],
        ["cp", "-qf", "a.bin", "s3://bkt/"],
        ["cp", "-rj4", "dir", "s3://bkt/p/", "--include", "*.jpg", "--include=*.png", "--exclude", "tmp/*"],
        ["cp", "s3://bkt/k", "--ps=8MiB", "-p", "3", "out.bin", "--vmd5", "--cpd", "/tmp/cp", "--json"],
        ["cp", "--threshold", "-1", "--", "-odd-name", "s3://bkt/k"],
        ["cp", "-o", "/tmp/out", "--recover", "0123abcd", "-j", "-2"],
        ["cp", "-"],
    ],
)
def test_plain_command_lines_are_read_as_click_reads_them(args):
    values = plain_cp(args)
    assert values is not None
    assert fast_reading(values) == clicks_reading(args[1:])


@pytest.mark.parametrize(
    "args",
    [
        ["cp", "--help"],
        ["cp", "-h"],
        ["cp", "a", "b", "c"],
        ["cp", "--jobs", "four", "-r", "a", "s3://bkt/"],
        ["cp", "--force=yes", "a", "s3://bkt/k"],
        ["cp", "-q=1", "a", "s3://bkt/k"],
        ["cp", "--forse", "a", "s3://bkt/k"],
        ["cp", "-qx", "a", "s3://bkt/k"],
        ["cp", "a", "s3://bkt/k", "--meta"],
        ["cp", "a", "s3://bkt/k", "--cdn-auth-key", "-"],
        ["ls", "s3://bkt/"],
        [],
    ],
)
def test_anything_unusual_goes_to_typer(args):
    assert plain_cp(args) is None


def test_a_secret_in_the_environment_goes_to_typer(monkeypatch):
    assert plain_cp(["cp", "https://cdn.example/a", "a"]) is not None
    monkeypatch.setenv("FERRY_CDN_AUTH_KEY_FILE", "/run/secrets/cdn")
    assert plain_cp(["cp", "https://cdn.example/a", "a"]) is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cp", "--jobs", "four", "-r", "a", "s3://bkt/"], "'four' is not a valid int"),
        (["cp", "--forse", "a", "s3://bkt/k"], "No such option: --forse"),
        (["cp", "a", "b", "c"], "unexpected extra argument(s) (c)"),
        (["cp", "--force=yes", "a", "b"], "Option '--force' does not take a value"),
    ],
)
def test_what_typer_refuses_is_still_its_one_line_usage_error(capsys, args, message):
    assert main(args) == 3
    err = capsys.readouterr().err
    assert message in err and err.startswith("ferry: error: ") and err.count("\n") == 1


_VALUES = {
    INT: st.sampled_from(["4", "-1", "0", "12", "x", "", " 7"]),
    TEXT: st.sampled_from(["8MiB", "public-read", "a:b#c:d", "", "-q", "--", "é"]),
    PATH: st.sampled_from(["/tmp/x", "rel/dir", "~/x", "", "-o"]),
    LIST: st.sampled_from(["*.jpg", "a/**", "", "-r"]),
}


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    words: list[str] = []
    for _ in range(draw(st.integers(0, 7))):
        what = draw(st.sampled_from(["word", "option", "short", "odd"]))
        if what == "word":
            words.append(draw(st.sampled_from(["a.bin", "s3://bkt/k", "dir/", "-", "x y"])))
        elif what == "option":
            name = draw(st.sampled_from(sorted(OPTIONS)))
            kind, flags = OPTIONS[name]
            flag = draw(st.sampled_from(flags))
            if kind == FLAG:
                words.append(flag + draw(st.sampled_from(["", "", "=true"])))
            else:
                value = draw(_VALUES[kind])
                words.extend([f"{flag}={value}"] if draw(st.booleans()) else [flag, value])
        elif what == "short":
            letters = draw(st.lists(st.sampled_from("rqfuLjop"), min_size=1, max_size=3))
            words.append("-" + "".join(letters) + draw(st.sampled_from(["", "3", "x"])))
            words.extend(draw(st.lists(st.sampled_from(["5", "/tmp/o", "a.bin"]), max_size=1)))
        else:
            words.append(draw(st.sampled_from(["--", "--nope", "-Z", "--help", "--cdn-auth-key=k"])))
    return words


@settings(max_examples=400, deadline=None)
@given(command_lines())
def test_whatever_is_read_without_typer_is_read_as_typer_reads_it(args):
    values = plain_cp(["cp", *args])
    if values is not None:
        assert fast_reading(values) == clicks_reading(args)
