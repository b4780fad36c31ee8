"""`gert incident show ID` and `gert runs list --incident ID` over an index of 100,000 runs.

Target: <= 150 ms each on the 2-core machine. The runs are generated straight
into the index (chains of 1-3 runs across 20,000 incidents).
Run: .venv/bin/python bench/index_queries.py [RUNS]
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path

from _util import GERT, row, time_command

from gert.store.index import RunIndex


def generate(index: RunIndex, count: int) -> str:
    """Insert *count* runs; returns an incident ID that has a 3-run chain."""
    rng = random.Random(7)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rows, made, incident = [], 0, 0
    while made < count:
        incident += 1
        parent = ""
        for depth in range(rng.choice((1, 2, 3))):
            t = start + dt.timedelta(seconds=made * 37)
            run_id = f"{t:%Y%m%dT%H%M%S}-{made:08x}"
            state = "needs_rca" if depth < 2 else rng.choice(("resolved", "escalated"))
            rows.append(
                (
                    run_id,
                    str(700000000 + incident),
                    f"runbooks/r{depth}.runbook.yaml",
                    f"runbook-{depth}",
                    parent,
                    "completed",
                    state,
                    "recommendation text",
                    "",
                    "real",
                    "oncall",
                    t.isoformat(),
                    (t + dt.timedelta(seconds=5)).isoformat(),
                    5000.0,
                    3,
                    0,
                    f"/runs/{run_id}",
                )
            )
            parent = run_id
            made += 1
    index.upsert(rows)
    return str(700000000 + incident // 2)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "gert.yaml").write_text("record: off\n")
        index = RunIndex(root / ".runbook" / "index.sqlite")
        t = time.perf_counter()
        incident = generate(index, count)
        index.close()
        print(
            f"{count} runs indexed in {time.perf_counter() - t:.1f} s; querying incident {incident}"
        )
        row(
            f"gert incident show ID ({count} runs)",
            time_command([*GERT, "incident", "show", incident], cwd=root),
            target=150,
        )
        row(
            f"gert runs list --incident ID ({count} runs)",
            time_command([*GERT, "runs", "list", "--incident", incident], cwd=root),
            target=150,
        )
        row(
            "gert runs list (newest 50)",
            time_command([*GERT, "runs", "list"], cwd=root),
            target=150,
        )


if __name__ == "__main__":
    main()
