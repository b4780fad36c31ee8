"""YAML as people write it: URLs in flow lists (YAML 1.2), and unquoted numbers and
booleans where gert wants text (`argv: [sleep, 5]`), taken as the author wrote them."""

from __future__ import annotations

import json

from gert.load import parse_text
from gert.model import Runbook
from gert.validate import validate_model
from helpers import gert

RUNBOOK = """
apiVersion: runbook/v0
meta:
  name: as-written
  kind: composable
  governance: {allowed_commands: [echo, sleep, "true", 7z], denied_commands: [7]}
steps:
  - id: url
    type: cli
    with: {argv: [echo, -n, http://127.0.0.1:8080/health, {{ url }}]}
    capture: {url: stdout}
  - id: numbers
    type: cli
    precondition: {check: [true], skip_if_succeeds: false}
    with: {argv: [echo, 5, 1.10, true, False, ~, 0x1F, 1e3]}
    capture: {numbers: stdout}
  - id: nap
    type: cli
    with: {argv: [sleep, 0]}
  - id: skipped
    type: cli
    precondition: {check: [true]}
    with: {argv: [echo, never]}
"""


def write(project, url: str = "x") -> None:
    project.write("as-written.yaml", RUNBOOK.replace("{{ url }}", url))


def test_validate_accepts_yaml_as_written(project):
    write(project, "a:b")
    r = gert("validate", "as-written.yaml", cwd=project.root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 errors" in r.stderr


def test_exec_runs_the_text_the_author_wrote(project):
    write(project)
    r = gert("exec", "as-written.yaml", "--json", cwd=project.root)
    assert r.returncode == 0, r.stdout + r.stderr
    runs = json.loads(r.stdout)["runs"]
    steps = {s["step_id"]: s for s in runs[0]["steps"]}
    assert steps["skipped"]["status"] == "skipped"
    assert steps["nap"]["status"] == "passed"
    assert runs[0]["captures"]["url"] == "http://127.0.0.1:8080/health x"
    assert runs[0]["captures"]["numbers"] == "5 1.10 true False ~ 0x1F 1e3"


def test_string_lists_take_the_author_s_text():
    doc = parse_text(
        RUNBOOK.replace("{{ url }}", "x")
        + """  - id: ask
    type: manual
    instructions: Pick.
    choices: {variable: v, options: [{value: 1.10}, {value: yes}, {value: true}]}
    required_evidence: [{kind: checklist, name: c, items: [1, 2.50, on]}]
    outcomes: [{state: resolved, recommendation: 42}]
"""
    )
    rb = validate_model(Runbook, doc)
    assert rb.meta.governance is not None
    assert rb.meta.governance.allowed_commands == ["echo", "sleep", "true", "7z"]
    assert rb.meta.governance.denied_commands == ["7"]
    steps = rb.steps or []
    assert steps[1].with_.argv == ["echo", "5", "1.10", "true", "False", "~", "0x1F", "1e3"]  # type: ignore[union-attr]
    assert steps[1].precondition is not None and steps[1].precondition.check == ["true"]
    ask = steps[4]
    assert [o.value for o in ask.choices.options] == ["1.10", "yes", "true"]  # type: ignore[union-attr]
    assert ask.required_evidence[0].items == ["1", "2.50", "on"]  # type: ignore[union-attr]
    assert ask.outcomes[0].recommendation == "42"


def test_values_that_may_be_numbers_stay_numbers():
    doc = parse_text(
        "apiVersion: runbook/v0\n"
        "meta: {name: n, kind: composable, vars: {retries: 3, ratio: 1.5, on: true},"
        " inputs: {w: {from: prompt, default: 4}}}\n"
        "steps: [{id: s, type: cli, with: {argv: [echo]}, assertions: [{exit_code: 0}],"
        " timeout: 30}]\n"
    )
    rb = validate_model(Runbook, doc)
    assert rb.meta.vars == {"retries": 3, "ratio": 1.5, "on": True}
    assert rb.meta.inputs["w"].default == 4
    assert rb.steps is not None and rb.steps[0].timeout == 30


def test_what_is_still_wrong_is_reported_at_its_place(project):
    project.write(
        "bad.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: bad, kind: composable}
        steps:
          - {id: s, type: cli, with: {argv: [echo, [nested]]}}
          - {id: 5, type: cli, with: {argv: [echo]}}
        """,
    )
    r = gert("validate", "bad.runbook.yaml", cwd=project.root)
    assert r.returncode == 2
    assert "bad.runbook.yaml:4:44: error: steps[0].with.argv[1]: expected a string, got a list" in (
        r.stdout
    )
    assert "bad.runbook.yaml:5:10: error: steps[1].id: '5' is not a valid step id" in r.stdout


def test_gert_test_files_take_the_author_s_text(project):
    project.write(
        "r.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: r, kind: composable, inputs: {version: {from: prompt}}}
        steps: [{id: s, type: cli, with: {argv: [echo, "{{ .version }}"]}, capture: {v: stdout}}]
        """,
    )
    folder = "scenarios/r/one"
    project.write(f"{folder}/inputs.yaml", "version: 1.10\n")
    project.write(f"{folder}/scenario.yaml", "commands: [{argv: [echo, 1.10], stdout: 1.10}]\n")
    project.write(f"{folder}/test.yaml", "expected_captures: {v: 1.10}\nmust_reach: [s]\n")
    r = gert("test", cwd=project.root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("PASS    scenarios/r/one")
