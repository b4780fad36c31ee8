"""Output is not amplified: a large output stays in the step record;
captures, incident posts and postmortems carry bounded extracts of it."""

from __future__ import annotations

import json

from helpers import gert


def test_a_large_output_is_capped_everywhere_it_travels(tmp_path):
    root = tmp_path
    (root / "gert.yaml").write_text("record: auto\n")
    (root / "big.runbook.yaml").write_text(
        "apiVersion: runbook/v0\nmeta: {name: big}\nsteps:\n"
        "  - id: flood\n    type: cli\n"
        "    with: {argv: [python3, -c, \"print('x' * 2000000)\"]}\n"
        "    capture: {all: stdout}\n"
        "    outcomes: [{state: resolved, recommendation: 'saw {{ len .all }} characters'}]\n"
    )
    assert gert("incident", "create", "A1", "--title", "amplification", cwd=root).returncode == 0
    ran = gert("exec", "big.runbook.yaml", "--incident", "A1", "--json", cwd=root)
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    capture = result["runs"][0]["captures"]["all"]
    assert 64 * 1024 <= len(capture) < 64 * 1024 + 100
    assert capture.endswith("more characters in the step record)")
    record = json.loads(
        next((root / result["runs"][0]["folder"] / "steps").glob("*.json")).read_text()
    )
    assert len(record["attempts"][0]["stdout"]) == 2_000_001  # the step record keeps it all
    incident = json.loads((root / ".runbook" / "incidents" / "A1.json").read_text())
    [post] = [e for e in incident["timeline"] if e["kind"] == "gert"]
    assert len(post["text"]) < 2_000
    assert gert("postmortem", "A1", "--no-input", cwd=root).returncode == 0
    [md] = (root / "postmortems").glob("*.md")
    assert md.stat().st_size < 50_000
