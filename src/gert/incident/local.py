"""The ``local`` incident provider: incidents as JSON files under ``.runbook/incidents/``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from gert.incident import IncidentError
from gert.store.runs import iso, utc_now, write_atomic

INCIDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class LocalProvider:
    """Incidents kept in the project, managed with ``gert incident create|…``."""

    name = "local"

    def __init__(self, folder: Path):
        self.folder = folder

    def _path(self, incident_id: str) -> Path:
        if not INCIDENT_ID.match(incident_id):
            raise IncidentError(
                f"'{incident_id}' is not a valid incident ID (letters, digits, . _ -)"
            )
        return self.folder / f"{incident_id}.json"

    def get(self, incident_id: str) -> dict[str, Any]:
        """The incident; raises IncidentError when there is none."""
        path = self._path(incident_id)
        if not path.is_file():
            raise IncidentError(
                f"no incident {incident_id} (create it with: gert incident create {incident_id} --title ...)"
            )
        return json.loads(path.read_text(encoding="utf-8"))

    def create(
        self,
        incident_id: str,
        title: str,
        severity: int | None = None,
        custom_fields: dict[str, str] | None = None,
        location: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Open a new incident; refuses an ID that exists."""
        path = self._path(incident_id)
        if path.exists():
            raise IncidentError(f"incident {incident_id} already exists")
        now = iso(utc_now())
        incident = {
            "id": incident_id,
            "title": title,
            "severity": severity,
            "status": "active",
            "created_at": now,
            "custom_fields": custom_fields or {},
            "location": location or {},
            "timeline": [{"ts": now, "kind": "opened", "text": title}],
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(incident, indent=2, ensure_ascii=False) + "\n")
        return incident
