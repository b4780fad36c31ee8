"""The JSON API, ``/api/v1``: what the pages show, as data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import closing
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from gert.server.auth import COOKIE, Caller

router = APIRouter(prefix="/api/v1", tags=["api"])

IncidentId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
RunId = Annotated[str, Path(pattern=r"^\d{8}T\d{6}-[0-9a-f]{8}$")]


def caller(request: Request) -> Caller:
    """The caller of an API request; 401 without a token that names someone."""
    found = request.app.state.server.caller(request)
    if found is None:
        given = request.headers.get("authorization") or request.cookies.get(COOKIE)
        raise HTTPException(
            401,
            "that token names nobody"
            if given
            else "a token is required: Authorization: Bearer TOKEN",
        )
    return found


Who = Annotated[Caller, Depends(caller)]


@router.get("/whoami")
def whoami(request: Request, who: Who) -> dict[str, Any]:
    """Who the token names, and the role it carries."""
    return {"name": who.name, "role": who.role, "actor": who.actor}


@router.get("/incidents")
def incidents(request: Request, who: Who) -> dict[str, Any]:
    """Every incident gert knows, newest first, with its latest chain's state."""
    from gert.overview import incidents as listed

    server = request.app.state.server
    return server.shown({"incidents": listed(server.project)})


@router.get("/incidents/{incident_id}")
def incident(
    request: Request,
    who: Who,
    incident_id: IncidentId,
    include_all: Annotated[bool, Query(alias="all")] = False,
) -> dict[str, Any]:
    """An incident's record and every chain run for it (dry-runs and replays with all=true)."""
    from gert.overview import incident_overview

    server = request.app.state.server
    view = incident_overview(server.project, incident_id, include_all)
    if view.incident is None and not view.runs:
        raise HTTPException(404, f"no incident {incident_id} and no runs for it")
    return server.shown({**view.to_dict(), "warning": view.warning})


