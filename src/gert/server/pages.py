"""The pages: incidents, an incident's timeline, a run, and signing in."""

from __future__ import annotations

import hmac
import secrets
from contextlib import closing
from pathlib import Path as PathLike
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gert.engine.recovery import needs_evidence
from gert.errors import InvalidError
from gert.server.auth import COOKIE, Caller, NotSignedIn

router = APIRouter(include_in_schema=False)

IncidentId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
RunId = Annotated[str, Path(pattern=r"^\d{8}T\d{6}-[0-9a-f]{8}$")]
CSRF = "gert_csrf"
MAX_FORM = 16 * 1024  # bytes of a posted form
# An incident page draws its latest chains and timeline entries; the API has them all.
PAGE_CHAINS = 50
PAGE_EVENTS = 1000
# Outcome states drawn in their own colour; any other state is drawn as "other".
STATES = {
    "resolved", "escalated", "needs_rca", "no_action", "completed", "failed", "error",
    "interrupted", "running", "chain_error", "handoff_pending", "waiting",
}  # fmt: skip
# Events of a whole chain that each of its runs records (shown once per chain).
CHAIN_EVENTS = {"incident_posted", "scenario_saved"}
# Trace events that belong on an incident's timeline, and how each reads.
TIMELINE_EVENTS = {
    "run_started", "step_completed", "step_skipped", "evidence_recorded", "outcome_reached",
    "chain_started", "run_completed", "run_interrupted", "governance_blocked",
    "incident_posted", "scenario_saved",
}  # fmt: skip


def signed_in(request: Request) -> Caller:
    """The caller of a page; without one (tokens are configured), the sign-in page."""
    found = request.app.state.server.caller(request)
    if found is None:
        raise NotSignedIn()
    return found


Who = Annotated[Caller, Depends(signed_in)]


def _page(request: Request, template: str, who: Caller | None, **context: Any) -> HTMLResponse:
    if "csrf" not in context:  # the sign-out form of every page needs the form token
        return _with_form(request, template, who, **context)
    server = request.app.state.server
    shown = server.shown(context)
    return server.templates.TemplateResponse(
        request, template, {**shown, "who": who, "tokens": server.tokens.required}
    )


def state_class(state: str) -> str:
    """The CSS class of a run's state box."""
    return f"state-{state if state in STATES else 'other'}"


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/incidents", status_code=303)


@router.get("/incidents", response_class=HTMLResponse)
def incidents_page(request: Request, who: Who, q: str = "") -> HTMLResponse:
    from gert.overview import incidents

    items = incidents(request.app.state.server.project)
    if q:
        needle = q.lower()[:200]
        items = [i for i in items if needle in f"{i.get('id', '')} {i.get('title', '')}".lower()]
    for i in items:
        i["state_class"] = state_class(str(i.get("last_state", "")))
    return _page(request, "incidents.html", who, title="Incidents", incidents=items, q=q[:200])


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(
    request: Request, who: Who, incident_id: IncidentId, all: bool = False
) -> HTMLResponse:
    from gert.errors import NotFound
    from gert.overview import incident_overview
    from gert.store import open_store

    server = request.app.state.server
    view = incident_overview(server.project, incident_id, include_all=all, latest=PAGE_CHAINS)
    if view.incident is None and not view.runs and not view.earlier:
        raise NotFound(f"no incident {incident_id} and no runs for it")
    rows = []
    events: list[dict[str, Any]] = []
    said: set[tuple[int, str]] = set()
    pairs = zip(view.chains, view.replays, strict=True)
    with closing(open_store(server.project)) as store:
        for n, (chain, replay) in enumerate(pairs, view.earlier + 1):
            boxes = []
            for depth, r in chain:
                boxes.append({**r.to_dict(), "depth": depth, "state_class": state_class(r.state)})
                try:
                    run_events = store.events(store.open(r.run_id))
                except OSError:  # NotFound too: a run the index names but the store lost
                    continue
                for e in run_events:
                    kind = e.get("type")
                    if kind in CHAIN_EVENTS:  # every run of the chain records it: once
                        if (n, kind) in said:
                            continue
                        said.add((n, kind))
                    if kind in TIMELINE_EVENTS:
                        events.append(_timeline_entry(e, r.runbook_name, n))
            rows.append({"number": n, "runs": boxes, "replay": replay})
    for entry in (view.incident or {}).get("timeline") or []:
        events.append(
            {
                "ts": str(entry.get("ts", "")),
                "what": str(entry.get("kind", "note")),
                "text": str(entry.get("text", "")),
                "who": str(entry.get("author", "")),
                "run_id": "",
                "chain": "",
            }
        )
    events.sort(key=lambda e: e["ts"])
    shown_events = events[-PAGE_EVENTS:]
    return _page(
        request,
        "incident.html",
        who,
        title=f"Incident {incident_id}",
        incident_id=incident_id,
        incident=view.incident or {},
        chains=rows,
        events=shown_events,
        earlier_events=len(events) - len(shown_events),
        earlier_chains=view.earlier,
        hidden=view.hidden,
        all=all,
        warning=view.warning or "",
    )


