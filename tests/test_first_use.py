"""Trust at first use: what a new user meets when running runbooks (dry-runs, references,
Ctrl-C, resume, answers files, incidents, captures)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gert.store.trace import read_events
from helpers import gert, interrupt

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
    project.config("record: auto\n")
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


# ------------------------------------------------------------------ 2. not evidence


def test_dry_runs_and_replays_are_not_incident_evidence(project):
    project.config("record: auto\n")
    project.write(
        "t.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: t}
        steps:
          - {id: s, type: cli, with: {argv: [echo, "real work"]}, capture: {o: stdout}, outcomes: [{state: resolved}]}
        """,
    )
    assert gert("incident", "create", "E1", "--title", "t", cwd=project.root).returncode == 0
    real = json.loads(
        gert("exec", "t.runbook.yaml", "--incident", "E1", "--json", cwd=project.root).stdout
    )
    assert real["posted"]
    dry = gert(
        "exec",
        "t.runbook.yaml",
        "--incident",
        "E1",
        "--mode",
        "dry-run",
        "--json",
        cwd=project.root,
    )
    assert json.loads(dry.stdout)["posted"] == {}
    replay = gert(
        "exec",
        "t.runbook.yaml",
        "--incident",
        "E1",
        "--mode",
        "replay",
        "--scenario",
        real["scenario"],
        "--json",
        cwd=project.root,
    )
    assert replay.returncode == 0, replay.stderr
    show = gert("incident", "show", "E1", cwd=project.root).stdout
    assert show.count("[gert]") == 1  # one post: the real run's
    assert "1 run in 1 chain (2 dry-run or replay run(s) not shown: --all)" in show
    everything = gert("incident", "show", "E1", "--all", cwd=project.root).stdout
    assert "(dry-run)" in everything and "(replay)" in everything
    listed = gert("runs", "list", cwd=project.root).stdout
    assert "MODE" in listed.splitlines()[0]
    assert {"real", "dry-run", "replay"} <= {line.split()[4] for line in listed.splitlines()[1:]}
    pm = gert("postmortem", "E1", "--no-input", cwd=project.root)
    assert pm.returncode == 0, pm.stderr
    text = (project.root / pm.stdout.strip().split()[-1]).read_text()
    assert real["runs"][0]["run_id"] in text
    others = [json.loads(out.stdout)["runs"][0]["run_id"] for out in (dry, replay)]
    assert not any(o in text for o in others)  # what did not happen is not in it


# ------------------------------------------------------------------ 4. Ctrl-C at a prompt

MANUAL = """
apiVersion: runbook/v0
meta: {name: m}
steps:
  - {id: first, type: cli, with: {argv: [echo, one]}}
  - id: confirm
    type: manual
    instructions: Look at the dashboard.
    required_evidence: [{kind: text, name: link}]
    outcomes: [{state: resolved}]
"""


@pytest.mark.slow
@pytest.mark.parametrize("answer_with", ["ctrl-c", "ctrl-d"])
def test_ctrl_c_at_a_prompt_is_aninterruption_that_resumes(project, answer_with):
    import sys

    from gert.store import RunFolder
    from test_terminal import Terminal

    project.write("m.runbook.yaml", MANUAL)
    term = Terminal([sys.executable, "-m", "gert.cli", "exec", "m.runbook.yaml"], project.root)
    term.expect("link: ")
    if answer_with == "ctrl-c":  # what the terminal sends its foreground process on ^C
        import signal
        import time

        time.sleep(0.3)  # it waits at the prompt

        term.proc.send_signal(signal.SIGINT)
    else:
        term.type("\x04")
    term.expect("gert resume ")
    assert term.wait() == 130
    [folder] = (project.root / ".runbook" / "runs").iterdir()
    run = RunFolder(folder)
    m = run.read_manifest()
    assert m["status"] == "interrupted" and "Abort" not in (m.get("error") or "")
    assert f"interrupted: go on with: gert resume {run.run_id}" in term.screen
    project.write("answers.yaml", "confirm: {link: https://dash/1}\n")
    r = gert("resume", run.run_id, "--evidence", "answers.yaml", "--json", cwd=project.root)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["final_state"] == "resolved"


