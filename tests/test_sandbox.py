"""The optional bubblewrap sandbox of cli steps, with real bwrap and real commands: what a
sandboxed command may write, reach and leave behind; gert.yaml's default and requirement;
a clear error, and nothing run, without bwrap; validation of the sandbox fields."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from gert.engine import Options
from gert.executors import StepContext, StepError
from gert.executors.cli import CliExecutor
from gert.executors.sandbox import MISSING
from gert.problems import RunbookInvalid
from gert.store.trace import read_events
from gert.validate import load_runbook, validate_paths
from helpers import gert, wait_for

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap (bwrap) is not installed; scripts/setup.sh installs Debian's bubblewrap",
)


def _runbook(project, steps: str, name: str = "s") -> str:
    project.write(
        f"{name}.runbook.yaml",
        f"apiVersion: runbook/v0\nmeta: {{name: {name}, kind: composable}}\nsteps:\n" + steps,
    )
    return f"{name}.runbook.yaml"


def _request(run, n: int = 0) -> dict:
    """The request the step file recorded for the first attempt of step *n*."""
    record = json.loads((run.folder / run.steps[n].step_file).read_text(encoding="utf-8"))
    return record["attempts"][0]["request"]


def _processes_with(marker: str) -> list[int]:
    """Live processes whose command line holds *marker* (in any PID namespace)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "cmdline").read_bytes():
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state not in ("Z", "X"):
                    found.append(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return found


# ------------------------------------------------------------------ the file system


@needs_bwrap
def test_only_writable_paths_can_be_written(project):
    (project.root / "out").mkdir()
    outside = Path("/var/tmp") / f"gert-sandbox-{os.getpid()}"
    outside.mkdir(exist_ok=True)
    try:
        script = (
            "echo in > out/inside; "
            "echo x > canary; "
            f"echo x > {outside}/also; "
            "echo x > /tmp/private && cat /tmp/private; "
            "true"
        )
        rel = _runbook(
            project,
            f"  - {{id: w, type: cli, with: {{argv: [sh, -c, '{script}'], "
            f"sandbox: {{writable: [out, {outside}]}}}}, capture: {{err: stderr, o: stdout}}}}\n",
        )
        run = project.run(rel).final
        assert run.status == "completed", run.steps[0].error
        assert (project.root / "out" / "inside").read_text() == "in\n"
        assert (outside / "also").read_text() == "x\n"  # an absolute writable path
        assert not (project.root / "canary").exists()  # the project is read-only
        assert "canary: Read-only file system" in run.captures["err"]
        assert run.captures["o"] == "x"  # /tmp is the step's own...
        assert not Path("/tmp/private").exists()  # ...and gone afterwards
        sandbox = _request(run)["sandbox"]
        assert sandbox["writable"] == [str((project.root / "out").resolve()), str(outside)]
        assert sandbox["network"] is False and sandbox["bwrap"] == shutil.which("bwrap")
        assert _request(run)["argv"][0] == "sh"  # the step's argv, not bwrap's
    finally:
        shutil.rmtree(outside)


@needs_bwrap
def test_root_in_the_sandbox_cannot_remount_the_file_system_writable(project):
    rel = _runbook(
        project,
        "  - id: w\n    type: cli\n    with:\n      argv: [sh, -c, "
        '"mount -o remount,rw / ; mount -o remount,rw $PWD ; touch canary"]\n'
        "      sandbox: true\n    capture: {err: stderr}\n",
    )
    run = project.run(rel).final
    assert not (project.root / "canary").exists(), run.captures
    assert "Read-only file system" in run.captures["err"]


@needs_bwrap
def test_a_missing_writable_path_fails_the_step_naming_it(project):
    rel = _runbook(
        project,
        "  - {id: w, type: cli, with: {argv: [touch, canary], sandbox: {writable: [out/new]}}}\n",
    )
    run = project.run(rel).final
    assert run.status == "failed"
    assert "sandbox writable path 'out/new' does not exist" in run.steps[0].error
    assert not (project.root / "canary").exists()


@needs_bwrap
def test_a_writable_symlink_out_of_the_project_is_refused_at_run_time(project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (project.root / "link").symlink_to(elsewhere)
    rel = _runbook(project, "  - {id: w, type: cli, with: {argv: [touch, x], sandbox: {}}}\n")
    model = load_runbook(project.root / rel).model.steps[0]
    model.with_.sandbox.writable.append("link")  # past validation, which refuses it too
    with pytest.raises(StepError, match="sandbox writable path 'link' is outside the project"):
        CliExecutor().render(model, {}, project.root)


# ------------------------------------------------------------------ the network


class _Server:
    """A TCP server on 127.0.0.1 in the host's network namespace; counts connections."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@needs_bwrap
@pytest.mark.parametrize("network", [False, True])
def test_the_network_is_unreachable_unless_allowed(project, network):
    server = _Server()
    try:
        code = (
            "import socket; "
            f"socket.create_connection(('127.0.0.1', {server.port}), timeout=5); "
            "print('connected')"
        )
        rel = _runbook(
            project,
            f"  - id: net\n    type: cli\n    with:\n      argv: [{sys.executable}, -c, "
            f'"{code}"]\n      sandbox: {{network: {str(network).lower()}}}\n'
            "    capture: {o: stdout, err: stderr, code: exit_code}\n",
        )
        run = project.run(rel).final
        assert run.status == "completed", run.steps[0].error
        if network:
            assert run.captures["o"] == "connected"
            assert server.accepted == 1
        else:
            assert run.captures["code"] != "0"
            assert "ConnectionRefusedError" in run.captures["err"]
            assert server.accepted == 0
    finally:
        server.close()


# ------------------------------------------------------------------ processes


@needs_bwrap
def test_a_process_that_setsids_does_not_outlive_the_step(project):
    marker = "4711.0815"  # a sleep nobody else runs
    rel = _runbook(
        project,
        f'  - {{id: bg, type: cli, with: {{argv: [sh, -c, "setsid sleep {marker} & echo ok"], '
        "sandbox: true}, capture: {o: stdout}}\n",
    )
    run = project.run(rel).final
    assert run.captures["o"] == "ok"
    wait_for(lambda: not _processes_with(marker), timeout=5, what="the setsid sleep to end")


@needs_bwrap
def test_the_sandbox_alone_ends_a_setsid_process_on_timeout(project):
    """Straight through the executor, with no help from the engine: killing bwrap ends
    everything in the sandbox's process namespace."""
    marker = "4712.0815"
    ex = CliExecutor()
    ctx = StepContext(
        step=None,
        rendered={
            "argv": ["sh", "-c", f"setsid sleep {marker} & exec sleep 60"],
            "sandbox": {"writable": [], "network": False},
        },
        project_root=project.root,
        run_folder=project.root,
        env=dict(os.environ),
        timeout=0.5,
    )
    started = time.monotonic()
    out = ex.execute(ctx)
    assert out.timed_out and time.monotonic() - started < 10
    wait_for(lambda: not _processes_with(marker), timeout=5, what="the setsid sleep to end")


# ------------------------------------------------------------------ gert.yaml


@needs_bwrap
def test_the_project_default_applies_to_steps_that_set_none(project):
    project.config("record: off\nsandbox:\n  default: {writable: [out]}\n")
    (project.root / "out").mkdir()
    rel = _runbook(
        project,
        "  - {id: dflt, type: cli, with: {argv: [sh, -c, 'touch out/a canary1']}}\n"
        "  - {id: on, type: cli, with: {argv: [sh, -c, 'touch out/b canary2'], sandbox: true}}\n"
        "  - {id: own, type: cli, with: {argv: [touch, canary3], sandbox: {writable: [.]}}}\n"
        "  - {id: off, type: cli, with: {argv: [touch, canary4], sandbox: false}}\n",
    )
    run = project.run(rel).final
    assert (project.root / "out" / "a").exists() and (project.root / "out" / "b").exists()
    assert not (project.root / "canary1").exists() and not (project.root / "canary2").exists()
    assert (project.root / "canary3").exists()  # the step's own sandbox wins
    assert (project.root / "canary4").exists()  # and false runs it unsandboxed
    root = project.root.resolve()
    assert [_request(run, n).get("sandbox", {}).get("writable") for n in range(4)] == [
        [str(root / "out")],
        [str(root / "out")],
        [str(root)],
        None,
    ]


@needs_bwrap
def test_required_sandbox_refuses_sandbox_false_and_sandboxes_the_rest(project):
    project.config("record: off\nsandbox: {required: true}\n")
    rel = _runbook(project, "  - {id: off, type: cli, with: {argv: [touch, c1], sandbox: false}}\n")
    with pytest.raises(RunbookInvalid) as e:
        project.run(rel)
    [problem] = e.value.problems
    assert (problem.line, problem.field) == (4, "steps[0].with.sandbox")
    assert "sandbox: false is refused: gert.yaml sets sandbox.required" in problem.message
    # At run time too (the runbook was validated before gert.yaml changed).
    project.config("record: off\n")
    step = load_runbook(project.root / rel).model.steps[0]
    project.config("record: off\nsandbox: {required: true}\n")
    with pytest.raises(StepError, match="sandbox: false is refused"):
        CliExecutor().render(step, {}, project.root)
    # A step that sets none runs in the built-in sandbox: nothing writable, no network.
    rel = _runbook(
        project,
        "  - {id: none, type: cli, with: {argv: [touch, c2]}, capture: {err: stderr}}\n",
        name="t",
    )
    run = project.run(rel).final
    assert not (project.root / "c2").exists()
    assert "Read-only file system" in run.captures["err"]
    assert _request(run)["sandbox"]["writable"] == []


@pytest.mark.parametrize(
    ("config", "error"),
    [
        ("sandbox: {required: maybe}\n", "the sandbox settings in gert.yaml are invalid"),
        ("sandbox: {required: true\n", "gert.yaml cannot be read (invalid YAML"),
    ],
)
def test_unreadable_sandbox_settings_fail_closed(project, config, error):
    rel = _runbook(project, "  - {id: s, type: cli, with: {argv: [touch, canary]}}\n")
    with project.engine() as engine:  # gert.yaml was valid when the engine opened the project
        project.config("record: off\n" + config)
        run = engine.run(project.root / rel, Options()).final
    assert run.status == "failed"
    assert run.steps[0].error.startswith(error), run.steps[0].error
    assert not (project.root / "canary").exists()


# ------------------------------------------------------------------ without bwrap


def _path_without_bwrap(bin_dir: Path, *programs: str) -> str:
    """A PATH of one folder holding *programs* (links to the real ones), and no bwrap."""
    for name in programs:
        (bin_dir / name).symlink_to(shutil.which(name))
    return str(bin_dir)


def test_without_bwrap_the_step_fails_clearly_and_nothing_runs(
    project, tmp_path_factory, monkeypatch
):
    monkeypatch.setenv("PATH", _path_without_bwrap(tmp_path_factory.mktemp("bin"), "touch"))
    rel = _runbook(
        project,
        "  - {id: s, type: cli, with: {argv: [touch, canary], sandbox: true}}\n",
    )
    run = project.run(rel).final
    assert run.status == "failed"
    assert run.steps[0].error == MISSING
    assert not (project.root / "canary").exists()
    assert _request(run)["sandbox"] == {"writable": [], "network": False}


def test_without_bwrap_the_command_line_says_so_without_a_traceback(project, tmp_path_factory):
    rel = _runbook(project, "  - {id: s, type: cli, with: {argv: [touch, canary], sandbox: {}}}\n")
    path = _path_without_bwrap(tmp_path_factory.mktemp("bin"), "touch")
    ran = gert("exec", rel, cwd=project.root, env={**os.environ, "PATH": path})
    assert ran.returncode != 0
    assert "needs bubblewrap (Debian package bubblewrap); not found on PATH" in ran.stdout
    assert "Traceback" not in ran.stdout + ran.stderr
    assert not (project.root / "canary").exists()


def test_a_precondition_is_not_run_unsandboxed_either(project, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("PATH", _path_without_bwrap(tmp_path_factory.mktemp("bin"), "touch"))
    rel = _runbook(
        project,
        "  - id: pre\n    type: cli\n"
        "    precondition: {check: [touch, pre-canary], skip_if_succeeds: false}\n"
        "    with: {argv: [touch, canary], sandbox: true}\n",
    )
    run = project.run(rel).final
    assert run.steps[0].status == "failed" and run.steps[0].error == MISSING
    assert not (project.root / "pre-canary").exists()
    assert not (project.root / "canary").exists()


# ------------------------------------------------------------------ the rest


@needs_bwrap
def test_a_command_missing_inside_the_sandbox_is_a_step_error(project):
    rel = _runbook(project, "  - {id: s, type: cli, with: {argv: [no-such-cmd-x], sandbox: {}}}\n")
    run = project.run(rel).final
    assert run.steps[0].error == "command not found: no-such-cmd-x"


@needs_bwrap
def test_governance_checks_the_step_command_not_bwrap(project):
    project.config("record: off\ngovernance: {denied_commands: [rm]}\n")
    (project.root / "canary").write_text("alive")
    rel = _runbook(
        project, "  - {id: s, type: cli, with: {argv: [rm, canary], sandbox: {writable: [.]}}}\n"
    )
    run = project.run(rel).final
    assert "blocked by governance" in run.steps[0].error
    assert (project.root / "canary").exists()


def test_a_dry_run_shows_the_sandbox(project):
    (project.root / "out").mkdir()
    rel = _runbook(
        project,
        "  - {id: s, type: cli, with: {argv: [touch, canary], sandbox: {writable: [out]}}}\n",
    )
    run = project.run(rel, mode="dry-run").final
    [completed] = [
        e for e in read_events(run.folder / "trace.jsonl") if e["type"] == "step_completed"
    ]
    assert completed["data"]["would_run"]["sandbox"] == {"writable": ["out"], "network": False}
    assert not (project.root / "canary").exists()


def test_validation_names_file_line_and_field(project):
    project.config(
        """
        record: off
        sandbox:
          default: {writable: [../up], network: false}
          required: true
        """
    )
    _runbook(
        project,
        """\
  - id: a
    type: cli
    with:
      argv: [ls]
      sandbox:
        writable: [out, ../../etc, /var/tmp]
  - id: b
    type: cli
    with: {argv: [ls], sandbox: false}
""",
        name="paths",
    )
    _runbook(
        project,
        """\
  - id: c
    type: cli
    with:
      argv: [ls]
      sandbox:
        writable: ["{{ .dir }}"]
        netwrk: true
""",
        name="schema",
    )
    report = validate_paths([project.root])
    got = sorted((Path(p.file).name, p.line, p.field, p.message) for p in report.errors)
    assert got == [
        ("gert.yaml", 3, "sandbox.default.writable[0]", "sandbox writable path '../up' is outside the project"),
        ("paths.runbook.yaml", 9, "steps[0].with.sandbox.writable[1]", "sandbox writable path '../../etc' is outside the project"),
        ("paths.runbook.yaml", 12, "steps[1].with.sandbox", "sandbox: false is refused: gert.yaml sets sandbox.required"),
        ("schema.runbook.yaml", 9, "steps[0].with.sandbox.writable[0]", "a sandbox path is not a template: a value from an incident would choose what the command may write; write the path itself"),
        ("schema.runbook.yaml", 10, "steps[0].with.sandbox.netwrk", "unknown field 'netwrk'"),
    ]  # fmt: skip


@needs_bwrap
def test_a_program_from_a_virtualenv_under_tmp_runs_in_the_sandbox(project, tmp_path):
    # The sandbox's /tmp is its own; a program installed there (a virtualenv, a fresh
    # clone's tools) is bound back, read-only.
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(f"home = {Path(sys.base_prefix) / 'bin'}\n")
    (venv / "bin" / "python").symlink_to(Path(sys.base_prefix) / "bin" / "python3")
    assert str(venv).startswith("/tmp/")
    rel = _runbook(
        project,
        f"  - id: py\n    type: cli\n    with:\n      argv: [{venv / 'bin' / 'python'}, -c, "
        '"print(40 + 2)"]\n      sandbox: true\n    capture: {o: stdout}\n',
    )
    run = project.run(rel).final
    assert run.status == "completed", run.steps[0].error
    assert run.captures["o"] == "42"
