"""Fixtures: throw-away gert projects on real folders, a PostgreSQL cluster, scripted
executors. Helpers that tests call themselves live in ``helpers.py``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from helpers import FakeCli, ProjectDir
from services import PostgresCluster, RedisServer

# Property-test budgets. "ci" (.ci/run) is reproducible: the same examples on every run, no
# example database, no deadline on a shared machine. The default explores new examples on
# every local run. "fuzz" digs deeper on demand: HYPOTHESIS_PROFILE=fuzz, or
# --hypothesis-profile=fuzz; tests that fix their own max_examples keep it.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("fuzz", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def project(tmp_path: Path) -> ProjectDir:
    return ProjectDir(tmp_path)


@pytest.fixture
def fake_cli() -> FakeCli:
    """A scripted cli executor: ``fake_cli.on(step_id, output(...))``, then
    ``project.run(rel, executors={"cli": fake_cli})``; ``fake_cli.calls`` holds what it saw."""
    return FakeCli()


@pytest.fixture(scope="session")
def postgres_cluster():  # type: ignore[no-untyped-def]
    """The session's PostgreSQL cluster (tests that restart it use this)."""
    import shutil

    cluster = PostgresCluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop("immediate")
        shutil.rmtree(cluster.base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(postgres_cluster):  # type: ignore[no-untyped-def]
    """A private PostgreSQL cluster on 127.0.0.1 for this test session (trust auth, user gert)."""
    return postgres_cluster.url


@pytest.fixture(scope="session")
def store_database(postgres_url):  # type: ignore[no-untyped-def]
    """A database of its own for gert's PostgreSQL store (schema applied on first use)."""
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS gert_store")
        conn.execute("CREATE DATABASE gert_store")
    return postgres_url.rsplit("/", 1)[0] + "/gert_store"


@pytest.fixture
def pg_store_url(store_database):  # type: ignore[no-untyped-def]
    """The store database, emptied of every run (the schema stays)."""
    import psycopg

    with psycopg.connect(store_database, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('gert_runs') IS NOT NULL").fetchone()
        if exists and exists[0]:
            conn.execute(
                "TRUNCATE gert_runs, gert_trace_events, gert_step_records, gert_attachments, "
                "gert_leases"
            )
        work = conn.execute("SELECT to_regclass('gert_work') IS NOT NULL").fetchone()
        if work and work[0]:
            conn.execute("TRUNCATE gert_work, gert_workers")
        incidents = conn.execute("SELECT to_regclass('gert_incidents') IS NOT NULL").fetchone()
        if incidents and incidents[0]:
            conn.execute("TRUNCATE gert_incidents")
        steps = conn.execute("SELECT to_regclass('gert_step_durations') IS NOT NULL").fetchone()
        if steps and steps[0]:
            conn.execute("TRUNCATE gert_step_durations")
    return store_database


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A real Redis for the session's queue tests (the broker of gert worker)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()
