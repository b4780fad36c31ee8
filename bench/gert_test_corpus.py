"""`gert test` over a generated corpus of 1,000 scenarios.

Target on the 2-core machine: >= 300 scenarios/s. Reports the in-process cost per
scenario (replay through the real engine, evidence to a temporary folder) and the
whole command. Run: .venv/bin/python bench/gert_test_corpus.py [COUNT]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from _util import GERT, time_command

RUNBOOK = """apiVersion: runbook/v0
meta: {name: svc, inputs: {server: {from: prompt}}}
steps:
  - id: count
    type: tool
    tool: {name: sql, action: query, args: {url: "sqlite:///x.db", query: "select 1"}}
    capture: {n: row_count, top: "$.data[0].err"}
    outcomes:
      - {when: n == 0, state: no_action}
    branches:
      - condition: top == "40613"
        steps:
          - {id: restart, type: cli, with: {argv: [systemctl, restart, "db-{{ .server }}"]}, capture: {out: stdout}}
  - id: confirm
    type: manual
    instructions: Check {{ .server }}.
    required_evidence: [{kind: text, name: note}]
    outcomes: [{state: resolved}, {state: escalated}]
"""


def make(root: Path, count: int) -> None:
    (root / "gert.yaml").write_text("record: 'off'\n")
    (root / "svc.runbook.yaml").write_text(RUNBOOK)
    for i in range(count):
        d = root / "scenarios" / "svc" / f"case-{i:04d}"
        (d / "steps").mkdir(parents=True)
        rows = i % 3
        data = {
            "success": True,
            "rowCount": rows,
            "columns": ["err"],
            "data": [{"err": "40613" if i % 2 else "18456"}] * rows,
            "metadata": {},
        }
        (d / "steps" / "count.json").write_text(json.dumps({"data": data}))
        (d / "inputs.yaml").write_text(f"server: s{i}\n")
        (d / "scenario.yaml").write_text(
            f'commands: [{{argv: [systemctl, restart, db-s{i}], stdout: "ok\\n"}}]\n'
            "evidence: {confirm: {note: fine, outcome: resolved}}\n"
        )
        (d / "test.yaml").write_text(
            "expected_outcome: " + ("no_action\n" if rows == 0 else "resolved\n")
        )


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make(root, count)
        from gert.project import open_project
        from gert.testing import Runner, discover

        project = open_project(root)
        cases = discover([], project)
        runner = Runner(project)
        start = time.perf_counter()
        results = [runner.run(c) for c in cases]
        elapsed = time.perf_counter() - start
        runner.close()
        bad = [r for r in results if r.status != "passed"]
        assert not bad, [(r.case.name, r.failures) for r in bad[:3]]
        print(
            f"in-process: {count} scenarios in {elapsed:.2f} s = {count / elapsed:,.0f} scenarios/s "
            f"({elapsed / count * 1000:.2f} ms each, one process)"
        )
        figures = time_command([*GERT, "test"], runs=3, cwd=root)
        per_s = {k: count / (v / 1000) for k, v in figures.items()}
        print(
            f"gert test (whole command): median {figures['median'] / 1000:.2f} s = {per_s['median']:,.0f} scenarios/s"
            f"  target >= 300/s: {'met' if per_s['median'] >= 300 else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
