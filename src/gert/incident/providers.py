"""Choosing the incident provider a project's gert.yaml names."""

from __future__ import annotations

import contextlib
from typing import Any

from gert.config import INCIDENT_PROVIDERS as KNOWN
from gert.incident import IncidentError, Provider


def make_provider(project: Any) -> Provider:
    """The provider of ``incident.provider`` in gert.yaml (default ``local``)."""
    cfg = project.config.incident
    name = cfg.provider
    if name == "local":
        from gert.incident.local import local_provider

        return local_provider(project)
    settings = getattr(cfg, name, None) or (cfg.model_extra or {}).get(name) or {}
    if name == "mcp":
        from gert.incident.mcp import McpProvider

        return McpProvider(dict(settings))
    if name in KNOWN:
        from gert.incident import http

        cls = {
            "webhook": http.WebhookProvider,
            "pagerduty": http.PagerDutyProvider,
            "jira": http.JiraProvider,
            "github": http.GitHubProvider,
            "servicenow": http.ServiceNowProvider,
        }[name]
        return cls(dict(settings))
    raise IncidentError(
        f"unknown incident provider '{name}' (gert.yaml incident.provider); known: {', '.join(KNOWN)}",
        final=True,
    )


def get_with_timeline(project: Any, incident_id: str) -> dict[str, Any]:
    """The incident from the project's provider, with its timeline where the provider can
    give one (IncidentError when the incident cannot be had)."""
    provider = make_provider(project)
    incident = provider.get(incident_id)
    with contextlib.suppress(IncidentError):
        incident["timeline"] = incident.get("timeline") or provider.timeline(incident_id)
    return incident


def look_up(project: Any, incident_id: str) -> dict[str, Any] | None:
    """The incident and its timeline, or None when there is none (``gert incident show``).

    A local incident's file is read directly (no gert.yaml needed); otherwise the provider
    gert.yaml names, when it is not ``local``, is asked (IncidentError when it cannot answer).
    """
    from gert.incident.local import local_provider

    info = local_provider(project).find(incident_id)
    if info is not None or project.config_file is None:
        return info
    if project.config.incident.provider == "local":
        return None
    provider = make_provider(project)
    info = provider.get(incident_id)
    info["timeline"] = provider.timeline(incident_id)
    return info
