"""`gert exec` and `gert resume` as an engineer runs them: exit codes, Ctrl-C, kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gert.store import RunFolder, verify_trace
from gert.store.trace import read_events
from helpers import (
    gert,
    gert_process,
    kill_group,
    only_run,
    start_gert,
    started,
    step_process,
    wait_for,
)

ROOT = Path(__file__).resolve().parent.parent


def test_exit_codes(project):
    project.write(
        "ok.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: ok, kind: composable}
        steps: [{id: s, type: cli, with: {argv: [echo, hi]}}]
        """,
    )
    project.write(
        "fail.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: fail, kind: composable}
        steps: [{id: s, type: cli, with: {argv: ["false"]}, assertions: [{exit_code: 0}]}]
        """,
    )
    project.write(
        "bad.runbook.yaml", "apiVersion: runbook/v0\nmeta: {name: bad}\nsteps: [{id: s}]\n"
    )
    project.write(
        "chain.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: chain, vars: {target: gone}}
        steps:
          - {id: s, type: cli, with: {argv: [echo]}, outcomes: [{state: needs_rca, next_runbook: {file: "{{ .target }}"}}]}
        """,
    )
    r = gert("exec", "ok.runbook.yaml", "--json", cwd=project.root)
    assert r.returncode == 0 and json.loads(r.stdout)["final_state"] == "completed"
    assert gert("exec", "fail.runbook.yaml", cwd=project.root).returncode == 1
    r = gert("exec", "bad.runbook.yaml", cwd=project.root)
    assert r.returncode == 2 and "missing field 'type'" in r.stderr and "Traceback" not in r.stderr
    r = gert("exec", "chain.runbook.yaml", "--json", cwd=project.root)
    assert r.returncode == 3 and "not found" in json.loads(r.stdout)["chain_error"]
    r = gert("exec", "ok.runbook.yaml", "--incident", "new-one", cwd=project.root)
    assert r.returncode == 0 and "incident new-one is new: opened it" in r.stderr


