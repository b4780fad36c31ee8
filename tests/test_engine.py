"""The engine with real parts: real subprocesses, real files, real SQLite."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from gert.engine import InputsMissing
from gert.store import RunFolder, verify_trace
from gert.store.trace import read_events
from helpers import alive, output, wait_for


def manifest(run):  # type: ignore[no-untyped-def]
    return RunFolder(run.folder).read_manifest()


def events(run, type_=None):  # type: ignore[no-untyped-def]
    evs = read_events(run.folder / "trace.jsonl")
    return [e for e in evs if type_ is None or e["type"] == type_]


# ------------------------------------------------------------------ walk


def test_captures_outcome_and_evidence_files(project):
    project.write(
        "a.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: a, inputs: {who: {from: prompt, default: world}}}
        tree:
          - step:
              id: greet
              type: cli
              with: {argv: [sh, -c, 'echo "hello {{ .who }}"; echo n=7']}
              capture: {n: {from: stdout, pattern: 'n=(\\d+)'}, out: stdout, code: exit_code}
              assertions: [{exit_code: 0}, {contains: hello}]
              outcomes:
                - when: n > 5
                  state: resolved
                  recommendation: n was {{ .n }}
        """,
    )
    chain = project.run("a.runbook.yaml")
    run = chain.final
    assert (chain.exit_code, run.status, run.state) == (0, "completed", "resolved")
    assert run.captures == {"n": "7", "out": "hello world\nn=7", "code": "0"}
    assert run.outcome == {"state": "resolved", "step_id": "greet", "recommendation": "n was 7"}
    m = manifest(run)
    assert m["steps_summary"] == {"total": 1, "passed": 1, "failed": 0, "skipped": 0}
    assert m["inputs_resolved"] == {"who": "world"} and m["status"] == "completed"
    step = json.loads((run.folder / "steps" / "001-greet.json").read_text())
    assert step["attempts"][0]["request"]["argv"][2].startswith('echo "hello world"')
    assert step["attempts"][0]["exit_code"] == 0
    assert [a["passed"] for a in step["assertions"]] == [True, True]
    assert [e["type"] for e in events(run)] == [
        "run_started",
        "inputs_resolved",
        "step_started",
        "step_completed",
        "outcome_reached",
        "run_completed",
    ]
    assert verify_trace(run.folder / "trace.jsonl", manifest=m).ok


