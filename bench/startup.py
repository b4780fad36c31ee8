"""Start-up: `gert --help` and `gert --version`, whole process, as a user runs them.

Target (2-core machine): <= 40 ms wall each. The interpreter's own start and `import
click` are printed too: they are the floor under any command that parses options.
Run: .venv/bin/python bench/startup.py
"""

from __future__ import annotations

import subprocess
import sys

from _util import GERT, measure_command, report

HEAVY = ["pydantic", "rich", "httpx", "mcp", "jsonschema", "ruamel", "jsonpath", "click"]


def main() -> None:
    probe = f"import sys, gert.cli; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True
    ).stdout.strip()
    print(f"heavy modules imported by `import gert.cli`: {loaded or 'none'}")
    report(
        "python -c pass (the interpreter's floor)", measure_command([sys.executable, "-c", "pass"])
    )
    report(
        "python -c 'import click' (the floor of a command)",
        measure_command([sys.executable, "-c", "import click"]),
    )
    report("gert --version", measure_command([*GERT, "--version"]), 40)
    report("gert --help", measure_command([*GERT, "--help"]), 40)


if __name__ == "__main__":
    main()
