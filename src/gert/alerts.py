"""Alerts in: what an alert says, which runbook it starts, the incident it opens, and
whether it was seen before.

Two payloads are read: Prometheus Alertmanager's webhook (``{"alerts": [...]}``, each with
``labels``, ``annotations``, ``fingerprint``, ``startsAt``) and a generic JSON alert
(``{"title", "severity", "fields", "fingerprint", "incident_id", "log"}``). Everything in
an alert is hostile text: bounded, never markup or a template, and only ever compared.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gert.errors import InvalidError
from gert.project import Project

MAX_ALERTS = 100  # per request
MAX_TEXT = 2000  # characters of any one value
MAX_FIELDS = 64


@dataclass
class Alert:
    """One alert, as gert reads it."""

    source: str  # alertmanager | generic
    key: str  # what makes a redelivery the same alert
    title: str
    status: str = "firing"  # firing | resolved
    severity: int | None = None
    fields: dict[str, str] = field(default_factory=dict)  # labels and annotations
    incident_id: str = ""  # named by the alert, else made from its key
    log: str = ""


def _text(value: Any, limit: int = MAX_TEXT) -> str:
    return str(value if value is not None else "")[:limit]


def _fields(*maps: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in maps:
        if isinstance(m, dict):
            for k, v in list(m.items())[:MAX_FIELDS]:
                if isinstance(v, str | int | float | bool):
                    out[_text(k, 128)] = _text(v)
    return out


def _severity(value: Any) -> int | None:
    text = str(value or "").strip().lower()
    names = {"critical": 1, "page": 1, "high": 2, "error": 2, "warning": 3, "medium": 3}
    if text in names:
        return names[text]
    m = re.fullmatch(r"(?:sev|p)?\s*([0-4])", text)
    return int(m.group(1)) if m else None


def read_alerts(payload: Any) -> list[Alert]:
    """The alerts of an Alertmanager webhook or a generic JSON alert; raises InvalidError
    naming what is wrong with the payload."""
    if not isinstance(payload, dict):
        raise InvalidError("an alert is a JSON object")
    if isinstance(payload.get("alerts"), list):  # Alertmanager
        items = payload["alerts"]
        if len(items) > MAX_ALERTS:
            raise InvalidError(f"at most {MAX_ALERTS} alerts per request, not {len(items)}")
        out = []
        for n, a in enumerate(items):
            if not isinstance(a, dict):
                raise InvalidError(f"alerts[{n}] is not an object")
            labels, notes = a.get("labels") or {}, a.get("annotations") or {}
            fields = _fields(payload.get("commonLabels"), labels, notes)
            fingerprint = _text(a.get("fingerprint"), 128) or _digest(labels)
            starts = _text(a.get("startsAt"), 64)
            title = (
                fields.get("summary")
                or fields.get("description")
                or fields.get("alertname")
                or "alert"
            )
            status = "resolved" if a.get("status") == "resolved" else "firing"
            out.append(
                Alert(
                    "alertmanager",
                    f"am:{fingerprint}:{starts}:{status}",
                    title,
                    status,
                    _severity(fields.get("severity")),
                    fields,
                    log=_text(notes.get("log") if isinstance(notes, dict) else "", 100_000),
                )
            )
        return out
    title = _text(payload.get("title") or payload.get("summary"))
    if not title:
        raise InvalidError("a generic alert needs a title (or an Alertmanager payload: alerts)")
    fields = _fields(payload.get("fields"), payload.get("labels"))
    key = _text(payload.get("fingerprint") or payload.get("id"), 128) or _digest(
        {"title": title, **fields}
    )
    status = "resolved" if payload.get("status") == "resolved" else "firing"
    incident_id = _text(payload.get("incident_id"), 128)
    if incident_id and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}", incident_id):
        raise InvalidError("incident_id is letters, digits and . _ : - (at most 128)")
    return [
        Alert(
            "generic",
            f"generic:{key}:{status}",
            title,
            status,
            _severity(payload.get("severity")),
            fields,
            incident_id,
            _text(payload.get("log"), 100_000),
        )
    ]


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def route(project: Project, alert: Alert) -> Any:
    """The first route of ``gert.yaml`` the alert matches (None when none does)."""
    for r in project.config.routes:
        if all(_holds(alert.fields.get(k), want) for k, want in r.match.items()) and (
            r.title is None or re.search(r.title, alert.title) is not None
        ):
            return r
    return None


def _holds(value: str | None, want: str) -> bool:
    if value is None:
        return False
    if len(want) > 1 and want.startswith("/") and want.endswith("/"):
        return re.search(want[1:-1], value) is not None
    return value == want


def by_signature(project: Project, alert: Alert) -> Any:
    """The best failure signature (as ``gert triage`` picks it) that names a runbook for
    the alert's log; None without a log, a signature or a match."""
    if not alert.log:
        return None
    from gert.signatures import SignatureError, find_files, load_all, match

    try:
        found = match(load_all(find_files(project.root)), alert.log)
    except SignatureError:  # signatures that cannot be read route nothing
        return None
    return next((m for m in found if m.signature.runbook), None)


def claim(project: Project, alert: Alert) -> Path | None:
    """Record that the alert arrived; None when it arrived before (a redelivery). The
    record is created exclusively, so of two deliveries at once exactly one claims it."""
    folder = project.root / ".runbook" / "alerts"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(alert.key.encode()).hexdigest()[:32]}.json"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"key": alert.key, "title": alert.title, "status": "claimed"}, f)
    return path


def seen(path: Path) -> dict[str, Any]:
    """What the record of an alert says (its incident and run, once known)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def note(path: Path, **facts: Any) -> None:
    """Add facts to an alert's record (its incident, its run)."""
    from gert.util import write_atomic

    write_atomic(path, json.dumps({**seen(path), **facts}))


def release(path: Path) -> None:
    """Forget an alert that started nothing because of an error (a route to a runbook
    that is not there, an input it lacks): its redelivery, once that is fixed, starts."""
    path.unlink(missing_ok=True)


def record_of(project: Project, alert: Alert) -> dict[str, Any]:
    """The record of an alert that arrived before ({} when none)."""
    path = (
        project.root
        / ".runbook"
        / "alerts"
        / f"{hashlib.sha256(alert.key.encode()).hexdigest()[:32]}.json"
    )
    return seen(path)


def open_incident(project: Project, alert: Alert) -> str:
    """The local incident of the alert: the one it names, else one made from its key
    (opened now, or found when it exists); its fields become the incident's custom fields,
    so runbooks bind them with ``from: incident.custom_fields.NAME``."""
    from gert.incident import IncidentError
    from gert.incident.local import local_provider

    provider = local_provider(project)
    # firing and resolved of one alert share its incident: the key without its status
    base = alert.key.rsplit(":", 1)[0]
    incident_id = alert.incident_id or f"alert-{hashlib.sha256(base.encode()).hexdigest()[:12]}"
    if provider.find(incident_id) is None:
        with contextlib.suppress(IncidentError):  # opened at this moment by another delivery
            provider.create(incident_id, alert.title, alert.severity, custom_fields=alert.fields)
    return incident_id
