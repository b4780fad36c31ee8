"""The run store: where runs, their traces, step records and manifests live, and the index.

:class:`Store` is the protocol every backend implements; :class:`FileStore`
(one folder per run + a SQLite index, rebuildable from the folders) is the default.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gert.store.base import RunHandle, Store
from gert.store.files import EphemeralStore, FileStore, RunBusy, RunFolder, new_run_id, run_holder
from gert.store.index import RunIndex, RunRow, chains
from gert.store.manifest import RunManifest
from gert.store.trace import (
    TraceWriter,
    VerifyReport,
    check_witness,
    read_events,
    verify_trace,
)

if TYPE_CHECKING:
    from gert.project import Project

__all__ = [
    "EphemeralStore",
    "FileStore",
    "RunBusy",
    "RunFolder",
    "RunHandle",
    "RunManifest",
    "RunRow",
    "Store",
    "TraceWriter",
    "VerifyReport",
    "chains",
    "check_witness",
    "find_run",
    "incidents_dir",
    "index_path",
    "new_run_id",
    "open_index",
    "open_store",
    "read_events",
    "run_holder",
    "verify_trace",
]


def open_store(project: Project) -> Store:
    """The store of a project, as ``gert.yaml`` configures it (files + SQLite by default):
    run folders under ``runs_dir``, the index and local incidents under ``.runbook/``."""
    return FileStore(project.resolve(project.config.runs_dir), index_path(project.root))


def index_path(root: Path) -> Path:
    """Where the run index of the project at *root* lives (``.runbook/index.sqlite``)."""
    return root / ".runbook" / "index.sqlite"


def open_index(root: Path) -> RunIndex:
    """The run index of the project at *root*, read without loading ``gert.yaml`` (fast
    listing for ``gert runs list`` and ``gert incident show``)."""
    return RunIndex(index_path(root))


def find_run(ref: str, project: Project | None = None) -> RunFolder:
    """The run *ref* names: a ``trace.jsonl``, a run folder, or a run ID of the project."""
    path = Path(ref)
    if path.name == "trace.jsonl":
        path = path.parent
    if not path.is_dir():
        from gert.project import open_project

        project = project or open_project()
        path = project.resolve(project.config.runs_dir) / ref
        if not path.is_dir():
            from gert.errors import NotFound

            raise NotFound(
                f"no run {ref} (not a run folder, a trace.jsonl or a run ID of {project.root})"
            )
    return RunFolder(path)


def incidents_dir(project: Project) -> Path:
    """Where the local incident provider keeps incidents (``.runbook/incidents``)."""
    return project.root / ".runbook" / "incidents"
