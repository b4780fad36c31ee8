"""The run store: where runs, their traces, step records and manifests live, and the index.

DESIGN §7. :class:`Store` is the protocol every backend implements; :class:`FileStore`
(one folder per run + a SQLite index, rebuildable from the folders) is the default.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gert.store.base import RunHandle, Store
from gert.store.files import EphemeralStore, FileStore, RunFolder, new_run_id
from gert.store.index import RunRow, chains
from gert.store.manifest import RunManifest
from gert.store.trace import TraceWriter, VerifyReport, read_events, verify_trace

if TYPE_CHECKING:
    from gert.project import Project

__all__ = [
    "EphemeralStore",
    "FileStore",
    "RunFolder",
    "RunHandle",
    "RunManifest",
    "RunRow",
    "Store",
    "TraceWriter",
    "VerifyReport",
    "chains",
    "new_run_id",
    "open_store",
    "read_events",
    "verify_trace",
]


def open_store(project: Project) -> Store:
    """The store of a project, as ``gert.yaml`` configures it (files + SQLite by default):
    run folders under ``runs_dir``, the index and local incidents under ``.runbook/``."""
    return FileStore(
        project.resolve(project.config.runs_dir), project.root / ".runbook" / "index.sqlite"
    )


def incidents_dir(project: Project) -> Path:
    """Where the local incident provider keeps incidents (``.runbook/incidents``)."""
    return project.root / ".runbook" / "incidents"
