"""Shared fixtures: throw-away gert projects on real folders."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gert.engine import Engine, Options
from gert.project import open_project


def gert(*args: str, cwd: Path, **kw) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    """Run the gert CLI as a user would, in *cwd*; text output captured."""
    return subprocess.run(
        [sys.executable, "-m", "gert.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        **kw,
    )


class ProjectDir:
    """A temporary gert project: write files into it, run runbooks in it."""

    def __init__(self, root: Path):
        self.root = root
        (root / "gert.yaml").write_text("record: off\n", encoding="utf-8")

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def config(self, text: str) -> None:
        self.write("gert.yaml", text)

    def run(self, rel: str, **options):  # type: ignore[no-untyped-def]
        engine = Engine(open_project(self.root))
        return engine.run(self.root / rel, Options(**options))

    def files_text(self, under: str = ".runbook") -> str:
        """Everything written under a folder, as one string (for redaction checks)."""
        return "\n".join(
            p.read_text(encoding="utf-8", errors="replace")
            for p in (self.root / under).rglob("*")
            if p.is_file()
        )


@pytest.fixture
def project(tmp_path: Path) -> ProjectDir:
    return ProjectDir(tmp_path)


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
