"""``gert worker``: a Celery worker (Redis broker) that runs queued chains.

Each worker is one process with N threads (``--concurrency``), each running one run at a
time with its own engine, as ``gert serve`` does. Besides Celery's own delivery
(acks-late, a task redelivered when its worker is lost), every worker runs a sweeper: work
whose worker stopped renewing its lease in PostgreSQL is queued again and taken over from
its recorded trace, and work whose wake-up message the broker lost is sent again. So the
database, not the broker's visibility timeout, decides when a run is orphaned.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from typing import TYPE_CHECKING, Any

from gert.queue import LOG, celery_app, require_queue
from gert.util import first_line

if TYPE_CHECKING:
    from gert.project import Project


def run_worker(project: Project, concurrency: int, loglevel: str = "INFO") -> None:
    """Run a worker until it is stopped (SIGTERM or Ctrl-C: the runs it holds stop before
    their next step and are queued again for another worker)."""
    from celery import signals

    from gert.logs import log_event, setup_logging, wants_json
    from gert.queue import beat, sweep
    from gert.store import open_store

    json_lines = wants_json(None)
    setup_logging(json_lines, loglevel)
    queue = require_queue(project)
    stop = threading.Event()
    app = celery_app(project, stop)
    name = f"gert@{socket.gethostname()}:{os.getpid()}"
    done = threading.Event()

    def sweeper() -> None:
        store: Any = open_store(project)
        failing = ""
        try:
            while True:
                try:
                    beat(store, name, concurrency)
                    sweep(store, app.gert_send, queue.lease_seconds)
                    if failing:
                        log_event(LOG, "gert worker: the sweeper works again", event="sweep_ok")
                    failing = ""
                except Exception as e:  # the database or broker is away: try at the next beat
                    store.close()
                    said = first_line(e)
                    if said != failing:  # said once, not at every beat
                        log_event(
                            LOG,
                            f"gert worker: the sweeper cannot reach the store or broker: {said}",
                            level="warning",
                            event="sweep_failed",
                            error=said,
                        )
                    failing = said
                if done.wait(queue.lease_seconds / 3):
                    break
            with contextlib.suppress(Exception):  # stopping: no longer counted as alive
                store._exec("DELETE FROM gert_workers WHERE name = %s", (name,))
        finally:
            store.close()

    def stopping(**_: Any) -> None:
        stop.set()  # chains running here park at their next step

    signals.worker_shutting_down.connect(stopping, weak=False)
    thread = threading.Thread(target=sweeper, name="gert-sweeper", daemon=True)
    thread.start()
    log_event(
        LOG,
        f"gert worker {name}: {concurrency} at once from queue {queue.name!r}",
        event="worker_started",
        worker=name,
        concurrency=concurrency,
        queue=queue.name,
    )
    try:
        app.worker_main(
            [
                "worker",
                f"--concurrency={concurrency}",
                "--pool=threads",
                f"--queues={queue.name}",
                f"--loglevel={loglevel}",
                f"--hostname={name}",
                "--without-gossip",
                "--without-mingle",
            ]
        )
    finally:
        done.set()
        stop.set()
        thread.join(timeout=5)
