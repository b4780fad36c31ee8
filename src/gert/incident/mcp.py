"""The ``mcp`` incident provider: an incident system reached through tools of an MCP server,
as an incident system usually is.

gert.yaml::

    incident:
      provider: mcp
      mcp: {command: [incident-mcp-server, --stdio], get_tool: get_incident, post_tool: add_discussion_entry}

``get_tool`` is called with ``{id}`` and returns the incident (structured content or JSON
text); ``post_tool`` is called with ``{incident_id, text}`` and returns ``{id}``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from gert.incident import IncidentError


class McpProvider:
    """Incidents through two tools of an MCP server."""

    name = "mcp"

    def __init__(self, settings: dict[str, Any]):
        command = settings.get("command")
        if not command or not isinstance(command, list):
            raise IncidentError(
                "mcp: gert.yaml incident.mcp.command must be the server's argv", final=True
            )
        self.command = [str(c) for c in command]
        self.get_tool = str(settings.get("get_tool") or "get_incident")
        self.post_tool = str(settings.get("post_tool") or "add_discussion_entry")
        self.timeout = float(settings.get("timeout", 30))

    def _call(self, tool: str, arguments: dict[str, Any]) -> Any:
        from gert.mcp_client import McpFailed, McpUnavailable, call_tool

        try:
            result = call_tool(
                self.command, tool, arguments, env=dict(os.environ), timeout=self.timeout
            )
        except McpUnavailable as e:
            raise IncidentError(f"mcp: {e}", final=True) from None
        except McpFailed as e:
            raise IncidentError(f"mcp: {e}") from None
        if result.is_error:
            raise IncidentError(f"mcp: tool {tool} failed: {result.text[:300]}", final=True)
        if result.structured is not None:
            return result.structured
        try:
            return json.loads(result.text)
        except ValueError:
            return result.text

    def get(self, incident_id: str) -> dict[str, Any]:
        """The incident, as the server's get tool returns it."""
        data = self._call(self.get_tool, {"id": incident_id})
        if not isinstance(data, dict):
            raise IncidentError(
                f"mcp: {self.get_tool} did not return an incident object", final=True
            )
        return {"custom_fields": {}, "location": {}, **data, "id": str(data.get("id", incident_id))}

    def post(self, incident_id: str, entry: dict[str, Any]) -> dict[str, Any]:
        """Add a discussion entry through the post tool."""
        data = self._call(self.post_tool, {"incident_id": incident_id, "text": entry["markdown"]})
        entry_id = data.get("id") if isinstance(data, dict) else data
        return {"id": str(entry_id or "")}

    def timeline(self, incident_id: str) -> list[dict[str, Any]]:
        """The server's timeline is not read through MCP here."""
        return []
