"""The example incident's postmortem as PDF, cold (a fresh process: fpdf2 imported, fonts
loaded, the document laid out). Target: <= 1 s.

Run: .venv/bin/python bench/postmortem_pdf.py [RUNS]
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GERT = [sys.executable, "-m", "gert.cli"]
TIMED = """
import time; from pathlib import Path
from gert.postmortem import build
from gert.project import open_project
from gert.store import open_store
from gert.incident.providers import get_with_timeline
p = open_project()
pm = build(open_store(p), "747870160", get_with_timeline(p, "747870160"), {}, None)
md = next(Path("postmortems").glob("*.md")).read_text()
w, c = time.perf_counter(), time.process_time()
from gert.postmortem import formats
formats.to_pdf(pm, md)
print(time.perf_counter() - w, time.process_time() - c)
"""


def main(runs: int = 5) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ex = Path(tmp) / "examples"
        shutil.copytree(
            ROOT / "examples", ex, ignore=shutil.ignore_patterns(".runbook", "data", "20*")
        )
        subprocess.run(
            [sys.executable, str(ex / "create_example_data.py")], check=True, capture_output=True
        )
        subprocess.run(
            [
                *GERT,
                "exec",
                "runbooks/login-success-rate-below-target.runbook.yaml",
                "--incident",
                "747870160",
                "--evidence",
                "answers/747870160.yaml",
            ],
            cwd=ex,
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [*GERT, "postmortem", "747870160", "--no-input"],
            cwd=ex,
            check=True,
            capture_output=True,
        )
        walls, cpus = [], []
        for _ in range(runs):
            out = subprocess.run(
                [sys.executable, "-c", TIMED], cwd=ex, check=True, capture_output=True, text=True
            )
            wall, cpu = (float(x) for x in out.stdout.split())
            walls.append(wall)
            cpus.append(cpu)
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    verdict = "met" if wall <= 1.0 else "MISSED"
    print(
        f"postmortem PDF, cold: median {wall:.3f} s wall, {cpu:.3f} s CPU over {runs} runs (min {min(walls):.3f}, max {max(walls):.3f})  target <= 1 s: {verdict}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
