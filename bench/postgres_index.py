"""The PostgreSQL store's index at scale: RUNS runs (10 per incident, chains of two)
written straight into a private PostgreSQL, then wall and CPU time of an incident's runs
(``store.incident_runs``), of ``gert incident show``'s view (``incident_overview``) in
process, of ``gert runs list --limit 50``'s query, and of the ``gert incident show``
command, min and median over 20 tries.

Run: .venv/bin/python bench/postgres_index.py [RUNS]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from _util import GERT, compiled, measure_command

FILL = """
INSERT INTO gert_runs (run_id, manifest, incident_id, runbook, runbook_name, parent_run_id,
                       status, state, mode, actor, started_at, ended_at, duration_ms,
                       steps_total, steps_failed)
SELECT
  to_char(timestamp '2026-01-01' + n * interval '1 second', 'YYYYMMDD"T"HH24MISS')
    || '-' || lpad(to_hex(n), 8, '0'),
  '{"run_id": "x", "status": "completed", "runbook_name": "triage"}',
  'INC-' || (n / 10),
  'runbooks/triage.runbook.yaml',
  CASE WHEN n % 2 = 0 THEN 'triage' ELSE 'fix' END,
  CASE WHEN n % 2 = 1 THEN
    to_char(timestamp '2026-01-01' + (n - 1) * interval '1 second', 'YYYYMMDD"T"HH24MISS')
    || '-' || lpad(to_hex(n - 1), 8, '0') ELSE '' END,
  'completed',
  CASE WHEN n % 2 = 0 THEN 'needs_rca' ELSE 'resolved' END,
  'real', 'oncall',
  to_char(timestamp '2026-01-01' + n * interval '1 second', 'YYYY-MM-DD"T"HH24:MI:SS".000Z"'),
  to_char(timestamp '2026-01-01' + n * interval '1 second', 'YYYY-MM-DD"T"HH24:MI:SS".900Z"'),
  900, 3, 0
FROM generate_series(0, {runs} - 1) AS n
"""


def timed(fn, tries: int = 20) -> tuple[float, float, float, float]:
    walls, cpus = [], []
    fn()  # warm
    for _ in range(tries):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append((time.perf_counter() - w) * 1000)
        cpus.append((time.process_time() - c) * 1000)
    walls.sort()
    cpus.sort()
    return walls[0], walls[len(walls) // 2], cpus[0], cpus[len(cpus) // 2]


def main(runs: int = 1_000_000) -> None:
    import psycopg

    from services import PostgresCluster

    compiled()
    pg = PostgresCluster()
    pg.start()
    try:
        from gert.store.postgres import PostgresStore, apply_migrations

        with psycopg.connect(pg.url, autocommit=True) as conn:
            apply_migrations(conn)
            began = time.perf_counter()
            conn.execute(FILL.replace("{runs}", str(runs)))
            conn.execute("ANALYZE gert_runs")
            print(f"{runs:,} runs written in {time.perf_counter() - began:.1f} s")
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "gert.yaml").write_text("record: off\nstore: {backend: postgresql}\n")
            os.environ["GERT_DATABASE_URL"] = pg.url
            from gert.overview import incident_overview
            from gert.project import open_project

            project = open_project(root)
            store = PostgresStore(pg.url, root / "work")
            incident = f"INC-{runs // 20}"
            rows = [
                ("store.incident_runs (10 runs)", lambda: store.incident_runs(incident)),
                (
                    "incident_overview (gert incident show's view)",
                    lambda: incident_overview(project, incident),
                ),
                ("store.query(limit=50) (gert runs list)", lambda: store.query(limit=50)),
                (
                    "store.query(runbook='fix', state='resolved', limit=50)",
                    lambda: store.query(runbook="fix", state="resolved", limit=50),
                ),
            ]
            print(f"{'what':55} {'wall min/median ms':>20} {'CPU min/median ms':>19}")
            for name, fn in rows:
                w0, w1, c0, c1 = timed(fn)
                print(f"{name:55} {w0:>9.2f} / {w1:<8.2f} {c0:>8.2f} / {c1:<8.2f}")
            store.close()
            env = {**os.environ, "GERT_DATABASE_URL": pg.url}
            figures = measure_command([*GERT, "incident", "show", incident], 10, root, env)
            wall, cpu = figures["wall"], figures["cpu"]
            print(
                f"{'gert incident show (the whole command)':55} "
                f"{wall['min']:>9.0f} / {wall['median']:<8.0f} "
                f"{cpu['min']:>8.0f} / {cpu['median']:<8.0f}"
            )
    finally:
        pg.stop("immediate")
        import shutil

        shutil.rmtree(pg.base, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