def test_branches_when_precondition_and_completed(project):
    project.write(
        "b.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: b, kind: composable}
        steps:
          - id: look
            type: cli
            with: {argv: [echo, "40613"]}
            capture: {code: stdout}
            branches:
              - condition: code == "99999"
                steps: [{id: wrong, type: cli, with: {argv: [echo, wrong]}}]
              - condition: code contains "406"
                steps: [{id: right, type: cli, with: {argv: [echo, right]}}]
              - condition: "true"
                steps: [{id: never, type: cli, with: {argv: [echo, never]}}]
          - id: skipped_by_when
            type: cli
            when: code == "1"
            with: {argv: [echo]}
          - id: skipped_by_precondition
            type: cli
            precondition: {check: ["true"], message: already done}
            with: {argv: [echo]}
          - id: last
            type: cli
            with: {argv: [echo, done]}
        """,
    )
    run = project.run("b.runbook.yaml").final
    statuses = [(s.step_id, s.status) for s in run.steps]
    assert statuses == [
        ("look", "passed"),
        ("right", "passed"),
        ("skipped_by_when", "skipped"),
        ("skipped_by_precondition", "skipped"),
        ("last", "passed"),
    ]
    assert run.state == "completed" and run.outcome is None
    assert [s.reason for s in run.steps if s.status == "skipped"][1] == "already done"


def test_step_failure_ends_run_unless_continue_on_fail_and_retry(project, tmp_path):
    counter = tmp_path / "count"
    project.write(
        "c.runbook.yaml",
        f"""
        apiVersion: runbook/v0
        meta: {{name: c, kind: composable}}
        steps:
          - id: flaky
            type: cli
            retry: {{attempts: 3, delay: 10ms}}
            with: {{argv: [sh, -c, 'echo x >> {counter}; [ $(wc -l < {counter}) -ge 2 ]']}}
            assertions: [{{exit_code: 0}}]
          - id: broken
            type: cli
            continue_on_fail: true
            with: {{argv: [sh, -c, 'exit 4']}}
            assertions: [{{exit_code: 0, message: must exit cleanly}}]
          - id: fatal
            type: cli
            with: {{argv: [definitely-not-a-command-xyz]}}
          - id: after
            type: cli
            with: {{argv: [echo]}}
        """,
    )
    chain = project.run("c.runbook.yaml")
    run = chain.final
    assert [(s.step_id, s.status) for s in run.steps] == [
        ("flaky", "passed"),
        ("broken", "failed"),
        ("fatal", "failed"),
    ]
    assert run.status == "failed" and chain.exit_code == 1
    assert "command not found: definitely-not-a-command-xyz" in run.error
    flaky = json.loads((run.folder / "steps" / "001-flaky.json").read_text())
    assert len(flaky["attempts"]) == 2
    broken = json.loads((run.folder / "steps" / "002-broken.json").read_text())
    assert broken["assertions"][0] == {
        "check": "exit_code",
        "expected": 0,
        "actual": 4,
        "passed": False,
        "message": "must exit cleanly",
    }
    assert manifest(run)["status"] == "failed"


@pytest.mark.slow
def test_timeout_kills_the_process_group(project, tmp_path):
    pidfile = tmp_path / "child.pid"
    project.write(
        "t.runbook.yaml",
        f"""
        apiVersion: runbook/v0
        meta: {{name: t, kind: composable}}
        steps:
          - id: hang
            type: cli
            timeout: 500ms
            with: {{argv: [sh, -c, 'sleep 60 & echo $! > {pidfile}; wait']}}
        """,
    )
    start = time.monotonic()
    run = project.run("t.runbook.yaml").final
    assert time.monotonic() - start < 10
    assert run.status == "failed" and "timed out after 0.5s" in run.steps[0].error
    child = int(pidfile.read_text())
    # the background grandchild died with its group (long before its `sleep 60` ends)
    wait_for(lambda: not alive(child), timeout=10, what=f"process {child} to die")


@pytest.mark.slow
def test_flooding_output_is_capped_but_recorded(project):
    project.write(
        "f.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: f, kind: composable}
        steps:
          - {id: flood, type: cli, with: {argv: [sh, -c, 'head -c 20000000 /dev/zero | tr "\\0" x']}}
        """,
    )
    run = project.run("f.runbook.yaml").final
    step = json.loads((run.folder / "steps" / "001-flood.json").read_text())
    assert step["status"] == "passed"
    assert len(step["attempts"][0]["stdout"]) == 16 * 1024 * 1024
    assert step["attempts"][0]["truncated"] == {"stdout": 20000000 - 16 * 1024 * 1024}
    completed = events(run, "step_completed")[0]
    assert len(completed["data"]["stdout"]) < 5000  # the trace keeps an excerpt


def test_captured_shell_metacharacters_stay_one_argument(project, tmp_path):
    marker = tmp_path / "pwned"
    project.write(
        "m.runbook.yaml",
        f"""
        apiVersion: runbook/v0
        meta: {{name: m, kind: composable}}
        steps:
          - id: evil
            type: cli
            with: {{argv: [echo, '; touch {marker} && $(touch {marker}) `touch {marker}`']}}
            capture: {{payload: stdout}}
          - id: use
            type: cli
            with: {{argv: [printf, '%s', '{{{{ .payload }}}}']}}
            capture: {{echoed: stdout}}
        """,
    )
    run = project.run("m.runbook.yaml").final
    assert run.status == "completed"
    assert run.captures["echoed"].startswith("; touch")
    assert not marker.exists()


def test_missing_inputs_are_listed_together(project):
    project.write(
        "i.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta:
          name: i
          kind: composable
          inputs:
            server: {from: incident.custom_fields.ServerName}
            token: {from: env.GERT_TEST_UNSET_VAR}
            ok: {from: prompt, default: fine}
        steps: [{id: s, type: cli, with: {argv: [echo, "{{ .server }}{{ .token }}{{ .ok }}"]}}]
        """,
    )
    with pytest.raises(InputsMissing) as info:
        project.run("i.runbook.yaml")
    assert set(info.value.missing) == {"server", "token"}
    assert "no --incident was given" in info.value.missing["server"]
    assert "GERT_TEST_UNSET_VAR" in info.value.missing["token"]
    assert not (project.root / ".runbook" / "runs").exists()  # nothing ran
    chain = project.run("i.runbook.yaml", variables={"server": "db1", "token": "t0k"})
    assert chain.final.status == "completed"


def test_inputs_from_incident_with_pattern(project):
    from gert.incident.local import LocalProvider

    LocalProvider(project.root / ".runbook" / "incidents").create(
        "42",
        "Alert! LoginFailureCause: Throttled now",
        custom_fields={"ServerName": "sql9"},
        location={"instance": "eu1"},
    )
    project.write(
        "p.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta:
          name: p
          kind: composable
          inputs:
            server: {from: incident.custom_fields.ServerName}
            env: {from: incident.location.instance}
            cause: {from: incident.title, pattern: 'LoginFailureCause:\\s*(\\w+)', default: Unknown}
            title: {from: incident.title}
        steps: [{id: s, type: cli, with: {argv: [echo, "{{ .server }} {{ .env }} {{ .cause }}"]}, capture: {o: stdout}}]
        """,
    )
    run = project.run("p.runbook.yaml", incident_id="42").final
    assert run.captures["o"] == "sql9 eu1 Throttled"
    assert manifest(run)["icm_id"] == "42"


