"""The test helpers themselves: the in-process CLI answers as the real process does, and
leaves nothing behind; the scripted executor is what the engine runs."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from helpers import gert, gert_process

OK = """
apiVersion: runbook/v0
meta: {name: ok, kind: composable, inputs: {who: {from: prompt, default: you}}}
steps:
  - {id: hello, type: cli, with: {argv: [sh, -c, 'echo "hi {{ .who }}"; echo oops >&2']}, capture: {said: stdout}}
  - {id: check, type: cli, with: {argv: ["true"]}, outcomes: [{state: resolved, recommendation: "said {{ .said }}"}]}
"""
BAD = "apiVersion: runbook/v0\nmeta: {name: bad}\nsteps: [{id: s}]\n"
VARYING = [
    (re.compile(r"\d{8}T\d{6}-[0-9a-f]{8}"), "RUN"),
    (re.compile(r"\d+(\.\d+)? ?ms\b"), "N ms"),
    (re.compile(r"\d{4}-\d{2}-\d{2}T[\d:.]+Z"), "TIME"),
    (re.compile(r'"(duration_ms|seconds)": [\d.]+'), r'"\1": N'),
]


def normal(text: str) -> str:
    for pattern, repl in VARYING:
        text = pattern.sub(repl, text)
    return text


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["validate", "ok.runbook.yaml"],
        ["validate", "bad.runbook.yaml"],
        ["validate", "--json", "bad.runbook.yaml"],
        ["exec", "ok.runbook.yaml"],
        ["exec", "ok.runbook.yaml", "--json", "--var", "who=me"],
        ["exec", "bad.runbook.yaml"],
        ["exec", "ok.runbook.yaml", "--mode", "nope"],
        ["exec"],
        ["runs", "list"],
        ["--help"],
        ["exec", "--help"],
        ["--version"],
    ],
    ids=" ".join,
)
def test_in_process_cli_answers_as_the_real_process(project, args):
    project.write("ok.runbook.yaml", OK)
    project.write("bad.runbook.yaml", BAD)
    real = gert_process(*args, cwd=project.root)
    here = gert(*args, cwd=project.root)
    assert here.returncode == real.returncode
    assert normal(here.stdout) == normal(real.stdout)
    assert normal(here.stderr) == normal(real.stderr)


@pytest.mark.slow
def test_stdin_and_environment_reach_the_command_as_in_a_real_process(project):
    project.write(
        "ci.signatures.yaml",
        "apiVersion: signatures/v0\nsignatures:\n  - {id: boom, match: {substring: boom}}\n",
    )
    env = {**os.environ, "GERT_HELPER_VAR": "from-env"}
    project.write(
        "e.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: e, kind: composable, inputs: {v: {from: env.GERT_HELPER_VAR}}}
        steps: [{id: s, type: cli, with: {argv: [echo, "{{ .v }}"]}, capture: {v: stdout}}]
        """,
    )
    for args, kw in (
        (["triage", "--json"], {"input": "all good\nboom here\n"}),
        (["exec", "e.runbook.yaml", "--json"], {"env": env}),
    ):
        real = gert_process(*args, cwd=project.root, **kw)
        here = gert(*args, cwd=project.root, **kw)
        assert (here.returncode, normal(here.stdout)) == (real.returncode, normal(real.stdout))
    assert '"v": "from-env"' in here.stdout


def test_in_process_runs_leave_cwd_and_environment_as_they_were(project, tmp_path):
    before_cwd, before_env = Path.cwd(), dict(os.environ)
    project.write("ok.runbook.yaml", OK)
    r = gert("exec", "ok.runbook.yaml", cwd=project.root, env={"PATH": os.environ["PATH"]})
    assert r.returncode == 0, r.stderr
    assert Path.cwd() == before_cwd and dict(os.environ) == before_env


def test_an_escaping_exception_is_a_traceback_and_exit_1(project, monkeypatch):
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug in gert")

    monkeypatch.setattr("gert.validate.validate_paths", broken)
    project.write("ok.runbook.yaml", OK)
    r = gert("validate", "ok.runbook.yaml", cwd=project.root)
    assert r.returncode == 1
    assert r.stderr.startswith("Traceback (most recent call last):")
    assert r.stderr.rstrip().endswith("RuntimeError: a bug in gert")
