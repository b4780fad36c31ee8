"""What gert knows of incidents and runs, assembled for a surface to show: an incident's
record and its chains of runs, a run's steps, trace and verification.

The command line (``gert incident show``) and the server (``gert serve``) read the same
views from here; neither builds its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gert.project import Project
from gert.store import RunFolder, RunManifest, chains, open_index, open_store, verify_trace
from gert.store.index import RunRow


@dataclass
class IncidentOverview:
    """An incident's record (None when its provider has none) and every chain run for it."""

    incident_id: str
    incident: dict[str, Any] | None
    chains: list[list[tuple[int, RunRow]]]
    replays: list[dict[str, str]]  # per chain: its scenario and the command that replays it
    hidden: int = 0  # dry-runs and replays left out
    warning: str | None = None  # the provider could not be asked

    @property
    def runs(self) -> int:
        """How many runs the chains hold."""
        return sum(len(c) for c in self.chains)

    def to_dict(self) -> dict[str, Any]:
        """As ``gert incident show --json`` prints it."""
        return {
            "incident": self.incident,
            "chains": [[{"depth": d, **r.to_dict()} for d, r in c] for c in self.chains],
            "replays": self.replays,
        }


def incident_overview(
    project: Project, incident_id: str, include_all: bool = False
) -> IncidentOverview:
    """The incident and its chains; dry-runs and replays (not evidence of the incident)
    only with *include_all*. A provider that fails is a warning, not an error: the runs
    are still shown."""
    from gert.incident import IncidentError
    from gert.incident.providers import look_up

    warning = None
    try:
        info = look_up(project, incident_id)
    except IncidentError as e:
        info, warning = None, str(e)
    every = open_index(project.root).query(incident=incident_id, limit=None)
    rows = every if include_all else [r for r in every if r.mode in ("real", "")]
    grouped = chains(rows)
    return IncidentOverview(
        incident_id,
        info,
        grouped,
        [replay_of(c[0][1]) for c in grouped],
        hidden=len(every) - len(rows),
        warning=warning,
    )


def replay_of(root: RunRow) -> dict[str, str]:
    """The scenario a chain was saved as, and the command that replays it ({} when none)."""
    from gert.scenario import replay_command

    try:
        manifest = RunManifest.from_dict(RunFolder(Path(root.folder)).read_manifest())
    except Exception:  # a run folder that cannot be read has no replay to offer
        return {}
    command = replay_command(manifest)
    return {"scenario": manifest.scenario, "command": command} if command else {}


def incidents(project: Project) -> list[dict[str, Any]]:
    """Every incident gert knows: the local provider's, and any other that runs name;
    newest first, each with its run count and the state of its latest chain."""
    from gert.incident.local import local_provider

    known = {i["id"]: dict(i) for i in local_provider(project).list()}
    rows = open_index(project.root).query(limit=None)
    latest: dict[str, RunRow] = {}
    counts: dict[str, int] = {}
    for r in rows:
        if not r.incident_id or r.mode not in ("real", ""):
            continue
        counts[r.incident_id] = counts.get(r.incident_id, 0) + 1
        if r.incident_id not in latest or r.started_at > latest[r.incident_id].started_at:
            latest[r.incident_id] = r
    for incident_id in latest.keys() - known.keys():
        known[incident_id] = {"id": incident_id, "title": "", "status": "", "severity": ""}
    out = []
    for incident_id, info in known.items():
        last = latest.get(incident_id)
        out.append(
            {
                **info,
                "runs": counts.get(incident_id, 0),
                "last_state": last.state if last else "",
                "last_run_at": last.started_at if last else "",
            }
        )
    return sorted(
        out, key=lambda i: str(i.get("last_run_at") or i.get("created_at") or ""), reverse=True
    )


@dataclass
class RunView:
    """One run as its evidence holds it."""

    run_id: str
    manifest: dict[str, Any]
    steps: list[tuple[str, dict[str, Any]]]  # (steps/NNN-id.json, record)
    events: list[dict[str, Any]]
    verified: bool
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The run as plain data (the server's API)."""
        return {
            "run_id": self.run_id,
            "manifest": self.manifest,
            "steps": [{"file": name, **record} for name, record in self.steps],
            "events": self.events,
            "verification": {"ok": self.verified, "problems": self.problems, "notes": self.notes},
        }


def run_view(project: Project, run_id: str, key: bytes | None = None) -> RunView:
    """A run's manifest, step records and trace, its trace verified now (raises
    :class:`gert.errors.NotFound` for an unknown or malformed run ID)."""
    store = open_store(project)
    try:
        run = store.open(run_id)
        manifest = run.read_manifest()
        report = verify_trace(run.trace_path, key, manifest)
        return RunView(
            run_id,
            manifest,
            store.steps(run),
            store.events(run),
            report.ok,
            list(report.problems),
            list(report.notes),
        )
    finally:
        store.close()
