"""One scrape of `gert serve`'s /metrics over a file store of 10,000 indexed runs (and
100,000): what the collector costs, in this process and through a real server.

Target: <= 50 ms wall for 10,000 runs. The runs are generated straight into the index
(as bench/index_queries.py does); the figures are SQL aggregates over it, so a scrape reads
no run folder.
Run: .venv/bin/python bench/metrics_scrape.py [RUNS...]
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _util import GERT, measure_calls, report
from index_queries import generate

from gert.metrics import exposition, registry
from gert.project import open_project
from gert.store.index import RunIndex


def scrape_over_http(root: Path, runs: int = 15) -> dict[str, dict[str, float]]:
    """Wall time of GET /metrics on a real gert serve, and the server's CPU per scrape."""
    import httpx2 as httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [*GERT, "serve", "--port", str(port), "--log-format", "text"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        for _ in range(300):
            try:
                if httpx.get(url, timeout=1).status_code == 200:  # also the warm-up
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        wall, cpu = [], []
        ticks = os.sysconf("SC_CLK_TCK")
        for _ in range(runs):
            before = _cpu(proc.pid, ticks)
            t = time.perf_counter()
            assert httpx.get(url, timeout=30).status_code == 200
            wall.append((time.perf_counter() - t) * 1000)
            cpu.append((_cpu(proc.pid, ticks) - before) * 1000)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    import statistics

    def summary(xs: list[float]) -> dict[str, float]:
        return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}

    return {"wall": summary(wall), "cpu": summary(cpu)}


def _cpu(pid: int, ticks: int) -> float:
    """User plus system seconds of a process so far (clock ticks: 10 ms steps)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks


def main() -> None:
    counts = [int(a) for a in sys.argv[1:]] or [10_000, 100_000]
    for count in counts:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "gert.yaml").write_text("record: off\n")
            index = RunIndex(root / ".runbook" / "index.sqlite")
            generate(index, count)
            index.close()
            reg, collector = registry(open_project(root))
            body, _ = exposition(reg)
            assert b'gert_runs_started_total{runbook="runbook-0"}' in body
            report(
                f"scrape in process, {count} runs ({len(body)} bytes)",
                measure_calls(lambda reg=reg: exposition(reg), runs=15),
                target=50 if count == 10_000 else None,
            )
            collector.close()
            report(
                f"GET /metrics on gert serve, {count} runs (server CPU in 10 ms ticks)",
                scrape_over_http(root),
            )


if __name__ == "__main__":
    main()
