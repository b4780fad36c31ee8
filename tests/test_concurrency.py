"""Concurrent runs in one project lose nothing: every chain posts once to the incident and
saves its own scenario. Real processes, started together."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

RUNBOOK = """
apiVersion: runbook/v0
meta: {name: parallel}
steps:
  - {id: a, type: cli, with: {argv: [echo, hi]}, outcomes: [{state: resolved}]}
"""


@pytest.mark.slow
def test_concurrent_chains_each_post_once_and_save_their_own_scenario(tmp_path):
    (tmp_path / "gert.yaml").write_text("record: auto\nincident: {provider: local}\n")
    (tmp_path / "p.runbook.yaml").write_text(RUNBOOK)
    gert = [sys.executable, "-m", "gert.cli"]
    subprocess.run(
        [*gert, "incident", "create", "K3", "--title", "parallel"], cwd=tmp_path, check=True
    )
    n = 6
    procs = [
        subprocess.Popen(
            [*gert, "exec", "p.runbook.yaml", "--incident", "K3", "--json"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    incident = json.loads((tmp_path / ".runbook" / "incidents" / "K3.json").read_text())
    posts = [e for e in incident["timeline"] if e.get("kind") == "gert"]
    assert len(posts) == n, [e.get("kind") for e in incident["timeline"]]
    assert len({e["id"] for e in incident["timeline"]}) == len(incident["timeline"])
    scenarios = [r["scenario"] for r in results]
    assert all(scenarios) and len(set(scenarios)) == n
    for r in results:  # each run's evidence points at its own scenario
        run = r["runs"][0]
        manifest = (tmp_path / run["folder"] / "run.yaml").read_text()
        assert f"scenario: {r['scenario']}" in manifest
        saved = tmp_path / r["scenario"] / "scenario.yaml"
        assert run["run_id"] in saved.read_text()
