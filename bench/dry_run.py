"""`gert exec --mode dry-run` of the example's chain (triage, then its cause runbook),
whole process, in a copy of the example project.

Target (2-core machine): <= 150 ms wall.
Run: .venv/bin/python bench/dry_run.py
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from _util import GERT, ROOT, measure_command, report

ARGS = [
    "exec",
    "runbooks/login-success-rate-below-target.runbook.yaml",
    "--mode",
    "dry-run",
    "--var",
    "server_name=sql01",
    "--var",
    "database_name=AlarmDB",
    "--var",
    "environment=ProdEus1a",
    "--var",
    "login_failure_cause=IsReplicaInBuild",
]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "example"
        shutil.copytree(ROOT / "examples", root, ignore=shutil.ignore_patterns(".runbook"))
        report(
            "gert exec --mode dry-run <the example's chain>",
            measure_command([*GERT, *ARGS], cwd=root),
            150,
        )


if __name__ == "__main__":
    main()
