"""Small helpers shared by the benchmarks: timing commands and printing figures.

Every figure is reported as min and median over several runs, wall *and* CPU time (user
plus system, of the process and what it waited for), so a busy machine shows as a gap
between the two rather than as a slower gert.
"""

from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The console script, as users run it (python -m adds runpy's overhead).
_SCRIPT = Path(sys.executable).with_name("gert")
GERT = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "gert.cli"]


def compiled() -> None:
    """Byte-compile gert's sources first, as an installed package is: with
    PYTHONDONTWRITEBYTECODE set, an editable install would otherwise compile every
    module on every start and the figures would measure the compiler."""
    compileall.compile_dir(ROOT / "src", quiet=1)


def _summary(samples: list[float]) -> dict[str, float]:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples)}


# Peak memory is read through a small launcher: Linux keeps a process's peak RSS across
# exec, so a command started straight from this (larger) Python would report ours.
_LAUNCH = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    fd = os.open(os.devnull, os.O_WRONLY); os.dup2(fd, 1); os.dup2(fd, 2)\n"
    "    os.execvp(sys.argv[1], sys.argv[1:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "print(usage.ru_maxrss)\n"
)


def peak_rss(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Peak resident memory of one run of a command, in MB."""
    out = subprocess.run(
        [sys.executable, "-S", "-c", _LAUNCH, *argv], cwd=cwd, env=env, capture_output=True
    )
    return int(out.stdout.split()[-1]) / 1024


def measure_command(
    argv: list[str], runs: int = 15, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> dict[str, dict[str, float]]:
    """Wall and CPU time (ms) of a command over *runs* runs after one warm-up run, and
    its peak resident memory (MB) over three more; each as min, median and max."""
    compiled()
    env = {**os.environ, **(env or {})}
    subprocess.run(argv, cwd=cwd, env=env, capture_output=True)  # warm the file cache
    wall, cpu = [], []
    for _ in range(runs):
        start = time.perf_counter()
        child = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _, _, usage = os.wait4(child.pid, 0)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((usage.ru_utime + usage.ru_stime) * 1000)
        child.returncode = 0  # reaped by wait4
    rss = [peak_rss(argv, cwd, env) for _ in range(3)]
    return {"wall": _summary(wall), "cpu": _summary(cpu), "rss": _summary(rss)}


def time_command(argv: list[str], runs: int = 15, cwd: Path = ROOT) -> dict[str, float]:
    """Wall time of a command over *runs* runs (after one warm-up), in milliseconds."""
    return measure_command(argv, runs, cwd)["wall"]


def measure_calls(call: Callable[[], object], runs: int = 5) -> dict[str, dict[str, float]]:
    """Wall and CPU time (ms) of *call* in this process over *runs* runs."""
    wall, cpu = [], []
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        call()
        cpu.append((time.process_time() - c) * 1000)
        wall.append((time.perf_counter() - w) * 1000)
    return {"wall": _summary(wall), "cpu": _summary(cpu)}


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


def report(
    name: str, figures: dict[str, dict[str, float]], target: float | None = None, on: str = "wall"
) -> bool:
    """Print wall and CPU (and peak memory when measured) of one measurement, min and
    median, with *target* checked against the median of *on* ("wall", "cpu" or "rss").
    True when the target is met (or there is none)."""
    units = {"wall": "ms", "cpu": "ms", "rss": "MB"}
    parts = [
        f"{kind} min {f['min']:.2f} median {f['median']:.2f} {units[kind]}"
        for kind, f in figures.items()
    ]
    met = target is None or figures[on]["median"] <= target
    verdict = "" if target is None else f"  target {on} <= {target:g}: {'met' if met else 'MISSED'}"
    print(f"{name}\n    {' | '.join(parts)}{verdict}")
    return met