# ------------------------------------------------------------------ 5. resume keeps options


def test_resume_keeps_the_runs_options_and_posts_once(project, fake_cli):
    from gert.engine import Options

    project.config("record: auto\n")
    project.write(
        "p.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: p}
        steps:
          - {id: a, type: cli, with: {argv: [a]}}
          - {id: b, type: cli, idempotent: true, with: {argv: [b]}, outcomes: [{state: resolved}]}
        """,
    )
    assert gert("incident", "create", "K1", "--title", "t", cwd=project.root).returncode == 0

    from helpers import output

    fake_cli.on("a", output("")).on("b", interrupt)
    quiet = project.run(
        "p.runbook.yaml", executors={"cli": fake_cli}, incident_id="K1", post=False, record=False
    )
    assert quiet.final.status == "interrupted" and not quiet.posted and not quiet.scenario
    fake_cli.on("b", output(""))
    with project.engine(executors={"cli": fake_cli}) as engine:
        chain = engine.resume(quiet.final.run_id, Options())
    assert chain.final_state == "resolved"
    assert not chain.posted and chain.scenario is None  # as the run was started
    timeline = gert("incident", "show", "K1", cwd=project.root).stdout
    assert "[gert]" not in timeline

    # An interrupted chain that posts is posted once, when it ends.
    fake_cli.on("b", interrupt)
    loud = project.run("p.runbook.yaml", executors={"cli": fake_cli}, incident_id="K1")
    assert loud.final.status == "interrupted" and not loud.posted
    fake_cli.on("b", output(""))
    with project.engine(executors={"cli": fake_cli}) as engine:
        chain = engine.resume(loud.final.run_id, Options())
    assert chain.posted and chain.scenario == loud.scenario
    timeline = gert("incident", "show", "K1", cwd=project.root).stdout
    assert timeline.count("[gert]") == 1


def test_gert_test_update_never_writes_a_test_for_a_half_chain(project, fake_cli):
    project.config("record: auto\n")
    project.write(
        "p.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: p}
        steps:
          - {id: a, type: cli, with: {argv: [a]}}
          - {id: b, type: cli, with: {argv: [b]}, outcomes: [{state: resolved}]}
        """,
    )

    from helpers import output

    fake_cli.on("a", output("")).on("b", interrupt)
    half = project.run("p.runbook.yaml", executors={"cli": fake_cli})
    assert half.scenario
    r = gert("test", "--update", cwd=project.root)
    assert "interrupted" in r.stdout + r.stderr
    assert not (project.root / half.scenario / "test.yaml").exists()


# ------------------------------------------------------------------ 6. evidence later


def test_a_run_stopped_for_missing_evidence_resumes_with_it(project):
    project.write("m.runbook.yaml", MANUAL)
    r = gert("exec", "m.runbook.yaml", cwd=project.root)
    assert r.returncode == 4  # waiting for an answer, not failed
    [folder] = (project.root / ".runbook" / "runs").iterdir()
    assert (
        f"waiting for an answer: give it and go on with: gert resume {folder.name} --evidence FILE"
        in r.stderr
    )
    listed = json.loads(gert("runs", "list", "--json", cwd=project.root).stdout)
    assert listed[0]["status"] == "waiting"
    project.write("answers.yaml", "confirm: {link: https://dash/1}\n")
    r = gert("resume", folder.name, "--evidence", "answers.yaml", "--json", cwd=project.root)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["final_state"] == "resolved"
    steps = [(s["step_id"], s["status"]) for s in out["runs"][0]["steps"]]
    assert steps[0] == ("first", "passed") and steps[-1] == ("confirm", "passed")
    from gert.store import RunFolder, verify_trace

    run = RunFolder(folder)
    assert verify_trace(run.trace_path, manifest=run.read_manifest()).ok


