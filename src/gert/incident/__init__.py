"""Incident providers: where inputs come from and where summaries go.

A provider can ``get(incident_id)`` an incident as plain data: ``id``, ``title``,
``severity``, ``status``, times, ``custom_fields`` and ``location``. The ``local``
provider (incidents kept under ``.runbook/incidents/``) is the embedded default.
"""

from __future__ import annotations

from typing import Any, Protocol

from gert.errors import GertError


class IncidentError(GertError):
    """An incident system that did not do what was asked (unknown ID, down, refused...).

    ``final`` is true when trying again cannot help (unknown incident, bad credentials).
    """

    def __init__(self, message: str, final: bool = False):
        super().__init__(message)
        self.final = final


class Provider(Protocol):
    """What gert needs from an incident system."""

    name: str

    def get(self, incident_id: str) -> dict[str, Any]:
        """The incident: id, title, severity, status, times, custom_fields, location."""
        ...

    def post(self, incident_id: str, entry: dict[str, Any]) -> dict[str, Any]:
        """Add an entry (``text`` and ``markdown``) to the incident's timeline; returns ``{id}``."""
        ...

    def timeline(self, incident_id: str) -> list[dict[str, Any]]:
        """The incident's timeline entries (``ts``, ``kind``, ``text``), where the system has one."""
        ...


def field_value(incident: dict[str, Any], path: str) -> Any:
    """The value at ``incident.<a>.<b>`` in an incident (None when absent)."""
    value: Any = incident
    for part in path.split(".")[1:]:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value
