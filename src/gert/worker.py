"""``gert worker``: a Celery worker (Redis broker) that runs queued chains.

Each worker is one process with N threads (``--concurrency``), each running one run at a
time with its own engine, as ``gert serve`` does. Besides Celery's own delivery
(acks-late, a task redelivered when its worker is lost), every worker runs a sweeper: work
whose worker stopped renewing its lease in PostgreSQL is queued again and taken over from
its recorded trace, and work whose wake-up message the broker lost is sent again. So the
database, not the broker's visibility timeout, decides when a run is orphaned.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import TYPE_CHECKING, Any

from gert.queue import require_queue

if TYPE_CHECKING:
    from gert.project import Project

TASK = "gert.process"
LOG = "gert.worker"


def broker_url(project: Project) -> str:
    """The broker URL, from the variable ``queue.broker_url_env`` names."""
    from gert.errors import InvalidError

    name = require_queue(project).broker_url_env
    url = os.environ.get(name, "")
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise InvalidError(
            f"gert.yaml runs chains on workers (queue:), but {name} "
            + ("is not set" if not url else "is not a redis:// URL")
            + f"; export {name}=redis://HOST:6379/0"
        )
    return url


def celery_app(project: Project, stop: threading.Event | None = None) -> Any:
    """The Celery application of *project*'s queue, with its one task."""
    from celery import Celery

    queue = require_queue(project)
    app = Celery("gert", broker=broker_url(project), set_as_current=False)
    app.conf.update(
        task_acks_late=True,  # a message is acknowledged after its work, not before
        task_reject_on_worker_lost=True,  # ... and redelivered when its worker dies
        worker_prefetch_multiplier=1,  # a worker holds no more messages than it runs
        task_default_queue=queue.name,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,  # results live in the store, not in the broker
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 3600},
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
    )

    def send(run_id: str, delay: float) -> None:
        app.send_task(TASK, args=[run_id], queue=queue.name, countdown=delay or None)

    @app.task(name=TASK)  # type: ignore[untyped-decorator]
    def process_task(run_id: str) -> str:
        import time

        from gert.logs import log_event
        from gert.queue import process

        began = time.monotonic()
        became = process(project, run_id, send, stop)
        if became != "nothing":
            log_event(
                LOG,
                f"gert worker: run {run_id}: {became}",
                event="work_" + became.replace("-", "_"),
                run_id=run_id,
                seconds=round(time.monotonic() - began, 3),
            )
        return became

    app.gert_send = send  # type: ignore[attr-defined]
    return app


def sender(project: Project) -> Any:
    """A function that wakes a worker for a run: ``send(run_id, delay)``."""
    return celery_app(project).gert_send


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
        try:
            while not done.wait(queue.lease_seconds / 3):
                try:
                    beat(store, name, concurrency)
                    sweep(store, app.gert_send, queue.lease_seconds)
                except Exception:  # the database or broker is away: try at the next beat
                    store.close()
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
