"""Chaining through next_runbook and trace tamper-evidence."""

from __future__ import annotations

import json

import pytest

from gert.store import RunFolder, verify_trace
from gert.store.trace import read_events
from helpers import gert


def level(
    name: str, next_file: str | None, state: str = "needs_rca", extra_inputs: str = ""
) -> str:
    nxt = ""
    if next_file:
        nxt = f"""
                  next_runbook:
                    file: "{next_file}"
                    inputs: {{server: "{{{{ .server }}}}", depth: "{name}"{extra_inputs}}}"""
    return f"""
        apiVersion: runbook/v0
        meta:
          name: {name}
          inputs:
            server: {{from: parent, default: root-server}}
            depth: {{from: parent, default: none}}
        tree:
          - step:
              id: work_{name.replace("-", "_")}
              type: cli
              with: {{argv: [echo, "{name} on {{{{ .server }}}} after {{{{ .depth }}}}"]}}
              capture: {{said_{name.replace("-", "_")}: stdout}}
              outcomes:
                - state: {state}
                  recommendation: "{name} done"{nxt}
        """


@pytest.fixture
def three(project):
    project.write("triage.runbook.yaml", level("triage", "causes/{{ .server }}-cause"))
    project.write("causes/db1-cause.runbook.yaml", level("db1-cause", "../fix/final"))
    project.write("fix/final.runbook.yaml", level("final", None, state="resolved"))
    return project


def test_three_level_chain_links_runs_both_ways(three):
    chain = three.run("triage.runbook.yaml", variables={"server": "db1"})
    assert [r.runbook for r in chain.runs] == ["triage", "db1-cause", "final"]
    assert chain.final_state == "resolved" and chain.exit_code == 0
    root, mid, last = (RunFolder(r.folder).read_manifest() for r in chain.runs)
    assert root["outcome"]["state"] == "needs_rca"  # each parent keeps its own outcome
    assert root["outcome"]["next_runbook"]["file"] == "causes/db1-cause"
    assert root["child_runs"] == [
        {
            "run_id": chain.runs[1].run_id,
            "runbook": "causes/db1-cause.runbook.yaml",
            "outcome": "needs_rca",
        }
    ]
    assert mid["parent_run_id"] == chain.runs[0].run_id
    assert mid["child_runs"][0]["outcome"] == "resolved"
    assert last["parent_run_id"] == chain.runs[1].run_id
    assert mid["inputs_resolved"] == {"server": "db1", "depth": "triage"}
    assert mid["inherited_captures"] == {"said_triage": "triage on db1 after none"}
    assert last["inputs_resolved"] == {"server": "db1", "depth": "db1-cause"}
    started = [
        e for e in read_events(chain.runs[0].folder / "trace.jsonl") if e["type"] == "chain_started"
    ]
    assert started[0]["data"]["file"] == "causes/db1-cause"
    for r in chain.runs:
        assert verify_trace(
            r.folder / "trace.jsonl", manifest=RunFolder(r.folder).read_manifest()
        ).ok


def test_depth_limit_stops_the_chain(three):
    chain = three.run("triage.runbook.yaml", variables={"server": "db1"}, max_chain_depth=1)
    assert [r.runbook for r in chain.runs] == ["triage", "db1-cause"]
    assert chain.exit_code == 3 and chain.final_state == "chain_error"
    assert "depth limit" in chain.runs[1].chain_error
    assert (
        RunFolder(chain.runs[1].folder)
        .read_manifest()["chain_error"]
        .startswith("chain depth limit")
    )


def test_missing_child_keeps_parent_evidence(project):
    project.write("triage.runbook.yaml", level("triage", "causes/{{ .server }}"))
    chain = project.run("triage.runbook.yaml", variables={"server": "NoSuchCause"})
    assert chain.exit_code == 3
    parent = chain.runs[0]
    assert "next runbook 'causes/NoSuchCause' not found" in parent.chain_error
    m = RunFolder(parent.folder).read_manifest()
    assert m["outcome"]["state"] == "needs_rca" and m["status"] == "completed"
    assert m["chain_error"] == parent.chain_error
    assert (parent.folder / "steps" / "001-work_triage.json").is_file()
    assert verify_trace(parent.folder / "trace.jsonl", manifest=m).ok
    assert [e["type"] for e in read_events(parent.folder / "trace.jsonl")][-1] == "chain_error"


