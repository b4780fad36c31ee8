"""Governance that holds: attempts to run a denied command in disguise, each against a canary
file and real commands. A blocked attempt fails its step and leaves the file."""

from __future__ import annotations

import shutil

import pytest

DENIED = "governance: {denied_commands: [rm, curl, sh, bash]}\n"
ATTEMPTS = {
    "plain": "[rm, canary]",
    "absolute": "[/bin/rm, canary]",
    "dotted": "[/bin/./rm, canary]",
    "env_wrapper": "[env, rm, canary]",
    "env_assign": "[env, X=1, rm, canary]",
    "dash_c": '[dash, -c, "rm canary"]',
    "bash_c": '[bash, -c, "rm canary"]',
    "sh_path_c": '[/usr/bin/sh, -c, "rm canary"]',
    "unlink": "[unlink, canary]",
    "shred": "[shred, -u, canary]",
    "symlink": "[bin/myrm, canary]",
    "copy": "[bin/rm2, canary]",
    "python_c": "[python3, -c, \"import os; os.remove('canary')\"]",
    "find_delete": "[find, canary, -delete]",
    "find_exec": "[find, canary, -exec, rm, '{}', ';']",
    "timeout": "[timeout, '5', rm, canary]",
    "nice": "[nice, rm, canary]",
    "nice_n": "[nice, -n, '5', rm, canary]",
    "xargs": "[xargs, -a, list.txt, rm]",
    "busybox": "[busybox, rm, canary]",
    # wrappers with options, and wrappers of wrappers
    "env_i_path": "[env, -i, /usr/bin/rm, canary]",
    "env_split_string": '[env, -S, "rm canary"]',
    "setsid_options": "[setsid, -f, -w, rm, canary]",
    "find_exec_env": "[find, canary, -exec, env, -i, /usr/bin/rm, '{}', ';']",
    "flock_wrapper": "[flock, lockfile, rm, canary]",
    "prlimit": "[prlimit, --nofile=100, rm, canary]",
    "runuser": "[runuser, -u, root, --, rm, canary]",
    "chroot": "[chroot, /, rm, '{root}/canary']",
    "loader": "['{loader}', /usr/bin/rm, canary]",
    # code handed to an interpreter in another spelling
    "sh_ec": '[sh, -ec, "rm canary"]',
    "python_joined": "[python3, \"-cimport os;os.remove('canary')\"]",
    "perl_ne": "[perl, -ne, \"unlink 'canary'\", list.txt]",
    "mawk": "[mawk, 'BEGIN{system(\"rm canary\")}']",
    "sed_e": "[sed, -n, '1e rm canary', list.txt]",
    "flock_c": '[flock, lockfile, -c, "rm canary"]',
    "script_c": '[script, -qc, "rm canary", /dev/null]',
    "su_c": '[su, root, -c, "rm canary"]',
    "watch": '[watch, -n1, "rm -f canary"]',
    "git_alias": "[git, -c, 'alias.x=!rm canary', x]",
    "make": "[make, -f, Makefile]",
}
LOADER = next(iter(sorted(__import__("glob").glob("/lib*/ld-linux*.so*"))), "/lib64/ld-linux.so")
STDIN_CODE = ["[sh]", "[sh, -s]", "[bash, /dev/stdin]", "[python3, -]", "[perl]"]


def _project(project, steps: str, config: str) -> None:
    project.config("record: off\n" + config)
    bin_dir = project.root / "bin"
    bin_dir.mkdir()
    (bin_dir / "myrm").symlink_to(shutil.which("rm"))
    shutil.copy(shutil.which("rm"), bin_dir / "rm2")
    (project.root / "list.txt").write_text("canary\n")
    (project.root / "Makefile").write_text("all:\n\trm canary\n")
    project.write(
        "gov.runbook.yaml",
        "apiVersion: runbook/v0\nmeta: {name: gov, kind: composable}\nsteps:\n" + steps,
    )


