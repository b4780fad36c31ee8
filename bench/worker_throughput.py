"""Throughput of gert worker processes: CHAINS trivial chains (three runbooks, one
step each, two hand-offs) queued at once, run by 1, 2 and 4 worker processes (2 threads
each) on a private PostgreSQL and Redis. Prints chains per second, the queue wait of
each piece of work (queued -> taken, p50 and p99), and the CPU time the workers used
per chain (wall and CPU, as every benchmark here).

Run: .venv/bin/python bench/worker_throughput.py [CHAINS]
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from _util import compiled

RUNBOOK = """\
apiVersion: runbook/v0
meta: {{name: {name}{kind}}}
steps:
  - id: {name}_step
    type: cli
    with: {{argv: [echo, {name}]}}
    outcomes:
      - state: {state}
{next}"""


def write_chain(root: Path) -> None:
    names = ["page", "act", "check"]
    for i, name in enumerate(names):
        nxt = (
            f"        next_runbook: {{file: {names[i + 1]}.runbook.yaml}}\n"
            if i + 1 < len(names)
            else ""
        )
        (root / f"{name}.runbook.yaml").write_text(
            RUNBOOK.format(
                name=name,
                kind="" if i == 0 else ", kind: mitigation",
                state="resolved" if i == 2 else "needs_rca",
                next=nxt,
            )
        )


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def trial(
    root: Path, env: dict[str, str], workers: int, chains: int, one_at_a_time: bool = False
) -> dict[str, float]:
    import psycopg

    from gert.project import open_project
    from gert.queue import enqueue_chain, sender
    from gert.store.postgres import apply_migrations

    with psycopg.connect(env["GERT_DATABASE_URL"], autocommit=True) as conn:
        apply_migrations(conn)
        conn.execute("TRUNCATE gert_runs, gert_work CASCADE")
    os.environ.update(env)
    project = open_project(root)
    send = sender(project)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gert.cli", "worker", "-c", "2"],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    time.sleep(4)  # the workers start (Celery's start-up is not what is measured)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    with psycopg.connect(env["GERT_DATABASE_URL"], autocommit=True) as conn:
        for n in range(chains):
            enqueue_chain(project, str(root / "page.runbook.yaml"), send=send)
            while (
                one_at_a_time
                and conn.execute(
                    "SELECT count(*) FROM gert_runs WHERE runbook_name = 'check' AND "
                    "status = 'completed'"
                ).fetchone()[0]
                <= n
            ):
                time.sleep(0.005)
        while True:
            left = conn.execute(
                "SELECT count(*) FROM gert_work WHERE state IN ('queued', 'taken')"
            ).fetchone()[0]
            ended = conn.execute(
                "SELECT count(*) FROM gert_runs WHERE runbook_name = 'check' AND "
                "status = 'completed'"
            ).fetchone()[0]
            if left == 0 and ended == chains:
                break
            time.sleep(0.05)
        wall = time.monotonic() - start
        waits = [
            r[0]
            for r in conn.execute(
                "SELECT extract(epoch FROM taken_at - enqueued_at) FROM gert_work"
            ).fetchall()
        ]
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "chains_per_s": chains / wall,
        "wall_s": wall,
        "cpu_ms_per_chain": cpu * 1000 / chains,
        "wait_p50_ms": percentile(waits, 50) * 1000,
        "wait_p99_ms": percentile(waits, 99) * 1000,
    }


def main(chains: int = 100) -> None:
    from services import PostgresCluster, RedisServer

    compiled()
    with tempfile.TemporaryDirectory() as tmp:
        pg = PostgresCluster()
        pg.start()
        redis = RedisServer(Path(tmp))
        redis.start()
        try:
            root = Path(tmp) / "project"
            root.mkdir()
            (root / "gert.yaml").write_text(
                "record: off\nincident: {post: off}\nstore: {backend: postgresql}\n"
                "queue: {lease_seconds: 30}\n"
            )
            write_chain(root)
            env = {
                **os.environ,
                "GERT_DATABASE_URL": pg.url,
                "GERT_BROKER_URL": redis.url,
            }
            print(f"{chains} chains of 3 runbooks (3 tasks each), workers of 2 threads")
            print(
                f"{'workers':>8} {'chains/s':>9} {'wall s':>7} {'CPU ms/chain':>13} "
                f"{'wait p50 ms':>12} {'wait p99 ms':>12}"
            )
            for workers in (1, 2, 4):
                r = trial(root, env, workers, chains)
                print(
                    f"{workers:>8} {r['chains_per_s']:>9.1f} {r['wall_s']:>7.1f} "
                    f"{r['cpu_ms_per_chain']:>13.0f} {r['wait_p50_ms']:>12.0f} "
                    f"{r['wait_p99_ms']:>12.0f}"
                )
            r = trial(root, env, 1, min(chains, 30), one_at_a_time=True)
            print(
                f"one chain at a time, 1 worker: {r['wall_s'] / min(chains, 30) * 1000:.0f} ms "
                f"per chain end to end; queue wait p50 {r['wait_p50_ms']:.0f} ms, "
                f"p99 {r['wait_p99_ms']:.0f} ms; worker CPU {r['cpu_ms_per_chain']:.0f} ms "
                "per chain"
            )
        finally:
            redis.stop()
            pg.stop("immediate")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
