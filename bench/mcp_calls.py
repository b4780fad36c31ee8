"""MCP tool steps against a real third-party server (``mcp-server-time`` from PyPI): the
first call starts the server, later calls of the run reuse its session. Prints the first
call and the min and median of the rest (wall, from the step records), and the whole
run's wall and CPU time (CPU of gert's own process). Target: <= 50 ms per call after the
first.

Run: .venv/bin/python bench/mcp_calls.py [CALLS]
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

SERVER = shutil.which("mcp-server-time", path=str(Path(sys.executable).parent))


def main(calls: int = 20) -> None:
    from gert.engine import Engine, Options
    from gert.project import open_project

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "gert.yaml").write_text("record: 'off'\n")
        (root / "tools").mkdir()
        (root / "tools" / "inc.tool.yaml").write_text(
            textwrap.dedent(f"""
            apiVersion: tool/v0
            meta: {{name: inc}}
            transport: {{mode: mcp, command: ["{SERVER}", "--local-timezone", "UTC"], timeout: 30s}}
            actions:
              now: {{mcp_tool: get_current_time, args: {{timezone: {{type: string, required: true}}}}}}
            """)
        )
        steps = "\n".join(
            f"  - {{id: c{i}, type: tool, tool: {{name: inc, action: now, args: {{timezone: UTC}}}}, capture: {{t{i}: $.datetime}}}}"
            for i in range(calls)
        )
        (root / "m.runbook.yaml").write_text(
            "apiVersion: runbook/v0\nmeta: {name: m, kind: composable}\n"
            f"tools: {{inc: tools/inc.tool.yaml}}\nsteps:\n{steps}\n"
        )
        cpu, wall = time.process_time(), time.perf_counter()
        with Engine(open_project(root)) as engine:
            run = engine.run(root / "m.runbook.yaml", Options(post=False)).final
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert run.status == "completed", run.error or [s.error for s in run.steps if s.error]
        from gert.util import parse_iso

        ms = []
        for f in sorted(p.name for p in (run.folder / "steps").iterdir()):
            step = json.loads((run.folder / "steps" / f).read_text())
            began, ended = parse_iso(step["started_at"]), parse_iso(step["ended_at"])
            ms.append((ended - began).total_seconds() * 1000)
    rest = statistics.median(ms[1:])
    verdict = "met" if rest <= 50 else "MISSED"
    print(
        f"{calls} calls of mcp-server-time in one run: first {ms[0]:.0f} ms (starts the server), then median "
        f"{rest:.1f} ms (min {min(ms[1:]):.1f}, max {max(ms[1:]):.1f})  target <= 50 ms: {verdict}; "
        f"whole run {wall:.2f} s wall, {cpu:.2f} s CPU in gert"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
