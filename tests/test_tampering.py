"""Evidence that cannot be edited silently: every tampering of a
signed run is reported by gert trace verify."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from helpers import gert

KEY = "k3y-for-tests"
RUNBOOK = """
apiVersion: runbook/v0
meta: {name: tamper}
steps:
  - {id: look, type: cli, with: {argv: [echo, "rate=42"]}, capture: {rate: stdout}}
  - id: confirm
    type: manual
    instructions: Check the dashboard.
    required_evidence: [{kind: attachment, name: screenshot}]
    outcomes: [{state: resolved, recommendation: all good}]
"""


@pytest.fixture(scope="module")
def signed_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("signed")
    (root / "gert.yaml").write_text("record: off\nhmac_key_env: GERT_TEST_KEY\n")
    (root / "t.runbook.yaml").write_text(RUNBOOK)
    (root / "shot.png").write_bytes(b"\x89PNG fake screenshot")
    (root / "answers.yaml").write_text("confirm: {screenshot: shot.png}\n")
    ran = gert(
        "exec",
        "t.runbook.yaml",
        "--evidence",
        "answers.yaml",
        "--json",
        cwd=root,
        env={**_env(), "GERT_TEST_KEY": KEY},
    )
    assert ran.returncode == 0, ran.stderr
    folder = root / json.loads(ran.stdout)["runs"][0]["folder"]
    return root, folder


def _env():
    import os

    return {k: v for k, v in os.environ.items() if k != "GERT_TEST_KEY"}


def _rehash(lines: list[dict]) -> list[bytes]:
    """Re-chain forged lines as an attacker without the key would."""
    prev, out, whole = "0" * 64, [], hashlib.sha256()
    for n, e in enumerate(lines, start=1):
        e = {**e, "seq": n, "prev_hash": prev}
        if e["type"] in ("run_completed", "chain_error", "incident_posted", "scenario_saved"):
            e["data"] = {**e["data"], "chain_hash": whole.hexdigest()}
        b = json.dumps(e, ensure_ascii=False, separators=(",", ":")).encode()
        out.append(b)
        whole.update(b + b"\n")
        prev = hashlib.sha256(b).hexdigest()
    return out


def edit_step_file(f):
    p = next((f / "steps").glob("001-*.json"))
    p.write_text(p.read_text().replace("rate=42", "rate=1"))


def delete_step_file(f):
    next((f / "steps").glob("001-*.json")).unlink()


def replace_attachment(f):
    next((f / "attachments").iterdir()).write_bytes(b"another picture")


def edit_manifest(field, old, new):
    def edit(f):
        m = f / "run.yaml"
        text = m.read_text()
        assert f"{field}: {old}" in text, text
        m.write_text(text.replace(f"{field}: {old}", f"{field}: {new}"))

    return edit


def append_forged_event(f):
    trace = f / "trace.jsonl"
    lines = [json.loads(x) for x in trace.read_text().splitlines()]
    forged = {**lines[-1], "type": "approval_granted", "data": {"approved_by": ["mallory"]}}
    trace.write_bytes(b"\n".join(_rehash([*lines, forged])) + b"\n")


def truncate_and_reset(f):
    trace = f / "trace.jsonl"
    lines = [json.loads(x) for x in trace.read_text().splitlines()]
    cut = [e for e in lines if e["type"] != "run_completed"][:-1]
    trace.write_bytes(b"\n".join(_rehash(cut)) + b"\n")
    m = f / "run.yaml"
    m.write_text(m.read_text().replace("status: completed", "status: running"))


def forged_rehash_whole(f):
    trace = f / "trace.jsonl"
    lines = [json.loads(x) for x in trace.read_text().splitlines()]
    for e in lines:
        if e["type"] == "step_completed" and e["data"].get("captures"):
            e["data"]["captures"] = {"rate": "rate=1\n"}
    trace.write_bytes(b"\n".join(_rehash(lines)) + b"\n")


def _trace_lines(f):
    return (f / "trace.jsonl").read_bytes().splitlines()


def _write_lines(f, lines):
    (f / "trace.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))


def edit_a_line(f):
    lines = _trace_lines(f)
    n = next(i for i, line in enumerate(lines) if b"rate=42" in line)
    lines[n] = lines[n].replace(b"rate=42", b"rate=1")
    _write_lines(f, lines)


def delete_a_line(f):
    lines = _trace_lines(f)
    _write_lines(f, lines[:3] + lines[4:])


def insert_a_line(f):
    lines = _trace_lines(f)
    _write_lines(f, [*lines[:3], lines[3], *lines[3:]])


def swap_two_lines(f):
    lines = _trace_lines(f)
    lines[2], lines[3] = lines[3], lines[2]
    _write_lines(f, lines)


def cut_the_end(f):
    _write_lines(f, _trace_lines(f)[:-2])


def tear_the_last_line(f):
    raw = (f / "trace.jsonl").read_bytes()
    (f / "trace.jsonl").write_bytes(raw[:-20])


def add_a_garbage_line(f):
    _write_lines(f, [*_trace_lines(f)[:4], b"not json at all", *_trace_lines(f)[4:]])


def delete_the_trace(f):
    (f / "trace.jsonl").unlink()


def empty_the_trace(f):
    (f / "trace.jsonl").write_bytes(b"")


def delete_the_manifest(f):
    (f / "run.yaml").unlink()


def edit_the_inputs(f):
    m = f / "run.yaml"
    text = m.read_text()
    assert "inputs_resolved: {}" in text, text
    m.write_text(text.replace("inputs_resolved: {}", "inputs_resolved: {host: db9}"))


def copy_other_runs_trace(f):
    other = f.parent / "20200101T000000-00000000"
    shutil.copytree(f, other)
    shutil.rmtree(f)
    other.rename(f.parent / "20200101T000000-11111111")
    shutil.copytree(f.parent / "20200101T000000-11111111", f)
    lines = [json.loads(x) for x in (f / "trace.jsonl").read_text().splitlines()]
    for e in lines:
        e["run_id"] = "20200101T000000-11111111"
    (f / "trace.jsonl").write_bytes(b"\n".join(_rehash(lines)) + b"\n")


TAMPERINGS = {
    "edit a step file": edit_step_file,
    "delete a step file": delete_step_file,
    "replace an attachment": replace_attachment,
    "edit the outcome": edit_manifest("state", "resolved", "escalated"),
    "edit the actor": edit_manifest("actor", None, None),
    "edit the status": edit_manifest("status", "completed", "failed"),
    "append a forged event": append_forged_event,
    "truncate and reset to running": truncate_and_reset,
    "rewrite and re-hash the trace": forged_rehash_whole,
    "another run's trace": copy_other_runs_trace,
    "edit a trace line": edit_a_line,
    "delete a trace line": delete_a_line,
    "insert a trace line": insert_a_line,
    "swap two trace lines": swap_two_lines,
    "cut the end of the trace": cut_the_end,
    "tear the last line": tear_the_last_line,
    "add a garbage line": add_a_garbage_line,
    "delete the trace": delete_the_trace,
    "empty the trace": empty_the_trace,
    "delete run.yaml": delete_the_manifest,
    "edit the inputs": edit_the_inputs,
    "edit the recommendation": edit_manifest("recommendation", "all good", "nothing to do"),
}


@pytest.mark.parametrize("name", sorted(TAMPERINGS))
def test_every_tampering_of_a_signed_run_is_reported(signed_run, tmp_path, name):
    root, folder = signed_run
    project = tmp_path / "p"
    shutil.copytree(root, project)
    copy = project / folder.relative_to(root)
    tamper = TAMPERINGS[name]
    if name == "edit the actor":
        text = (copy / "run.yaml").read_text()
        actor = next(line for line in text.splitlines() if line.startswith("actor:"))
        (copy / "run.yaml").write_text(text.replace(actor, "actor: mallory"))
    else:
        tamper(copy)
    before = gert(
        "trace",
        "verify",
        "--key-env",
        "GERT_TEST_KEY",
        str(copy),
        cwd=project,
        env={**_env(), "GERT_TEST_KEY": KEY},
    )
    assert before.returncode == 1, f"{name}: not detected\n{before.stdout}"
    assert "TAMPERED" in before.stdout


def test_an_untouched_signed_run_verifies(signed_run):
    root, folder = signed_run
    ran = gert(
        "trace",
        "verify",
        "--key-env",
        "GERT_TEST_KEY",
        str(folder),
        cwd=root,
        env={**_env(), "GERT_TEST_KEY": KEY},
    )
    assert ran.returncode == 0, ran.stdout
    assert "signature checked" in ran.stdout


def test_an_unsigned_run_says_so(project):
    project.write(
        "t.runbook.yaml",
        "apiVersion: runbook/v0\nmeta: {name: t}\nsteps:\n"
        "  - {id: a, type: cli, with: {argv: [echo, hi]}, outcomes: [{state: resolved}]}\n",
    )
    ran = gert("exec", "t.runbook.yaml", "--json", cwd=project.root)
    folder = json.loads(ran.stdout)["runs"][0]["folder"]
    ran = gert("trace", "verify", folder, cwd=project.root)
    assert ran.returncode == 0
    assert "unsigned" in ran.stdout


def test_a_configured_key_that_is_not_set_stops_the_run(project):
    project.config("record: off\nhmac_key_env: GERT_TEST_KEY\n")
    project.write(
        "t.runbook.yaml",
        "apiVersion: runbook/v0\nmeta: {name: t}\nsteps:\n"
        "  - {id: a, type: cli, with: {argv: [touch, ran.txt]}, outcomes: [{state: resolved}]}\n",
    )
    ran = gert("exec", "t.runbook.yaml", cwd=project.root, env=_env())
    assert ran.returncode == 2
    assert "GERT_TEST_KEY" in ran.stderr and "not set" in ran.stderr
    assert not (project.root / "ran.txt").exists()


def test_the_incident_witnesses_a_run_cut_short_and_reset(tmp_path):
    # The hardest forgery: cut the trace before run_completed, re-chain it, and make the
    # manifest agree (status running, events and head). The trace alone looks like a
    # crashed run; the chain hash posted to the incident does not match it.
    root = tmp_path / "p"
    root.mkdir()
    (root / "gert.yaml").write_text("record: off\n")
    (root / "t.runbook.yaml").write_text(
        "apiVersion: runbook/v0\nmeta: {name: t}\nsteps:\n"
        "  - {id: a, type: cli, with: {argv: [echo, hi]}}\n"
        "  - {id: b, type: cli, with: {argv: [echo, bye]}, outcomes: [{state: resolved}]}\n"
    )
    assert gert("incident", "create", "W1", "--title", "witness", cwd=root).returncode == 0
    ran = gert("exec", "t.runbook.yaml", "--incident", "W1", "--json", cwd=root)
    run = json.loads(ran.stdout)["runs"][0]
    folder = root / run["folder"]
    trace = folder / "trace.jsonl"
    lines = [json.loads(x) for x in trace.read_text().splitlines()]
    end = next(i for i, e in enumerate(lines) if e["type"] == "run_completed")
    forged = _rehash(lines[: end - 1])
    trace.write_bytes(b"\n".join(forged) + b"\n")
    m = folder / "run.yaml"
    text = m.read_text().replace("status: completed", "status: running")
    head = hashlib.sha256(forged[-1]).hexdigest()
    text = "\n".join(
        f"  events: {len(forged)}"
        if line.startswith("  events:")
        else f"  head: {head}"
        if line.startswith("  head:")
        else line
        for line in text.splitlines()
    )
    m.write_text(text + "\n")
    alone = gert("trace", "verify", run["run_id"], cwd=root)
    assert alone.returncode == 0  # indistinguishable from a crashed run on its own
    witnessed = gert("trace", "verify", "--incident", "W1", cwd=root)
    assert witnessed.returncode == 1, witnessed.stdout
    assert "incident W1 recorded this run's sealed end, but its trace has none" in witnessed.stdout


def test_verify_incident_passes_untouched_runs(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    (root / "gert.yaml").write_text("record: off\n")
    (root / "t.runbook.yaml").write_text(
        "apiVersion: runbook/v0\nmeta: {name: t}\nsteps:\n"
        "  - {id: a, type: cli, with: {argv: [echo, hi]}, outcomes: [{state: resolved}]}\n"
    )
    gert("incident", "create", "W2", "--title", "witness", cwd=root)
    assert gert("exec", "t.runbook.yaml", "--incident", "W2", cwd=root).returncode == 0
    ran = gert("trace", "verify", "--incident", "W2", cwd=root)
    assert ran.returncode == 0, ran.stdout
    assert ": ok (" in ran.stdout


def test_verify_uses_the_projects_key_by_default(signed_run, tmp_path, monkeypatch):
    root, folder = signed_run
    project = tmp_path / "p"
    shutil.copytree(root, project)
    copy = project / folder.relative_to(root)
    forged_rehash_whole(copy)  # re-hashed without the key: only the HMAC can tell
    monkeypatch.setenv("GERT_TEST_KEY", KEY)
    r = gert("trace", "verify", str(copy), cwd=project, env={**_env(), "GERT_TEST_KEY": KEY})
    assert r.returncode == 1 and "TAMPERED" in r.stdout
