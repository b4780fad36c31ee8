"""Crash safety: after ``kill -9`` or Ctrl-C, nothing is done twice and nothing is lost.

A step that was running when gert died is found (with its processes) and is run again
only when that is harmless or the operator says so; a hand-off that never started is
resumable; the scenario and the post after a resume cover the whole chain; processes that
leave the step's process group still end with the step.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gert.load import load_file
from gert.store import RunFolder, verify_trace
from gert.store.trace import read_events
from helpers import (
    alive,
    gert,
    gert_process,
    interrupt,
    only_run,
    output,
    start_gert,
    started,
    step_process,
    wait_for,
)


def runs_by_name(root: Path) -> dict[str, RunFolder]:
    return {
        RunFolder(p).read_manifest()["runbook_name"]: RunFolder(p)
        for p in (root / ".runbook" / "runs").iterdir()
        if (p / "run.yaml").is_file()
    }


def kill_9_during(project, runbook: str, step_id: str, command: str) -> tuple[RunFolder, int]:
    """Start gert on *runbook*, kill -9 it while *step_id* runs; the run and the pid of the
    step's surviving process."""
    proc = start_gert("exec", runbook, cwd=project.root)
    wait_for(lambda: started(project.root, step_id))
    orphan = step_process(proc, command)
    os.kill(proc.pid, 9)
    proc.wait()
    return only_run(project.root), orphan


WORK = """
apiVersion: runbook/v0
meta: {{name: work, kind: composable}}
steps:
  - {{id: before, type: cli, with: {{argv: [sh, -c, 'echo before >> {effects}']}}}}
  - id: restart
    type: cli
    {idempotent}
    with: {{argv: [sh, -c, 'echo start >> {effects}; while [ ! -f {go} ]; do sleep 0.05; done; echo done >> {effects}']}}
  - {{id: after, type: cli, with: {{argv: [sh, -c, 'echo after >> {effects}']}}}}
"""


@pytest.mark.slow
def test_a_step_running_at_kill_9_is_never_run_twice_without_a_decision(project, tmp_path):
    effects, go = tmp_path / "effects", tmp_path / "go"
    project.write("work.runbook.yaml", WORK.format(effects=effects, go=go, idempotent=""))
    folder, orphan = kill_9_during(project, "work.runbook.yaml", "restart", "sh")
    assert alive(orphan)  # the step's process outlived gert
    before = folder.trace_path.read_bytes()

    # Its processes still run: resume says what it can do about them, and writes nothing.
    r = gert_process("resume", folder.run_id, cwd=project.root)
    assert r.returncode == 2 and "--in-flight wait" in r.stderr and "Traceback" not in r.stderr
    assert str(orphan) in r.stderr
    # Told to wait, it still needs to know whether the step may run again.
    r = gert_process("resume", folder.run_id, "--in-flight", "wait", cwd=project.root)
    assert r.returncode == 2 and "--retry-step restart" in r.stderr and "--skip-step" in r.stderr
    assert folder.trace_path.read_bytes() == before and alive(orphan)

    # Wait for the orphan (it finishes its work once "go" appears), then skip the step.
    threading.Timer(1.0, go.write_text, args=("",)).start()
    started_at = time.monotonic()
    r = gert_process(
        "resume",
        folder.run_id,
        "--in-flight",
        "wait",
        "--skip-step",
        "restart",
        "--json",
        cwd=project.root,
    )
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - started_at >= 0.9  # it waited for the process
    assert effects.read_text().split() == ["before", "start", "done", "after"]  # once each
    steps = json.loads(r.stdout)["runs"][0]["steps"]
    assert [(s["step_id"], s["status"]) for s in steps] == [
        ("before", "passed"),
        ("restart", "skipped"),
        ("after", "passed"),
    ]
    events = read_events(folder.trace_path)
    [recovered] = [e["data"] for e in events if e["type"] == "step_recovered"]
    assert recovered["decision"] == "skip" and recovered["processes_action"] == "wait"
    assert orphan in [p["pid"] for p in recovered["processes"]]
    skipped = [e["data"] for e in events if e["type"] == "step_skipped"]
    assert "skipped on resume" in skipped[0]["reason"]
    assert verify_trace(folder.trace_path, manifest=folder.read_manifest()).ok


