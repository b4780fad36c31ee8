"""Engine overhead per step.

Targets on the 2-core machine: dry-run >= 2,000 steps/s; a trivial `cli` step costs at
most 3 ms more than spawning the same process directly. Evidence (trace line, step file,
fsync) is part of the cost, as it is in a real run.
Run: .venv/bin/python bench/engine_overhead.py [STEPS]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gert.engine import Engine, Options
from gert.project import open_project


def runbook(n: int) -> str:
    steps = "\n".join(
        f'  - {{id: s{i}, type: cli, with: {{argv: ["true", "{{{{ .x }}}}"]}}, capture: {{c{i}: exit_code}}}}'
        for i in range(n)
    )
    return f"apiVersion: runbook/v0\nmeta: {{name: bench, kind: composable, vars: {{x: v}}}}\nsteps:\n{steps}\n"


def run(root: Path, mode: str) -> float:
    engine = Engine(open_project(root))
    start = time.perf_counter()
    chain = engine.run(root / "bench.runbook.yaml", Options(mode=mode))
    elapsed = time.perf_counter() - start
    assert chain.final.status == "completed", chain.final.error
    return elapsed


def spawn_cost(n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        subprocess.run(
            ["true", "v"], stdin=subprocess.DEVNULL, capture_output=True, start_new_session=True
        )
    return (time.perf_counter() - start) / n


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "gert.yaml").write_text("record: off\n")
        (root / "bench.runbook.yaml").write_text(runbook(n))
        dry = [run(root, "dry-run") for _ in range(3)]
        best = min(dry)
        verdict = "met" if n / best >= 2000 else "MISSED"
        print(
            f"dry-run: {n} steps in {best:.3f} s = {n / best:,.0f} steps/s (median of 3 {statistics.median(dry):.3f} s)"
            f"  target >= 2,000 steps/s: {verdict}"
        )
        real_n = min(n, 300)
        (root / "bench.runbook.yaml").write_text(runbook(real_n))
        real = min(run(root, "real") for _ in range(3)) / real_n
        spawn = min(spawn_cost(real_n) for _ in range(3))
        extra = (real - spawn) * 1000
        print(
            f"real cli step: {real * 1000:.2f} ms per step; spawning the process alone {spawn * 1000:.2f} ms; "
            f"gert adds {extra:.2f} ms ({(real - spawn) / real:.0%} of the step)  target <= 3 ms: "
            f"{'met' if extra <= 3 else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