@router.get("/runs")
def runs(
    request: Request,
    who: Who,
    incident: Annotated[str | None, Query(max_length=128)] = None,
    runbook: Annotated[str | None, Query(max_length=128)] = None,
    state: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> dict[str, Any]:
    """Indexed runs, newest first (filtered by incident, runbook name, state)."""
    from gert.store import open_index

    server = request.app.state.server
    rows = open_index(server.project.root).query(
        incident=incident, runbook=runbook, state=state, limit=limit
    )
    return server.shown({"runs": [r.to_dict() for r in rows]})


@router.get("/runs/{run_id}", response_model=None)
def run(request: Request, who: Who, run_id: RunId) -> JSONResponse:
    """A run: manifest, step records, trace events, and its trace verified now."""
    from gert.errors import NotFound
    from gert.overview import run_view
    from gert.queue import queued_note

    server = request.app.state.server
    try:
        view = run_view(server.project, run_id, server.key)
    except NotFound:
        note = queued_note(server.project, run_id)
        if note is None:
            raise
        return JSONResponse({"run_id": run_id, "status": "queued", "note": note})
    # plain data already: straight to JSON (FastAPI's encoder would walk it again)
    return JSONResponse(server.shown(view.to_dict()))


class StartRequest(BaseModel):
    """A chain to start."""

    runbook: str = Field(max_length=500, description="The runbook file, relative to the project.")
    incident_id: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
    mode: Literal["dry-run", "real"] = "dry-run"
    variables: dict[str, str] = Field(default_factory=dict, description="Inputs given.")


@router.post("/runs", status_code=202)
def start(request: Request, who: Who, body: StartRequest) -> dict[str, Any]:
    """Start a chain (operators): answered when its root run exists, with its ID."""
    from gert.starting import plan_start

    if not who.may("operator"):
        raise HTTPException(403, f"{who.name} is a {who.role}; starting needs an operator")
    server = request.app.state.server
    plan = plan_start(server.project, body.runbook, body.incident_id, body.variables)
    if plan.missing and body.mode == "real":
        raise HTTPException(400, f"no value for {', '.join(plan.missing)}: give them in variables")
    started = server.launcher.start(
        plan.path,
        mode=body.mode,
        incident_id=body.incident_id,
        variables={k: v for k, v in body.variables.items() if k in plan.inputs and v != ""},
        actor=who.actor,
    )
    started.ready.wait(10)
    return {"run_id": started.run_id, "runbook": plan.rel, "mode": body.mode, "actor": who.actor}


# Live updates: how often a stream looks for change, how long one lasts (the browser's
# EventSource reconnects by itself), and how often it says it is still there.
POLL_SECONDS = 0.5
STREAM_SECONDS = 600
KEEPALIVE_SECONDS = 15


def _incident_fingerprint(project: Any, incident_id: str) -> tuple[Any, ...]:
    """What changes when anything of an incident's chains does: its runs, their states,
    the length of their traces."""
    from gert.store import open_store

    with closing(open_store(project)) as store:
        rows = store.query(incident=incident_id, limit=None)
        return tuple((r.run_id, r.status, r.state, store.revision(r.run_id)) for r in rows)


def _run_fingerprint(project: Any, run_id: str) -> tuple[Any, ...]:
    from gert.store import open_store

    with closing(open_store(project)) as store:
        return store.revision(run_id)


async def _changes(request: Request, fingerprint: Any) -> AsyncIterator[str]:
    """Server-sent events: ``changed`` each time *fingerprint* () differs."""
    import anyio

    last = await anyio.to_thread.run_sync(fingerprint)
    yield "retry: 2000\n\n"
    quiet = 0.0
    deadline = anyio.current_time() + STREAM_SECONDS
    while anyio.current_time() < deadline and not await request.is_disconnected():
        await anyio.sleep(POLL_SECONDS)
        now = await anyio.to_thread.run_sync(fingerprint)
        if now != last:
            last, quiet = now, 0.0
            yield "event: changed\ndata: {}\n\n"
        else:
            quiet += POLL_SECONDS
            if quiet >= KEEPALIVE_SECONDS:
                quiet = 0.0
                yield ": still here\n\n"


@router.get("/incidents/{incident_id}/stream")
def incident_stream(request: Request, who: Who, incident_id: IncidentId) -> StreamingResponse:
    """Server-sent events: ``changed`` whenever a chain of the incident moves (a run
    starts or ends, a step is recorded)."""
    project = request.app.state.server.project
    return StreamingResponse(
        _changes(request, lambda: _incident_fingerprint(project, incident_id)),
        media_type="text/event-stream",
    )


@router.get("/runs/{run_id}/stream")
def run_stream(request: Request, who: Who, run_id: RunId) -> StreamingResponse:
    """Server-sent events: ``changed`` whenever the run records something."""
    from gert.overview import run_view

    server = request.app.state.server
    run_view(server.project, run_id)  # 404 for a run that is not there
    return StreamingResponse(
        _changes(request, lambda: _run_fingerprint(server.project, run_id)),
        media_type="text/event-stream",
    )


class AnswerRequest(BaseModel):
    """The answers of a waiting run's step, as an --evidence file gives them (an
    attachment is a path inside the project)."""

    step_id: str = Field(max_length=200)
    answers: dict[str, Any] = Field(default_factory=dict)


@router.post("/runs/{run_id}/answer", status_code=202)
def answer(request: Request, who: Who, run_id: RunId, body: AnswerRequest) -> dict[str, Any]:
    """Answer a waiting run's step (operators; approvals: approvers, as themselves): the
    run goes on. The first answer wins; a later one is 409."""
    from gert.server.answering import NotAnswered, submit

    try:
        submit(request.app.state.server, who, run_id, body.step_id, body.answers)
    except NotAnswered as e:
        raise HTTPException(e.status, str(e)) from None
    return {"run_id": run_id, "step_id": body.step_id, "actor": who.actor}