@pytest.mark.slow
def test_kill_in_flight_then_retry(project, tmp_path):
    effects, go = tmp_path / "effects", tmp_path / "go"
    project.write("work.runbook.yaml", WORK.format(effects=effects, go=go, idempotent=""))
    folder, orphan = kill_9_during(project, "work.runbook.yaml", "restart", "sh")
    # "go" appears once resume has killed the old process: only the retried step sees it.
    threading.Timer(1.5, go.write_text, args=("",)).start()
    r = gert_process(
        "resume",
        folder.run_id,
        "--in-flight",
        "kill",
        "--retry-step",
        "restart",
        cwd=project.root,
    )
    assert r.returncode == 0, r.stderr
    assert "killing processes left running" in r.stdout and "↻ restart" in r.stdout
    assert not alive(orphan)
    # The operator chose to run it again: its start shows twice, its work once.
    lines = effects.read_text().split()
    assert lines.count("before") == 1 and lines.count("done") == 1 and lines[-1] == "after"


@pytest.mark.slow
def test_an_idempotent_step_is_run_again_without_asking(project, tmp_path):
    effects, go = tmp_path / "effects", tmp_path / "go"
    project.write(
        "work.runbook.yaml", WORK.format(effects=effects, go=go, idempotent="idempotent: true")
    )
    folder, orphan = kill_9_during(project, "work.runbook.yaml", "restart", "sh")
    go.write_text("")
    wait_for(lambda: not alive(orphan))  # it ends by itself
    r = gert_process("resume", folder.run_id, "--json", cwd=project.root)
    assert r.returncode == 0, r.stderr
    [recovered] = [
        e["data"] for e in read_events(folder.trace_path) if e["type"] == "step_recovered"
    ]
    assert recovered["decision"] == "retry" and "marked idempotent" in recovered["reason"]
    assert recovered["processes"] == []


