"""Choosing the incident provider a project's gert.yaml names."""

from __future__ import annotations

from typing import Any

from gert.incident import IncidentError, Provider
from gert.store import incidents_dir

KNOWN = ("local", "webhook", "pagerduty", "jira", "github", "servicenow", "mcp")


def make_provider(project: Any) -> Provider:
    """The provider of ``incident.provider`` in gert.yaml (default ``local``)."""
    cfg = project.config.incident
    name = cfg.provider
    if name == "local":
        from gert.incident.local import LocalProvider

        return LocalProvider(incidents_dir(project))
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