@pytest.mark.slow
def test_ctrl_c_stops_the_step_records_it_and_exits_130(project):
    project.write(
        "long.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: long, kind: composable}
        steps:
          - {id: first, type: cli, with: {argv: [echo, one]}}
          - {id: hang, type: cli, with: {argv: [sleep, "60"]}}
        """,
    )
    proc = start_gert("exec", "long.runbook.yaml", cwd=project.root)
    wait_for(lambda: started(project.root, "hang"))
    step = step_process(proc, "sleep")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 130
    kill_group(step, "sleep")  # only if gert left it behind
    folder = only_run(project.root)
    m = folder.read_manifest()
    assert m["status"] == "interrupted"
    assert [e["type"] for e in read_events(folder.trace_path)][-2:] == [
        "run_interrupted",
        "run_completed",
    ]
    assert verify_trace(folder.trace_path, manifest=m).ok


@pytest.mark.slow
def test_kill_9_then_resume_runs_no_completed_step_twice(project, tmp_path):
    counter = tmp_path / "first-ran"
    go = tmp_path / "go"
    project.write(
        "r.runbook.yaml",
        f"""
        apiVersion: runbook/v0
        meta: {{name: r, kind: composable}}
        steps:
          - {{id: first, type: cli, with: {{argv: [sh, -c, 'echo x >> {counter}; echo v1']}}, capture: {{v: stdout}}}}
          - {{id: wait, type: cli, with: {{argv: [sh, -c, 'while [ ! -f {go} ]; do sleep 0.1; done; echo waited']}}}}
          - {{id: last, type: cli, with: {{argv: [echo, "after {{{{ .v }}}}"]}}, capture: {{w: stdout}}}}
        """,
    )
    proc = start_gert("exec", "r.runbook.yaml", cwd=project.root)
    wait_for(lambda: started(project.root, "wait"))
    orphan = step_process(proc, "sh")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    folder = only_run(project.root)
    assert folder.read_manifest()["status"] == "running"  # a truthful manifest after a crash
    kill_group(orphan, "sh")  # the orphaned step process
    go.write_text("")
    before = folder.trace_path.read_bytes()
    r = gert_process("resume", folder.run_id, "--json", cwd=project.root)
    assert r.returncode == 2 and "--retry-step wait" in r.stderr  # it may have had effects
    assert folder.trace_path.read_bytes() == before  # a refusal writes nothing
    r = gert_process("resume", folder.run_id, "--retry-step", "wait", "--json", cwd=project.root)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)["runs"][0]
    assert counter.read_text().count("x") == 1  # the completed step did not run again
    assert result["captures"] == {"v": "v1", "w": "after v1"}
    assert [s["status"] for s in result["steps"]] == ["passed", "passed", "passed"]
    m = folder.read_manifest()
    assert m["status"] == "completed" and m["steps_summary"]["passed"] == 3
    events = read_events(folder.trace_path)
    types = [e["type"] for e in events]
    assert types.count("run_resumed") == 1 and types.count("run_started") == 1
    [recovered] = [e["data"] for e in events if e["type"] == "step_recovered"]
    assert recovered["step_id"] == "wait" and recovered["decision"] == "retry"
    assert verify_trace(folder.trace_path, manifest=m).ok
    assert [p.name for p in folder.step_files()] == [
        "001-first.json",
        "002-wait.json",
        "003-last.json",
    ]
    r = gert_process("resume", folder.run_id, cwd=project.root)
    assert r.returncode == 2 and "already finished" in r.stderr


def test_example_triage_chain_end_to_end(tmp_path):
    """The README's main command on a copy of examples/."""
    import shutil

    ex = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", ex, ignore=shutil.ignore_patterns(".runbook", "data"))
    subprocess.run(
        [sys.executable, str(ex / "create_example_data.py")], check=True, capture_output=True
    )
    r = gert(
        "exec",
        "runbooks/login-success-rate-below-target.runbook.yaml",
        "--incident",
        "747870160",
        "--evidence",
        "answers/747870160.yaml",
        "--json",
        cwd=ex,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [run["runbook"] for run in out["runs"]] == [
        "login-success-rate-below-target",
        "IsReplicaInBuild",
    ]
    assert out["runs"][0]["captures"]["failure_count"] == "42"
    assert out["final_state"] == "resolved"
    show = gert("incident", "show", "747870160", cwd=ex)
    assert "└─ IsReplicaInBuild  resolved" in show.stdout


@pytest.mark.slow
def test_resume_a_killed_child_continues_the_chain(project, tmp_path):
    go = tmp_path / "go-mid"
    project.write(
        "triage.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: triage}
        steps:
          - {id: t, type: cli, with: {argv: [echo]}, outcomes: [{state: needs_rca, next_runbook: {file: mid}}]}
        """,
    )
    project.write(
        "mid.runbook.yaml",
        f"""
        apiVersion: runbook/v0
        meta: {{name: mid}}
        steps:
          - id: wait
            type: cli
            with: {{argv: [sh, -c, 'while [ ! -f {go} ]; do sleep 0.1; done']}}
            outcomes: [{{state: needs_rca, next_runbook: {{file: final}}}}]
        """,
    )
    project.write(
        "final.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: final}
        steps: [{id: f, type: cli, with: {argv: [echo]}, outcomes: [{state: resolved}]}]
        """,
    )
    proc = start_gert("exec", "triage.runbook.yaml", cwd=project.root)
    wait_for(lambda: started(project.root, "wait"))
    orphan = step_process(proc, "sh")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kill_group(orphan, "sh")
    go.write_text("")
    runs = {
        RunFolder(p).read_manifest()["runbook_name"]: RunFolder(p)
        for p in (project.root / ".runbook" / "runs").iterdir()
    }
    r = gert_process(
        "resume", runs["mid"].run_id, "--retry-step", "wait", "--json", cwd=project.root
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [x["runbook"] for x in out["runs"]] == ["triage", "mid", "final"]  # the whole chain
    assert out["final_state"] == "resolved"
    assert (
        runs["triage"].read_manifest()["child_runs"][0]["outcome"] == "needs_rca"
    )  # updated from "running"
    final = [
        p
        for p in (project.root / ".runbook" / "runs").iterdir()
        if RunFolder(p).read_manifest()["runbook_name"] == "final"
    ]
    assert RunFolder(final[0]).read_manifest()["parent_run_id"] == runs["mid"].run_id


@pytest.mark.slow
def test_manifest_is_current_while_the_run_goes(project, tmp_path):
    go = tmp_path / "go-now"
    project.write(
        "m.runbook.yaml",
        f"""
        apiVersion: runbook/v0
        meta: {{name: m, kind: composable}}
        steps:
          - {{id: one, type: cli, with: {{argv: [echo]}}}}
          - {{id: two, type: cli, with: {{argv: [echo]}}}}
          - {{id: wait, type: cli, with: {{argv: [sh, -c, 'while [ ! -f {go} ]; do sleep 0.1; done']}}}}
        """,
    )
    proc = start_gert("exec", "m.runbook.yaml", cwd=project.root)
    try:
        wait_for(lambda: started(project.root, "wait"))
        m = only_run(project.root).read_manifest()
        assert m["status"] == "running" and m["steps_summary"]["passed"] == 2
    finally:
        go.write_text("")
        proc.wait(timeout=30)


def test_json_output_is_redacted_and_traces_are_signed_with_the_configured_key(project):
    project.config("record: off\nhmac_key_env: GERT_TEST_TRACE_KEY\n")
    project.write(
        "s.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: s, kind: composable, inputs: {tok: {from: env.GERT_TEST_TOK, secret: true}}}
        steps:
          - {id: leak, type: cli, with: {argv: [echo, "{{ .tok }}"]}, capture: {out: stdout}}
          - {id: fail, type: cli, with: {argv: [sh, -c, "exit 1"]}, assertions: [{exit_code: 0, message: "{{ .tok }}"}]}
        """,
    )
    env = {**os.environ, "GERT_TEST_TOK": "very-secret-token", "GERT_TEST_TRACE_KEY": "k3y"}
    r = gert("exec", "s.runbook.yaml", "--json", cwd=project.root, env=env)
    assert r.returncode == 1
    assert "very-secret-token" not in r.stdout + r.stderr
    assert json.loads(r.stdout)["runs"][0]["captures"] == {"out": "***"}
    folder = only_run(project.root)
    assert verify_trace(folder.trace_path, key=b"k3y").hmac_checked
    v = gert(
        "trace",
        "verify",
        folder.run_id,
        "--key-env",
        "GERT_TEST_TRACE_KEY",
        cwd=project.root,
        env=env,
    )
    assert v.returncode == 0 and "signature checked" in v.stdout
    bad = gert(
        "trace",
        "verify",
        folder.run_id,
        "--key-env",
        "WRONG",
        cwd=project.root,
        env={**env, "WRONG": "nope"},
    )
    assert bad.returncode == 1 and "hmac does not match" in bad.stdout


@pytest.mark.slow
def test_an_interrupted_chain_is_saved_as_a_scenario_marked_interrupted(project):
    project.config("record: auto\n")
    project.write(
        "long.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: long, kind: composable}
        steps:
          - {id: first, type: cli, with: {argv: [echo, one]}}
          - {id: hang, type: cli, with: {argv: [sleep, "60"]}}
        """,
    )
    proc = start_gert("exec", "long.runbook.yaml", cwd=project.root)
    wait_for(lambda: started(project.root, "hang"))
    step = step_process(proc, "sleep")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 130
    kill_group(step, "sleep")  # only if gert left it behind
    saved = list((project.root / "scenarios").rglob("scenario.yaml"))
    assert len(saved) == 1 and "status: interrupted" in saved[0].read_text()
    assert (saved[0].parent / "runs" / "01-long" / "steps" / "001-first.json").is_file()
