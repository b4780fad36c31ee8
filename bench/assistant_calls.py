"""``gert mcp`` as an assistant's client sees it: the SDK's own client starts ``gert mcp``
on stdio in a copy of the example project and calls its tools. Prints, for start-up
(spawn + initialize) and for each tool, wall time as the client waits and CPU time of the
``gert mcp`` process (from /proc), min and median.

Run: .venv/bin/python bench/assistant_calls.py [CALLS]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _util import ROOT, _summary, compiled, report

INCIDENT = "747870160"
TRIAGE = "runbooks/login-success-rate-below-target.runbook.yaml"


def cpu_ms(pid: int) -> float:
    """CPU time of a process's threads so far, in milliseconds (the scheduler's count,
    in nanoseconds: finer than /proc's clock ticks)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        total += int((task / "schedstat").read_text().split()[0])
    return total / 1e6


def server_pid() -> int:
    """The newest ``gert.cli mcp`` process (the one the client just started)."""
    out = subprocess.run(["pgrep", "-n", "-f", "gert.cli mcp"], capture_output=True, text=True)
    return int(out.stdout.split()[0])


def main(calls: int = 20) -> None:
    import anyio
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    compiled()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "examples"
        shutil.copytree(ROOT / "examples", root, ignore=shutil.ignore_patterns(".runbook"))
        subprocess.run([sys.executable, "create_example_data.py"], cwd=root, check=True)
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "gert.cli", "mcp"], cwd=str(root)
        )
        figures: dict[str, dict[str, list[float]]] = {}

        def note(name: str, wall: float, cpu: float) -> None:
            entry = figures.setdefault(name, {"wall": [], "cpu": []})
            entry["wall"].append(wall)
            entry["cpu"].append(cpu)

        async def one_session(measure_tools: bool) -> None:
            start = time.perf_counter()
            async with (
                stdio_client(params) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                pid = server_pid()
                note(
                    "start-up (spawn + initialize)",
                    (time.perf_counter() - start) * 1000,
                    cpu_ms(pid),
                )
                if not measure_tools:
                    return
                run = await session.call_tool("run", {"runbook": TRIAGE, "incident_id": INCIDENT})
                run_id = run.structured_content["waiting"]["run_id"]
                tools: list[tuple[str, dict[str, Any]]] = [
                    ("list_runbooks", {}),
                    ("run_status", {"run_id": run_id}),
                    ("show_incident", {"incident_id": INCIDENT}),
                    ("dry_run", {"runbook": TRIAGE, "incident_id": INCIDENT}),
                ]
                for name, args in tools:
                    for _ in range(calls):
                        c, w = cpu_ms(pid), time.perf_counter()
                        result = await session.call_tool(name, args)
                        assert not result.is_error, result.content
                        note(name, (time.perf_counter() - w) * 1000, cpu_ms(pid) - c)

        for n in range(5):
            anyio.run(one_session, n == 0)
        for name, f in figures.items():
            report(
                f"{name} ({len(f['wall'])} calls)",
                {"wall": _summary(f["wall"]), "cpu": _summary(f["cpu"])},
            )
        print("(cpu: of the gert mcp process, all its threads)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
