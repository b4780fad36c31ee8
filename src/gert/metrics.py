"""Prometheus metrics of a gert project, computed from its store when scraped.

:class:`StoreCollector` asks the run index (SQLite for the file store, ``gert_runs`` for
PostgreSQL) a few SQL aggregates per scrape, so ``/metrics`` of any ``gert serve`` shows
every run the store holds (the whole fleet's, with PostgreSQL), not only this process's.
Labels are low-cardinality only: the runbook's name (at most :data:`MAX_RUNBOOKS`, the
rest as ``other``), a status or an outcome; never an incident, a run or an input.

Only real runs count: dry-runs and replays rehearse, they handle no incident.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

if TYPE_CHECKING:
    from gert.project import Project

# Seconds. A run's duration is wall time from start to end, waits for people included.
RUN_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)
WAIT_BUCKETS = (0.1, 0.5, 1, 2, 5, 15, 30, 60, 300, 900, 3600)
MAX_RUNBOOKS = 200  # runbooks with the most runs keep their name; the rest are "other"
FINISHED = ("completed", "failed", "error")
ACTIVE = ("running", "waiting", "interrupted")
# A finished run's outcome: its outcome state, else its status.
OUTCOMES = ("resolved", "escalated", "no_action", "needs_rca", *FINISHED)
WORKER_ALIVE_SECONDS = 60
QUEUE_STATES = ("queued", "taken", "parked")


class StoreCollector(Collector):
    """The project's runs (and, with PostgreSQL, its work queue and workers) as metrics,
    read from the store at every scrape; one scrape at a time."""

    def __init__(self, project: Project):
        self.project = project
        self.backend = project.config.store.backend
        self._lock = threading.Lock()
        self._pg: Any = None  # the PostgresStore, kept between scrapes (its connection)

    def describe(self) -> Iterable[Metric]:
        return []  # names are not checked at registration: nothing is read until a scrape

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            started = time.perf_counter()
            up = 1
            try:
                families = list(self._collect())
            except Exception as e:
                from gert.logs import log_event

                log_event(
                    "gert.metrics",
                    "metrics: the store could not be read",
                    level="warning",
                    error=f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                )
                families, up = [], 0
            elapsed = time.perf_counter() - started
        yield from families
        info = GaugeMetricFamily(
            "gert_info", "This gert: its version and store.", labels=["version", "store"]
        )
        from gert.version import __version__

        info.add_metric([__version__, self.backend], 1)
        yield info
        yield GaugeMetricFamily("gert_store_up", "1 when the store answered this scrape.", value=up)
        yield GaugeMetricFamily(
            "gert_metrics_scrape_seconds",
            "Time this scrape spent reading the store.",
            value=elapsed,
        )

    def close(self) -> None:
        with self._lock:
            if self._pg is not None:
                self._pg.close()
                self._pg = None

    # reading ---------------------------------------------------------------------
    def _collect(self) -> Iterator[Metric]:
        if self.backend == "postgresql":
            if self._pg is None:
                from gert.store import open_store

                self._pg = open_store(self.project)
            fetch = self._pg._fetch
            yield from _runs(fetch, "gert_runs")
            yield from _steps(fetch)
            yield from _queue(fetch)
            return
        from gert.store import index_path

        path = index_path(self.project.root)
        if not path.is_file():
            yield from _runs(lambda sql: [], "runs")
            return
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            has = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'"
            ).fetchone()
            yield from _runs(lambda sql: db.execute(sql).fetchall() if has else [], "runs")
        finally:
            db.close()


def _buckets(column: str, bounds: Iterable[float], scale: float = 1) -> str:
    """One cumulative count per bound: ``sum(CASE WHEN column <= bound ...)``."""
    return ", ".join(f"sum(CASE WHEN {column} <= {b * scale!r} THEN 1 ELSE 0 END)" for b in bounds)


def _bucket_of(column: str, bounds: Iterable[float], scale: float = 1) -> str:
    """The index of the first bound *column* is within (len(bounds): above all; -1: NULL)."""
    whens = " ".join(f"WHEN {column} <= {b * scale!r} THEN {i}" for i, b in enumerate(bounds))
    return f"CASE WHEN {column} IS NULL THEN -1 {whens} ELSE {len(tuple(bounds))} END"


def _runs(fetch: Any, table: str) -> Iterator[Metric]:
    # One scan of the index: a row per runbook, status, outcome state and duration bucket
    # (bounded by the project's runbooks, not by its runs).
    rows = fetch(
        f"SELECT runbook_name, status, state, {_bucket_of('duration_ms', RUN_BUCKETS, 1000)} AS b, "
        "count(*), sum(steps_total), sum(steps_failed), sum(duration_ms) "
        f"FROM {table} WHERE mode = 'real' AND status <> '' "
        "GROUP BY runbook_name, status, state, b"
    )
    per_runbook: dict[str, int] = {}
    for name, *_, n, _, _, _ in rows:
        per_runbook[name or "unknown"] = per_runbook.get(name or "unknown", 0) + int(n)
    kept = set(sorted(per_runbook, key=lambda k: (-per_runbook[k], k))[:MAX_RUNBOOKS])

    def label(name: str | None) -> str:
        name = name or "unknown"
        return name if name in kept else "other"

    started: dict[str, int] = {}
    finished: dict[tuple[str, str], int] = {}
    steps: dict[str, int] = {}
    steps_failed: dict[str, int] = {}
    active = dict.fromkeys(ACTIVE, 0)
    # per runbook: runs in each bucket (the last: above every bound), and their seconds
    durations: dict[str, tuple[list[int], list[float]]] = {}
    for name, status, state, bucket, n, total, failed, ms in rows:
        rb, n = label(name), int(n)
        started[rb] = started.get(rb, 0) + n
        if status in FINISHED:
            outcome = state if state in OUTCOMES else status
            finished[rb, outcome] = finished.get((rb, outcome), 0) + n
            steps[rb] = steps.get(rb, 0) + int(total or 0)
            steps_failed[rb] = steps_failed.get(rb, 0) + int(failed or 0)
            if bucket >= 0:
                counts, seconds = durations.setdefault(rb, ([0] * (len(RUN_BUCKETS) + 1), [0.0]))
                counts[bucket] += n
                seconds[0] += float(ms or 0) / 1000
        elif status in ACTIVE:
            active[status] += n

    family = CounterMetricFamily(
        "gert_runs_started", "Runs started (real runs the store holds).", labels=["runbook"]
    )
    for rb, n in sorted(started.items()):
        family.add_metric([rb], n)
    yield family
    family = CounterMetricFamily(
        "gert_runs_finished",
        "Runs finished, by outcome: the outcome state, else completed, failed or error.",
        labels=["runbook", "outcome"],
    )
    for (rb, outcome), n in sorted(finished.items()):
        family.add_metric([rb, outcome], n)
    yield family
    family = GaugeMetricFamily("gert_runs", "Runs not finished, by status.", labels=["status"])
    for status in ACTIVE:
        family.add_metric([status], active[status])
    yield family
    for name, doc, values in (
        ("gert_run_steps", "Steps recorded by finished runs.", steps),
        ("gert_run_steps_failed", "Steps that failed in finished runs.", steps_failed),
    ):
        family = CounterMetricFamily(name, doc, labels=["runbook"])
        for rb, n in sorted(values.items()):
            family.add_metric([rb], n)
        yield family

    family = HistogramMetricFamily(
        "gert_run_duration_seconds",
        "Wall time of finished runs, start to end (waits for people included).",
        labels=["runbook"],
    )
    for rb, (counts, seconds) in sorted(durations.items()):
        cumulative = list(itertools.accumulate(counts))
        family.add_metric(
            [rb],
            buckets=[
                *((_bound(b), c) for b, c in zip(RUN_BUCKETS, cumulative, strict=False)),
                ("+Inf", cumulative[-1]),
            ],
            sum_value=seconds[0],
        )
    yield family


def _bound(b: float) -> str:
    return str(float(b))


def _steps(fetch: Any) -> Iterator[Metric]:
    """Step durations by runbook, as the PostgreSQL store counts them when steps complete."""
    from gert.store.postgres import STEP_BUCKETS

    ((have,),) = fetch("SELECT to_regclass('gert_step_durations') IS NOT NULL")
    if not have:
        return
    by_runbook: dict[str, tuple[list[int], list[float]]] = {}
    for runbook, bucket, count, total in fetch(
        "SELECT runbook_name, bucket, count, sum_ms FROM gert_step_durations"
    ):
        counts, seconds = by_runbook.setdefault(
            str(runbook), ([0] * (len(STEP_BUCKETS) + 1), [0.0])
        )
        counts[min(int(bucket), len(STEP_BUCKETS))] += int(count)
        seconds[0] += float(total) / 1000
    family = HistogramMetricFamily(
        "gert_step_duration_seconds",
        "How long completed steps took, by runbook (PostgreSQL store).",
        labels=["runbook"],
    )
    for runbook, (counts, seconds) in sorted(by_runbook.items()):
        cumulative, running = [], 0
        for c in counts[:-1]:
            running += c
            cumulative.append(running)
        family.add_metric(
            [runbook],
            buckets=[
                *((_bound(b), c) for b, c in zip(STEP_BUCKETS, cumulative, strict=True)),
                ("+Inf", sum(counts)),
            ],
            sum_value=seconds[0],
        )
    yield family


def _queue(fetch: Any) -> Iterator[Metric]:
    """The work queue of gert workers, when the store has one."""
    (have_work, have_workers), *_ = fetch(
        "SELECT to_regclass('gert_work') IS NOT NULL, to_regclass('gert_workers') IS NOT NULL"
    )
    if have_work:
        counts = dict(fetch("SELECT state, count(*) FROM gert_work GROUP BY state"))
        for state, name, doc in (
            ("queued", "gert_queue_depth", "Runs queued for a worker."),
            ("taken", "gert_queue_taken", "Runs a worker has taken and runs now."),
            ("parked", "gert_queue_parked", "Runs parked: left for a person (see gert status)."),
        ):
            yield GaugeMetricFamily(name, doc, value=int(counts.get(state, 0)))
        (oldest,) = fetch(
            "SELECT coalesce(extract(epoch FROM now() - min(enqueued_at)), 0) "
            "FROM gert_work WHERE state = 'queued'"
        )[0]
        yield GaugeMetricFamily(
            "gert_queue_oldest_seconds",
            "How long the longest-queued run has waited (0 when none waits).",
            value=float(oldest or 0),
        )
        wait = "extract(epoch FROM taken_at - first_enqueued_at)"
        count, total, *cumulative = fetch(
            f"SELECT count(*), sum({wait}), {_buckets(wait, WAIT_BUCKETS)} "
            "FROM gert_work WHERE taken_at IS NOT NULL"
        )[0]
        family = HistogramMetricFamily(
            "gert_queue_wait_seconds",
            "From first queued to taken by a worker, each run's latest take.",
        )
        family.add_metric(
            [],
            buckets=[
                *((_bound(b), int(c or 0)) for b, c in zip(WAIT_BUCKETS, cumulative, strict=True)),
                ("+Inf", int(count)),
            ],
            sum_value=float(total or 0),
        )
        yield family
    if have_workers:
        (alive,) = fetch(
            "SELECT count(*) FROM gert_workers "
            f"WHERE seen_at >= now() - interval '{WORKER_ALIVE_SECONDS} seconds'"
        )[0]
        yield GaugeMetricFamily(
            "gert_workers_alive",
            f"gert workers seen in the last {WORKER_ALIVE_SECONDS} seconds.",
            value=int(alive),
        )


def registry(project: Project) -> tuple[CollectorRegistry, StoreCollector]:
    """A registry of the project's metrics and this process's (CPU, memory, open files)."""
    from prometheus_client import ProcessCollector

    reg = CollectorRegistry()
    collector = StoreCollector(project)
    reg.register(collector)
    ProcessCollector(registry=reg)
    return reg, collector


def exposition(reg: CollectorRegistry) -> tuple[bytes, str]:
    """The registry in Prometheus' text format, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(reg), CONTENT_TYPE_LATEST
