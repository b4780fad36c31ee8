"""Chains started from the server: run in a bounded pool of threads, each with its own
engine, with the same evidence, posting and scenario saving as ``gert exec``."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gert.logs import log_event
from gert.project import Project

LOG = "gert.serve"


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
        self.stopping = threading.Event()  # set when the server stops: runs park
        self.futures: list[Future[Any]] = []  # of the chains this server started

    def start(
        self,
        runbook: Path,
        *,
        mode: str,
        incident_id: str | None,
        variables: dict[str, str],
        actor: str,
        trigger: dict[str, Any] | None = None,
    ) -> Started:
        """Queue a chain; :attr:`Started.ready` is set when its root run has an ID (or the
        chain could not start)."""
        started = Started(Future())

        try:
            shown = runbook.resolve().relative_to(self.project.root.resolve()).as_posix()
        except ValueError:
            shown = runbook.name
        if self.project.config.queue is not None:  # the workers run it
            return self._enqueue(started, shown, mode, incident_id, variables, actor, trigger)

        def observe(event: str, data: dict[str, Any]) -> None:
            if event == "run_started" and not started.run_id:
                started.run_id = str(data.get("run_id", ""))
                started.ready.set()
                log_event(
                    LOG,
                    f"gert serve: chain started: {shown} (run {started.run_id})",
                    event="chain_started",
                    run_id=started.run_id,
                    runbook=shown,
                    mode=mode,
                    incident_id=incident_id or "",
                    actor=actor,
                    alert=str(trigger.get("alert", "")) if trigger else "",
                )

        def run() -> Any:
            from gert.engine import Engine, Options

            try:
                with Engine(self.project) as engine:
                    chain = engine.run(
                        runbook,
                        Options(
                            mode=mode,
                            incident_id=incident_id,
                            variables=variables,
                            actor=actor,
                            observer=observe,
                            stop=self.stopping,
                            trigger=trigger,
                        ),
                    )
            except Exception as e:
                log_event(
                    LOG,
                    f"gert serve: chain of {shown} could not run: {e}",
                    level="error",
                    event="chain_failed",
                    run_id=started.run_id,
                    runbook=shown,
                )
                raise
            finally:
                started.ready.set()
            state = chain.final_state if chain.runs else "not started"
            log_event(
                LOG,
                f"gert serve: chain ended: {shown} (run {started.run_id}): {state}",
                event="chain_ended",
                run_id=started.run_id,
                runbook=shown,
                state=state,
                runs=len(chain.runs),
            )
            return chain

        started.future = self.pool.submit(run)
        self._keep(started.future)
        return started

    def _enqueue(
        self,
        started: Started,
        shown: str,
        mode: str,
        incident_id: str | None,
        variables: dict[str, str],
        actor: str,
        trigger: dict[str, Any] | None,
    ) -> Started:
        """Queue the chain for gert worker processes instead of running it here."""
        from gert.queue import enqueue_chain

        try:
            started.run_id = enqueue_chain(
                self.project,
                str(self.project.root / shown),
                incident_id=incident_id,
                variables=variables,
                actor=actor,
                mode=mode,
                trigger=trigger,
            ).run_id
            started.future.set_result(None)
            log_event(
                LOG,
                f"gert serve: chain queued: {shown} (run {started.run_id})",
                event="chain_queued",
                run_id=started.run_id,
                runbook=shown,
                mode=mode,
                incident_id=incident_id or "",
                actor=actor,
            )
        except Exception as e:  # refused (inputs, runbook) or the broker is away
            started.future.set_exception(e)
        started.ready.set()
        return started

    def resume(self, run_id: str, *, answers: dict[str, Any], actor: str) -> Future[Any]:
        """Go on with a waiting run with *answers* (as an --evidence file gives them);
        the future holds the chain, or the error that refused it (already answered). With
        a queue, the run is queued for the workers and the future holds None."""
        if self.project.config.queue is not None:
            from gert.queue import enqueue_answer

            queued: Future[Any] = Future()
            try:
                enqueue_answer(self.project, run_id, answers=answers, acting=actor)
                queued.set_result(None)
            except Exception as e:
                queued.set_exception(e)
            return queued

        def run() -> Any:
            from gert.engine import Engine, Options

            with Engine(self.project) as engine:
                return engine.resume(
                    run_id, Options(answers=answers, actor=actor, stop=self.stopping)
                )

        future = self.pool.submit(run)
        self._keep(future)
        return future

    def _keep(self, future: Future[Any]) -> None:
        self.futures = [f for f in self.futures if not f.done()] + [future]

    def close(self) -> None:
        """Park the chains that are running: each stops before its next step, recorded as
        interrupted by the server's stop (a restarted server goes on with them); queued
        ones never start."""
        self.stopping.set()
        running = sum(1 for f in self.futures if not f.done())
        log_event(
            LOG,
            f"gert serve: stopping; {running} running chain(s) park at their next step "
            "(the next gert serve goes on with them)"
            if running
            else "gert serve: stopping",
            event="stopping",
            running=running,
        )
        self.pool.shutdown(wait=True, cancel_futures=True)

    def resume_parked(self) -> list[str]:
        """Go on with the runs an earlier server parked when it stopped; their IDs (none
        with a queue: the workers' sweepers go on with theirs)."""
        if self.project.config.queue is not None:
            return []
        from gert.store import open_index, open_store

        rows = open_index(self.project.root).query(limit=None)
        parked = []
        store = open_store(self.project)
        try:
            for row in rows:
                if row.status != "interrupted":
                    continue
                try:
                    manifest = store.open(row.run_id).read_manifest()
                except Exception:  # a run folder that cannot be read is left to a person
                    continue
                if PARKED in str(manifest.get("error", "")):
                    self.resume(row.run_id, answers={}, actor=str(manifest.get("actor", "")))
                    parked.append(row.run_id)
        finally:
            store.close()
        if parked:
            log_event(
                LOG,
                f"gert serve: going on with {len(parked)} run(s) parked when the server "
                f"last stopped: {', '.join(parked)}",
                event="resuming_parked",
                runs=len(parked),
            )
        return parked


PARKED = "interrupted (the server stopped)"