def _timeline_entry(event: dict[str, Any], runbook: str, chain: int) -> dict[str, Any]:
    """One trace event as a line of the incident's timeline."""
    data = event.get("data") or {}
    kind = str(event.get("type", ""))
    if kind == "step_completed" and needs_evidence(data):
        text = f"{data.get('step_id', '')}: waiting for an answer"
    elif kind == "step_completed":
        captures = ", ".join(f"{k}={v}" for k, v in (data.get("captures") or {}).items())
        text = f"{data.get('step_id', '')}: {data.get('status', '')}" + (
            f" ({captures})" if captures else ""
        )
    elif kind == "run_completed":
        outcome = data.get("outcome") or {}
        text = f"{runbook}: {outcome.get('state') or data.get('status', '')}"
    elif kind == "run_started":
        text = f"{runbook} started ({data.get('mode', '')}, by {data.get('actor', '')})"
    else:
        text = ", ".join(f"{k}={v}" for k, v in data.items() if isinstance(v, str | int | float))
    return {
        "ts": str(event.get("ts", "")),
        "what": kind.replace("_", " "),
        "text": text[:500],
        "who": "",
        "run_id": str(event.get("run_id", "")),
        "step": data.get("step_id", ""),
        "chain": chain,
    }


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, who: Who, run_id: RunId) -> HTMLResponse:
    from gert.errors import NotFound
    from gert.overview import run_view

    server = request.app.state.server
    try:
        view = run_view(server.project, run_id, server.key)
    except NotFound:
        from gert.queue import queued_note

        queued = queued_note(server.project, run_id)
        if queued is None:
            raise
        return _page(
            request,
            "error.html",
            who,
            title=f"Run {run_id}",
            message=queued,
            back=f"/runs/{run_id}",
        )
    completed = {
        e["data"].get("step_file"): e["data"]
        for e in view.events
        if e.get("type") == "step_completed" and isinstance(e.get("data"), dict)
    }
    steps = []
    waited = (view.waiting or {}).get("step_id")
    for name, record in view.steps:
        summary = completed.get(name, {})
        evidence = (record.get("attempts") or [{}])[-1].get("evidence") or {}
        attachments = [
            {
                "name": k,
                "file": PathLike(str(v["stored"])).name,
                "sha256": v.get("sha256", ""),
                "size": v.get("size", 0),
            }
            for k, v in evidence.items()
            if isinstance(v, dict) and v.get("kind") == "attachment" and v.get("stored")
        ]
        if record.get("step_id") == waited and record.get("status") == "failed":
            record = {**record, "status": "waiting", "error": ""}  # asked below, not failed
        steps.append(
            {
                "file": name,
                "step_id": record.get("step_id", ""),
                "number": record.get("number", ""),
                "status": record.get("status", ""),
                "duration_ms": record.get("duration_ms", ""),
                "captures": record.get("captures") or {},
                "error": record.get("error", ""),
                "stdout": summary.get("stdout", ""),
                "stderr": summary.get("stderr", ""),
                "attachments": attachments,
                "state_class": state_class(str(record.get("status", ""))),
            }
        )
    m = view.manifest
    outcome = m.get("outcome") or {}
    return _with_form(
        request,
        "run.html",
        who,
        waiting=view.waiting,
        may_answer=who.may("operator"),
        may_approve=who.may("approver"),
        title=f"Run {run_id}",
        run_id=run_id,
        manifest=m,
        outcome=outcome,
        state_class=state_class(str(outcome.get("state") or m.get("status", ""))),
        steps=steps,
        verified=view.verified,
        problems=view.problems,
        notes=view.notes,
    )