def test_what_may_run_twice_is_recorded_when_a_step_starts(project, fake_cli):
    project.write(
        "r.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: r, kind: composable}
        steps:
          - {id: cmd, type: cli, with: {argv: [x]}}
          - {id: again, type: cli, idempotent: true, with: {argv: [x]}}
          - {id: ask, type: manual, instructions: look}
        """,
    )
    fake_cli.on("cmd", output("")).on("again", output(""))
    run = project.run("r.runbook.yaml", executors={"cli": fake_cli}).final
    starts = {
        e["data"]["step_id"]: e["data"].get("repeatable", "")
        for e in read_events(run.folder / "trace.jsonl")
        if e["type"] == "step_started"
    }
    assert starts == {
        "cmd": "",
        "again": "marked idempotent",
        "ask": "a manual step: the engineer is asked again",
    }


DIE_BEFORE_CHILD = """
import os, sys
from gert.engine import chain
chain.Engine._child = lambda *a, **k: os._exit(137)  # killed before the child exists
from gert.cli import main
sys.argv = ["gert", *sys.argv[1:]]
main()
"""


def test_a_hand_off_lost_to_a_crash_is_resumed(project, tmp_path):
    project.config("record: auto\n")
    project.write(
        "triage.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: triage, inputs: {host: {from: prompt}}}
        steps:
          - id: look
            type: cli
            with: {argv: [echo, found]}
            capture: {cause: stdout}
            outcomes: [{state: needs_rca, next_runbook: {file: fix, inputs: {host: "{{ .host }}"}}}]
        """,
    )
    project.write(
        "fix.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: fix, inputs: {host: {from: prompt}}}
        steps:
          - {id: f, type: cli, with: {argv: [echo, "fixing {{ .host }}"]}, capture: {out: stdout}, outcomes: [{state: resolved}]}
        """,
    )
    script = tmp_path / "die.py"
    script.write_text(DIE_BEFORE_CHILD)
    r = subprocess.run(
        [sys.executable, str(script), "exec", "triage.runbook.yaml", "--var", "host=db1"],
        cwd=project.root,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 137
    parent = only_run(project.root)
    m = parent.read_manifest()
    assert m["status"] == "completed" and m["child_runs"] == []
    # It does not read as a finished chain:
    shown = gert("runs", "list", cwd=project.root)
    assert "hand-off pending" in shown.stdout
    r = gert("resume", parent.run_id, "--json", cwd=project.root)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [x["runbook"] for x in out["runs"]] == ["triage", "fix"]
    assert out["final_state"] == "resolved"
    assert out["runs"][1]["captures"] == {"out": "fixing db1"}
    runs = runs_by_name(project.root)
    assert runs["triage"].read_manifest()["child_runs"][0]["run_id"] == runs["fix"].run_id
    assert runs["fix"].read_manifest()["parent_run_id"] == runs["triage"].run_id
    for run in runs.values():
        assert verify_trace(run.trace_path, manifest=run.read_manifest()).ok
    assert out["scenario"], out
    scenario = project.root / out["scenario"] / "scenario.yaml"
    saved = load_file(scenario).data
    assert [c["runbook"] for c in saved["chain"]] == ["triage", "fix"]
    r = gert("resume", parent.run_id, cwd=project.root)
    assert r.returncode == 2 and "already finished" in r.stderr


def test_a_resumed_chain_replaces_itsinterrupted_scenario(project, fake_cli):
    from gert.engine import Options

    project.config("record: auto\n")
    project.write(
        "triage.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: triage}
        steps:
          - {id: t, type: cli, with: {argv: [look]}, outcomes: [{state: needs_rca, next_runbook: {file: fix}}]}
        """,
    )
    project.write(
        "fix.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: fix}
        steps:
          - {id: pause, type: cli, idempotent: true, with: {argv: [pause]}}
          - {id: done, type: cli, with: {argv: [ok]}, outcomes: [{state: resolved}]}
        """,
    )

    fake_cli.on("t", output("")).on("pause", interrupt)
    first = project.run("triage.runbook.yaml", executors={"cli": fake_cli})
    assert first.final.status == "interrupted" and first.scenario
    folder = project.root / first.scenario
    assert load_file(folder / "scenario.yaml").data["status"] == "interrupted"
    fake_cli.on("pause", output("")).on("done", output(""))
    with project.engine(executors={"cli": fake_cli}) as engine:
        chain = engine.resume(first.final.run_id, Options())
    assert [r.runbook for r in chain.runs] == ["triage", "fix"]
    assert chain.final_state == "resolved"
    assert chain.scenario == first.scenario  # the same folder, saved again
    saved = load_file(folder / "scenario.yaml").data
    assert saved["status"] == "resolved" and saved["root_runbook"] == "triage.runbook.yaml"
    assert [c["runbook"] for c in saved["chain"]] == ["triage", "fix"]
    assert sorted(p.name for p in (folder / "runs").iterdir()) == ["01-triage", "02-fix"]
    # The saved chain replays offline to the same end.
    replay = project.run("triage.runbook.yaml", mode="replay", scenario=folder)
    assert replay.final_state == "resolved"


def test_processes_that_leave_the_step_end_with_it(project, tmp_path):
    pidfile = tmp_path / "daemon.pid"
    project.write(
        "d.runbook.yaml",
        f"""
        apiVersion: runbook/v0
        meta: {{name: d, kind: composable}}
        steps:
          - id: start-daemon
            type: cli
            with:
              argv: [sh, -c, 'setsid -f sh -c "echo \\$\\$ > {pidfile}; exec sleep 300"; while [ ! -s {pidfile} ]; do sleep 0.02; done']
        """,
    )
    run = project.run("d.runbook.yaml").final
    assert run.status == "completed", run.steps
    pid = int(pidfile.read_text())
    assert not alive(pid), "a process in its own session outlived its step"


def test_a_double_forked_daemon_ends_with_its_step(project, tmp_path):
    pidfile = tmp_path / "daemon.pid"
    daemon = (
        "import os, time\n"
        "if os.fork(): os._exit(0)\n"
        "os.setsid()\n"
        "if os.fork(): os._exit(0)\n"
        f"open({str(pidfile)!r}, 'w').write(str(os.getpid()))\n"
        "time.sleep(300)\n"
    )
    script = tmp_path / "daemon.py"
    script.write_text(daemon)
    project.write(
        "d.runbook.yaml",
        f"""
        apiVersion: runbook/v0
        meta: {{name: d, kind: composable}}
        steps:
          - id: daemonize
            type: cli
            with:
              argv: [sh, -c, '{sys.executable} {script}; while [ ! -s {pidfile} ]; do sleep 0.02; done']
        """,
    )
    run = project.run("d.runbook.yaml").final
    assert run.status == "completed", run.steps
    pid = int(pidfile.read_text())
    assert not alive(pid), "a double-forked daemon outlived its step"


@pytest.mark.slow
def test_kill_9_trials_repeat_nothing_and_lose_nothing():
    # bench/crash_trials.py's trials, a few of them: kill -9 at random moments, resume as
    # an operator would until the chain ends.
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "bench" / "crash_trials.py"
    spec = importlib.util.spec_from_file_location("crash_trials", path)
    assert spec is not None and spec.loader is not None
    trials = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(trials)
    totals = trials.main(3)
    assert {k: v for k, v in totals.items() if k != "resumed"} == {
        "repeated": 0,
        "broken": 0,
        "partial": 0,
        "unfinished": 0,
    }


@pytest.mark.slow
def test_a_run_another_gert_is_running_cannot_be_resumed(project, tmp_path):
    effects, go = tmp_path / "effects", tmp_path / "go"
    project.write("work.runbook.yaml", WORK.format(effects=effects, go=go, idempotent=""))
    proc = start_gert("exec", "work.runbook.yaml", cwd=project.root)
    try:
        wait_for(lambda: started(project.root, "restart"))
        folder = only_run(project.root)
        before = folder.trace_path.read_bytes()
        r = gert_process(
            "resume",
            folder.run_id,
            "--in-flight",
            "kill",
            "--retry-step",
            "restart",
            cwd=project.root,
        )
        assert r.returncode == 2, r.stderr
        assert f"is being run by another gert process (pid {proc.pid})" in r.stderr
        assert folder.trace_path.read_bytes() == before  # nothing written, nothing killed
        listed = gert("runs", "list", cwd=project.root).stdout
        assert "running" in listed and "gert resume" not in listed
        os.kill(proc.pid, 9)
        proc.wait()
        listed = gert("runs", "list", cwd=project.root).stdout
        assert "stopped" in listed and f"go on with: gert resume {folder.run_id}" in listed
    finally:
        go.write_text("")
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_resume_refuses_an_edited_runbook_unless_told(project, fake_cli):
    from gert.engine import Options
    from gert.engine.recovery import ResumeRefused

    project.write(
        "e.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: e, kind: composable}
        steps:
          - {id: a, type: cli, idempotent: true, with: {argv: [a]}}
          - {id: b, type: cli, with: {argv: [b]}}
        """,
    )
    fake_cli.on("a", interrupt)
    first = project.run("e.runbook.yaml", executors={"cli": fake_cli}).final
    project.write(
        "e.runbook.yaml", (project.root / "e.runbook.yaml").read_text().replace("[b]", "[b2]")
    )
    fake_cli.on("a", output("")).on("b", output(""))
    with project.engine(executors={"cli": fake_cli}) as engine, pytest.raises(ResumeRefused) as e:
        engine.resume(first.run_id, Options())
    assert "changed since the run began" in str(e.value) and "--accept-changed-runbook" in str(
        e.value
    )
    with project.engine(executors={"cli": fake_cli}) as engine:
        chain = engine.resume(first.run_id, Options(accept_changed_runbook=True))
    assert chain.final.status == "completed"
    [resumed] = [
        e["data"] for e in read_events(first.folder / "trace.jsonl") if e["type"] == "run_resumed"
    ]
    assert resumed["runbook_sha256_before"] != resumed["runbook_sha256"]


