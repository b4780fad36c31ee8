"""Postmortem drafting on a large incident.

Target on the 2-core machine: an incident with 20 runs and 50,000 trace events is collected
and rendered to Markdown in <= 2 s. HTML and PDF renderings are timed too (no target: the
PDF is dominated by fpdf2's layout of the long timeline table).
Run: .venv/bin/python bench/postmortem_render.py [RUNS] [EVENTS]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from gert import postmortem
from gert.engine import Engine, Options
from gert.incident.local import LocalProvider
from gert.postmortem import formats as postmortem_formats
from gert.project import open_project
from gert.store import open_store
from gert.store.trace import read_events


def runbook(steps: int) -> str:
    body = "\n".join(
        f"  - {{id: s{i}, type: cli, with: {{argv: [echo, 'line {i}']}}, capture: {{c{i % 5}: stdout}}}}"
        for i in range(steps)
    )
    last = "  - {id: done, type: cli, with: {argv: [echo, ok]}, outcomes: [{state: resolved}]}"
    return f"apiVersion: runbook/v0\nmeta: {{name: big}}\nsteps:\n{body}\n{last}\n"


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    events = int(sys.argv[2]) if len(sys.argv) > 2 else 50_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "gert.yaml").write_text("record: 'off'\npost: 'off'\n")
        # A dry-run step writes two trace events (started, completed); a run adds a few more.
        (root / "big.runbook.yaml").write_text(runbook(max(1, events // runs // 2)))
        project = open_project(root)
        LocalProvider(root / ".runbook" / "incidents").create("1", "Big incident", severity=2)
        engine = Engine(project)
        start = time.perf_counter()
        for _ in range(runs):
            engine.run(root / "big.runbook.yaml", Options(mode="dry-run", incident_id="1"))
        print(f"set-up: {runs} runs recorded in {time.perf_counter() - start:.1f} s")
        store = open_store(project)
        incident = LocalProvider(root / ".runbook" / "incidents").get("1")
        incident["timeline"] = LocalProvider(root / ".runbook" / "incidents").timeline("1")
        total = sum(
            len(read_events(store.open(r.run_id).trace_path))
            for r in store.index.query(incident="1", limit=None)
        )

        samples = []
        for _ in range(3):
            start = time.perf_counter()
            pm = postmortem.build(store, "1", incident)
            text = postmortem.render(pm)
            samples.append(time.perf_counter() - start)
        best = min(samples)
        print(
            f"collect + render Markdown: {len(pm.runs)} runs, {total:,} trace events, "
            f"{len(text):,} characters in {best:.3f} s  target <= 2 s: {'met' if best <= 2 else 'MISSED'}"
        )
        start = time.perf_counter()
        page = postmortem_formats.to_html(pm, text)
        print(f"HTML rendering: {len(page):,} characters in {time.perf_counter() - start:.3f} s")
        start = time.perf_counter()
        pdf = postmortem_formats.to_pdf(pm, text)
        print(f"PDF rendering: {len(pdf):,} bytes in {time.perf_counter() - start:.3f} s")
        store.index.close()


if __name__ == "__main__":
    main()