def _with_form(
    request: Request, template: str, who: Caller | None, status: int = 200, **context: Any
) -> HTMLResponse:
    """A page holding a form: the form's token is set as a cookie too, and a post must
    bring both (a page of another site can make a browser post, not read the token)."""
    # One token per browser, kept while it lasts (two tabs' forms stay good together),
    # signed by this server: a cookie planted by another site is not taken.
    server = request.app.state.server
    token = request.cookies.get(CSRF, "")
    if not _signed(server, token):
        nonce = secrets.token_urlsafe(18)
        token = f"{nonce}.{_signature(server, nonce)}"
    response = _page(request, template, who, csrf=token, **context)
    response.status_code = status
    if request.cookies.get(CSRF) != token:
        response.set_cookie(CSRF, token, httponly=True, samesite="strict")
    return response


def _signature(server: Any, nonce: str) -> str:
    return hmac.new(server.csrf_key, nonce.encode(), "sha256").hexdigest()[:32]


def _signed(server: Any, token: str) -> bool:
    nonce, _, signature = token.partition(".")
    return bool(nonce and signature) and hmac.compare_digest(signature, _signature(server, nonce))


def form_token_good(request: Request, given: str) -> bool:
    """The posted form's token is this browser's cookie, and this server signed it."""
    expected = request.cookies.get(CSRF, "")
    return (
        bool(expected)
        and hmac.compare_digest(expected, given)
        and _signed(request.app.state.server, expected)
    )


async def _posted(request: Request) -> dict[str, str] | None:
    """A posted form's fields; None when its token is not this browser's, signed here."""
    body = await request.body()
    form = {k: v[0] for k, v in parse_qs(body[:MAX_FORM].decode("utf-8", "replace")).items()}
    return form if form_token_good(request, form.get("csrf", "")) else None


REFUSED = "refused: the form is stale or not from this server"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/incidents", failed: bool = False) -> Response:
    return _with_form(
        request, "login.html", None, title="Sign in", next=_local(next), failed=failed
    )


@router.post("/login")
async def login(request: Request) -> Response:
    form = await _posted(request)
    if form is None:
        return HTMLResponse(REFUSED, status_code=403)
    target = _local(form.get("next", "/incidents"))
    caller = request.app.state.server.tokens.caller(form.get("token", ""))
    if caller is None:
        return RedirectResponse(f"/login?failed=1&next={target}", status_code=303)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE, request.app.state.server.session(caller), httponly=True, samesite="strict"
    )
    return response