def test_retry_and_skip_must_name_a_step_that_was_running(project, fake_cli):
    from gert.engine import Options
    from gert.engine.recovery import ResumeRefused

    project.write(
        "e.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: e, kind: composable}
        steps:
          - {id: a, type: cli, with: {argv: [a]}}
          - {id: b, type: cli, with: {argv: [b]}}
        """,
    )
    fake_cli.on("a", output("")).on("b", interrupt)
    first = project.run("e.runbook.yaml", executors={"cli": fake_cli}).final
    with project.engine(executors={"cli": fake_cli}) as engine, pytest.raises(ResumeRefused) as e:
        engine.resume(first.run_id, Options(retry_steps=("a",)))
    assert "a was not running when the run stopped" in str(e.value) and "here: b" in str(e.value)


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighupinterrupt_like_ctrl_c(project, tmp_path, sig):
    import signal

    effects, go = tmp_path / "effects", tmp_path / "go"
    project.write("work.runbook.yaml", WORK.format(effects=effects, go=go, idempotent=""))
    proc = start_gert("exec", "work.runbook.yaml", cwd=project.root)
    wait_for(lambda: started(project.root, "restart"))
    child = step_process(proc, "sh")
    proc.send_signal(getattr(signal, sig))
    assert proc.wait(timeout=20) == 130
    m = only_run(project.root).read_manifest()
    assert m["status"] == "interrupted" and sig in m["error"]
    # the step's processes ended with it (SIGKILLed: on a loaded machine the kernel may
    # take a moment to schedule the death)
    wait_for(lambda: not alive(child), timeout=5, what="the step's process to end")


def test_a_chain_resumed_with_a_skipped_step_replays(project, fake_cli):
    from gert.engine import Options

    project.config("record: auto\n")
    project.write(
        "p.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: p, inputs: {token: {from: env.P_TOKEN, secret: true}}}
        steps:
          - {id: a, type: cli, with: {argv: [a, "{{ .token }}"]}}
          - {id: restart, type: cli, with: {argv: [restart]}}
          - {id: c, type: cli, with: {argv: [c]}, outcomes: [{state: resolved}]}
        """,
    )
    import os

    os.environ["P_TOKEN"] = "tok-123456789"
    try:
        assert gert("incident", "create", "I-7", "--title", "t", cwd=project.root).returncode == 0
        fake_cli.on("a", output("")).on("restart", interrupt).on("c", output(""))
        first = project.run("p.runbook.yaml", executors={"cli": fake_cli}, incident_id="I-7")
        with project.engine(executors={"cli": fake_cli}) as engine:
            chain = engine.resume(first.final.run_id, Options(skip_steps=("restart",)))
        assert chain.final_state == "resolved" and chain.scenario
        saved = load_file(project.root / chain.scenario / "scenario.yaml").data
        assert saved["incident_id"] == "I-7"
        # The saved chain replays offline: the skip is replayed, the secret comes from its source.
        replay = project.run(
            "p.runbook.yaml", mode="replay", scenario=project.root / chain.scenario
        )
        assert replay.final_state == "resolved"
        assert [s.status for s in replay.final.steps] == ["passed", "skipped", "passed"]
    finally:
        del os.environ["P_TOKEN"]