# ------------------------------------------------------------------ manual


MANUAL = """
    apiVersion: runbook/v0
    meta: {name: man}
    steps:
      - id: ask
        type: manual
        instructions: Look at {{ .x }}.
        required_evidence:
          - {kind: text, name: link}
          - {kind: checklist, name: checks, items: [one, two]}
          - {kind: attachment, name: shot}
        choices: {variable: pick, options: [{value: restart}, {value: wait}]}
        approvals: {min: 2}
        capture: {link_value: evidence.link}
        outcomes:
          - {when: pick == "wait", state: escalated}
          - {state: resolved, recommendation: "{{ .pick }} by the book"}
          - {state: needs_rca}
"""


def test_manual_step_from_answers(project):
    project.write("man.runbook.yaml", MANUAL.replace("{{ .x }}", "the dashboard"))
    (project.root / "shot.png").write_bytes(b"\x89PNG fake image")
    answers = {
        "ask": {
            "link": "https://dash/1",
            "checks": ["one"],
            "shot": "shot.png",
            "choice": "restart",
            "approved_by": ["ana", "bo"],
            "outcome": "resolved",
        }
    }
    run = project.run("man.runbook.yaml", answers=answers).final
    assert run.state == "resolved" and run.outcome["recommendation"] == "restart by the book"
    assert run.captures == {"link_value": "https://dash/1", "pick": "restart"}
    ev = events(run, "evidence_recorded")[0]["data"]
    assert ev["evidence"]["checks"]["items"] == {"one": True, "two": False}
    shot = ev["evidence"]["shot"]
    assert shot["size"] == 15 and len(shot["sha256"]) == 64
    assert (run.folder / shot["stored"]).read_bytes() == b"\x89PNG fake image"
    assert ev["approved_by"] == ["ana", "bo"]


def test_manual_step_without_answers_says_what_is_needed(project):
    project.write("man.runbook.yaml", MANUAL.replace("{{ .x }}", "it"))
    chain = project.run("man.runbook.yaml", answers={"ask": {"link": "l", "approved_by": ["ana"]}})
    run = chain.final
    # nobody here can answer: the run waits (exit 4) rather than fail, and says so in its trace
    assert run.status == "waiting" and chain.exit_code == 4
    assert run.error.startswith("step 'ask' is waiting: ")
    waits = [e for e in read_events(run.folder / "trace.jsonl") if e["type"] == "run_waiting"]
    assert len(waits) == 1 and waits[0]["data"]["step_id"] == "ask"
    err = run.steps[0].error
    for needed in (
        "checklist 'checks'",
        "attachment 'shot'",
        "a choice (choice: one of restart, wait)",
        "--evidence FILE under 'ask:'",
    ):
        assert needed in err, needed
    (project.root / "s.png").write_bytes(b"x")
    answers = {
        "ask": {
            "link": "l",
            "checks": [],
            "shot": "s.png",
            "choice": "wait",
            "approved_by": ["ana", "ana"],
        }
    }
    run = project.run("man.runbook.yaml", answers=answers).final
    assert "step 'ask' needs 2 approval(s), got 1" in run.steps[0].error  # one person approves once
    assert [e["type"] for e in events(run) if e["type"].startswith("approval")] == [
        "approval_requested"
    ]


