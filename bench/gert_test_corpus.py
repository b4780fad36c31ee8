"""`gert test` over 1,000 scenarios: the example's three shapes and a synthetic corpus.

Targets (2-core machine): <= 1.0 ms of CPU per scenario; the whole command <= 1.5 s wall.

Half the scenarios are copies of the example project's three (a triage runbook that
chains into cause runbooks), half are generated for a small runbook with a query, a
branch and a manual step. Reports the CPU per scenario in one process (replay through
the real engine, min and median of 5 batches), then the whole command (`gert test`, and
`gert test -j 1`) as a user runs it: wall, CPU and peak memory, min and median of 5 runs.

Run: .venv/bin/python bench/gert_test_corpus.py [COUNT]
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

from _util import GERT, ROOT, measure_calls, measure_command, report

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


def make(root: Path, count: int, restart: str = "systemctl") -> None:
    """A project at *root* with *count* generated scenarios of one small runbook, whose
    branch runs *restart*."""
    (root / "gert.yaml").write_text("record: 'off'\n")
    (root / "svc.runbook.yaml").write_text(RUNBOOK.replace("systemctl", restart))
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
            f'commands: [{{argv: [{restart}, restart, db-s{i}], stdout: "ok\\n"}}]\n'
            "evidence: {confirm: {note: fine, outcome: resolved}}\n"
        )
        (d / "test.yaml").write_text(
            "expected_outcome: " + ("no_action\n" if rows == 0 else "resolved\n")
        )


def make_mixed(root: Path, count: int) -> None:
    """The example project with its scenarios copied to *count* // 2, and the synthetic
    runbook's *count* - *count* // 2 beside it."""
    shutil.copytree(ROOT / "examples", root, ignore=shutil.ignore_patterns(".runbook"))
    (root / "gert.yaml").write_text(
        (root / "gert.yaml").read_text().replace("record: auto", "record: 'off'")
    )
    shapes = sorted((root / "scenarios" / "login-success-rate-below-target").iterdir())
    for i in range(count // 2 - len(shapes)):
        shape = shapes[i % len(shapes)]
        shutil.copytree(shape, shape.parent / f"{shape.name}-{i:04d}")
    synthetic = root / "synthetic"
    synthetic.mkdir()
    # the example's governance denies shutdown, and systemctl is one of its names
    make(synthetic, count - count // 2, restart="service")
    (synthetic / "gert.yaml").unlink()
    shutil.move(synthetic / "svc.runbook.yaml", root / "runbooks" / "svc.runbook.yaml")
    shutil.move(synthetic / "scenarios" / "svc", root / "scenarios" / "svc")
    shutil.rmtree(synthetic)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        make_mixed(root, count)
        from gert.project import open_project
        from gert.testing import Runner, discover

        project = open_project(root)
        cases = discover([], project)
        assert len(cases) == count, len(cases)

        def replay_all() -> None:
            runner = Runner(project)
            results = [runner.run(c) for c in discover([], project)]
            runner.close()
            bad = [r for r in results if r.status != "passed"]
            assert not bad, [(r.case.name, r.failures) for r in bad[:3]]

        replay_all()  # warm: imports, the runbooks' first parse
        figures = measure_calls(replay_all, runs=5)
        per_scenario = {kind: {k: v / count for k, v in f.items()} for kind, f in figures.items()}
        print(f"{count} scenarios ({count // 2} of the example's three shapes, the rest synthetic)")
        report(
            "in one process, discovery + replay + checks, per scenario", per_scenario, 1.0, "cpu"
        )
        whole = measure_command([*GERT, "test"], runs=5, cwd=root)
        report("gert test (whole command)", whole, 1500, "wall")
        print(f"    per scenario: {whole['cpu']['median'] / count:.2f} ms CPU (median)")
        serial = measure_command([*GERT, "test", "-j", "1"], runs=5, cwd=root)
        report("gert test -j 1 (one process)", serial, 1500, "wall")
        print(f"    per scenario: {serial['cpu']['median'] / count:.2f} ms CPU (median)")
        report("peak memory of gert test -j 1", {"rss": serial["rss"]}, 40, "rss")


if __name__ == "__main__":
    main()
