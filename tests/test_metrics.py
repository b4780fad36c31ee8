"""`/metrics` of a real `gert serve`: figures computed from the store at each scrape, after
real runs (by the server and by other gert processes), with only low-cardinality labels;
with PostgreSQL, the work queue and the workers too."""

from __future__ import annotations

import logging
import re
import socket
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from helpers import gert, wait_for
from test_server import serving

pytestmark = pytest.mark.slow

PROM = "p" * 20 + "-prometheus"  # a viewer's token: what a Prometheus scrape sends
ANA = "a" * 20 + "-ana-token"
TOKENS = {"GERT_TEST_PROM": PROM, "GERT_TEST_ANA": ANA}
INCIDENT = "INC-7731-do-not-label"

OK = """apiVersion: runbook/v0
meta: {name: disk-cleanup}
steps:
  - id: clean
    type: cli
    with: {argv: [sh, -c, 'echo freed=12']}
    capture: {freed: {from: stdout, pattern: 'freed=(\\d+)'}}
    outcomes:
      - {when: freed > 5, state: resolved, recommendation: 'Freed {{ .freed }} GB.'}
"""
BAD = """apiVersion: runbook/v0
meta: {name: restart-pool}
steps:
  - {id: ping, type: cli, with: {argv: [sh, -c, 'echo up']}}
  - id: restart
    type: cli
    with: {argv: [sh, -c, 'exit 3']}
    assertions: [{exit_code: 0}]
    outcomes: [{state: resolved, recommendation: Restarted.}]
"""
ASK = """apiVersion: runbook/v0
meta: {name: ask-owner}
steps:
  - id: confirm
    type: manual
    instructions: Ask the owner.
    required_evidence: [{kind: text, name: note}]
    outcomes:
      - {state: resolved, recommendation: Done.}
      - {state: escalated, recommendation: Paged.}
"""


def project_with_runbooks(root: Path, store: str = "") -> Path:
    (root / "runbooks").mkdir(parents=True)
    (root / "gert.yaml").write_text(
        "record: 'off'\n" + store + "server:\n  tokens:\n"
        "    - {name: prometheus, env: GERT_TEST_PROM}\n"
        "    - {name: ana, env: GERT_TEST_ANA, role: operator}\n"
    )
    for name, text in (("ok", OK), ("bad", BAD), ("ask", ASK)):
        (root / "runbooks" / f"{name}.runbook.yaml").write_text(text)
    return root


def run(root: Path, name: str, *args: str) -> None:
    r = gert("exec", f"runbooks/{name}.runbook.yaml", "--incident", INCIDENT, *args, cwd=root)
    assert r.returncode in (0, 1, 4), r.stderr  # resolved, failed, waiting


def scrape(base: str, token: str = PROM) -> tuple[dict[tuple[str, tuple[Any, ...]], float], str]:
    """Every sample of /metrics by (name, sorted labels), and the exposition's text."""
    r = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples[s.name, tuple(sorted(s.labels.items()))] = s.value
    return samples, r.text