def test_tool_action_requiring_approval_waits_and_dry_run_never_approves(project, tmp_path):
    marker = tmp_path / "restarted"
    project.write(
        "tools/svc.tool.yaml",
        f"""
        apiVersion: tool/v0
        meta: {{name: svc}}
        actions:
          restart:
            argv: [touch, "{marker}"]
            governance: {{requires_approval: true, approval_min: 2}}
        """,
    )
    project.write(
        "a.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: a, kind: composable}
        tools: {svc: tools/svc.tool.yaml}
        steps: [{id: restart, type: tool, tool: {name: svc, action: restart}}]
        """,
    )
    run = project.run("a.runbook.yaml").final
    assert (
        run.status == "waiting"
        and "needs 2 approval(s)" in run.steps[0].error
        and not marker.exists()
    )
    run = project.run(
        "a.runbook.yaml", mode="dry-run", answers={"restart": {"approved_by": ["x", "y"]}}
    ).final
    assert not marker.exists() and not [e for e in events(run) if e["type"] == "approval_granted"]
    run = project.run("a.runbook.yaml", answers={"restart": {"approved_by": ["ana", "bo"]}}).final
    assert run.status == "completed" and marker.exists()
    granted = [e["data"] for e in events(run) if e["type"] == "approval_granted"]
    assert granted == [{"step_id": "restart", "approved_by": ["ana", "bo"]}]


# ------------------------------------------------------------------ governance, redaction


def test_denied_and_unlisted_commands_are_blocked_before_running(project, tmp_path):
    marker = tmp_path / "ran"
    project.config("governance: {denied_commands: [touch]}\n")
    project.write(
        "g.runbook.yaml",
        f"""
        apiVersion: runbook/v0
        meta:
          name: g
          kind: composable
          governance: {{allowed_commands: [echo, touch]}}
        steps:
          - {{id: denied, type: cli, continue_on_fail: true, with: {{argv: [touch, '{marker}']}}}}
          - {{id: unlisted, type: cli, with: {{argv: [sh, -c, 'touch {marker}']}}}}
        """,
    )
    run = project.run("g.runbook.yaml").final
    assert not marker.exists()
    blocked = events(run, "governance_blocked")
    assert [b["data"]["step_id"] for b in blocked] == ["denied", "unlisted"]
    assert "'touch' is in denied_commands" in blocked[0]["data"]["reason"]
    assert "'sh' is not in allowed_commands" in blocked[1]["data"]["reason"]
    assert run.status == "failed"


def test_deny_env_vars_keep_variables_from_children(project, monkeypatch):
    monkeypatch.setenv("APP_SECRET", "s3cr3t-value")
    monkeypatch.setenv("APP_NAME", "visible")
    project.write(
        "e.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: e, kind: composable, governance: {deny_env_vars: ['*_SECRET']}}
        steps: [{id: env, type: cli, with: {argv: [env]}, capture: {out: stdout}}]
        """,
    )
    out = project.run("e.runbook.yaml").final.captures["out"]
    assert "APP_NAME=visible" in out and "APP_SECRET" not in out


def test_secrets_never_reach_any_file(project, monkeypatch):
    monkeypatch.setenv("DB_TOKEN", "tok-9f8e7d6c5b")
    project.config("redact: [{pattern: 'sk-[a-z0-9]{10}', replace: 'sk-***'}]\n")
    project.write(
        "s.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta:
          name: s
          kind: composable
          inputs: {token: {from: env.DB_TOKEN, secret: true}}
          governance: {redact: [{pattern: 'hunter\\d', replace: '[pw]'}]}
        steps:
          - id: leak
            type: cli
            with: {argv: [sh, -c, 'echo token={{ .token }} key=sk-abcdefghij pw=hunter2 Password=p4ss; echo {{ .token }} >&2']}
            capture: {all: stdout}
        """,
    )
    run = project.run("s.runbook.yaml").final
    assert run.status == "completed"
    written = project.files_text()
    for secret in ("tok-9f8e7d6c5b", "sk-abcdefghij", "hunter2", "p4ss"):
        assert secret not in written, secret
    assert "sk-***" in written and "[pw]" in written


# ------------------------------------------------------------------ dry-run


def test_dry_run_executes_nothing(project, tmp_path):
    marker = tmp_path / "created"
    project.write(
        "d.runbook.yaml",
        f"""
        apiVersion: runbook/v0
        meta: {{name: d, kind: composable, inputs: {{x: {{from: prompt, default: v}}}}}}
        steps:
          - {{id: make, type: cli, with: {{argv: [touch, '{marker}']}}, capture: {{out: stdout}}}}
          - {{id: ask, type: manual, instructions: "Check {{{{ .x }}}}", required_evidence: [{{kind: text, name: n}}]}}
        """,
    )
    run = project.run("d.runbook.yaml", mode="dry-run").final
    assert not marker.exists()
    assert run.status == "completed" and run.captures == {"out": "<dry-run>"}
    assert not (run.folder / "steps").exists()  # nothing executed, so no step files
    completed = events(run, "step_completed")[0]["data"]
    assert completed["would_run"] == {"dry_run": True, "argv": ["touch", str(marker)], "env": {}}
    assert manifest(run)["mode"] == "dry-run"


# ------------------------------------------------------------------ sql


def test_sql_tool_envelope_and_empty_result(project):
    db = sqlite3.connect(project.root / "data.db")
    db.executescript(
        "CREATE TABLE f (server TEXT, error TEXT); INSERT INTO f VALUES ('a', '40613'), ('a', '18456');"
    )
    db.commit()
    db.close()
    project.write(
        "q.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: q, kind: composable, inputs: {server: {from: prompt}}}
        steps:
          - id: count
            type: tool
            tool: {name: sql, action: query, args: {url: "sqlite:///data.db", query: "SELECT error FROM f WHERE server = :s ORDER BY error", params: {s: "{{ .server }}"}}}
            capture: {n: row_count, first: "$.data[0].error", all: "$.data[*].error"}
        """,
    )
    run = project.run("q.runbook.yaml", variables={"server": "a"}).final
    assert run.captures == {"n": "2", "first": "18456", "all": "18456\n40613"}
    run = project.run("q.runbook.yaml", variables={"server": "zz"}).final
    assert run.status == "completed" and run.captures == {"n": "0", "first": "", "all": ""}


