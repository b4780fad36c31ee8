"""Getting started: gert init makes a project that validates, runs and tests at once;
gert runbooks lists a project's runbooks; shell completion prints a script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import gert

ROOT = Path(__file__).resolve().parent.parent


def test_init_makes_a_project_that_validates_runs_and_tests(tmp_path):
    made = gert("init", "ops", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "created ops/gert.yaml" in made.stdout
    assert "created ops/runbooks/disk-space.runbook.yaml" in made.stdout
    assert "cd ops" in made.stderr and "gert test" in made.stderr
    ops = tmp_path / "ops"
    assert (ops / "gert.yaml").read_text().startswith("# gert project configuration")
    checked = gert("validate", ".", "--strict", cwd=ops)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # gert.yaml, the runbook, and each scenario's scenario.yaml and test.yaml
    assert "6 files: 0 errors, 0 warnings" in checked.stderr
    tested = gert("test", cwd=ops)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "2 passed, 0 failed, 0 skipped" in tested.stdout
    covered = gert("coverage", "--min-branch", "100", cwd=ops)
    assert covered.returncode == 0 and "outcomes 100%" in covered.stdout
    ran = gert("exec", "runbooks/disk-space.runbook.yaml", "--no-record", cwd=ops)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "✓ check_usage" in ran.stdout and "used_percent=" in ran.stdout
    listed = gert("runbooks", cwd=ops)
    assert listed.stdout.splitlines()[0].split() == [
        "disk-space",
        "mitigation",
        "runbooks/disk-space.runbook.yaml",
    ]


def test_init_here_and_never_over_existing_files(tmp_path):
    assert gert("init", cwd=tmp_path).returncode == 0
    assert (tmp_path / "gert.yaml").is_file()
    again = gert("init", cwd=tmp_path)
    assert again.returncode == 2
    assert "gert.yaml" in again.stderr and "nothing was written" in again.stderr
    other = tmp_path / "other"
    other.mkdir()
    (other / "gert.yaml").write_text("record: off\n")
    refused = gert("init", "other", cwd=tmp_path)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "error: other: gert.yaml already exists" in refused.stderr
    assert (other / "gert.yaml").read_text() == "record: off\n"  # untouched
    assert sorted(p.name for p in other.iterdir()) == ["gert.yaml"]  # nothing else written


def test_runbooks_lists_name_kind_description_inputs_and_path(project):
    project.write(
        "runbooks/a.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta:
          name: alpha
          description: Checks the alpha service
          inputs:
            host: {from: incident.title, description: The host}
            token: {from: env.ALPHA_TOKEN, secret: true}
            region: {default: eu}
        steps:
          - {id: s, type: cli, with: {argv: [echo, "{{ .host }}"]}, outcomes: [{state: resolved}]}
        """,
    )
    project.write(
        "lib/b.runbook.yaml",
        "apiVersion: runbook/v0\nmeta: {name: beta, kind: composable}\nsteps:\n  - {id: x, type: cli, with: {argv: [echo]}}\n",
    )
    project.write("broken.runbook.yaml", "apiVersion: runbook/v0\nmeta: {name: gamma}\nsteps: 3\n")
    project.write(".hidden/c.runbook.yaml", "apiVersion: runbook/v0\n")
    listed = gert("runbooks", cwd=project.root)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["gamma", "INVALID", "broken.runbook.yaml"]
    assert lines[1].startswith("    broken.runbook.yaml:3:")
    assert lines[2].split() == ["beta", "composable", "lib/b.runbook.yaml"]
    assert lines[3].split() == ["alpha", "mitigation", "runbooks/a.runbook.yaml"]
    assert lines[4] == "    Checks the alpha service"
    assert lines[5] == (
        "    inputs: host (from incident.title), token (from env.ALPHA_TOKEN, secret), "
        "region (default eu)"
    )
    data = json.loads(gert("runbooks", "--json", cwd=project.root).stdout)
    assert [(r["name"], r["kind"], r["path"], r["valid"]) for r in data] == [
        ("gamma", "", "broken.runbook.yaml", False),
        ("beta", "composable", "lib/b.runbook.yaml", True),
        ("alpha", "mitigation", "runbooks/a.runbook.yaml", True),
    ]
    assert data[2]["inputs"][0] == {
        "name": "host",
        "from": "incident.title",
        "description": "The host",
    }
    assert data[2]["description"] == "Checks the alpha service"
    only = json.loads(gert("runbooks", "lib", "--json", cwd=project.root).stdout)
    assert [r["path"] for r in only] == ["lib/b.runbook.yaml"]


def test_runbooks_of_the_examples(tmp_path):
    listed = gert("runbooks", "--json", cwd=ROOT / "examples")
    names = {r["name"]: r for r in json.loads(listed.stdout)}
    assert {"IsReplicaInBuild", "login-success-rate-below-target", "web-health"} <= set(names)
    assert all(r["valid"] for r in names.values())
    assert names["collect-diagnostics"]["kind"] == "composable"


def _gert_script() -> str:
    return str(Path(sys.executable).parent / "gert")


def test_shell_completion_prints_a_script_and_completes_commands():
    for shell, marker in (
        ("bash", "_gert_completion"),
        ("zsh", "#compdef gert"),
        ("fish", "complete"),
    ):
        env = {**os.environ, "_GERT_COMPLETE": f"{shell}_source"}
        script = subprocess.run([_gert_script()], env=env, capture_output=True, text=True)
        assert script.returncode == 0 and marker in script.stdout, (shell, script.stdout)
    env = {
        **os.environ,
        "_GERT_COMPLETE": "bash_complete",
        "COMP_WORDS": "gert ru",
        "COMP_CWORD": "1",
    }
    words = subprocess.run([_gert_script()], env=env, capture_output=True, text=True).stdout
    assert "plain,runbooks" in words.splitlines() and "plain,runs" in words.splitlines()
