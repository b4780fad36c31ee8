"""Scenarios: real chains saved, then replayed offline."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from pathlib import Path

import pytest

from gert.scenario import ScenarioError, load_scenario, shift_timestamps
from gert.store import RunFolder
from gert.store.trace import read_events
from helpers import gert


@pytest.fixture
def chained(project, tmp_path, monkeypatch):
    """A three-level chain: SQLite query -> subprocess with a secret and timestamps -> manual."""
    monkeypatch.setenv("SVC_TOKEN", "tok-abcdef123456")
    project.config("record: auto\n")
    db = sqlite3.connect(project.root / "data.db")
    db.executescript(
        "CREATE TABLE f (err TEXT); INSERT INTO f VALUES ('40613'), ('40613'), ('18456');"
    )
    db.commit()
    db.close()
    marker = tmp_path / "side-effects"
    project.write(
        "triage.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: triage, inputs: {server: {from: prompt}}}
        steps:
          - id: count
            type: tool
            tool: {name: sql, action: query, args: {url: "sqlite:///data.db", query: "SELECT err FROM f"}}
            capture: {n: row_count, top: "$.data[0].err"}
            outcomes:
              - when: n > 0
                state: needs_rca
                next_runbook: {file: "causes/{{ .top }}", inputs: {server: "{{ .server }}"}}
        """,
    )
    project.write(
        "causes/40613.runbook.yaml",
        f"""
        apiVersion: runbook/v0
        meta:
          name: unavailable
          inputs: {{server: {{from: parent}}, token: {{from: env.SVC_TOKEN, secret: true}}}}
        steps:
          - id: probe
            type: cli
            retry: {{attempts: 2}}
            with: {{argv: [sh, -c, 'echo x >> {marker}; echo "at 2026-02-14T09:57:53.125Z token={{{{ .token }}}} on {{{{ .server }}}}"; [ $(wc -l < {marker}) -ge 2 ]']}}
            capture: {{when_seen: {{from: stdout, pattern: 'at (\\S+)'}}}}
            assertions: [{{exit_code: 0}}]
            outcomes:
              - {{state: needs_rca, next_runbook: {{file: ../fix}}}}
        """,
    )
    project.write(
        "fix.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: fix, inputs: {server: {from: parent}}}
        steps:
          - id: confirm
            type: manual
            instructions: Restart {{ .server }}.
            required_evidence: [{kind: text, name: note}]
            outcomes: [{state: resolved}, {state: escalated}]
        """,
    )
    chain = project.run(
        "triage.runbook.yaml",
        variables={"server": "db1"},
        answers={"confirm": {"note": "restarted at 2026-02-14T10:01:00Z", "outcome": "resolved"}},
    )
    assert chain.final_state == "resolved", [r.error for r in chain.runs]
    return project, chain, marker


def test_a_real_chain_is_saved_as_a_scenario(chained):
    project, chain, _ = chained
    folder = project.root / chain.scenario
    day = chain.runs[0].started_at[:10].replace("-", "/")
    assert chain.scenario.startswith(f"scenarios/{day}/triage-")
    assert sorted(p.name for p in (folder / "runs").iterdir()) == [
        "01-triage",
        "02-unavailable",
        "03-fix",
    ]
    manifest = (folder / "scenario.yaml").read_text()
    assert "root_runbook: triage.runbook.yaml" in manifest and "status: resolved" in manifest
    assert (folder / "inputs.yaml").read_text() == "server: db1\n"
    for r in chain.runs:
        m = RunFolder(r.folder).read_manifest()
        assert m["scenario"] == chain.scenario
        assert read_events(r.folder / "trace.jsonl")[-1]["data"]["path"] == chain.scenario
    copied = (folder / "runs" / "02-unavailable" / "steps" / "001-probe.json").read_text()
    assert "at 2026-02-14T09:57:53.125Z" in copied


def test_no_secret_reaches_the_scenario(chained):
    project, chain, _ = chained
    text = "\n".join(
        p.read_text(errors="replace")
        for p in (project.root / chain.scenario).rglob("*")
        if p.is_file()
    )
    assert "tok-abcdef123456" not in text and "token=***" in text


def test_replay_reproduces_the_chain_without_running_anything(chained):
    project, chain, marker = chained
    runs_before = marker.read_text().count("x")
    scenario = load_scenario(project.root / chain.scenario)
    replay = project.run("triage.runbook.yaml", mode="replay", scenario=scenario)
    assert marker.read_text().count("x") == runs_before  # nothing ran live
    assert [r.runbook for r in replay.runs] == [r.runbook for r in chain.runs]
    assert [r.state for r in replay.runs] == [r.state for r in chain.runs]
    assert [r.captures for r in replay.runs] == [r.captures for r in chain.runs]
    assert [[(s.step_id, s.status) for s in r.steps] for r in replay.runs] == [
        [(s.step_id, s.status) for s in r.steps] for r in chain.runs
    ]
    assert {r.run_id for r in replay.runs}.isdisjoint({r.run_id for r in chain.runs})
    assert RunFolder(replay.runs[0].folder).read_manifest()["mode"] == "replay"
    assert replay.scenario is None  # replays are not saved again
    # the retried step replays both recorded attempts, with the original timestamps
    probe = json.loads((replay.runs[1].folder / "steps" / "001-probe.json").read_text())
    original = json.loads((chain.runs[1].folder / "steps" / "001-probe.json").read_text())
    assert len(probe["attempts"]) == 2 and probe["started_at"] == original["started_at"]


def test_rebased_replay_shifts_every_timestamp_by_one_offset(chained):
    project, chain, _ = chained
    scenario = load_scenario(project.root / chain.scenario)
    start = dt.datetime.fromisoformat(chain.runs[0].started_at.replace("Z", "+00:00"))
    target = dt.datetime(2030, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
    offset = target - start
    replay = project.run("triage.runbook.yaml", mode="replay", scenario=scenario, rebase_to=target)
    seen = replay.runs[1].captures["when_seen"]
    expected = dt.datetime(2026, 2, 14, 9, 57, 53, 125000, tzinfo=dt.UTC) + offset
    assert seen == expected.strftime("%Y-%m-%dT%H:%M:%S.") + f"{expected.microsecond // 1000:03d}Z"
    note = next(
        e
        for e in read_events(replay.runs[2].folder / "trace.jsonl")
        if e["type"] == "evidence_recorded"
    )
    shifted_note = note["data"]["evidence"]["note"]["value"]
    assert shifted_note == "restarted at " + (
        dt.datetime(2026, 2, 14, 10, 1, tzinfo=dt.UTC) + offset
    ).strftime("%Y-%m-%dT%H:%M:%SZ")
    step = json.loads((replay.runs[0].folder / "steps" / "001-count.json").read_text())
    orig = json.loads((chain.runs[0].folder / "steps" / "001-count.json").read_text())
    got = dt.datetime.fromisoformat(step["started_at"].replace("Z", "+00:00"))
    assert got - dt.datetime.fromisoformat(orig["started_at"].replace("Z", "+00:00")) == offset


def test_replay_fails_closed_on_a_missing_response(chained):
    project, chain, _ = chained
    folder = project.root / chain.scenario
    (folder / "runs" / "02-unavailable" / "steps" / "001-probe.json").unlink()
    replay = project.run("triage.runbook.yaml", mode="replay", scenario=load_scenario(folder))
    assert replay.runs[1].status == "failed"
    assert (
        "no recorded response for step 'probe' (occurrence 1) in run 02 (unavailable)"
        in replay.runs[1].error
    )


def test_a_scenario_recorded_for_another_runbook_is_refused(chained):
    project, chain, _ = chained
    project.write(
        "other.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: other, kind: composable, inputs: {server: {from: prompt}}}
        steps: [{id: count, type: cli, with: {argv: [echo]}}]
        """,
    )
    from gert.errors import InvalidError

    runs = set((project.root / ".runbook" / "runs").iterdir())
    with pytest.raises(InvalidError, match=r"the scenario recorded triage\.runbook\.yaml, not"):
        project.run(
            "other.runbook.yaml",
            mode="replay",
            scenario=load_scenario(project.root / chain.scenario),
        )
    assert set((project.root / ".runbook" / "runs").iterdir()) == runs  # refused before a run


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        (lambda f: (f / "inputs.yaml").unlink(), "inputs.yaml: missing"),
        (
            lambda f: (f / "runs/01-triage/steps/001-count.json").write_text(
                '{"step_id": "count", "att'
            ),
            "not valid JSON",
        ),
        (
            lambda f: (f / "runs/01-triage/steps/001-count.json").write_text('{"oops": 1}'),
            "not a step file",
        ),
        (
            lambda f: (f / "scenario.yaml").write_text("chain: [{folder: runs/99-gone}]\n"),
            "runs/99-gone: the run folder",
        ),
    ],
)
def test_damaged_scenarios_name_the_file(chained, damage, fragment):
    project, chain, _ = chained
    folder = project.root / chain.scenario
    damage(folder)
    with pytest.raises(ScenarioError, match=re.escape(fragment)):
        load_scenario(folder)


