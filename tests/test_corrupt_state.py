"""Corrupt state gets a clear error naming the file and a way out, never a traceback, and
never costs a run its evidence."""

from __future__ import annotations

import json

from helpers import gert

RUNBOOK = """
apiVersion: runbook/v0
meta: {name: ok}
steps:
  - {id: a, type: cli, with: {argv: [echo, hi]}, outcomes: [{state: resolved}]}
"""


def test_a_garbage_index_is_rebuilt_by_reindex_and_runs_go_on(project):
    project.write("ok.runbook.yaml", RUNBOOK)
    assert gert("exec", "ok.runbook.yaml", cwd=project.root).returncode == 0
    index = project.root / ".runbook" / "index.sqlite"
    index.write_bytes(b"this is not a database" * 100)
    for args in (("runs", "list"), ("incident", "show", "X1")):
        ran = gert(*args, cwd=project.root)
        assert "Traceback" not in ran.stderr, args
        assert ran.returncode != 0
        assert "index" in ran.stderr and "gert runs reindex" in ran.stderr, ran.stderr
    ran = gert("exec", "ok.runbook.yaml", cwd=project.root)  # a run is never lost to it
    assert ran.returncode == 0, ran.stderr
    ran = gert("runs", "reindex", cwd=project.root)
    assert ran.returncode == 0, ran.stderr
    assert "2" in ran.stdout
    listed = gert("runs", "list", "--json", cwd=project.root)
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 2


def test_corrupt_incident_files_are_named(project):
    folder = project.root / ".runbook" / "incidents"
    folder.mkdir(parents=True)
    (folder / "BAD.json").write_text("{not json")
    (folder / "LIST.json").write_text("[1, 2]")
    for args in (("incident", "show", "BAD"), ("incident", "show", "LIST"), ("incident", "list")):
        ran = gert(*args, cwd=project.root)
        assert "Traceback" not in ran.stderr, (args, ran.stderr)
        assert ran.returncode != 0, args
        assert ".json" in ran.stderr and "incident" in ran.stderr, (args, ran.stderr)
    ran = gert("postmortem", "BAD", "--no-input", cwd=project.root)
    assert "Traceback" not in ran.stderr and ran.returncode != 0
    assert "BAD.json" in ran.stderr


def test_a_corrupt_run_manifest_is_named(project):
    project.write("ok.runbook.yaml", RUNBOOK)
    ran = gert("exec", "ok.runbook.yaml", "--json", cwd=project.root)
    run = json.loads(ran.stdout)["runs"][0]
    manifest = project.root / run["folder"] / "run.yaml"
    manifest.write_text("run_id: [unclosed\n")
    for args in (("trace", "verify", run["run_id"]), ("resume", run["run_id"])):
        ran = gert(*args, cwd=project.root)
        assert "Traceback" not in ran.stderr, (args, ran.stderr)
        assert ran.returncode != 0
        assert "run.yaml" in ran.stdout + ran.stderr, (args, ran.stdout, ran.stderr)


def test_a_manifest_without_its_runbook_cannot_be_resumed(project):
    project.write("ok.runbook.yaml", RUNBOOK)
    ran = gert("exec", "ok.runbook.yaml", "--json", cwd=project.root)
    run = json.loads(ran.stdout)["runs"][0]
    manifest = project.root / run["folder"] / "run.yaml"
    text = manifest.read_text()
    text = "\n".join(line for line in text.splitlines() if not line.startswith("runbook:"))
    manifest.write_text(text.replace("status: completed", "status: running") + "\n")
    ran = gert("resume", run["run_id"], cwd=project.root)
    assert "Traceback" not in ran.stderr
    assert ran.returncode == 2
    assert "names no runbook" in ran.stderr
