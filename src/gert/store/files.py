"""The default store: one folder per run under ``runs_dir`` (``run.yaml`` rewritten
atomically, ``trace.jsonl``, ``steps/``) and a SQLite index over them."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gert.errors import InvalidError, NotFound
from gert.store.index import IndexDamaged, RunIndex, RunRow
from gert.store.manifest import RunManifest
from gert.store.trace import (
    RUN_ID,
    TraceWriter,
    UnkeptTrace,
    VerifyReport,
    file_digest,
    read_events,
    verify_trace,
)
from gert.util import slug, utc_now, write_atomic


def new_run_id(now: dt.datetime | None = None) -> str:
    """``YYYYMMDDTHHMMSS-<8 hex>``, e.g. ``20260214T095753-e0943cea``."""
    now = now or utc_now()
    return f"{now.astimezone(dt.UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def step_file_name(number: int, step_id: str) -> str:
    """``NNN-<step-id>.json``: the name of a step record."""
    return f"{number:03d}-{slug(step_id, 60, 'step', lower=False)}.json"


LOCK_NAME = ".lock"  # held (flock) by the gert process running the run; holds its pid


class RunBusy(InvalidError):
    """A run another gert process is running (exec or resume): it cannot be resumed now."""


def run_holder(folder: Path) -> int | None:
    """The pid of the gert process running the run in *folder*, or None when none is."""
    import fcntl

    try:
        fd = os.open(folder / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else -1
    finally:
        os.close(fd)
    return None


class RunFolder:
    """The evidence folder of one run."""

    def __init__(self, path: Path):
        self.path = path
        self.run_id = path.name
        self.digests: dict[str, str] = {}  # SHA-256 of the step records written here

    @property
    def manifest_path(self) -> Path:
        return self.path / "run.yaml"

    @property
    def trace_path(self) -> Path:
        return self.path / "trace.jsonl"

    @property
    def steps_dir(self) -> Path:
        return self.path / "steps"

    def write_manifest(self, manifest: dict[str, Any], sync: bool = True) -> None:
        """Rewrite run.yaml atomically (temp file + rename)."""
        from gert.load import dump_yaml

        write_atomic(self.manifest_path, dump_yaml(manifest), sync)

    def read_manifest(self) -> dict[str, Any]:
        """The manifest as plain data."""
        from gert.load import load_file

        data = load_file(self.manifest_path).data
        return data if isinstance(data, dict) else {}

    def write_step(
        self, number: int, step_id: str, payload: dict[str, Any], sync: bool = True
    ) -> str:
        """Write ``steps/NNN-<step-id>.json`` and return its path relative to the folder."""
        self.steps_dir.mkdir(exist_ok=True)
        name = step_file_name(number, step_id)
        text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
        write_atomic(self.steps_dir / name, text, sync)
        self.digests[f"steps/{name}"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return f"steps/{name}"

    def step_files(self) -> list[Path]:
        """Step files in order."""
        return sorted(self.steps_dir.glob("*.json")) if self.steps_dir.exists() else []


class FileStore:
    """All run folders of a project, under ``runs_dir`` (default ``.runbook/runs``), and the
    index over them (``.runbook/index.sqlite``). Implements :class:`gert.store.Store`."""

    keeps = True  # False for EphemeralStore: nothing written is kept

    def __init__(self, runs_dir: Path, index_path: Path | None = None):
        self.runs_dir = runs_dir
        self.index = RunIndex(index_path or runs_dir.parent / "index.sqlite")
        self._held: dict[str, int] = {}  # run ID -> the locked descriptor

    def claim(self, run: RunFolder) -> None:
        """Hold *run* for this process until :meth:`close` (or its exit): no other gert
        process can resume it meanwhile. Raises RunBusy naming the process that holds it."""
        import fcntl

        if run.run_id in self._held:
            return
        fd = os.open(run.path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            raise RunBusy(
                f"run {run.run_id} is being run by another gert process (pid {text or '?'}); "
                "wait for it to end, or stop it and resume then"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._held[run.run_id] = fd

    # runs
    def create(self, run_id: str) -> RunFolder:
        """A new, empty run folder."""
        path = self.runs_dir / run_id
        path.mkdir(parents=True, exist_ok=False)
        return RunFolder(path)

    def open(self, run_id: str) -> RunFolder:
        """An existing run folder; raises NotFound naming the run."""
        if not RUN_ID.match(run_id):
            raise NotFound(f"'{run_id}' is not a run ID (YYYYMMDDTHHMMSS-xxxxxxxx)")
        path = self.runs_dir / run_id
        if not (path / "run.yaml").is_file():
            raise NotFound(f"no run {run_id} under {self.runs_dir}")
        return RunFolder(path)

    def folders(self) -> list[RunFolder]:
        """Every run folder, oldest first."""
        if not self.runs_dir.is_dir():
            return []
        return [RunFolder(p) for p in sorted(self.runs_dir.iterdir()) if RUN_ID.match(p.name)]

    def run_ids(self) -> Iterator[str]:
        """Every run's ID, oldest first."""
        return (f.run_id for f in self.folders())

    # the manifest
    def save(
        self, run: RunFolder, manifest: dict[str, Any], sync: bool = True, index: bool = True
    ) -> None:
        """Write a run's manifest and (unless told not to) bring its index row up to date."""
        run.write_manifest(manifest, sync)
        if index:
            # The run folder is the truth; gert runs reindex recovers a damaged index.
            with contextlib.suppress(IndexDamaged):
                self.index.record(manifest, run.path)

    def read_manifest(self, run: RunFolder) -> RunManifest:
        """A run's manifest, typed."""
        return RunManifest.from_dict(run.read_manifest())

    def manifest_data(self, run: RunFolder) -> dict[str, Any]:
        """A run's manifest as plain data, as written."""
        return run.read_manifest()

    def revision(self, run_id: str) -> tuple[int, int]:
        """Something that changes whenever the run's evidence does (trace and manifest
        sizes): what live views poll."""
        folder = self.runs_dir / run_id
        return (_size(folder / "trace.jsonl"), _size(folder / "run.yaml"))

    # the trace
    def trace(
        self, run: RunFolder, key: bytes | None = None, redact: Any = None, durable: bool = True
    ) -> TraceWriter:
        """A writer appending to the run's trace."""
        return TraceWriter(run.trace_path, run.run_id, key, redact, durable=durable)

    def events(self, run: RunFolder) -> list[dict[str, Any]]:
        """The run's trace events in order."""
        return read_events(run.trace_path) if run.trace_path.is_file() else []

    # step records
    def write_step(
        self, run: RunFolder, number: int, step_id: str, payload: dict[str, Any], sync: bool = True
    ) -> str:
        """Write ``steps/NNN-<step-id>.json``; returns its path relative to the run folder."""
        return run.write_step(number, step_id, payload, sync)

    def step_sha256(self, run: RunFolder, name: str) -> str | None:
        """SHA-256 of a step record as stored (what the trace seals), or None."""
        if name in run.digests:
            return run.digests[name]
        return file_digest(run.path / name)

    def steps(self, run: RunFolder) -> list[tuple[str, dict[str, Any]]]:
        """Every step record in order, as (``steps/NNN-id.json``, data)."""
        out = []
        for p in run.step_files():
            try:
                out.append((f"steps/{p.name}", json.loads(p.read_text(encoding="utf-8"))))
            except (OSError, ValueError):
                continue
        return out

    def attachment(self, run: RunFolder, name: str) -> bytes | None:
        """The bytes of an attachment (``attachments/<file>``), or None."""
        folder = (run.path / "attachments").resolve()
        path = (run.path / name).resolve()
        if path.parent != folder or not path.is_file():
            return None
        return path.read_bytes()

    def export(self, run: RunFolder, dest: Path) -> None:
        """Write the run's evidence as the standard folder layout (run.yaml, trace.jsonl,
        steps/, attachments) into *dest*, which must not exist."""
        shutil.copytree(run.path, dest, ignore=shutil.ignore_patterns(".*.tmp", LOCK_NAME))

    def verify(self, run: RunFolder, key: bytes | None = None) -> VerifyReport:
        """Check the run's evidence (see :func:`verify_trace`)."""
        manifest = run.read_manifest() if run.manifest_path.is_file() else None
        return verify_trace(run.trace_path, key, manifest)

    # the index
    def query(self, **filters: Any) -> list[RunRow]:
        """Indexed runs matching every filter, newest first (see :meth:`RunIndex.query`)."""
        return self.index.query(**filters)

    def incident_runs(self, incident_id: str) -> list[RunRow]:
        """Every run of an incident, oldest first."""
        rows = self.index.query(incident=incident_id, limit=None)
        return sorted(rows, key=lambda r: (r.started_at, r.run_id))

    def values(self, column: str) -> list[str]:
        """The distinct values of an index column (what a filter may name)."""
        return self.index.values(column)

    def release(self, run_id: str) -> None:
        """Let go of one held run."""
        fd = self._held.pop(run_id, None)
        if fd is not None:
            os.close(fd)

    def reindex(self) -> int:
        """Rebuild the index from the run folders."""
        return self.index.rebuild(self.folders())

    def close(self) -> None:
        """Close the index and let go of the runs this process held."""
        self.index.close()
        for fd in self._held.values():
            os.close(fd)
        self._held.clear()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


