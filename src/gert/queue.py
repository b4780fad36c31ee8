"""Queued chains: the work table in PostgreSQL, and what a worker does with one item.

A queued chain is a row of ``gert_work`` (the truth) and a broker message naming its run
(a wake-up). A worker *takes* a row only while it is ``queued``, holds the run's lease
while it runs it, and leaves the row ``done`` (the run ended, or waits for a person: a
parked run frees the worker), ``parked`` (a step was in flight when its worker died, and
running it twice is not known to be safe: a person decides), or ``queued`` again (a hand-off,
an answer, a run taken over from a dead worker). Delivery is therefore at-least-once for
steps marked safe to repeat, and at-most-once for the others; completed steps are never
run again (resume restores them from the trace).

Celery is only the wake-up (:func:`celery_app`); ``gert worker`` (:mod:`gert.worker`)
runs the app.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gert.errors import InvalidError, NotFound

if TYPE_CHECKING:
    from gert.project import Project
    from gert.store.postgres import PostgresStore

Send = Callable[[str, float], None]  # (run ID, delay in seconds): wake a worker


@dataclass
class Queued:
    """A chain or answer queued: its run, and why no worker could be woken now (empty
    when one was: the sweepers send it again otherwise)."""

    run_id: str
    unsent: str = ""


class QueueNotConfigured(InvalidError):
    """``--queue`` (or ``gert worker``) in a project whose gert.yaml has no ``queue:``."""


@dataclass
class WorkItem:
    """One row of the work table."""

    run_id: str
    kind: str
    spec: dict[str, Any] = field(default_factory=dict)
    state: str = "queued"
    runbook: str = ""
    incident_id: str = ""
    note: str = ""
    attempts: int = 0


def require_queue(project: Project) -> Any:
    """The project's queue configuration; raises QueueNotConfigured when it has none."""
    queue = project.config.queue
    if queue is None:
        raise QueueNotConfigured(
            "gert.yaml configures no queue: add `queue: {broker_url_env: GERT_BROKER_URL}` "
            "(with store: {backend: postgresql}) and start workers with gert worker"
        )
    return queue


def put(
    store: PostgresStore,
    run_id: str,
    kind: str,
    spec: dict[str, Any],
    *,
    runbook: str = "",
    incident_id: str = "",
) -> None:
    """Queue work for *run_id* (replacing what was done or parked for it before);
    refused while a worker has it."""
    rows = store._fetch(
        "INSERT INTO gert_work (run_id, kind, spec, runbook, incident_id) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (run_id) DO UPDATE SET "
        "kind = EXCLUDED.kind, spec = EXCLUDED.spec, state = 'queued', note = '', "
        "runbook = CASE WHEN EXCLUDED.runbook = '' THEN gert_work.runbook "
        "ELSE EXCLUDED.runbook END, "
        "incident_id = CASE WHEN EXCLUDED.incident_id = '' THEN gert_work.incident_id "
        "ELSE EXCLUDED.incident_id END, "
        "enqueued_at = now(), sent_at = now(), done_at = NULL, "
        "first_enqueued_at = CASE WHEN gert_work.state IN ('done', 'parked') THEN now() "
        "ELSE gert_work.first_enqueued_at END "
        "WHERE gert_work.state <> 'taken' RETURNING run_id",
        (run_id, kind, json.dumps(spec), runbook, incident_id),
    )
    if not rows:
        raise InvalidError(f"run {run_id} is being run by a worker now; wait for it to end")


def item(store: PostgresStore, run_id: str) -> WorkItem | None:
    """The work row of *run_id*, or None."""
    rows = store._fetch(
        "SELECT run_id, kind, spec, state, runbook, incident_id, note, attempts "
        "FROM gert_work WHERE run_id = %s",
        (run_id,),
    )
    if not rows:
        return None
    r = rows[0]
    return WorkItem(r[0], r[1], json.loads(r[2]), r[3], r[4], r[5], r[6], r[7])


