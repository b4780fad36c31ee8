"""``gert tui`` headless (Textual's Pilot) on a copy of the example project whose chain
ran RUNS times: wall and CPU time to the incidents screen, to an incident's chains, and
to a run's steps, min and median over 5 starts (CPU of this process: the app runs in it).

Run: .venv/bin/python bench/tui_screens.py [RUNS]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _util import ROOT, _summary, compiled, report

INCIDENT = "747870160"


def main(runs: int = 20) -> None:
    import anyio
    from textual.widgets import DataTable

    from gert.project import open_project
    from gert.tui import GertApp, IncidentScreen, RunScreen

    compiled()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "examples"
        shutil.copytree(ROOT / "examples", root, ignore=shutil.ignore_patterns(".runbook"))
        subprocess.run([sys.executable, "create_example_data.py"], cwd=root, check=True)
        for _ in range(runs):
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "gert.cli",
                    "exec",
                    "runbooks/login-success-rate-below-target.runbook.yaml",
                    "--incident",
                    INCIDENT,
                    "--evidence",
                    "answers/747870160.yaml",
                ],
                cwd=root,
                check=True,
                capture_output=True,
            )
        figures: dict[str, dict[str, list[float]]] = {}

        def note(name: str, wall: float, cpu: float) -> None:
            entry = figures.setdefault(name, {"wall": [], "cpu": []})
            entry["wall"].append(wall * 1000)
            entry["cpu"].append(cpu * 1000)

        async def until(pilot, check) -> None:
            while not check():
                await pilot.pause(0.005)

        async def session() -> None:
            w, c = time.perf_counter(), time.process_time()
            app = GertApp(open_project(root), "user:bench")
            async with app.run_test(size=(100, 40)) as pilot:
                await until(
                    pilot,
                    lambda: (
                        app.screen.query(DataTable)
                        and app.screen.query_one(DataTable).row_count > 0
                    ),
                )
                note("incidents screen", time.perf_counter() - w, time.process_time() - c)
                w, c = time.perf_counter(), time.process_time()
                await pilot.press("enter")
                await until(
                    pilot,
                    lambda: (
                        isinstance(app.screen, IncidentScreen)
                        and app.screen.query_one(DataTable).row_count > 0
                    ),
                )
                note(
                    f"an incident ({2 * runs} runs)",
                    time.perf_counter() - w,
                    time.process_time() - c,
                )
                w, c = time.perf_counter(), time.process_time()
                await pilot.press("enter")
                await until(
                    pilot,
                    lambda: (
                        isinstance(app.screen, RunScreen)
                        and app.screen.query_one(DataTable).row_count > 0
                    ),
                )
                note("a run's steps", time.perf_counter() - w, time.process_time() - c)

        for _ in range(5):
            anyio.run(session)
        for name, f in figures.items():
            report(name, {"wall": _summary(f["wall"]), "cpu": _summary(f["cpu"])})


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
