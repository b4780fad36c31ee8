"""Fixtures: throw-away gert projects on real folders, a PostgreSQL cluster, scripted
executors. Helpers that tests call themselves live in ``helpers.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import FakeCli, ProjectDir


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


@pytest.fixture(scope="session")
def postgres_url():  # type: ignore[no-untyped-def]
    """A private PostgreSQL cluster on 127.0.0.1 for this test session (trust auth, user gert)."""
    import os
    import shutil
    import socket
    import subprocess
    import tempfile

    bindir = _pg_bin()
    # Not under pytest's tmp folders: those are root-only, and the server runs as postgres.
    base = Path(tempfile.mkdtemp(prefix="gert-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = lambda *a: subprocess.run([*prefix, *a], check=True, capture_output=True)  # noqa: E731
    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "gert", "--no-sync")
    log = base / "log"
    run(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(log),
        "-w",
        "-o",
        f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off",
        "start",
    )
    try:
        yield f"postgresql://gert@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)