def test_invalid_child_is_a_chain_error_naming_the_problem(project):
    project.write("triage.runbook.yaml", level("triage", "bad"))
    project.write(
        "bad.runbook.yaml",
        "apiVersion: runbook/v0\nmeta: {name: bad}\nsteps: [{id: x, type: nope}]\n",
    )
    chain = project.run("triage.runbook.yaml")
    assert chain.exit_code == 3
    assert (
        "next runbook 'bad' is invalid" in chain.chain_error
        and "unknown step type 'nope'" in chain.chain_error
    )


def test_a_chain_that_revisits_a_runbook_with_the_same_inputs_stops(project):
    project.write("loop.runbook.yaml", level("loop", "loop"))
    chain = project.run("loop.runbook.yaml", variables={"server": "s", "depth": "loop"})
    assert [r.runbook for r in chain.runs] == ["loop"]
    assert "chain loop" in chain.chain_error


def test_next_runbook_outside_the_project_is_refused(project, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere")
    (outside / "evil.runbook.yaml").write_text(level("evil", None))
    project.write(
        "triage.runbook.yaml", level("triage", "../{{ .server }}/evil")
    )  # static: validation refuses
    chain = project.run("triage.runbook.yaml", variables={"server": outside.name})
    assert len(chain.runs) == 1 and "outside the project" in chain.chain_error


def test_captured_dot_dot_in_a_templated_path_is_refused(project):
    project.write("triage.runbook.yaml", level("triage", "causes/{{ .server }}"))
    chain = project.run("triage.runbook.yaml", variables={"server": "../../../../etc/passwd"})
    assert chain.exit_code == 3 and len(chain.runs) == 1


# ------------------------------------------------------------------ tampering


@pytest.fixture
def traced(project):
    project.write("a.runbook.yaml", level("a", None, state="resolved"))
    run = project.run("a.runbook.yaml", hmac_key=b"k3y").final
    return run.folder / "trace.jsonl", RunFolder(run.folder).read_manifest()


def _lines(path):  # type: ignore[no-untyped-def]
    return path.read_bytes().splitlines(keepends=True)


def test_untouched_signed_trace_verifies(traced):
    path, m = traced
    report = verify_trace(path, key=b"k3y", manifest=m)
    assert report.ok and report.hmac_checked and report.completed


def test_edited_line_is_detected(traced):
    path, m = traced
    lines = _lines(path)
    lines[3] = lines[3].replace(b"a on root-server", b"a on other-server")
    path.write_bytes(b"".join(lines))
    problems = verify_trace(path, key=b"k3y", manifest=m).problems
    assert any("line 5: prev_hash" in p for p in problems)


def test_removed_inserted_and_reordered_lines_are_detected(traced):
    path, m = traced
    original = _lines(path)
    for mutated in (
        original[:2] + original[3:],  # removed
        [*original[:2], original[1], *original[2:]],  # inserted (duplicate)
        [*original[:2], original[3], original[2], *original[4:]],  # reordered
        original[:-1],  # tail removed
    ):
        path.write_bytes(b"".join(mutated))
        assert not verify_trace(path, manifest=m).ok


def test_rewritten_consistent_chain_fails_the_hmac(traced):
    """A forger who rebuilds every hash still cannot sign without the key."""
    import hashlib

    path, _ = traced
    events = [json.loads(line) for line in _lines(path)]
    events[3]["data"]["stdout"] = "forged\n"
    prev, whole, out = "0" * 64, hashlib.sha256(), []
    for e in events:
        e["prev_hash"] = prev
        if e["type"] == "run_completed":
            e["data"]["chain_hash"] = whole.hexdigest()
        line = json.dumps(e, ensure_ascii=False, separators=(",", ":")).encode()
        out.append(line + b"\n")
        whole.update(line + b"\n")
        prev = hashlib.sha256(line).hexdigest()
    path.write_bytes(b"".join(out))
    report = verify_trace(path, key=b"k3y")
    assert any("hmac does not match" in p for p in report.problems)
    assert verify_trace(path).ok  # without the key, only the chain is checked


def test_cli_trace_verify(traced, project):
    path, _ = traced
    r = gert("trace", "verify", str(path.parent), cwd=project.root)
    assert r.returncode == 0 and ": ok (" in r.stdout and "signed" in r.stdout
    lines = _lines(path)
    path.write_bytes(b"".join(lines[:2] + lines[3:]))
    r = gert("trace", "verify", str(path.parent), cwd=project.root)
    assert r.returncode == 1 and "TAMPERED" in r.stdout