def test_failed_chains_are_saved_and_record_off_saves_nothing(project):
    project.config("record: auto\n")
    project.write(
        "f.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: f, kind: composable}
        steps: [{id: boom, type: cli, with: {argv: ["false"]}, assertions: [{exit_code: 0}]}]
        """,
    )
    chain = project.run("f.runbook.yaml")
    assert chain.exit_code == 1 and chain.scenario
    assert "status: failed" in (project.root / chain.scenario / "scenario.yaml").read_text()
    assert project.run("f.runbook.yaml", record=False).scenario is None
    project.config("record: 'off'\n")
    assert project.run("f.runbook.yaml").scenario is None


def test_shift_timestamps_keeps_precision_zone_and_spacing():
    text = "a 2026-02-14T09:57:53Z b 2026-02-14 09:58:00.123456+01:00 c 2026-02-14T10:00 d 12:00 e 2026-13-40T00:00"
    out = shift_timestamps(text, dt.timedelta(hours=1, minutes=30))
    assert out == (
        "a 2026-02-14T11:27:53Z b 2026-02-14 11:28:00.123456+01:00 c 2026-02-14T11:30 d 12:00 "
        "e 2026-13-40T00:00"
    )
    assert shift_timestamps({"x": ["2026-12-31T23:59:59.9Z"]}, dt.timedelta(seconds=1)) == {
        "x": ["2027-01-01T00:00:00.9Z"]
    }


def test_cli_replay_and_rebase(chained):
    project, chain, _ = chained
    r = gert(
        "exec",
        "triage.runbook.yaml",
        "--mode",
        "replay",
        "--scenario",
        chain.scenario,
        "--rebase-time",
        "now",
        "--json",
        cwd=project.root,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["final_state"] == "resolved" and [x["runbook"] for x in out["runs"]] == [
        "triage",
        "unavailable",
        "fix",
    ]
    r = gert("exec", "triage.runbook.yaml", "--mode", "replay", cwd=project.root)
    assert r.returncode == 2 and "needs --scenario" in r.stderr
    r = gert(
        "exec", "triage.runbook.yaml", "--mode", "replay", "--scenario", "nowhere", cwd=project.root
    )
    assert r.returncode == 2 and "no such scenario folder" in r.stderr
    assert Path(project.root / chain.scenario).is_dir()
