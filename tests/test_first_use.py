"""Trust at first use: what a new user meets when running runbooks (dry-runs, references,
Ctrl-C, resume, answers files, incidents, captures)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gert.store.trace import read_events
from helpers import gert

ROOT = Path(__file__).resolve().parent.parent
VALID = ROOT / "tests" / "fixtures" / "validate" / "valid"


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".runbook", "data", "scenarios"))
    return dst


def _runbooks(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.runbook.yaml"))


# ------------------------------------------------------------------ 1. dry-run


@pytest.mark.parametrize(
    "rel",
    [str(p.relative_to(ROOT / "examples")) for p in _runbooks(ROOT / "examples" / "runbooks")],
)
def test_every_example_runbook_dry_runs(tmp_path, rel):
    ex = _copy(ROOT / "examples", tmp_path / "examples")
    r = gert("exec", rel, "--mode", "dry-run", "--json", cwd=ex)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    for run in out["runs"]:
        assert all(s["status"] in ("passed", "skipped") for s in run["steps"]), run


@pytest.mark.parametrize(
    "rel",
    [str(p.relative_to(VALID)) for p in _runbooks(VALID) if "kind: reference" not in p.read_text()],
)
def test_every_valid_fixture_runbook_dry_runs(tmp_path, rel):
    project = _copy(VALID.parent, tmp_path / "validate") / "valid"
    shutil.copy(VALID.parent / "gert.yaml", project / "gert.yaml")
    r = gert("exec", rel, "--mode", "dry-run", "--json", cwd=project)
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_dry_run_parses_nothing_retries_nothing_and_says_what_it_made_up(project):
    project.write(
        "d.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: d, inputs: {server: {from: incident.custom.server}}}
        steps:
          - id: q
            type: http
            http: {url: "http://127.0.0.1:9/{{ .server }}"}
            retry: {attempts: 5, delay: 10s}
            capture: {health: "$.status"}
          - id: pick
            type: manual
            instructions: choose
            choices: {variable: action, options: [{value: restart}, {value: wait}]}
          - id: after
            type: cli
            with: {argv: [echo, "{{ .action }} {{ .health }}"]}
            outcomes:
              - {state: resolved, when: 'health == "ok"'}
              - {state: escalated, recommendation: "do {{ .action }}"}
        """,
    )
    r = gert("exec", "d.runbook.yaml", "--mode", "dry-run", cwd=project.root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no value for server: the dry-run uses <server>" in r.stdout
    assert "escalated: do restart" in r.stdout  # the first option, taken
    out = json.loads(
        gert("exec", "d.runbook.yaml", "--mode", "dry-run", "--json", cwd=project.root).stdout
    )
    run = out["runs"][0]
    assert run["captures"] == {"health": "<dry-run>", "action": "restart"}
    events = read_events(Path(project.root / run["folder"]) / "trace.jsonl")
    started = [e for e in events if e["type"] == "step_started" and e["data"]["step_id"] == "q"]
    assert len(started) == 1  # one attempt, no 10 s delays
    [completed] = [
        e["data"] for e in events if e["type"] == "step_completed" and e["data"]["step_id"] == "q"
    ]
    assert completed["attempts"] == 1
    [choice] = [
        e["data"]
        for e in events
        if e["type"] == "step_completed" and e["data"]["step_id"] == "pick"
    ]
    assert "first option" in json.dumps(choice["would_run"])


# ------------------------------------------------------------------ 3. references


REFERENCE = """
apiVersion: runbook/v0
meta:
  name: query-library
  kind: reference
  description: Queries to look at by hand.
steps:
  - {id: q1, title: Recent logins, type: cli, with: {argv: [echo, select 1]}}
  - id: read
    type: manual
    instructions: |
      Read the dashboard.
      Then DO NOT restart the primary.
"""


def test_a_reference_runbook_is_linked_never_run(project):
    project.config("record: on\n")
    project.write("lib.runbook.yaml", REFERENCE)
    project.write(
        "triage.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: triage}
        steps:
          - id: look
            type: cli
            with: {argv: [echo, hi]}
            outcomes: [{state: needs_rca, recommendation: read on, next_runbook: {file: lib}}]
        """,
    )
    assert gert("incident", "create", "R1", "--title", "t", cwd=project.root).returncode == 0
    r = gert("exec", "triage.runbook.yaml", "--incident", "R1", "--json", cwd=project.root)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [x["runbook"] for x in out["runs"]] == ["triage"]
    assert out["final_state"] == "needs_rca"  # the parent's state, not "completed"
    outcome = out["runs"][0]["outcome"]
    assert outcome["reference"]["file"] == "lib.runbook.yaml" and "next_runbook" not in outcome
    folder = project.root / out["runs"][0]["folder"]
    types = [e["type"] for e in read_events(folder / "trace.jsonl")]
    assert "reference_linked" in types and "chain_started" not in types
    timeline = gert("incident", "show", "R1", cwd=project.root).stdout
    assert "See: query-library (lib.runbook.yaml)" in timeline
    shown = gert("exec", "triage.runbook.yaml", "--no-post", cwd=project.root).stdout
    assert "↗ see query-library (lib.runbook.yaml): a reference, not run" in shown


def test_exec_of_a_reference_runbook_prints_it_and_runs_nothing(project):
    project.write("lib.runbook.yaml", REFERENCE)
    r = gert("exec", "lib.runbook.yaml", cwd=project.root)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("# query-library\n")
    assert "Then DO NOT restart the primary." in r.stdout and "`echo select 1`" in r.stdout
    assert not (project.root / ".runbook" / "runs").exists()
