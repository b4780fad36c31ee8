"""Fixtures: throw-away gert projects on real folders, a PostgreSQL cluster, scripted
executors. Helpers that tests call themselves live in ``helpers.py``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from helpers import FakeCli, ProjectDir

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


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    assert found, (
        "PostgreSQL server binaries missing: run scripts/setup.sh (Debian package postgresql)"
    )
    return found[-1].parent


class PostgresCluster:
    """A private PostgreSQL cluster on 127.0.0.1 (trust auth, user gert); restartable."""

    def __init__(self) -> None:
        import os
        import shutil
        import socket
        import tempfile

        self.bindir = _pg_bin()
        # Not under pytest's tmp folders: those are root-only, and the server runs as postgres.
        self.base = Path(tempfile.mkdtemp(prefix="gert-pg-"))
        self.data, self.sock = self.base / "data", self.base / "sock"
        self.sock.mkdir()
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # the server refuses to run as root
            shutil.chown(self.base, "postgres")
            shutil.chown(self.sock, "postgres")
            self.prefix = ["runuser", "-u", "postgres", "--"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "gert",
            "--no-sync",
        )
        self.url = f"postgresql://gert@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        import subprocess

        subprocess.run([*self.prefix, *args], check=True, capture_output=True)

    def start(self) -> None:
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.base / "log"),
            "-w",
            "-o",
            f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        import subprocess

        subprocess.run(
            [
                *self.prefix,
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                mode,
                "-w",
                "stop",
            ],
            capture_output=True,
        )


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
    return store_database


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A real redis-server on 127.0.0.1, in a folder of its own; restartable."""

    def __init__(self, base: Path):
        self.base = base
        self.port = _free_port()
        self.proc: Any = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import shutil
        import subprocess
        import time

        binary = shutil.which("redis-server")
        assert binary, "redis-server missing: run scripts/setup.sh (Debian package redis-server)"
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.base),
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import socket

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A real Redis for the session's queue tests (the broker of gert worker)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()
