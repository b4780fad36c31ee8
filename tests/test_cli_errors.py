"""The CLI's one error handler: any GertError a command lets through is printed as text on
stderr and the command exits with the error's own exit code; no traceback."""

from __future__ import annotations

import click
from click.testing import CliRunner

from gert.cli import main
from gert.cli._common import GertGroup
from gert.errors import ChainError, GertError, InvalidError, NotFound
from gert.load import LoadError
from gert.problems import Problem, RunbookInvalid
from helpers import gert


def _group_raising(error: Exception) -> click.Group:
    @click.group(cls=GertGroup)
    def group() -> None:
        pass

    @group.command()
    def boom() -> None:
        raise error

    return group


def run(error: Exception):
    return CliRunner().invoke(_group_raising(error), ["boom"])


def test_each_error_exits_with_its_own_code():
    class Custom(GertError):
        exit_code = 7

    for error, code in [
        (GertError("provider down"), 1),
        (InvalidError("bad file"), 2),
        (ChainError("loop"), 3),
        (NotFound("no run X"), 2),
        (Custom("custom"), 7),
    ]:
        result = run(error)
        assert result.exit_code == code, (error, result.output)
        assert result.stderr == f"error: {error}\n"
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_invalid_runbooks_and_yaml_print_located_problems():
    problem = Problem("r.runbook.yaml", 3, 5, "unknown field", field="steps[0].typ", hint="type?")
    warning = Problem("r.runbook.yaml", 9, 1, "unused input", severity="warning")
    result = run(RunbookInvalid([problem, warning]))
    assert result.exit_code == 2
    assert result.stderr == problem.format() + "\n"  # errors only, as gert validate prints them
    result = run(LoadError("x.yaml", 2, 4, "found unexpected ':'", hint="quote it"))
    assert result.exit_code == 2
    assert result.stderr.startswith("x.yaml:2:4: error: found unexpected ':'")


def test_other_exceptions_are_not_swallowed():
    result = run(RuntimeError("a bug"))
    assert isinstance(result.exception, RuntimeError)


def test_the_real_cli_uses_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["resume", "20990101T000000-deadbeef"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no run 20990101T000000-deadbeef")
    assert "Traceback" not in result.output


def test_a_refused_json_command_still_prints_json(tmp_path):
    import json as _json

    (tmp_path / "b.runbook.yaml").write_text(
        "apiVersion: runbook/v0\nmeta: {name: b}\nsteps: [{id: s}]\n"
    )
    r = gert("exec", "b.runbook.yaml", "--json", cwd=tmp_path)
    assert r.returncode == 2
    out = _json.loads(r.stdout)
    assert out["exit_code"] == 2 and "missing field 'type'" in out["error"]
