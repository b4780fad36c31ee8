"""A real Prometheus (Debian package `prometheus`) on 127.0.0.1 with a temporary data
folder, its samples backfilled with `promtool tsdb create-blocks-from openmetrics`.

Series, one sample every 15 s over the hour before START_OFFSET seconds ago:
- `login_failures_total{server="sobeys-sql01", error="18456"}`: +1 a sample
- `login_failures_total{server="other"}`: +1 every other sample
- `http_requests_total{job="api", code="200"|"500"}`: +10 and +1 a sample

Used by tests/test_query_tools.py and bench/query_overhead.py.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

HOUR = 3600
STEP = 15


def missing() -> str | None:
    """Why a real Prometheus cannot run here, or None."""
    for program in ("prometheus", "promtool"):
        if shutil.which(program) is None:
            return f"{program} missing: run scripts/setup.sh (Debian package prometheus)"
    return None


def openmetrics(end: int) -> str:
    """The samples, as OpenMetrics text ending at Unix second *end*."""
    start = end - HOUR
    lines = ["# TYPE login_failures counter", "# TYPE http_requests counter"]
    for i, t in enumerate(range(start, end + 1, STEP)):
        lines += [
            f'login_failures_total{{server="sobeys-sql01",error="18456"}} {i} {t}',
            f'login_failures_total{{server="other"}} {i // 2} {t}',
            f'http_requests_total{{job="api",code="200"}} {10 * i} {t}',
            f'http_requests_total{{job="api",code="500"}} {i} {t}',
        ]
    return "\n".join(lines) + "\n# EOF\n"


@contextlib.contextmanager
def prometheus() -> Iterator[tuple[str, int]]:
    """A running Prometheus: (its URL, the Unix second its samples end at)."""
    base = Path(tempfile.mkdtemp(prefix="gert-prom-"))
    end = int(time.time()) // STEP * STEP - 60
    (base / "data.om").write_text(openmetrics(end), encoding="utf-8")
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", "data.om", "data"],
        cwd=base,
        check=True,
        capture_output=True,
    )
    (base / "prometheus.yml").write_text("global: {scrape_interval: 1h}\n", encoding="utf-8")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (base / "log").open("wb")
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={base / 'prometheus.yml'}",
            f"--storage.tsdb.path={base / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=30d",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/-/ready", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "Prometheus did not start: " + (base / "log").read_text(errors="replace")[-800:]
                )
            time.sleep(0.1)
        yield url, end
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(base, ignore_errors=True)
