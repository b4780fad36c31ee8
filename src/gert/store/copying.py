"""Copying a project's run folders into a PostgreSQL store (``gert store migrate``):
every hash chain is verified before its run is copied, and copying again is safe."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gert.store.files import FileStore, run_holder
from gert.store.trace import verify_trace

if TYPE_CHECKING:
    from gert.store.postgres import PostgresStore


@dataclass
class CopyReport:
    """What a copy did, run by run."""

    copied: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)  # already there whole
    refused: list[tuple[str, str]] = field(default_factory=list)  # (run ID, why)
    incidents: list[str] = field(default_factory=list)  # local incidents copied


def copy_incidents(folder: Path, url: str) -> list[str]:
    """Copy the local provider's incidents (``.runbook/incidents/*.json``) into the
    PostgreSQL store; one already there is left as it is. Returns the IDs copied."""
    from gert.incident.local import LocalProvider, SharedIncidents

    source, dest = LocalProvider(folder), SharedIncidents(url)
    copied = []
    for incident in source.list():
        incident_id = str(incident.get("id", ""))
        with dest._locked(incident_id):
            if dest.find(incident_id) is None:
                dest._write(incident_id, incident)
                copied.append(incident_id)
    return sorted(copied)


def copy_runs(source: FileStore, dest: PostgresStore, key: bytes | None = None) -> CopyReport:
    """Copy every run folder of *source* into *dest*. A run whose evidence does not verify,
    or that a gert process is running now, is refused and named; the others are copied
    byte for byte, each in one transaction, and verified again where they landed."""
    report = CopyReport()
    for folder in source.folders():
        if not (folder.path / "trace.jsonl").is_file():
            report.refused.append((folder.run_id, "no trace (the run never started)"))
            continue
        if run_holder(folder.path) is not None:
            report.refused.append((folder.run_id, "a gert process is running it now"))
            continue
        manifest = folder.read_manifest() if folder.manifest_path.is_file() else None
        check = verify_trace(folder.trace_path, key, manifest)
        if not check.ok:
            report.refused.append((folder.run_id, f"does not verify: {check.problems[0]}"))
            continue
        if not dest.load_folder(folder.path):
            report.present.append(folder.run_id)
            continue
        landed = dest.verify(dest.open(folder.run_id), key)
        if not landed.ok:  # pragma: no cover - a copy that changed bytes is a bug
            report.refused.append((folder.run_id, f"differs once copied: {landed.problems[0]}"))
            continue
        report.copied.append(folder.run_id)
    return report