def test_sql_errors_and_paths_outside_the_project(project):
    project.write(
        "q.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: q, kind: composable}
        steps:
          - {id: bad, type: tool, continue_on_fail: true, tool: {name: sql, action: query, args: {url: "sqlite:///missing.db", query: "select 1"}}}
          - {id: outside, type: tool, tool: {name: sql, action: query, args: {url: "sqlite:///../../etc/x.db", query: "select 1"}}}
        """,
    )
    run = project.run("q.runbook.yaml").final
    assert "no SQLite database" in run.steps[0].error
    assert "outside the project" in run.steps[1].error


# ------------------------------------------------------------------ invoke


def test_invoke_runs_inline_with_gate_and_capture_mapping(project):
    project.write(
        "lib/sub.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: sub, kind: composable, inputs: {target: {from: parent}}}
        steps:
          - {id: probe, type: cli, with: {argv: [echo, "probe-{{ .target }}"]}, capture: {result: stdout}}
          - id: judge
            type: cli
            with: {argv: [echo]}
            outcomes: [{when: 'target == "bad"', state: escalated, recommendation: "{{ .target }} is bad"}]
        """,
    )
    project.write(
        "parent.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: parent, kind: composable, inputs: {t: {from: prompt}}}
        imports: {sub: lib/sub}
        steps:
          - id: call
            type: invoke
            invoke: {runbook: sub, inputs: {target: "{{ .t }}"}}
            gate: {stop_if: [escalated]}
            capture: {got: result}
          - {id: after, type: cli, with: {argv: [echo, "got {{ .got }}"]}, capture: {said: stdout}}
        """,
    )
    run = project.run("parent.runbook.yaml", variables={"t": "good"}).final
    assert run.status == "completed" and run.captures["said"] == "got probe-good"
    assert [s.step_id for s in run.steps] == ["call/probe", "call/judge", "call", "after"]
    run = project.run("parent.runbook.yaml", variables={"t": "bad"}).final
    assert run.state == "escalated" and run.outcome["recommendation"] == "bad is bad"
    assert "after" not in [s.step_id for s in run.steps]


@pytest.mark.slow
def test_sql_tool_against_real_postgresql(project, postgres_url):
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS login_failures")
        conn.execute(
            "CREATE TABLE login_failures (server text, error text, ts timestamptz, pct numeric)"
        )
        conn.execute(
            "INSERT INTO login_failures VALUES ('a', '40613', '2026-02-14T09:57:53Z', 12.5),"
            " ('a', '18456', '2026-02-14T09:58:00Z', 50), ('b', '1', now(), 1)"
        )
    project.write(
        "pg.runbook.yaml",
        f"""
        apiVersion: runbook/v0
        meta: {{name: pg, kind: composable, vars: {{db: "{postgres_url}"}}}}
        steps:
          - id: q
            type: tool
            tool:
              name: sql
              action: query
              args:
                url: "{{{{ .db }}}}"
                query: "SELECT error, ts, pct, error::int AS code FROM login_failures WHERE server = :s AND error LIKE '%4%' ORDER BY ts"
                params: {{s: a}}
            capture: {{n: row_count, first: "$.data[0].error", ts: "$.data[0].ts", pct: "$.data[1].pct", code: "$.data[0].code"}}
          - id: write_refused
            type: tool
            tool: {{name: sql, action: query, args: {{url: "{{{{ .db }}}}", query: "DELETE FROM login_failures"}}}}
        """,
    )
    run = project.run("pg.runbook.yaml").final
    assert run.captures == {
        "n": "2",
        "first": "40613",
        "ts": "2026-02-14 09:57:53+00:00",
        "pct": "50",
        "code": "40613",
    }
    assert run.status == "failed" and "read-only transaction" in run.steps[1].error
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM login_failures").fetchone()[0] == 3
    step = json.loads((run.folder / "steps" / "001-q.json").read_text())
    assert step["attempts"][0]["request"]["url"].startswith(
        "127.0.0.1:"
    )  # no credentials in evidence


# ------------------------------------------------------------------ a scripted cli executor
# The engine's side of a step (rendering, captures, assertions, retries, outcomes, records)
# against an executor that starts no process and answers what the test scripts.


def test_scripted_output_is_captured_and_chooses_the_outcome(project, fake_cli):
    project.write(
        "s.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: s, kind: composable, inputs: {ns: {from: prompt}}}
        steps:
          - id: pods
            type: cli
            with: {argv: [kubectl, get, pods, -n, "{{ .ns }}"]}
            capture: {n: {from: stdout, pattern: 'ready=(\\d+)'}, out: stdout, code: exit_code}
            assertions: [{exit_code: 0}, {contains: ready}]
            outcomes:
              - {when: n < 3, state: escalated, recommendation: "only {{ .n }} ready in {{ .ns }}"}
              - {state: resolved}
        """,
    )
    fake_cli.on("pods", output("ready=2 of 5\n"))
    chain = project.run("s.runbook.yaml", executors={"cli": fake_cli}, variables={"ns": "prod"})
    run = chain.final
    assert fake_cli.argvs() == [["kubectl", "get", "pods", "-n", "prod"]]  # no kubectl needed
    assert run.captures == {"n": "2", "out": "ready=2 of 5", "code": "0"}
    assert run.state == "escalated" and run.outcome["recommendation"] == "only 2 ready in prod"
    step = json.loads((run.folder / "steps" / "001-pods.json").read_text())
    assert step["attempts"][0]["request"] == {"argv": ["kubectl", "get", "pods", "-n", "prod"]}
    assert [a["passed"] for a in step["assertions"]] == [True, True]
    assert verify_trace(run.folder / "trace.jsonl", manifest=manifest(run)).ok


