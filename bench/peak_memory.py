"""Peak resident memory of `gert validate` (one runbook) and `gert test` (1,000 scenarios,
one process), whole process.

Targets (2-core machine): <= 30 MB and <= 40 MB. The interpreter with click loaded is
printed as the floor.
Run: .venv/bin/python bench/peak_memory.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _util import GERT, ROOT, measure_command, report
from gert_test_corpus import make_mixed


def main() -> None:
    floor = measure_command([sys.executable, "-c", "import click"], runs=5)
    report("python -c 'import click' (the floor)", {"rss": floor["rss"]})
    small = ROOT / "examples/runbooks/causes/Unknown.runbook.yaml"
    validate = measure_command([*GERT, "validate", str(small)], runs=5)
    report("gert validate <a small runbook>", {"rss": validate["rss"]}, 30, "rss")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        make_mixed(root, 1000)
        test = measure_command([*GERT, "test", "-j", "1"], runs=3, cwd=root)
        report("gert test -j 1 <1,000 scenarios>", {"rss": test["rss"]}, 40, "rss")


if __name__ == "__main__":
    main()
