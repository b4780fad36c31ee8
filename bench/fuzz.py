"""Fuzz every parser for a while: the targets of
tests/fuzz_targets.py, each fed generated hostile text for SECONDS (default 30) under a
per-input time limit. Prints, per target, inputs tried, wall and CPU time, and findings
(anything but a result or a gert error: a traceback, or an input slower than the limit).

Run: .venv/bin/python bench/fuzz.py [SECONDS] [TARGET...]
"""

from __future__ import annotations

import signal
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from hypothesis import HealthCheck, given, settings

from fuzz_targets import TARGETS, run_one

PER_INPUT = 10  # seconds: slower than this is a finding (a hang)


class Slow(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise Slow


def fuzz(name: str, seconds: float) -> tuple[int, list[str]]:
    """Inputs tried and findings for one target."""
    strategy, target = TARGETS[name]
    tried = 0
    findings: list[str] = []
    deadline = time.monotonic() + seconds

    @settings(
        max_examples=500,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=False,
    )
    @given(strategy)
    def check(text: str) -> None:
        nonlocal tried
        if time.monotonic() > deadline:
            return
        tried += 1
        signal.alarm(PER_INPUT)
        try:
            run_one(target, text)
        except Slow:
            findings.append(f"slower than {PER_INPUT}s: {text[:200]!r}")
        except Exception as e:  # a finding: report it and go on
            findings.append(
                f"{type(e).__name__}: {e} on {text[:200]!r}\n{traceback.format_exc(limit=3)}"
            )
        finally:
            signal.alarm(0)

    signal.signal(signal.SIGALRM, _alarm)
    while time.monotonic() < deadline:
        check()
    return tried, findings


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    names = sys.argv[2:] or sorted(TARGETS)
    total = 0
    for name in names:
        wall, cpu = time.perf_counter(), time.process_time()
        tried, findings = fuzz(name, seconds)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        total += len(findings)
        print(
            f"{name:12} {tried:8,} inputs  {wall:6.1f} s wall  {cpu:6.1f} s CPU  "
            f"{len(findings)} finding(s)"
        )
        for f in findings[:5]:
            print("    " + f.replace("\n", "\n    "))
    print(f"{total} finding(s)")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
