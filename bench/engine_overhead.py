"""Engine overhead per step.

Targets on the 2-core machine: dry-run >= 2,000 steps/s; a trivial `cli` step costs at
most 2 ms more (wall) than spawning the same process directly. Evidence (trace line, step
file, fsync) is part of the cost, as it is in a real run. Each figure is the min and
median of 5 runs, wall and CPU (gert's own process: the child's CPU is the command's).
Run: .venv/bin/python bench/engine_overhead.py [STEPS]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from _util import measure_calls, report

from gert.engine import Engine, Options
from gert.project import open_project


def runbook(n: int) -> str:
    steps = "\n".join(
        f'  - {{id: s{i}, type: cli, with: {{argv: ["true", "{{{{ .x }}}}"]}}, capture: {{c{i}: exit_code}}}}'
        for i in range(n)
    )
    return f"apiVersion: runbook/v0\nmeta: {{name: bench, kind: composable, vars: {{x: v}}}}\nsteps:\n{steps}\n"


def run(root: Path, mode: str) -> None:
    engine = Engine(open_project(root))
    chain = engine.run(root / "bench.runbook.yaml", Options(mode=mode))
    assert chain.final.status == "completed", chain.final.error


def spawn(n: int) -> None:
    for _ in range(n):
        subprocess.run(
            ["true", "v"], stdin=subprocess.DEVNULL, capture_output=True, start_new_session=True
        )


def per_step(figures: dict[str, dict[str, float]], n: int) -> dict[str, dict[str, float]]:
    return {k: {s: v / n for s, v in f.items()} for k, f in figures.items()}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "gert.yaml").write_text("record: off\n")
        (root / "bench.runbook.yaml").write_text(runbook(n))
        dry = per_step(measure_calls(lambda: run(root, "dry-run")), n)
        report(f"dry-run, per step ({n} steps)", dry, 1000 / 2000, "wall")
        print(f"    = {1000 / dry['wall']['median']:,.0f} steps/s (median)")
        real_n = min(n, 300)
        (root / "bench.runbook.yaml").write_text(runbook(real_n))
        real = per_step(measure_calls(lambda: run(root, "real")), real_n)
        bare = per_step(measure_calls(lambda: spawn(real_n)), real_n)
        report(f"real cli step, per step ({real_n} steps, evidence fsynced)", real)
        report("spawning the same process alone", bare)
        added = {
            kind: {s: real[kind][s] - bare[kind][s] for s in ("min", "median", "max")}
            for kind in ("wall", "cpu")
        }
        report("what gert adds to a cli step", added, 2, "wall")


if __name__ == "__main__":
    main()
