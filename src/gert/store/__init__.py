"""The run store: where runs, their traces, step records and manifests live, and the index.

:class:`Store` is the protocol every backend implements; :class:`FileStore`
(one folder per run + a SQLite index, rebuildable from the folders) is the default.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

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
    "database_url",
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
    run folders under ``runs_dir``, the index and local incidents under ``.runbook/``;
    or PostgreSQL (``store: {backend: postgresql}``)."""
    config = project.config.store
    if config.backend == "postgresql":
        from gert.store.postgres import PostgresStore

        queue = project.config.queue
        return PostgresStore(
            database_url(project),
            project.root / ".runbook" / "work",
            lease_seconds=queue.lease_seconds if queue else 30.0,
        )
    return FileStore(project.resolve(project.config.runs_dir), index_path(project.root))


def database_url(project: Project) -> str:
    """The PostgreSQL URL of the project's store, from the variable ``store.url_env``
    names; raises InvalidError naming the variable when it is not set."""
    import os

    from gert.errors import InvalidError

    name = project.config.store.url_env
    url = os.environ.get(name, "")
    if not url.startswith(("postgresql://", "postgres://")):
        raise InvalidError(
            f"gert.yaml keeps runs in PostgreSQL (store: backend: postgresql), but {name} "
            + ("is not set" if not url else "is not a postgresql:// URL")
            + f"; export {name}=postgresql://USER@HOST:5432/DB"
        )
    return url


class RunIndexReader(Protocol):
    """What listing runs needs: the index's queries."""

    def query(self, **filters: Any) -> list[RunRow]: ...

    def values(self, column: str) -> list[str]: ...


def index_path(root: Path) -> Path:
    """Where the run index of the project at *root* lives (``.runbook/index.sqlite``)."""
    return root / ".runbook" / "index.sqlite"


def open_index(root: Path) -> RunIndexReader:
    """The run index of the project at *root* (fast listing for ``gert runs list`` and
    ``gert incident show``): the SQLite index, read without loading ``gert.yaml``, unless
    the project keeps its runs in PostgreSQL."""
    import re

    from gert.project import CONFIG_NAME

    config = root / CONFIG_NAME
    # Only a line that is not a comment can name the PostgreSQL store.
    if config.is_file() and re.search(rb"(?m)^[^#\n]*\bpostgresql\b", config.read_bytes()):
        from gert.project import open_project

        return open_store(open_project(root))
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