# ------------------------------------------------------------------ 6. answers up front

CHECKED = """
apiVersion: runbook/v0
meta: {name: c}
steps:
  - {id: work, type: cli, with: {argv: [sh, -c, 'echo ran >> ran.txt']}}
  - id: confirm_dashboard
    type: manual
    instructions: Look.
    required_evidence:
      - {kind: checklist, name: checks, items: [graphs green, alerts quiet]}
    choices: {variable: action, options: [{value: restart}, {value: wait}]}
    outcomes: [{state: resolved}, {state: escalated}]
"""


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ("confirm_dashbord: {checks: [graphs green]}", "did you mean 'confirm_dashboard'?"),
        ("confirm_dashboard: {check: [graphs green]}", "did you mean 'checks'?"),
        ("confirm_dashboard: {checks: [graphs gren]}", "did you mean 'graphs green'?"),
        ("confirm_dashboard: {choice: restrat}", "did you mean 'restart'?"),
        ("confirm_dashboard: {outcome: resolve}", "did you mean 'resolved'?"),
    ],
)
def test_an_answers_file_is_checked_before_anything_runs(project, answers, expected):
    project.write("c.runbook.yaml", CHECKED)
    project.write("answers.yaml", answers + "\n")
    r = gert("exec", "c.runbook.yaml", "--evidence", "answers.yaml", cwd=project.root)
    assert r.returncode == 2, r.stdout + r.stderr
    assert expected in r.stderr and "nothing was run" in r.stderr and "Traceback" not in r.stderr
    assert not (project.root / "ran.txt").exists()


