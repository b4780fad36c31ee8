"""`gert serve` under load, on 127.0.0.1 (a real uvicorn in its own process).

Targets (2-core machine): the incident page of an incident with 1,000 runs <= 200 ms;
p99 latency of GET /api/v1/runs/{id} (verified on every read) with 50 concurrent
clients <= 100 ms; an alert accepted to its first step started <= 300 ms.

Run: .venv/bin/python bench/server.py [RUNS]
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
from _util import compiled, report

SECRET = "bench-alert-secret-0123456789"
RUNBOOK = """apiVersion: runbook/v0
meta: {name: probe, kind: composable, inputs: {target: {from: incident.custom_fields.service, default: x}}}
steps:
  - {id: look, type: cli, with: {argv: [echo, '{{ .target }}']}, capture: {out: stdout}}
"""


def make(root: Path, runs: int) -> None:
    """A project with *runs* real runs of one incident."""
    from gert.engine import Engine, Options
    from gert.incident.local import local_provider
    from gert.project import open_project

    (root / "runbooks").mkdir(parents=True)
    (root / "gert.yaml").write_text(
        "record: 'off'\nincident: {post: 'off'}\n"
        "server: {alert_secret_env: GERT_BENCH_ALERTS, max_runs: 4}\n"
        "routes: [{match: {alertname: Probe}, runbook: runbooks/probe.runbook.yaml}]\n"
    )
    (root / "runbooks" / "probe.runbook.yaml").write_text(RUNBOOK)
    project = open_project(root)
    local_provider(project).create("INC-1", "a busy incident", 2, {"service": "api"})
    with Engine(project) as engine:
        for _ in range(runs):
            engine.run(root / "runbooks" / "probe.runbook.yaml", Options(incident_id="INC-1"))


def cpu_ms(pid: int) -> float:
    """CPU time (user + system) a process has used, in ms."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed_get(url: str, n: int) -> dict[str, float]:
    """Wall time of *n* GETs over one connection, in ms (after one warm-up)."""
    client = httpx.Client(timeout=60)
    client.get(url)
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        r = client.get(url)
        samples.append((time.perf_counter() - start) * 1000)
        assert r.status_code == 200, r.status_code
    return {"min": min(samples), "median": statistics.median(samples), "max": max(samples)}


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    compiled()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        start = time.perf_counter()
        make(root, runs)
        print(f"{runs} real runs of incident INC-1 made in {time.perf_counter() - start:.1f} s")
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "gert.cli", "serve", "--port", str(port)],
            cwd=root,
            env={**os.environ, "GERT_BENCH_ALERTS": SECRET},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/api/v1/openapi.json", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            page = timed_get(f"{base}/incidents/INC-1", 10)
            report(
                f"the incident page, {runs} runs (wall, as the client waits)", {"wall": page}, 200
            )

            ids = [r["run_id"] for r in httpx.get(f"{base}/api/v1/runs?limit=200").json()["runs"]]

            local = threading.local()

            def read(n: int) -> float:
                # each of the 50 clients keeps its connection, as a real client does
                if not hasattr(local, "client"):
                    local.client = httpx.Client(base_url=base, timeout=60)
                start = time.perf_counter()
                r = local.client.get(f"/api/v1/runs/{ids[n % len(ids)]}")
                assert r.status_code == 200
                return (time.perf_counter() - start) * 1000

            with ThreadPoolExecutor(50) as pool:
                list(pool.map(read, range(50)))  # warm
                before = cpu_ms(server.pid)
                latencies = sorted(pool.map(read, range(1000)))
                served = (cpu_ms(server.pid) - before) / 1000
            p99 = latencies[int(len(latencies) * 0.99) - 1]
            report(
                "GET /api/v1/runs/{id}, 50 clients at once, 1,000 reads",
                {
                    "wall": {
                        "min": latencies[0],
                        "median": statistics.median(latencies),
                        "max": latencies[-1],
                    }
                },
            )
            print(f"    p99 {p99:.1f} ms  target p99 <= 100: {'met' if p99 <= 100 else 'MISSED'}")
            print(
                f"    the server's CPU per read: {served:.2f} ms (the 50 clients share "
                "the same two cores)"
            )

            delays = []
            for n in range(10):
                body = json.dumps(
                    {
                        "title": "probe",
                        "fields": {"alertname": "Probe", "service": f"s{n}"},
                        "fingerprint": f"b{n}",
                    }
                ).encode()
                sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                sent = dt.datetime.now(dt.UTC)
                r = httpx.post(
                    f"{base}/api/v1/alerts",
                    content=body,
                    headers={"X-Gert-Signature": sig, "Content-Type": "application/json"},
                    timeout=60,
                )
                run_id = r.json()["alerts"][0]["run_id"]
                for _ in range(200):
                    events = httpx.get(f"{base}/api/v1/runs/{run_id}").json()["events"]
                    first = next((e for e in events if e["type"] == "step_started"), None)
                    if first:
                        break
                    time.sleep(0.02)
                began = dt.datetime.fromisoformat(first["ts"].replace("Z", "+00:00"))
                delays.append((began - sent).total_seconds() * 1000)
            report(
                "an alert accepted to its first step started",
                {
                    "wall": {
                        "min": min(delays),
                        "median": statistics.median(delays),
                        "max": max(delays),
                    }
                },
                300,
            )
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
