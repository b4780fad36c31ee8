"""The ``local`` incident provider: incidents as JSON files under ``.runbook/incidents/``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gert.incident import IncidentError
from gert.store import incidents_dir
from gert.util import iso, utc_now, write_atomic

if TYPE_CHECKING:
    from gert.project import Project

INCIDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@contextmanager
def _locked(lock: Path) -> Iterator[None]:
    """An exclusive lock on *lock* (created if needed) for the duration of the block."""
    import fcntl

    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _read(path: Path) -> dict[str, Any]:
    """An incident file; IncidentError naming the file when it is not an incident."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise IncidentError(f"{path}: not a readable incident file ({e})", final=True) from None
    if not isinstance(data, dict) or not isinstance(data.get("timeline", []), list):
        raise IncidentError(
            f"{path}: not an incident (expected a JSON object with a timeline list)", final=True
        )
    data.setdefault("timeline", [])
    return data


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
                f"no incident {incident_id} (create it with: gert incident create {incident_id} --title ...)",
                final=True,
            )
        return _read(path)

    def find(self, incident_id: str) -> dict[str, Any] | None:
        """The incident as its file holds it, or None when there is no such file."""
        path = self._path(incident_id)
        return _read(path) if path.is_file() else None

    def _update(self, incident_id: str, kind: str, text: str, **fields: Any) -> dict[str, Any]:
        # Read, append and write under an exclusive lock: concurrent runs of one incident
        # each add their entry, none is lost.
        path = self._path(incident_id)
        with _locked(path.with_name(f".{path.name}.lock")):
            incident = self.get(incident_id)
            entry = {
                "id": f"{incident_id}-{len(incident['timeline']) + 1}",
                "ts": iso(utc_now()),
                "kind": kind,
                "text": text,
                **fields,
            }
            incident["timeline"].append(entry)
            write_atomic(path, json.dumps(incident, indent=2, ensure_ascii=False) + "\n")
        return entry

    def post(self, incident_id: str, entry: dict[str, Any]) -> dict[str, Any]:
        """Add gert's summary to the incident's timeline."""
        return self._update(incident_id, "gert", entry["text"], run_id=entry.get("run_id", ""))

    def note(self, incident_id: str, text: str, author: str = "") -> dict[str, Any]:
        """Add a person's note to the timeline."""
        return self._update(incident_id, "note", text, author=author)

    def set_status(self, incident_id: str, status: str) -> dict[str, Any]:
        """Change the incident's status (active, acknowledged, mitigated, resolved)."""
        incident = self.get(incident_id)
        if incident.get("status") == status:
            raise IncidentError(f"incident {incident_id} is already {status}", final=True)
        entry = self._update(incident_id, "status", f"status: {incident.get('status')} -> {status}")
        incident = self.get(incident_id)
        incident["status"] = status
        incident[f"{status}_at"] = entry["ts"]
        write_atomic(
            self._path(incident_id), json.dumps(incident, indent=2, ensure_ascii=False) + "\n"
        )
        return entry

    def timeline(self, incident_id: str) -> list[dict[str, Any]]:
        """Every entry: opened, notes, posted summaries, status changes."""
        return list(self.get(incident_id).get("timeline", []))

    def list(self) -> list[dict[str, Any]]:
        """Every incident, newest first."""
        if not self.folder.is_dir():
            return []
        items = [_read(p) for p in sorted(self.folder.glob("*.json"))]
        return sorted(items, key=lambda i: i.get("created_at", ""), reverse=True)

    def remove(self, incident_id: str) -> None:
        """Forget an incident that was opened by mistake (no run was made for it)."""
        path = self._path(incident_id)
        with _locked(path.with_name(f".{path.name}.lock")):
            path.unlink(missing_ok=True)

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
            raise IncidentError(f"incident {incident_id} already exists", final=True)
        now = iso(utc_now())
        incident = {
            "id": incident_id,
            "title": title,
            "severity": severity,
            "status": "active",
            "created_at": now,
            "custom_fields": custom_fields or {},
            "location": location or {},
            "timeline": [{"id": f"{incident_id}-1", "ts": now, "kind": "opened", "text": title}],
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(incident, indent=2, ensure_ascii=False) + "\n")
        return incident


def local_provider(project: Project) -> LocalProvider:
    """The project's own incidents (under ``.runbook/incidents``), whatever gert.yaml names."""
    return LocalProvider(incidents_dir(project))
