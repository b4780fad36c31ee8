"""Chains started from the server: run in a bounded pool of threads, each with its own
engine, with the same evidence, posting and scenario saving as ``gert exec``."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gert.project import Project


@dataclass
class Started:
    """A chain the server started: its root run's ID once the run exists."""

    future: Future[Any]
    run_id: str = ""
    ready: threading.Event = field(default_factory=threading.Event)


class Launcher:
    """At most *size* chains at once; the rest queue."""

    def __init__(self, project: Project, size: int):
        self.project = project
        self.pool = ThreadPoolExecutor(size, thread_name_prefix="gert-run")

    def start(
        self,
        runbook: Path,
        *,
        mode: str,
        incident_id: str | None,
        variables: dict[str, str],
        actor: str,
    ) -> Started:
        """Queue a chain; :attr:`Started.ready` is set when its root run has an ID (or the
        chain could not start)."""
        started = Started(Future())

        def observe(event: str, data: dict[str, Any]) -> None:
            if event == "run_started" and not started.run_id:
                started.run_id = str(data.get("run_id", ""))
                started.ready.set()

        def run() -> Any:
            from gert.engine import Engine, Options

            try:
                with Engine(self.project) as engine:
                    return engine.run(
                        runbook,
                        Options(
                            mode=mode,
                            incident_id=incident_id,
                            variables=variables,
                            actor=actor,
                            observer=observe,
                        ),
                    )
            finally:
                started.ready.set()

        started.future = self.pool.submit(run)
        return started

    def resume(self, run_id: str, *, answers: dict[str, Any], actor: str) -> Future[Any]:
        """Go on with a waiting run with *answers* (as an --evidence file gives them);
        the future holds the chain, or the error that refused it (already answered)."""

        def run() -> Any:
            from gert.engine import Engine, Options

            with Engine(self.project) as engine:
                return engine.resume(run_id, Options(answers=answers, actor=actor))

        return self.pool.submit(run)

    def close(self) -> None:
        """Wait for the chains that are running (new ones are refused)."""
        self.pool.shutdown(wait=True, cancel_futures=True)
