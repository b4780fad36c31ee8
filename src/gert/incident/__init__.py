"""Incident providers: where inputs come from and where summaries go (DESIGN §10).

A provider can ``get(incident_id)`` an incident as plain data: ``id``, ``title``,
``severity``, ``status``, times, ``custom_fields`` and ``location``. The ``local``
provider (incidents kept under ``.runbook/incidents/``) is the embedded default.
"""

from __future__ import annotations

from typing import Any, Protocol


class IncidentError(Exception):
    """An incident that cannot be fetched (unknown ID, provider down...)."""


class Provider(Protocol):
    """What the engine needs from an incident system."""

    name: str

    def get(self, incident_id: str) -> dict[str, Any]: ...


def field_value(incident: dict[str, Any], path: str) -> Any:
    """The value at ``incident.<a>.<b>`` in an incident (None when absent)."""
    value: Any = incident
    for part in path.split(".")[1:]:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value