def test_scripted_failures_fail_the_step_and_stop_the_run(project, fake_cli):
    project.write(
        "f.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: f, kind: composable}
        steps:
          - id: check
            type: cli
            continue_on_fail: true
            with: {argv: [check-db]}
            assertions: [{exit_code: 0, message: the database must answer}]
          - {id: missing, type: cli, with: {argv: [no-such-tool]}}
          - {id: never, type: cli, with: {argv: [echo]}}
        """,
    )
    fake_cli.on("check", output("", exit_code=4, stderr="connection refused\n"))
    fake_cli.on("missing", output(exit_code=None, error="command not found: no-such-tool"))
    chain = project.run("f.runbook.yaml", executors={"cli": fake_cli})
    run = chain.final
    assert [(s.step_id, s.status) for s in run.steps] == [
        ("check", "failed"),
        ("missing", "failed"),
    ]
    assert [c.step.id for c in fake_cli.calls] == ["check", "missing"]  # `never` never ran
    assert run.status == "failed" and chain.exit_code == 1
    assert "command not found: no-such-tool" in run.error
    check = json.loads((run.folder / "steps" / "001-check.json").read_text())
    assert check["assertions"][0] == {
        "check": "exit_code",
        "expected": 0,
        "actual": 4,
        "passed": False,
        "message": "the database must answer",
    }
    assert check["attempts"][0]["stderr"] == "connection refused\n"
    assert manifest(run)["steps_summary"] == {"total": 2, "passed": 0, "failed": 2, "skipped": 0}


def test_retries_are_counted_and_each_attempt_recorded(project, fake_cli):
    project.write(
        "r.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: r, kind: composable}
        steps:
          - id: flaky
            type: cli
            retry: {attempts: 3, delay: 1ms}
            with: {argv: [probe]}
            capture: {said: stdout}
            assertions: [{exit_code: 0}]
          - id: dead
            type: cli
            retry: {attempts: 2}
            with: {argv: [probe, again]}
            assertions: [{exit_code: 0}]
        """,
    )
    fake_cli.on("flaky", output("no\n", exit_code=1), output("no\n", exit_code=1), output("ok\n"))
    fake_cli.on("dead", output("down\n", exit_code=2))  # the last answer repeats
    run = project.run("r.runbook.yaml", executors={"cli": fake_cli}).final
    assert [c.step.id for c in fake_cli.calls] == ["flaky"] * 3 + ["dead"] * 2
    assert run.captures == {"said": "ok"}  # from the attempt that passed
    flaky = json.loads((run.folder / "steps" / "001-flaky.json").read_text())
    assert [(a["attempt"], a["exit_code"]) for a in flaky["attempts"]] == [(1, 1), (2, 1), (3, 0)]
    assert flaky["status"] == "passed"
    dead = json.loads((run.folder / "steps" / "002-dead.json").read_text())
    assert len(dead["attempts"]) == 2 and dead["status"] == "failed"
    completed = [e["data"] for e in events(run, "step_completed")]
    assert [c.get("attempts") for c in completed] == [3, 2]
    assert run.status == "failed"


