"""Small helpers shared by the benchmarks: timing commands and printing figures."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The console script, as users run it (python -m adds runpy's overhead).
_SCRIPT = Path(sys.executable).with_name("gert")
GERT = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "gert.cli"]


def time_command(argv: list[str], runs: int = 15, cwd: Path = ROOT) -> dict[str, float]:
    """Wall time of a command over *runs* runs (after one warm-up), in milliseconds."""
    env = dict(os.environ)
    subprocess.run(argv, cwd=cwd, env=env, capture_output=True)  # warm the file cache
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, capture_output=True)
        samples.append((time.perf_counter() - start) * 1000)
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples)}


def row(
    name: str, figures: dict[str, float], target: float | None = None, unit: str = "ms"
) -> None:
    """Print one result line, with the target and whether it is met."""
    verdict = ""
    if target is not None:
        verdict = (
            f"  target <= {target:g} {unit}: {'met' if figures['median'] <= target else 'MISSED'}"
        )
    print(
        f"{name:44s} median {figures['median']:8.2f} {unit}  (min {figures['min']:.2f}, max {figures['max']:.2f}){verdict}"
    )