def test_answers_for_the_chain_and_invoked_steps_pass_the_check(project):
    project.write(
        "c.runbook.yaml",
        CHECKED.replace(
            "outcomes: [{state: resolved}, {state: escalated}]",
            "outcomes: [{state: needs_rca, next_runbook: {file: child}}]",
        ),
    )
    project.write(
        "child.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: child}
        steps:
          - {id: sub, type: invoke, invoke: {runbook: lib}}
          - {id: done, type: manual, instructions: ok, outcomes: [{state: resolved}]}
        """,
    )
    project.write(
        "lib.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: lib, kind: composable}
        steps: [{id: ask, type: manual, instructions: note it, required_evidence: [{kind: text, name: note}]}]
        """,
    )
    project.write(
        "answers.yaml",
        "confirm_dashboard: {checks: [graphs green], choice: wait}\nsub/ask: {note: seen}\ndone: {}\n",
    )
    r = gert("exec", "c.runbook.yaml", "--evidence", "answers.yaml", "--json", cwd=project.root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["final_state"] == "resolved"


def test_a_missing_checklist_names_its_items(project):
    project.write("c.runbook.yaml", CHECKED)
    r = gert("exec", "c.runbook.yaml", cwd=project.root)
    assert "checks: [ticked items, of: graphs green, alerts quiet]" in r.stdout + r.stderr


# ------------------------------------------------------------------ 7. --incident


def test_an_unknown_local_incident_is_opened_on_first_use(project):
    project.write(
        "t.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: t}
        steps: [{id: s, type: cli, with: {argv: [echo, hi]}, outcomes: [{state: resolved}]}]
        """,
    )
    r = gert("exec", "t.runbook.yaml", "--incident", "INC-9", cwd=project.root)
    assert r.returncode == 0, r.stderr
    assert "incident INC-9 is new: opened it (local provider)" in r.stderr
    shown = gert("incident", "show", "INC-9", cwd=project.root).stdout
    assert "opened by gert exec" in shown and "[gert]" in shown


# ------------------------------------------------------------------ 8. captures


def test_stdout_captures_drop_the_newline_that_ends_the_output(project):
    project.write(
        "c.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: c, kind: composable}
        steps:
          - {id: host, type: cli, with: {argv: [echo, vm]}, capture: {host: stdout}}
          - {id: blank, type: cli, with: {argv: [printf, 'a\\n\\n']}, capture: {two: stdout}}
          - {id: none, type: cli, with: {argv: [printf, 'b']}, capture: {bare: stdout}}
          - {id: err, type: cli, with: {argv: [sh, -c, 'echo oops >&2']}, capture: {e: stderr}}
        """,
    )
    run = project.run("c.runbook.yaml").final
    assert run.captures == {"host": "vm", "two": "a\n", "bare": "b", "e": "oops"}


# ------------------------------------------------------------------ 14. where things are


def test_read_only_commands_outside_a_project_write_nothing(tmp_path):
    empty = tmp_path / "nowhere"
    empty.mkdir()
    for args in (["runs", "list"], ["incident", "list"], ["runs", "list", "--json"]):
        gert(*args, cwd=empty)
    assert list(empty.iterdir()) == []


def test_dash_c_runs_in_the_project_and_paths_are_shown_from_here(tmp_path):
    ex = _copy(ROOT / "examples", tmp_path / "examples")
    r = gert("-C", str(ex), "runbooks", cwd=tmp_path)
    assert r.returncode == 0 and "login-success-rate-below-target" in r.stdout
    r = gert(
        "exec",
        "examples/runbooks/web-health.runbook.yaml",
        "--mode",
        "dry-run",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "evidence examples/.runbook/runs/" in r.stdout  # from here, not from the project
    r = gert("-C", "examples", "runs", "list", cwd=tmp_path)
    assert r.returncode == 0 and "web-health" in r.stdout


# ------------------------------------------------------------------ walk findings


def test_a_var_that_names_no_input_is_an_error(project):
    project.write(
        "v.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: v, kind: composable, inputs: {host: {default: a}}}
        steps: [{id: s, type: cli, with: {argv: [sh, -c, 'echo ran > ran.txt']}}]
        """,
    )
    r = gert("exec", "v.runbook.yaml", "--var", "hots=db1", cwd=project.root)
    assert r.returncode == 2 and "hots (did you mean 'host'?)" in r.stderr
    assert not (project.root / "ran.txt").exists()


@pytest.mark.slow
def test_ctrl_c_at_an_input_prompt_exits_130(project):
    import signal
    import sys
    import time

    from test_terminal import Terminal

    project.write(
        "p.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: p, kind: composable, inputs: {host: {from: prompt, description: Which host?}}}
        steps: [{id: s, type: cli, with: {argv: [echo, "{{ .host }}"]}}]
        """,
    )
    term = Terminal([sys.executable, "-m", "gert.cli", "exec", "p.runbook.yaml"], project.root)
    term.expect("Which host?")
    time.sleep(0.3)
    term.proc.send_signal(signal.SIGINT)
    term.expect("interrupted")
    assert term.wait() == 130 and "Aborted!" not in term.screen


def test_a_failed_precondition_check_counts_as_a_failed_step(project):
    project.config("record: 'off'\ngovernance: {denied_commands: [rm]}\n")
    project.write(
        "g.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: g, kind: composable}
        steps:
          - {id: s, type: cli, precondition: {check: [rm, -f, x]}, with: {argv: [echo]}}
        """,
    )
    run = project.run("g.runbook.yaml").final
    assert run.status == "failed" and run.summary == {
        "total": 1,
        "passed": 0,
        "failed": 1,
        "skipped": 0,
    }


def test_the_post_counts_skipped_steps():
    from gert.incident.posting import _steps

    assert _steps({"passed": 2, "failed": 0, "skipped": 1}) == "2 steps passed, 1 skipped"


def test_a_precondition_check_is_in_the_evidence(project):
    project.write(
        "p.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: p, kind: composable}
        steps:
          - {id: skipped, type: cli, precondition: {check: ["true"], skip_if_succeeds: true}, with: {argv: [echo, a]}}
          - {id: ran, type: cli, precondition: {check: ["false"], skip_if_succeeds: true}, with: {argv: [echo, b]}}
        """,
    )
    run = project.run("p.runbook.yaml").final
    events = read_events(run.folder / "trace.jsonl")
    [skip] = [e["data"] for e in events if e["type"] == "step_skipped"]
    assert skip["precondition"] == {"argv": ["true"]}
    record = json.loads(next((run.folder / "steps").glob("*-ran.json")).read_text())
    assert record["precondition"] == {"argv": ["false"], "result": "the step ran"}


# ------------------------------------------------------------------ second walk


def test_a_step_timeout_that_is_no_duration_is_refused(project):
    project.config("step_timeout: 5 minutes\n")
    project.write(
        "t.runbook.yaml",
        "apiVersion: runbook/v0\nmeta: {name: t, kind: composable}\nsteps: [{id: s, type: cli, with: {argv: [echo]}}]\n",
    )
    for args in (["validate", "gert.yaml"], ["exec", "t.runbook.yaml"]):
        r = gert(*args, cwd=project.root)
        assert r.returncode == 2 and "'5 minutes' is not a duration" in r.stdout + r.stderr, args
    project.config("step_timeout: 0\n")
    assert "longer than 0" in gert("validate", "gert.yaml", cwd=project.root).stdout


def test_validate_warns_of_a_command_governance_will_refuse(project):
    project.config("governance: {denied_commands: [rm]}\n")
    project.write(
        "t.runbook.yaml",
        "apiVersion: runbook/v0\nmeta: {name: t, kind: composable}\nsteps: [{id: s, type: cli, with: {argv: [sh, -c, 'echo hi']}}]\n",
    )
    r = gert("validate", "t.runbook.yaml", cwd=project.root)
    assert (
        "warning: steps[0].with.argv: governance will refuse this command: 'sh' with inline code"
        in r.stdout
    )


def test_validate_warns_of_a_literal_write_query(project):
    project.write(
        "q.runbook.yaml",
        "apiVersion: runbook/v0\nmeta: {name: q, kind: composable}\nsteps:\n"
        "  - {id: q, type: tool, tool: {name: sql, action: query, args: {url: 'sqlite:///x.db', query: 'DELETE FROM errors'}}}\n",
    )
    r = gert("validate", "q.runbook.yaml", cwd=project.root)
    assert (
        "warning: steps[0].tool.args.query: refused" in r.stdout
        and "DELETE is not a read" in r.stdout
    )


def test_var_of_a_constant_is_refused(project):
    project.write(
        "v.runbook.yaml",
        "apiVersion: runbook/v0\nmeta: {name: v, kind: composable, vars: {db_url: 'sqlite:///a.db'}}\nsteps: [{id: s, type: cli, with: {argv: [echo]}}]\n",
    )
    r = gert("exec", "v.runbook.yaml", "--var", "db_url=x", cwd=project.root)
    assert r.returncode == 2 and "db_url is a constant of the runbook (meta.vars)" in r.stderr


def test_verify_of_a_run_that_does_not_exist(project):
    r = gert("trace", "verify", "20261130T085154-9dfe4c0", cwd=project.root)
    assert r.returncode == 2 and "no run 20261130T085154-9dfe4c0" in r.stderr
    assert "TAMPERED" not in r.stdout


def test_runs_list_refuses_a_date_it_cannot_read(project):
    r = gert("runs", "list", "--since", "yesterday", cwd=project.root)
    assert r.returncode == 2 and "is not a date" in r.stderr


def test_a_missing_attachment_stops_the_run_before_it_starts(project):
    project.write(
        "a.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: a, kind: composable}
        steps:
          - {id: first, type: cli, with: {argv: [sh, -c, 'echo ran > ran.txt']}}
          - {id: shot, type: manual, instructions: attach, required_evidence: [{kind: attachment, name: screenshot}]}
        """,
    )
    project.write("answers.yaml", "shot: {screenshot: shots/missing.png}\n")
    r = gert("exec", "a.runbook.yaml", "--evidence", "answers.yaml", cwd=project.root)
    assert r.returncode == 2 and "screenshot: no file at" in r.stderr
    assert not (project.root / "ran.txt").exists()


def test_a_new_incident_is_not_kept_when_the_run_refuses_to_start(project):
    project.write(
        "n.runbook.yaml",
        "apiVersion: runbook/v0\nmeta: {name: n, kind: composable, inputs: {x: {from: prompt}}}\nsteps: [{id: s, type: cli, with: {argv: [echo]}}]\n",
    )
    r = gert("exec", "n.runbook.yaml", "--incident", "NEW-2", cwd=project.root)
    assert r.returncode == 2 and "not kept" in r.stderr
    assert "NEW-2" not in gert("incident", "list", cwd=project.root).stdout


def test_a_dry_run_shows_what_would_run_and_takes_the_answers(project):
    project.write(
        "d.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: d}
        steps:
          - {id: look, type: cli, with: {argv: [df, -h, /]}}
          - id: pick
            type: manual
            instructions: Decide what to do.
            choices: {variable: action, options: [{value: drain}, {value: docs}]}
            outcomes: [{state: resolved, when: 'action == "docs"'}, {state: escalated}]
        """,
    )
    project.write("answers.yaml", "pick: {choice: docs}\n")
    r = gert(
        "exec",
        "d.runbook.yaml",
        "--mode",
        "dry-run",
        "--evidence",
        "answers.yaml",
        cwd=project.root,
    )
    assert r.returncode == 0, r.stderr
    assert "would run: df -h /" in r.stdout
    assert "would run: Decide what to do.  (choice: docs (from the answers))" in r.stdout
    assert "outcome resolved" in r.stdout


def test_resuming_a_manual_step_with_nobody_to_ask_is_refused_up_front(project, fake_cli):
    from gert.engine import Options
    from gert.engine.recovery import ResumeRefused

    project.write("m.runbook.yaml", MANUAL)

    class Interrupting:
        def show(self, *a):
            pass

        def ask_text(self, *a, **k):
            raise KeyboardInterrupt

    first = project.run("m.runbook.yaml", prompter=Interrupting()).final
    assert first.status == "interrupted"
    with project.engine() as engine, pytest.raises(ResumeRefused, match="nobody can be asked here"):
        engine.resume(first.run_id, Options())
    assert first.folder.joinpath("run.yaml").read_text().count("status: interrupted") == 1


def test_a_dry_run_shows_the_command_a_manual_step_shows(project):
    project.write(
        "m.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: m, kind: composable}
        steps:
          - id: delete_pod
            type: manual
            instructions: |
              Delete the stuck pod:

              ```
              kubectl -n checkout delete pod api-0
              ```
        """,
    )
    r = gert("exec", "m.runbook.yaml", "--mode", "dry-run", cwd=project.root)
    assert "(shows: kubectl -n checkout delete pod api-0)" in r.stdout, r.stdout


def test_runs_list_suggests_a_filter_it_knows(project):
    project.write(
        "r.runbook.yaml",
        "apiVersion: runbook/v0\nmeta: {name: checkout-errors}\nsteps: [{id: s, type: cli, with: {argv: [echo]}, outcomes: [{state: resolved}]}]\n",
    )
    assert gert("exec", "r.runbook.yaml", cwd=project.root).returncode == 0
    r = gert("runs", "list", "--outcome", "resolvd", cwd=project.root)
    assert "did you mean 'resolved'?" in r.stderr
    r = gert("runs", "list", "--runbook", "chekout-errors", cwd=project.root)
    assert "did you mean 'checkout-errors'?" in r.stderr