def take(store: PostgresStore, run_id: str, limits: Any) -> WorkItem | str | None:
    """Take the queued work of *run_id* for this worker: the item; None when there is
    none to take (done, or another worker has it); ``"limited"`` when a concurrency
    limit (per runbook, per incident) holds it back for now."""
    with store._cursor() as cur, cur.connection.transaction():
        # One taker at a time decides limits: two workers cannot both see room for one.
        cur.execute("SELECT pg_advisory_xact_lock(74787017)")
        cur.execute(
            "SELECT run_id, kind, spec, state, runbook, incident_id, note, attempts "
            "FROM gert_work WHERE run_id = %s AND state = 'queued' FOR UPDATE",
            (run_id,),
        )
        row = cur.fetchone()
        if row is None:
            return None
        work = WorkItem(row[0], row[1], json.loads(row[2]), *row[3:])
        for column, limit in (
            ("runbook", limits.max_concurrent_per_runbook),
            ("incident_id", limits.max_concurrent_per_incident),
        ):
            value = getattr(work, column)
            if limit and value:
                cur.execute(
                    f"SELECT count(*) FROM gert_work WHERE state = 'taken' AND {column} = %s",
                    (value,),
                )
                if cur.fetchone()[0] >= limit:
                    return "limited"
        cur.execute(
            "UPDATE gert_work SET state = 'taken', taken_at = now(), worker = %s, "
            "attempts = attempts + 1 WHERE run_id = %s",
            (store.holder, run_id),
        )
    return work


def finish(store: PostgresStore, run_id: str, state: str = "done", note: str = "") -> None:
    """Leave the work of *run_id* done or parked (with why)."""
    store._exec(
        "UPDATE gert_work SET state = %s, note = %s, done_at = now() WHERE run_id = %s",
        (state, note[:2000], run_id),
    )


def release(store: PostgresStore, run_id: str) -> None:
    """Give the work of *run_id* back to the queue (a worker stopping before it ran)."""
    store._exec(
        "UPDATE gert_work SET state = 'queued', enqueued_at = now() "
        "WHERE run_id = %s AND state = 'taken'",
        (run_id,),
    )


def process(project: Project, run_id: str, send: Send, stop: Any = None) -> str:
    """Do the queued work of *run_id* on this worker; what became of it (``done``,
    ``parked``, ``handed-off``, ``limited``, ``nothing``)."""
    import dataclasses

    from gert.engine import Engine, Options, ResumeRefused
    from gert.store import RunBusy, open_store

    queue = require_queue(project)
    store: Any = open_store(project)
    try:
        work = take(store, run_id, queue)
        if work == "limited":
            send(run_id, 2.0)  # a slot frees when one of the others ends
            return "limited"
        if work is None or isinstance(work, str):
            return "nothing"
        spec = work.spec
        options = Options(
            mode=spec.get("mode", "real"),
            incident_id=spec.get("incident_id") or None,
            variables=dict(spec.get("variables") or {}),
            actor=spec.get("actor") or "gert-worker",
            answers=dict(spec.get("answers") or {}),
            post=bool(spec.get("post", True)),
            record=bool(spec.get("record", True)),
            retry_steps=tuple(spec.get("retry_steps") or ()),
            skip_steps=tuple(spec.get("skip_steps") or ()),
            in_flight=spec.get("in_flight") or "wait",
            abort=str(spec.get("abort") or ""),
            trigger=spec.get("trigger"),
            run_id=run_id,
            one_run=True,
            stop=stop,
            stop_reason="the worker stopped",
        )
        if spec.get("acting"):
            options = dataclasses.replace(options, acting=str(spec["acting"]))
        started = _exists(store, run_id)
        try:
            store.claim(store._handle(run_id))  # held (and renewed) while this worker runs it
            with Engine(project, store=store) as engine:
                if work.kind == "start" and not started:
                    chain = engine.run(project.root / spec["runbook"], options)
                else:  # a hand-off, an answer, or a run its worker died in
                    chain = engine.resume(current_run(store, run_id), options)
        except RunBusy:  # another worker runs the chain now, under its own work
            finish(store, run_id)
            return "done"
        except ResumeRefused as e:
            if "already finished" in str(e):
                finish(store, run_id)
                return "done"
            note = parked_note(run_id, str(e))
            record_interrupted(store, current_run(store, run_id), note)
            finish(store, run_id, "parked", note)
            return "parked"
        except (InvalidError, NotFound) as e:
            finish(store, run_id, "parked", str(e))
            return "parked"
        if chain.handoff_run:
            # The next runbook is a task of its own, queued under the run that hands off;
            # this work ends in the same transaction, so a crash loses or doubles neither.
            with store._cursor() as cur, cur.connection.transaction():
                finish(store, run_id)
                put(store, chain.handoff_run, "resume", {"actor": options.actor})
            send(chain.handoff_run, 0)
            return "handed-off"
        if chain.runs and chain.runs[-1].status == "interrupted" and stop is not None:
            release(store, run_id)  # this worker stops: another goes on with it
            send(run_id, 1.0)
            return "released"
        finish(store, run_id)
        return "done"
    finally:
        store.close()


