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


def _checked(incident_id: str) -> str:
    if not INCIDENT_ID.match(incident_id):
        raise IncidentError(f"'{incident_id}' is not a valid incident ID (letters, digits, . _ -)")
    return incident_id


class LocalProvider:
    """Incidents kept in the project, managed with ``gert incident create|…``; as JSON
    files here, or in the PostgreSQL store (:class:`SharedIncidents`)."""

    name = "local"

    def __init__(self, folder: Path):
        self.folder = folder

    # where incidents are kept: one JSON file each
    def _path(self, incident_id: str) -> Path:
        return self.folder / f"{_checked(incident_id)}.json"

    def _load(self, incident_id: str) -> dict[str, Any] | None:
        path = self._path(incident_id)
        return _read(path) if path.is_file() else None

    def _write(self, incident_id: str, incident: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomic(
            self._path(incident_id), json.dumps(incident, indent=2, ensure_ascii=False) + "\n"
        )

    def _locked(self, incident_id: str) -> Any:
        path = self._path(incident_id)
        return _locked(path.with_name(f".{path.name}.lock"))

    def _all(self) -> list[dict[str, Any]]:
        if not self.folder.is_dir():
            return []
        return [_read(p) for p in sorted(self.folder.glob("*.json"))]

    def _delete(self, incident_id: str) -> None:
        self._path(incident_id).unlink(missing_ok=True)

    # what every provider does
    def get(self, incident_id: str) -> dict[str, Any]:
        """The incident; raises IncidentError when there is none."""
        incident = self._load(incident_id)
        if incident is None:
            raise IncidentError(
                f"no incident {incident_id} (create it with: gert incident create {incident_id} --title ...)",
                final=True,
            )
        return incident

    def find(self, incident_id: str) -> dict[str, Any] | None:
        """The incident as it is kept, or None when there is no such incident."""
        return self._load(incident_id)

    def _update(self, incident_id: str, kind: str, text: str, **fields: Any) -> dict[str, Any]:
        # Read, append and write under an exclusive lock: concurrent runs of one incident
        # each add their entry, none is lost.
        with self._locked(incident_id):
            incident = self.get(incident_id)
            entry = {
                "id": f"{incident_id}-{len(incident['timeline']) + 1}",
                "ts": iso(utc_now()),
                "kind": kind,
                "text": text,
                **fields,
            }
            incident["timeline"].append(entry)
            self._write(incident_id, incident)
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
        with self._locked(incident_id):
            incident = self.get(incident_id)
            incident["status"] = status
            incident[f"{status}_at"] = entry["ts"]
            self._write(incident_id, incident)
        return entry

    def timeline(self, incident_id: str) -> list[dict[str, Any]]:
        """Every entry: opened, notes, posted summaries, status changes."""
        return list(self.get(incident_id).get("timeline", []))

    def list(self) -> list[dict[str, Any]]:
        """Every incident, newest first."""
        return sorted(self._all(), key=lambda i: i.get("created_at", ""), reverse=True)

    def remove(self, incident_id: str) -> None:
        """Forget an incident that was opened by mistake (no run was made for it)."""
        with self._locked(incident_id):
            self._delete(incident_id)

    def create(
        self,
        incident_id: str,
        title: str,
        severity: int | None = None,
        custom_fields: dict[str, str] | None = None,
        location: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Open a new incident; refuses an ID that exists."""
        if self._load(incident_id) is not None:
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
        with self._locked(incident_id):
            if self._load(incident_id) is not None:  # opened meanwhile by another process
                raise IncidentError(f"incident {incident_id} already exists", final=True)
            self._write(incident_id, incident)
        return incident


class SharedIncidents(LocalProvider):
    """The local provider's incidents in the PostgreSQL store (``gert_incidents``): every
    worker and server of the project sees the same ones."""

    def __init__(self, url: str):
        self.url = url
        self.folder = Path("postgresql:gert_incidents")
        self._tx: Any = None  # the connection of the lock being held

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        if self._tx is not None:
            yield self._tx
            return
        from gert.store.postgres import _connect, apply_migrations, migrations, schema_version

        conn = _connect(self.url)
        try:
            if schema_version(conn) < migrations()[-1][0]:
                apply_migrations(conn)
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _locked(self, incident_id: str) -> Iterator[None]:
        _checked(incident_id)
        with self._connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (incident_id,))
            self._tx = conn
            try:
                yield
            finally:
                self._tx = None

    def _load(self, incident_id: str) -> dict[str, Any] | None:
        with self._connection() as conn:
            row = conn.execute(
                "SELECT body FROM gert_incidents WHERE incident_id = %s", (_checked(incident_id),)
            ).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        data.setdefault("timeline", [])
        return data

    def _write(self, incident_id: str, incident: dict[str, Any]) -> None:
        with self._connection() as conn:
            conn.execute(
                "INSERT INTO gert_incidents (incident_id, created_at, body) VALUES (%s, %s, %s) "
                "ON CONFLICT (incident_id) DO UPDATE SET body = EXCLUDED.body",
                (
                    _checked(incident_id),
                    str(incident.get("created_at", "")),
                    json.dumps(incident, ensure_ascii=False),
                ),
            )

    def _all(self) -> list[dict[str, Any]]:
        with self._connection() as conn:
            rows = conn.execute("SELECT body FROM gert_incidents ORDER BY incident_id").fetchall()
        return [json.loads(r[0]) for r in rows]

    def _delete(self, incident_id: str) -> None:
        with self._connection() as conn:
            conn.execute("DELETE FROM gert_incidents WHERE incident_id = %s", (incident_id,))


def local_provider(project: Project) -> LocalProvider:
    """The project's own incidents: under ``.runbook/incidents``, or in the PostgreSQL
    store when runs are kept there; whatever provider gert.yaml names."""
    if project.config.store.backend == "postgresql":
        from gert.store import database_url

        return SharedIncidents(database_url(project))
    return LocalProvider(incidents_dir(project))
