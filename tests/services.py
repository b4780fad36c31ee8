"""Real services for tests and benchmarks: a private PostgreSQL cluster and a Redis
server on 127.0.0.1, each in a folder of its own, each restartable."""

from __future__ import annotations

from pathlib import Path
from typing import Any


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