def parked_note(run_id: str, message: str) -> str:
    """What a person reads of a run parked for a decision: the engine's reason, with the
    command that gives the decision through the queue."""
    import re

    message = re.sub(r"^run \S+: ", "", message)
    message = message.replace("resume with --retry-step", f"gert answer {run_id} --retry-step")
    return f"{message}; or end it: gert answer {run_id} --abort --reason TEXT"


def record_interrupted(store: Any, run_id: str, why: str) -> None:
    """Record in a run's evidence that its worker died while it ran and that it waits for
    a person's decision: ``run_interrupted`` in the trace, ``interrupted`` in its manifest
    (the lease is held: nobody else writes to it meanwhile)."""
    run = store.open(run_id)
    manifest = store.manifest_data(run)
    if manifest.get("status") != "running":
        return
    writer = store.trace(run)
    try:
        writer.emit(
            "run_interrupted",
            {"reason": "its worker stopped while a step ran (its lease ran out); " + why},
            sync=True,
        )
    finally:
        writer.close()
    manifest.update(
        status="interrupted",
        error=f"interrupted: its worker stopped while a step ran; {why}",
        trace={"events": writer.seq, "head": writer.head},
    )
    store.save(run, manifest)


def current_run(store: Any, run_id: str) -> str:
    """The run of *run_id*'s chain that is left to go on with: the last child its
    hand-offs started (a worker may have died in a child its task started)."""
    seen = {run_id}
    while True:
        m = store.read_manifest(store.open(run_id))
        children = [str(c.get("run_id", "")) for c in m.child_runs if isinstance(c, dict)]
        if not children or children[-1] in seen:
            return run_id
        run_id = children[-1]
        seen.add(run_id)


def queued_note(project: Project, run_id: str) -> str | None:
    """What became of a queued run no worker has started (None: not queued)."""
    if project.config.queue is None:
        return None
    from contextlib import closing

    from gert.store import open_store

    with closing(open_store(project)) as store:
        work = item(store, run_id)
    if work is None:
        return None
    if work.state == "parked":
        return f"queued, but it could not start: {work.note}"
    return "queued: no worker has started it yet (gert status shows the workers); reload"


def _exists(store: PostgresStore, run_id: str) -> bool:
    return bool(
        store._fetch(
            "SELECT 1 FROM gert_runs WHERE run_id = %s AND manifest IS NOT NULL", (run_id,)
        )
    )