@pytest.mark.parametrize("name", sorted(ATTEMPTS))
def test_a_denied_command_cannot_run_in_disguise(project, name):
    if name == "busybox" and not shutil.which("busybox"):
        pytest.skip("busybox is not installed")
    argv = ATTEMPTS[name].replace("{root}", str(project.root)).replace("{loader}", LOADER)
    step = f"  - {{id: try, type: cli, timeout: 5s, with: {{argv: {argv}}}}}\n"
    _project(project, step, DENIED)
    (project.root / "canary").write_text("alive")
    run = project.run("gov.runbook.yaml").final
    assert (project.root / "canary").exists(), f"{name}: the canary was deleted"
    assert run.status == "failed"
    assert "blocked by governance" in run.steps[0].error, run.steps[0].error


def test_the_allow_list_allows_only_the_real_program(project):
    steps = (
        "  - {id: real, type: cli, with: {argv: [echo, ok]}, capture: {o: stdout}}\n"
        "  - {id: impostor, type: cli, continue_on_fail: true, with: {argv: [evil/echo, canary]}}\n"
    )
    _project(project, steps, "governance: {allowed_commands: [echo]}\n")
    (project.root / "evil").mkdir()
    shutil.copy(shutil.which("rm"), project.root / "evil" / "echo")
    (project.root / "canary").write_text("alive")
    run = project.run("gov.runbook.yaml").final
    assert run.captures["o"] == "ok"
    assert (project.root / "canary").exists()
    assert "is not the 'echo' that allowed_commands allows" in run.steps[1].error


@pytest.mark.parametrize("var", ["PATH", "LD_PRELOAD", "PYTHONPATH", "BASH_ENV"])
def test_step_env_may_not_choose_the_program(project, var):
    steps = f"  - {{id: s, type: cli, with: {{argv: [ls], env: {{{var}: ./fakebin}}}}}}\n"
    _project(project, steps, "")
    run = project.run("gov.runbook.yaml").final
    assert run.status == "failed"
    assert f"env may not set {var}" in run.steps[0].error


def test_deny_env_vars_hides_variables_from_inputs_too(project, monkeypatch):
    monkeypatch.setenv("DB_SECRET", "hunter2-value")
    project.config("record: off\ngovernance: {deny_env_vars: ['*_SECRET']}\n")
    project.write(
        "leak.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: leak, kind: composable, inputs: {k: {from: env.DB_SECRET}}}
        steps:
          - {id: s, type: cli, with: {argv: [echo, "{{ .k }}"]}}
        """,
    )
    from gert.engine import InputsMissing

    with pytest.raises(InputsMissing, match="DB_SECRET is in deny_env_vars"):
        project.run("leak.runbook.yaml")
    assert "hunter2-value" not in project.files_text()


@pytest.mark.parametrize("argv", STDIN_CODE)
def test_code_on_stdin_is_inline_code(project, argv):
    step = f"  - {{id: try, type: cli, timeout: 5s, with: {{argv: {argv}, stdin: 'rm canary'}}}}\n"
    _project(
        project,
        step.replace("'rm canary'", "\"import os; os.remove('canary')\"")
        if "python" in argv
        else step,
        DENIED,
    )
    (project.root / "canary").write_text("alive")
    run = project.run("gov.runbook.yaml").final
    assert (project.root / "canary").exists(), f"{argv}: the canary was deleted"
    assert "blocked by governance" in run.steps[0].error, run.steps[0].error


def test_scripts_and_plain_interpreter_use_still_run(project):
    steps = (
        "  - {id: script, type: cli, with: {argv: [python3, check.py]}, capture: {o: stdout}}\n"
        "  - {id: awkless, type: cli, with: {argv: [sed, -n, 1p, list.txt]}, capture: {p: stdout}}\n"
    )
    _project(project, steps, DENIED)
    (project.root / "check.py").write_text("print('fine')\n")
    run = project.run("gov.runbook.yaml").final
    assert run.captures == {"o": "fine", "p": "canary"}, run.steps