def test_the_executor_gets_the_rendered_step(project, fake_cli, monkeypatch):
    monkeypatch.setenv("FAKE_SECRET_TOKEN", "t0k3n-value")
    project.write("sub/.keep", "")
    project.write(
        "e.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta:
          name: e
          kind: composable
          inputs: {host: {from: prompt}, token: {from: prompt, secret: true}}
          governance: {deny_env_vars: ['FAKE_SECRET_*']}
        steps:
          - {id: first, type: cli, with: {argv: [resolve, "{{ .host }}"]}, capture: {ip: stdout}}
          - id: second
            type: cli
            timeout: 7s
            with:
              argv: [ping, -c, "1", "{{ .ip }}", "{{ .token }}"]
              env: {TARGET: "{{ .host }}"}
              cwd: sub
              stdin: "host={{ .host }}"
        """,
    )
    fake_cli.on("first", output("10.0.0.7"))
    fake_cli.on("second", lambda ctx: output(f"{len(ctx.rendered['argv'])} args"))
    run = project.run(
        "e.runbook.yaml",
        executors={"cli": fake_cli},
        variables={"host": "db1", "token": "t0k3n-value"},
    ).final
    assert run.status == "completed"
    assert fake_cli.argvs() == [["resolve", "db1"], ["ping", "-c", "1", "10.0.0.7", "t0k3n-value"]]
    ctx = fake_cli.calls[1]
    assert ctx.rendered["env"] == {"TARGET": "db1"} and ctx.rendered["cwd"] == "sub"
    assert ctx.rendered["stdin"] == "host=db1" and ctx.timeout == 7
    assert ctx.project_root == project.root and ctx.run_folder == run.folder
    assert "FAKE_SECRET_TOKEN" not in ctx.env  # the governance policy is applied first
    assert run.captures == {"ip": "10.0.0.7"}
    assert "t0k3n-value" not in project.files_text()  # the request is redacted when recorded


def test_blocked_commands_never_reach_the_executor(project, fake_cli):
    project.write(
        "g.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: g, kind: composable, governance: {denied_commands: [rm]}}
        steps:
          - {id: wipe, type: cli, continue_on_fail: true, with: {argv: [rm, -rf, /data]}}
          - {id: look, type: cli, with: {argv: [ls, /data]}}
        """,
    )
    fake_cli.on("look", output("x\n"))
    run = project.run("g.runbook.yaml", executors={"cli": fake_cli}).final
    assert fake_cli.argvs() == [["ls", "/data"]]
    assert [(s.step_id, s.status) for s in run.steps] == [("wipe", "failed"), ("look", "passed")]
    assert "'rm' is in denied_commands" in events(run, "governance_blocked")[0]["data"]["reason"]


