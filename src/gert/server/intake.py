"""``POST /api/v1/alerts``: an alert opens (or finds) its incident and starts the runbook
its route names. Signed with HMAC-SHA256 of the body, or sent with an operator's token;
a redelivered alert starts nothing new."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from gert.server.auth import Caller

router = APIRouter(prefix="/api/v1", tags=["alerts"])
MAX_BODY = 1024 * 1024  # bytes of one request


def _sender(request: Request, body: bytes) -> str:
    """Who sent the alert, as the trace records it; 401 when nobody may."""
    server = request.app.state.server
    secret = server.alert_secret
    signature = request.headers.get("x-gert-signature", "")
    if secret and signature:
        want = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        if hmac.compare_digest(want, signature.strip()):
            return "alert:webhook"
        raise HTTPException(401, "the X-Gert-Signature does not match the body")
    caller: Caller | None = server.caller(request)
    if server.tokens.required and caller is not None and caller.may("operator"):
        return caller.actor
    if not secret and not server.tokens.required:
        raise HTTPException(
            403, "alert intake is off: set server.alert_secret_env or server.tokens in gert.yaml"
        )
    if signature and not secret:
        raise HTTPException(
            401,
            "the alert is signed, but this server has no alert secret (server.alert_secret_env "
            "names no variable that is set); send an operator's token instead",
        )
    raise HTTPException(
        401, "sign the body (X-Gert-Signature: sha256=HEX) or send an operator's token"
    )


@router.post("/alerts", status_code=202)
async def alerts(request: Request) -> dict[str, Any]:
    """Take an Alertmanager webhook or a generic JSON alert: each alert opens or finds its
    incident and starts the runbook its route (or a failure signature of its log) names."""
    import anyio

    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(413, f"an alert request is at most {MAX_BODY} bytes")
    actor = _sender(request, body)
    try:
        payload = json.loads(body)
    except ValueError:
        raise HTTPException(400, "the body is not JSON") from None
    from gert.alerts import read_alerts
    from gert.errors import InvalidError

    try:
        found = read_alerts(payload)
    except InvalidError as e:
        raise HTTPException(400, str(e)) from None
    server = request.app.state.server
    results = [await anyio.to_thread.run_sync(_take, server, a, actor) for a in found]
    return server.shown({"alerts": results})


def _take(server: Any, alert: Any, actor: str) -> dict[str, Any]:
    """One alert: claimed once, its incident opened, its runbook started."""
    from gert import alerts as intake
    from gert.errors import InvalidError, NotFound
    from gert.incident.local import local_provider
    from gert.starting import plan_start

    project = server.project
    out: dict[str, Any] = {"title": alert.title, "status": alert.status}
    record = intake.claim(project, alert)
    if record is None:
        before = intake.record_of(project, alert)
        return {
            **out,
            "duplicate": True,
            **{k: before[k] for k in ("incident_id", "run_id") if k in before},
        }
    incident_id = intake.open_incident(project, alert)
    out["incident_id"] = incident_id
    provider = local_provider(project)
    if alert.status == "resolved":
        provider.note(incident_id, f"the alert resolved: {alert.title}", author=actor)
        intake.note(record, incident_id=incident_id)
        return out
    chosen = intake.route(project, alert)
    runbook, mode = (chosen.runbook, chosen.mode) if chosen else ("", "real")
    if chosen is None:
        signature = intake.by_signature(project, alert)
        if signature is not None:
            path = signature.signature.runbook_path(project.root)
            runbook = str(path.resolve().relative_to(project.real_root))
            out["signature"] = signature.signature.id
    if not runbook:
        provider.note(incident_id, "no route in gert.yaml matches this alert", author=actor)
        intake.note(record, incident_id=incident_id)
        return {**out, "unrouted": True}
    try:
        plan = plan_start(project, runbook, incident_id, {})
        error = (
            f"{plan.rel}: no value for {', '.join(plan.missing)} in the alert"
            if plan.missing
            else ""
        )
    except (NotFound, InvalidError) as e:
        error = str(e)
    if error:  # said on the incident, where the team looks; a redelivery may try again
        provider.note(incident_id, f"the alert started nothing: {error}", author=actor)
        intake.release(record)
        return {**out, "error": error}
    started = server.launcher.start(
        plan.path,
        mode=mode,
        incident_id=incident_id,
        variables={},
        actor=actor,
        trigger={"alert": alert.source, "title": alert.title, "key": alert.key[:200]},
    )
    started.ready.wait(10)
    intake.note(record, incident_id=incident_id, run_id=started.run_id, runbook=plan.rel)
    return {**out, "runbook": plan.rel, "mode": mode, "run_id": started.run_id}