def value(samples: dict[tuple[str, tuple[Any, ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def assert_low_cardinality(text: str) -> None:
    """Labels are runbooks, statuses, outcomes, bucket bounds, the version and the store:
    never an incident, a run ID or an input."""
    assert INCIDENT not in text
    assert not re.search(r"\d{8}T\d{6}-[0-9a-f]{8}", text)  # a run ID
    names = {m.group(1) for m in re.finditer(r'(\w+)="', text) if not m.group(0).startswith("#")}
    assert names <= {"runbook", "outcome", "status", "le", "version", "store"}, names


def test_metrics_count_every_run_the_store_holds_at_scrape_time(tmp_path: Path) -> None:
    root = project_with_runbooks(tmp_path / "p")
    for _ in range(3):
        run(root, "ok")
    for _ in range(2):
        run(root, "bad")
    run(root, "ask")  # waits at its manual step: nobody at a terminal
    run(root, "ok", "--mode", "dry-run")  # a rehearsal: not counted
    with serving(root, TOKENS) as base:
        assert httpx.get(f"{base}/metrics").status_code == 401
        assert (
            httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer wrong"}).status_code
            == 401
        )
        samples, text = scrape(base)
        assert_low_cardinality(text)
        assert value(samples, "gert_runs_started_total", runbook="disk-cleanup") == 3
        assert value(samples, "gert_runs_started_total", runbook="restart-pool") == 2
        assert value(samples, "gert_runs_started_total", runbook="ask-owner") == 1
        assert (
            value(samples, "gert_runs_finished_total", runbook="disk-cleanup", outcome="resolved")
            == 3
        )
        assert (
            value(samples, "gert_runs_finished_total", runbook="restart-pool", outcome="failed")
            == 2
        )
        assert value(samples, "gert_runs", status="waiting") == 1
        assert value(samples, "gert_runs", status="running") == 0
        assert ("gert_runs", (("status", "interrupted"),)) in samples
        assert value(samples, "gert_run_steps_total", runbook="restart-pool") == 4
        assert value(samples, "gert_run_steps_failed_total", runbook="restart-pool") == 2
        # the histogram: cumulative buckets, +Inf equal to the count, a sum in seconds
        count = value(samples, "gert_run_duration_seconds_count", runbook="disk-cleanup")
        assert count == 3
        assert (
            value(samples, "gert_run_duration_seconds_bucket", runbook="disk-cleanup", le="+Inf")
            == 3
        )
        assert (
            value(samples, "gert_run_duration_seconds_bucket", runbook="disk-cleanup", le="86400.0")
            == 3
        )
        assert 0 < value(samples, "gert_run_duration_seconds_sum", runbook="disk-cleanup") < 60
        assert value(samples, "gert_store_up") == 1
        assert value(samples, "gert_info", version=value_of(text, "version"), store="files") == 1
        assert value(samples, "process_resident_memory_bytes") > 0
        assert "gert_queue_depth" not in text  # no work queue in a file store

        # a chain the server runs, and one another gert process runs while it serves
        r = httpx.post(
            f"{base}/api/v1/runs",
            json={"runbook": "runbooks/ok.runbook.yaml", "mode": "real"},
            headers={"Authorization": f"Bearer {ANA}"},
        )
        assert r.status_code in (200, 201, 202), r.text
        run(root, "bad")

        def counted() -> bool:
            now, _ = scrape(base)
            return (
                value(now, "gert_runs_finished_total", runbook="disk-cleanup", outcome="resolved")
                == 4
                and value(now, "gert_runs_finished_total", runbook="restart-pool", outcome="failed")
                == 3
            )

        wait_for(counted, timeout=30, interval=0.2, what="the new runs in /metrics")


def value_of(text: str, label: str) -> str:
    found = re.search(rf'{label}="([^"]*)"', text)
    assert found, label
    return found.group(1)


def test_metrics_of_a_postgresql_store_show_the_queue_and_workers(
    tmp_path: Path, pg_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    monkeypatch.setenv("GERT_DATABASE_URL", pg_store_url)
    root = project_with_runbooks(tmp_path / "p", "store: {backend: postgresql}\n")
    run(root, "ok")
    run(root, "ok")
    run(root, "bad")
    with psycopg.connect(pg_store_url, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT to_regclass('gert_work') IS NOT NULL, to_regclass('gert_workers') IS NOT NULL"
        ).fetchone()
        if not (tables and all(tables)):
            pytest.skip("this store's schema has no work queue yet")
        conn.execute("TRUNCATE gert_work, gert_workers")
        for n, (state, waited, taken) in enumerate(
            [
                ("queued", None, False),
                ("queued", None, False),
                ("taken", 0.3, True),
                ("done", 3.0, True),
                ("done", 40.0, True),
                ("parked", 0.3, True),
            ]
        ):
            conn.execute(
                "INSERT INTO gert_work (run_id, kind, state, runbook, first_enqueued_at, "
                "enqueued_at, taken_at) VALUES (%s, 'start', %s, 'runbooks/ok.runbook.yaml', "
                "now() - interval '120 seconds', now() - interval '120 seconds', "
                "CASE WHEN %s THEN now() - interval '120 seconds' + make_interval(secs => %s) END)",
                (f"20990101T00000{n}-0000000{n}", state, taken, waited or 0),
            )
        conn.execute(
            "INSERT INTO gert_workers (name, seen_at) VALUES ('w1', now()), "
            "('w2', now() - interval '10 seconds'), ('gone', now() - interval '10 minutes')"
        )
    with serving(root, {**TOKENS, "GERT_DATABASE_URL": pg_store_url}) as base:
        samples, text = scrape(base)
    assert_low_cardinality(text)
    assert value(samples, "gert_info", version=value_of(text, "version"), store="postgresql") == 1
    assert value(samples, "gert_runs_started_total", runbook="disk-cleanup") == 2
    assert value(samples, "gert_runs_finished_total", runbook="restart-pool", outcome="failed") == 1
    assert value(samples, "gert_run_duration_seconds_count", runbook="disk-cleanup") == 2
    assert value(samples, "gert_queue_depth") == 2
    assert value(samples, "gert_queue_taken") == 1
    assert value(samples, "gert_queue_parked") == 1
    assert 110 < value(samples, "gert_queue_oldest_seconds") < 600
    assert value(samples, "gert_queue_wait_seconds_count") == 4
    assert value(samples, "gert_queue_wait_seconds_bucket", le="0.5") == 2
    assert value(samples, "gert_queue_wait_seconds_bucket", le="5.0") == 3
    assert value(samples, "gert_queue_wait_seconds_bucket", le="60.0") == 4
    assert value(samples, "gert_queue_wait_seconds_sum") == pytest.approx(43.6, abs=0.01)
    assert value(samples, "gert_workers_alive") == 2
    assert value(samples, "gert_store_up") == 1


def test_a_store_that_does_not_answer_is_a_zero_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from gert.metrics import exposition, registry
    from gert.project import open_project

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("GERT_DATABASE_URL", f"postgresql://gert@127.0.0.1:{port}/none")
    root = project_with_runbooks(tmp_path / "p", "store: {backend: postgresql}\n")
    reg, collector = registry(open_project(root))
    with caplog.at_level(logging.WARNING, logger="gert.metrics"):
        body, content_type = exposition(reg)
    collector.close()
    assert content_type.startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    assert families["gert_store_up"].samples[0].value == 0
    assert "gert_runs_started" not in families
    (warned,) = caplog.records
    assert warned.getMessage() == "metrics: the store could not be read"
    assert warned.gert_fields["error"]  # type: ignore[attr-defined]