def test_a_run_gert_stopped_before_its_first_event_verifies_as_never_started(project):
    folder = project.root / ".runbook" / "runs" / "20261130T000000-0000abcd"
    folder.mkdir(parents=True)
    (folder / "trace.jsonl").write_bytes(b"")
    r = gert("trace", "verify", str(folder), cwd=project.root)
    assert r.returncode == 0, r.stdout
    assert "never started" in r.stdout


def test_resume_of_a_finished_parent_names_the_run_to_resume(project, fake_cli):
    from gert.engine import Options
    from gert.engine.recovery import ResumeRefused

    project.write(
        "t.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: t}
        steps: [{id: t, type: cli, with: {argv: [t]}, outcomes: [{state: needs_rca, next_runbook: {file: f}}]}]
        """,
    )
    project.write(
        "f.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: f}
        steps: [{id: x, type: cli, with: {argv: [x]}, outcomes: [{state: resolved}]}]
        """,
    )
    fake_cli.on("t", output("")).on("x", interrupt)
    chain = project.run("t.runbook.yaml", executors={"cli": fake_cli})
    parent, child = chain.runs
    with project.engine(executors={"cli": fake_cli}) as engine, pytest.raises(ResumeRefused) as e:
        engine.resume(parent.run_id, Options())
    assert f"its chain stopped in run {child.run_id} (f): gert resume {child.run_id}" in str(
        e.value
    )


def test_an_interrupt_while_a_step_process_starts_still_ends_it(project, fake_cli):
    """SIGTERM or Ctrl-C can land after the step's process exists but before its executor
    can stop it (inside Popen, before its wait): the run stops it all the same."""
    import subprocess

    from gert.executors.processes import become_subreaper
    from helpers import alive, wait_for

    started: list[int] = []

    def starts_then_interrupted(ctx):
        become_subreaper()
        proc = subprocess.Popen(["sleep", "60"], env=dict(ctx.env), start_new_session=True)
        started.append(proc.pid)
        raise KeyboardInterrupt("SIGTERM")  # as the signal handler raises it

    project.write(
        "w.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: w, kind: composable}
        steps:
          - {id: restart, type: cli, with: {argv: [sleep, "60"]}}
        """,
    )
    fake_cli.on("restart", starts_then_interrupted)
    run = project.run("w.runbook.yaml", executors={"cli": fake_cli}).final
    assert run.status == "interrupted" and "SIGTERM" in run.error
    assert started
    wait_for(lambda: not alive(started[0]), timeout=5, what="the step's process to end")
