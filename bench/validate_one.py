"""`gert validate` of one runbook, whole process, as a user runs it.

Target (2-core machine): <= 90 ms wall. Prints what the command imports that costs most
(`python -X importtime`), since start-up is most of it.
Run: .venv/bin/python bench/validate_one.py
"""

from __future__ import annotations

import re
import subprocess
import sys

from _util import GERT, ROOT, measure_command, report

TRIAGE = ROOT / "examples/runbooks/login-success-rate-below-target.runbook.yaml"
SMALL = ROOT / "examples/runbooks/causes/Unknown.runbook.yaml"


def heaviest_imports(argv: list[str], top: int = 8) -> list[tuple[str, float]]:
    """The top-level imports of a command that cost most, in ms (cumulative)."""
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gert.cli", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stderr
    found = []
    for line in err.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)", line)
        if m and len(m.group(2)) <= 2:  # imported by gert's own modules, or the top
            found.append((m.group(3), int(m.group(1)) / 1000))
    return sorted(found, key=lambda x: -x[1])[:top]


def main() -> None:
    report(
        "gert validate <the example's triage runbook>",
        measure_command([*GERT, "validate", str(TRIAGE)]),
        90,
    )
    report("gert validate <a small runbook>", measure_command([*GERT, "validate", str(SMALL)]), 90)
    print("heaviest imports of `gert validate` (ms, one run, under -X importtime):")
    for name, ms in heaviest_imports(["validate", str(SMALL)]):
        print(f"    {ms:7.1f}  {name}")


if __name__ == "__main__":
    main()