def _local(target: str) -> str:
    """A redirect target on this server only (no //host, no scheme)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/incidents"
    return target[:300]


@router.get("/incidents/{incident_id}/start", response_class=HTMLResponse)
def start_page(
    request: Request, who: Who, incident_id: IncidentId, runbook: str = ""
) -> HTMLResponse:
    """The link an alert carries: the runbook, its inputs bound from the incident (and
    where each came from), and a Start button."""
    from gert.starting import plan_start

    plan = plan_start(request.app.state.server.project, runbook, incident_id, {})
    return _start_form(request, who, incident_id, plan)


def _start_form(
    request: Request, who: Caller, incident_id: str, plan: Any, error: str = "", status: int = 200
) -> HTMLResponse:
    inputs = [
        {
            "name": n,
            "value": "" if n in plan.missing else plan.inputs[n],
            "source": plan.sources.get(n, ""),
            "missing": n in plan.missing,
            "description": spec.description or "",
        }
        for n, spec in plan.model.meta.inputs.items()
    ]
    return _with_form(
        request,
        "start.html",
        who,
        status=status,
        title=f"Start {plan.model.meta.name}",
        incident_id=incident_id,
        incident=plan.incident or {},
        runbook=plan.rel,
        name=plan.model.meta.name,
        description=plan.model.meta.description or "",
        inputs=inputs,
        may_start=who.may("operator"),
        error=error,
    )


@router.post("/incidents/{incident_id}/start")
async def start(request: Request, who: Who, incident_id: IncidentId) -> Response:
    """Start the chain (an operator's form): dry-run or real."""
    from gert.starting import plan_start

    form = await _posted(request)
    if form is None:
        return HTMLResponse(REFUSED, status_code=403)
    if not who.may("operator"):
        return HTMLResponse(
            f"refused: {who.name} is a {who.role}; starting needs an operator", status_code=403
        )
    server = request.app.state.server
    given = {k[4:]: v for k, v in form.items() if k.startswith("var_")}
    plan = plan_start(server.project, form.get("runbook", ""), incident_id, given)
    mode = form.get("mode", "dry-run")
    if mode not in ("dry-run", "real"):
        return HTMLResponse("refused: mode is dry-run or real", status_code=400)
    if plan.missing and mode == "real":
        missing = ", ".join(plan.missing)
        return _start_form(
            request, who, incident_id, plan, f"no value for {missing}: give each below", 400
        )
    started = server.launcher.start(
        plan.path,
        mode=mode,
        incident_id=incident_id,
        # what the operator typed; the engine binds the rest itself and records from where
        variables={k: v for k, v in given.items() if k in plan.inputs and v != ""},
        actor=who.actor,
    )
    started.ready.wait(10)
    if started.run_id:
        return RedirectResponse(f"/runs/{started.run_id}", status_code=303)
    return RedirectResponse(f"/incidents/{incident_id}", status_code=303)


MAX_UPLOAD = 10 * 1024 * 1024  # bytes of one attachment


@router.post("/runs/{run_id}/answer")
async def answer(request: Request, who: Who, run_id: RunId) -> Response:
    """Answer a waiting run's step from its form (operators; approvals: approvers). The
    run goes on at once; when it was answered already (from a terminal or another
    browser), the first answer stands and this one says so."""
    import anyio

    from gert.overview import run_view
    from gert.server.answering import NotAnswered, submit

    server = request.app.state.server
    form = await request.form(max_files=16, max_fields=200)
    if not form_token_good(request, str(form.get("csrf", ""))):
        return HTMLResponse(REFUSED, status_code=403)
    view = await anyio.to_thread.run_sync(lambda: run_view(server.project, run_id, server.key))
    waiting = view.waiting or {}
    given: dict[str, Any] = {}
    for ev in waiting.get("evidence") or []:
        name = ev["name"]
        if ev["kind"] == "checklist":
            given[name] = [str(v) for v in form.getlist(f"ev_{name}") if str(v) in ev["items"]]
        elif ev["kind"] == "attachment":
            upload = form.get(f"ev_{name}")
            if upload is None or isinstance(upload, str) or not upload.filename:
                continue
            given[name] = str(await _keep_upload(server.project, run_id, name, upload))
        else:
            text = str(form.get(f"ev_{name}", "")).strip()
            if text:
                given[name] = text[:10_000]
    if waiting.get("choices") and form.get("choice"):
        given["choice"] = str(form.get("choice"))
    if waiting.get("outcomes") and form.get("outcome"):
        given["outcome"] = str(form.get("outcome"))
    step_id = str(form.get("step_id", ""))
    try:
        await anyio.to_thread.run_sync(lambda: submit(server, who, run_id, step_id, given))
    except NotAnswered as e:
        if e.status == 403:
            return HTMLResponse(f"refused: {e}", status_code=403)
        return _answered_page(request, who, run_id, str(e), e.status)
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


async def _keep_upload(project: Any, run_id: str, name: str, upload: Any) -> PathLike:
    """An uploaded attachment saved where the run's answer can name it (size-limited);
    the run copies it into its evidence with its SHA-256 and size."""
    import re as _re

    folder = project.root / ".runbook" / "uploads" / run_id / secrets.token_hex(8)
    folder.mkdir(parents=True, exist_ok=True)
    safe = _re.sub(r"[^A-Za-z0-9._-]", "_", PathLike(upload.filename).name)[:80] or name
    path = folder / safe
    size = 0
    with path.open("wb") as out:
        while chunk := await upload.read(64 * 1024):
            size += len(chunk)
            if size > MAX_UPLOAD:
                out.close()
                path.unlink()
                raise InvalidError(
                    f"attachment '{name}' is larger than {MAX_UPLOAD // 1024 // 1024} MiB"
                )
            out.write(chunk)
    return path


def _answered_page(
    request: Request, who: Caller, run_id: str, message: str, status: int = 200
) -> HTMLResponse:
    response = _page(
        request,
        "error.html",
        who,
        title="Not answered",
        message=message,
        back=f"/runs/{run_id}",
    )
    response.status_code = status
    return response


@router.get("/runs/{run_id}/attachments/{name}")
def attachment(request: Request, who: Who, run_id: RunId, name: str) -> Response:
    """A manual step's attachment, as a download (never shown inline)."""
    import re as _re

    from gert.errors import NotFound
    from gert.store import open_store

    if not _re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}", name):
        raise NotFound(f"no attachment {name[:100]}")
    with closing(open_store(request.app.state.server.project)) as store:
        body = store.attachment(store.open(run_id), f"attachments/{name}")
    if body is None:
        raise NotFound(f"run {run_id} has no attachment {name}")
    return Response(
        body,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Sign this browser out."""
    if await _posted(request) is None:
        return HTMLResponse(REFUSED, status_code=403)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