def test_a_nul_byte_in_a_capture_fails_the_step_that_uses_it(project):
    # A NUL can be captured (it is data) but cannot reach a command: the step that would
    # pass it fails with a reason, and the run is recorded as failed, not as an error.
    project.write(
        "n.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: n, kind: composable}
        steps:
          - {id: make, type: cli, with: {argv: [printf, 'a\\000b']}, capture: {v: stdout}}
          - {id: use, type: cli, with: {argv: [echo, "{{ .v }}"]}}
        """,
    )
    run = project.run("n.runbook.yaml").final
    assert run.status == "failed"
    assert [s.status for s in run.steps] == ["passed", "failed"]
    assert "argument 1 contains a NUL byte" in run.steps[1].error
    assert (run.folder / "steps" / "002-use.json").is_file()


def test_the_sql_tool_runs_reads_only(project):
    import sqlite3

    db = project.root / "data.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (v TEXT)")
        conn.execute("INSERT INTO t VALUES ('kept')")
    queries = {
        "delete": "DELETE FROM t",
        "two": "SELECT 1; DELETE FROM t",
        "cte": "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
        "attach": "ATTACH DATABASE 'other.db' AS o",
        "pragma": "PRAGMA writable_schema = 1",
    }
    steps = "\n".join(
        f"  - {{id: {k}, type: tool, continue_on_fail: true, tool: {{name: sql, action: query,"
        f' args: {{url: "sqlite:///data.db", query: "{q}"}}}}}}'
        for k, q in queries.items()
    )
    project.write(
        "r.runbook.yaml",
        "apiVersion: runbook/v0\nmeta: {name: r, kind: composable}\nsteps:\n"
        + steps
        + '\n  - {id: read, type: tool, tool: {name: sql, action: query, args: {url: "sqlite:///data.db", query: "SELECT v FROM t"}}, capture: {v: "$.data[0].v"}}\n',
    )
    run = project.run("r.runbook.yaml").final
    by_id = {s.step_id: s for s in run.steps}
    for k in queries:
        assert by_id[k].status == "failed", k
        assert "refused: the sql tool runs reads only" in by_id[k].error, (k, by_id[k].error)
    assert run.captures["v"] == "kept"
    assert not (project.root / "other.db").exists()


@pytest.mark.slow
def test_postgresql_queries_cannot_write_even_past_the_parser(postgres_url):
    from pathlib import Path

    import psycopg

    from gert.executors.sql import _postgres, run_query

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS ro_t")
        conn.execute("CREATE TABLE ro_t (v text)")
    attack = (
        "DO $$ BEGIN PERFORM set_config('default_transaction_read_only','off',false); "
        "COMMIT; INSERT INTO ro_t VALUES ('written by a read-only runbook query'); END $$"
    )
    refused = run_query(postgres_url, attack, {}, Path("."))
    assert refused["success"] is False and "DO is not a read" in refused["message"]
    # Even when a statement gets past the parser, the explicit read-only transaction holds.
    for statement in (
        attack,
        "INSERT INTO ro_t VALUES ('x')",
        "SELECT set_config('a.b', '1', false)",
    ):
        _postgres(postgres_url, statement, {}, 5)
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM ro_t").fetchone()[0] == 0
        conn.execute("DROP TABLE ro_t")
        conn.commit()


def test_cli_steps_get_the_project_default_timeout_and_leave_nothing_behind(project):
    # No timeout on the step or the runbook: gert.yaml's step_timeout applies. A background
    # child left in the step's process group dies with the step.
    project.config("record: off\nstep_timeout: 1s\n")
    project.write(
        "t.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: t, kind: composable}
        steps:
          - {id: leaves, type: cli, with: {argv: [sh, -c, "sleep 30 & echo $! > bg.pid"]}}
          - {id: hangs, type: cli, continue_on_fail: true, with: {argv: [sleep, "30"]}}
        """,
    )
    import os
    import time

    started = time.monotonic()
    run = project.run("t.runbook.yaml").final
    assert time.monotonic() - started < 10
    hangs = next(s for s in run.steps if s.step_id == "hangs")
    assert "timed out after 1s" in hangs.error
    pid = int((project.root / "bg.pid").read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        with open(f"/proc/{pid}/stat") as f:  # a zombie counts as gone
            if f.read().split(") ")[-1].startswith("Z"):
                break
        time.sleep(0.05)
    else:
        raise AssertionError("the background child outlived its step")


def test_resume_never_feeds_a_redacted_capture_to_a_later_step(project, fake_cli):
    # A capture holding a secret is redacted in the trace; after an interruption, resume
    # must not run the next steps with "***" in its place.
    from gert.engine import Options

    project.write(
        "r.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: r, kind: composable, inputs: {token: {from: prompt, secret: true}}}
        steps:
          - {id: login, type: cli, with: {argv: [login]}, capture: {run: stdout}}
          - {id: pause, type: cli, with: {argv: [pause]}}
          - {id: use, type: cli, with: {argv: [write, "{{ .run }}"]}}
        """,
    )

    def interrupt(ctx):
        raise KeyboardInterrupt

    fake_cli.on("login", output("RealToken12345"))
    fake_cli.on("pause", interrupt)
    first = project.run(
        "r.runbook.yaml", executors={"cli": fake_cli}, variables={"token": "RealToken12345"}
    ).final
    assert first.status == "interrupted"
    fake_cli.on("pause", output(""))
    with project.engine(executors={"cli": fake_cli}) as engine:
        chain = engine.resume(
            first.run_id,
            Options(variables={"token": "RealToken12345"}, retry_steps=("pause",)),
        )
    run = chain.runs[0]
    use = next(s for s in run.steps if s.step_id == "use")
    assert use.status == "failed"
    assert "held a secret, which the trace keeps redacted" in use.error
    assert ["write", "***"] not in fake_cli.argvs("use")