def sweep(store: PostgresStore, send: Send, lease_seconds: float) -> list[str]:
    """Find work a dead worker left (taken, its run's lease run out) and work whose wake-up
    was lost (queued, not sent for a while: the broker restarted); queue each again and
    wake a worker. Returns the run IDs."""
    woken = []
    with store._cursor() as cur, cur.connection.transaction():
        cur.execute(
            "UPDATE gert_work w SET state = 'queued', kind = CASE WHEN EXISTS "
            "(SELECT 1 FROM gert_runs r WHERE r.run_id = w.run_id AND r.manifest IS NOT NULL) "
            "THEN 'resume' ELSE w.kind END, enqueued_at = now(), sent_at = now() "
            "WHERE w.state = 'taken' AND w.taken_at < now() - make_interval(secs => %s) "
            "AND NOT EXISTS (SELECT 1 FROM gert_leases l WHERE l.run_id = w.run_id "
            "AND l.expires_at >= now()) RETURNING w.run_id",
            (lease_seconds,),
        )
        woken += [r[0] for r in cur.fetchall()]
        cur.execute(
            "UPDATE gert_work SET sent_at = now() WHERE state = 'queued' "
            "AND sent_at < now() - make_interval(secs => %s) RETURNING run_id",
            (lease_seconds * 2,),
        )
        woken += [r[0] for r in cur.fetchall()]
    for run_id in woken:
        send(run_id, 0)
    return woken


def beat(store: PostgresStore, name: str, concurrency: int) -> None:
    """Say this worker is alive (gert status counts workers seen lately)."""
    store._exec(
        "INSERT INTO gert_workers (name, concurrency) VALUES (%s, %s) ON CONFLICT (name) "
        "DO UPDATE SET seen_at = now(), concurrency = EXCLUDED.concurrency",
        (name, concurrency),
    )


def status(store: PostgresStore, lease_seconds: float) -> dict[str, Any]:
    """Queue depth, workers alive, and runs waiting, running and parked."""
    work = dict(store._fetch("SELECT state, count(*) FROM gert_work GROUP BY state"))
    workers = store._fetch(
        "SELECT name, concurrency, seen_at FROM gert_workers "
        "WHERE seen_at >= now() - make_interval(secs => %s) ORDER BY name",
        (lease_seconds,),
    )
    runs = dict(
        store._fetch(
            "SELECT status, count(*) FROM gert_runs WHERE status IN "
            "('running', 'waiting', 'interrupted') GROUP BY status"
        )
    )
    wait = store._fetch(
        "SELECT coalesce(extract(epoch FROM now() - min(enqueued_at)), 0) FROM gert_work "
        "WHERE state = 'queued'"
    )
    parked = store._fetch(
        "SELECT run_id, note FROM gert_work WHERE state = 'parked' ORDER BY done_at DESC LIMIT 20"
    )
    waiting = store._fetch(
        "SELECT run_id, runbook_name FROM gert_runs WHERE status = 'waiting' "
        "ORDER BY started_at DESC LIMIT 20"
    )
    return {
        "queued": int(work.get("queued", 0)),
        "taken": int(work.get("taken", 0)),
        "parked": int(work.get("parked", 0)),
        "oldest_queued_seconds": round(float(wait[0][0] or 0), 1),
        "workers": [{"name": n, "concurrency": c, "seen_at": s.isoformat()} for n, c, s in workers],
        "runs": {
            "running": int(runs.get("running", 0)),
            "waiting": int(runs.get("waiting", 0)),
            "interrupted": int(runs.get("interrupted", 0)),
        },
        "parked_runs": [{"run_id": r, "why": n} for r, n in parked],
        "waiting_runs": [{"run_id": r, "runbook": b} for r, b in waiting],
    }


