"""Start-up: `gert --help` and `gert validate` of one runbook, as a user runs them.

Targets (2-core machine): --help <= 80 ms; validate one runbook <= 200 ms.
Run: .venv/bin/python bench/startup.py
"""

from __future__ import annotations

import subprocess
import sys

from _util import GERT, ROOT, row, time_command

HEAVY = ["pydantic", "rich", "httpx", "httpx2", "mcp", "jsonschema", "textual", "fastapi", "ruamel"]


def main() -> None:
    probe = f"import sys, gert.cli; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True
    ).stdout.strip()
    print(f"heavy modules imported by `import gert.cli`: {loaded or 'none'}")
    row("python -c pass (interpreter floor)", time_command([sys.executable, "-c", "pass"]))
    row("gert --help", time_command([*GERT, "--help"]), target=80)
    triage = ROOT / "examples/runbooks/login-success-rate-below-target.runbook.yaml"
    row(
        "gert validate <triage runbook>", time_command([*GERT, "validate", str(triage)]), target=200
    )
    small = ROOT / "examples/runbooks/causes/Unknown.runbook.yaml"
    row(
        "gert validate <small runbook, no JSONPath>",
        time_command([*GERT, "validate", str(small)]),
        target=200,
    )


if __name__ == "__main__":
    main()