class _NoIndex:
    """The index of runs nobody keeps: records nothing."""

    def record(self, manifest: dict[str, Any], folder: Path) -> None:
        """Nothing to record."""

    def query(self, **filters: Any) -> list[RunRow]:
        """Nothing was recorded."""
        return []

    def values(self, column: str) -> list[str]:
        """Nothing was recorded."""
        return []

    def rebuild(self, folders: Any) -> int:
        """Nothing to rebuild."""
        return 0

    def close(self) -> None:
        """Nothing to close."""


class EphemeralFolder(RunFolder):
    """A run folder that keeps nothing (gert test): its trace goes to the null device."""

    @property
    def trace_path(self) -> Path:
        return Path(os.devnull)

    def write_manifest(self, manifest: dict[str, Any], sync: bool = True) -> None:
        """Nothing is kept."""

    def write_step(
        self, number: int, step_id: str, payload: dict[str, Any], sync: bool = True
    ) -> str:
        """Nothing is kept; the name is still reported."""
        return f"steps/{step_file_name(number, step_id)}"


class EphemeralStore(FileStore):
    """Runs nobody keeps, for replays whose result is all that matters (gert test).
    Manual attachments still land in *scratch*, so their checksums can be taken."""

    keeps = False

    def __init__(self, scratch: Path):
        self.runs_dir = scratch
        self.index = _NoIndex()  # type: ignore[assignment]
        self._held = {}

    def create(self, run_id: str) -> RunFolder:
        """A folder object; the directory is made only if an attachment needs it."""
        return EphemeralFolder(self.runs_dir / run_id)

    def claim(self, run: RunFolder) -> None:
        """Nobody resumes a run nobody keeps."""

    def trace(
        self, run: RunFolder, key: bytes | None = None, redact: Any = None, durable: bool = True
    ) -> Any:
        """A trace that numbers events and keeps none."""
        return UnkeptTrace(run.run_id)

    def save(
        self, run: RunFolder, manifest: dict[str, Any], sync: bool = True, index: bool = True
    ) -> None:
        """Nothing is kept."""

    def events(self, run: RunFolder) -> list[dict[str, Any]]:
        """Nothing was kept."""
        return []

    def step_sha256(self, run: RunFolder, name: str) -> str | None:
        """Nothing was kept."""
        return None