def enqueue_chain(
    project: Project,
    runbook: str,
    *,
    incident_id: str | None = None,
    variables: dict[str, str] | None = None,
    actor: str = "",
    mode: str = "real",
    post: bool = True,
    record: bool = True,
    trigger: dict[str, Any] | None = None,
    send: Send | None = None,
) -> Queued:
    """Queue a chain for the workers. The runbook is checked, its inputs bound and the
    broker's settings read now, so a chain that cannot start is refused here, not on a
    worker; once its row is written it is queued, whether or not the broker answers."""
    from gert.engine.results import default_actor
    from gert.starting import plan_start
    from gert.store import new_run_id, open_store

    require_queue(project)
    send = send or _sender(project)  # refuses a missing or wrong broker URL, before any row
    full = os.path.abspath(runbook)
    rel = os.path.relpath(full, project.root) if full.startswith(str(project.root)) else runbook
    plan = plan_start(project, rel, incident_id, dict(variables or {}))
    if plan.missing:
        said = []
        for name in plan.missing:
            source = getattr(plan.model.meta.inputs.get(name), "from_", None)
            if source and source.startswith("incident.") and incident_id:
                said.append(
                    f"{name} (incident {incident_id} has no {source.removeprefix('incident.')})"
                )
            elif source and source != "prompt":
                said.append(f"{name} (from {source}: nothing there)")
            else:
                said.append(name)
        raise InvalidError(
            f"{plan.rel}: no value for {', '.join(said)}; give --var NAME=VALUE"
            + (" or --incident ID of an incident that has it" if not incident_id else "")
            + " (a queued chain cannot ask)"
        )
    run_id = new_run_id()
    spec = {
        "runbook": plan.rel,
        "mode": mode,
        "incident_id": incident_id or "",
        "variables": dict(variables or {}),
        "actor": actor or default_actor(),
        "post": post,
        "record": record,
        "trigger": trigger,
    }
    store: Any = open_store(project)
    try:
        put(
            store,
            run_id,
            "start",
            spec,
            runbook=plan.model.meta.name or plan.rel,
            incident_id=incident_id or "",
        )
    finally:
        store.close()
    return _woken(project, run_id, send)


def enqueue_answer(
    project: Project,
    run_id: str,
    *,
    answers: dict[str, Any] | None = None,
    retry_steps: tuple[str, ...] = (),
    skip_steps: tuple[str, ...] = (),
    acting: str = "",
    abort: str = "",
    send: Send | None = None,
) -> Queued:
    """Queue a waiting or parked run to go on, with the answers or decisions given (or,
    with *abort*, to end as failed with that reason)."""
    from gert.engine.results import default_actor
    from gert.store import open_store

    require_queue(project)
    send = send or _sender(project)
    store: Any = open_store(project)
    try:
        store.open(run_id)  # NotFound names an unknown run
        m = store.read_manifest(store.open(current_run(store, run_id)))
        if m.status not in ("waiting", "running", "interrupted") and not m.handoff_pending:
            raise InvalidError(f"run {run_id} already finished ({m.status}); nothing to answer")
        put(
            store,
            run_id,
            "resume",
            {
                "answers": answers or {},
                "retry_steps": list(retry_steps),
                "skip_steps": list(skip_steps),
                "abort": abort,
                "actor": m.actor,
                "acting": acting or default_actor(),
            },
            runbook=m.runbook_name,
            incident_id=m.incident_id,
        )
    finally:
        store.close()
    return _woken(project, run_id, send)


def _sender(project: Project) -> Send:
    broker_url(project)
    return sender(project)


def _woken(project: Project, run_id: str, send: Send) -> Queued:
    """Wake a worker for the queued *run_id*; when the broker cannot be reached, mark the
    row so the next sweep (within a third of the lease) sends it again."""
    from gert.store import open_store

    unsent = _wake(send, run_id)
    if unsent:
        store: Any = open_store(project)
        try:
            store._exec("UPDATE gert_work SET sent_at = 'epoch' WHERE run_id = %s", (run_id,))
        finally:
            store.close()
    return Queued(run_id, unsent)


def _wake(send: Send, run_id: str) -> str:
    """Wake a worker for *run_id*; why it could not be done ('' when it was)."""
    try:
        send(run_id, 0)
    except Exception as e:  # the broker is away: the row is written, a sweeper resends it
        from gert.util import first_line

        return first_line(e)[:300]
    return ""


TASK = "gert.process"
LOG = "gert.worker"


def broker_url(project: Project) -> str:
    """The broker URL, from the variable ``queue.broker_url_env`` names."""
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
