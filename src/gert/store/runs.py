"""Run folders: ``run.yaml`` (rewritten atomically), ``trace.jsonl`` and ``steps/``."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

RUN_ID = re.compile(r"^\d{8}T\d{6}-[0-9a-f]{8}$")


def utc_now() -> dt.datetime:
    """The current time in UTC."""
    return dt.datetime.now(dt.UTC)


def iso(t: dt.datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z: ``2026-02-14T09:57:53.123Z``."""
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> dt.datetime:
    """Parse a timestamp written by :func:`iso` (or any ISO 8601 with an offset)."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def new_run_id(now: dt.datetime | None = None) -> str:
    """``YYYYMMDDTHHMMSS-<8 hex>``, e.g. ``20260214T095753-e0943cea``."""
    now = now or utc_now()
    return f"{now.astimezone(dt.UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def _datasync(fd: int) -> None:
    """Force a file's data to disk (fdatasync where the platform has it)."""
    getattr(os, "fdatasync", os.fsync)(fd)


def write_atomic(path: Path, text: str, sync: bool = True) -> None:
    """Write a file so that readers see the old or the new content, never a mix.

    ``sync`` forces the content to disk before the rename (evidence must survive a crash).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        if sync:
            f.flush()
            _datasync(f.fileno())
    os.replace(tmp, path)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:60] or "step"


class RunFolder:
    """The evidence folder of one run."""

    def __init__(self, path: Path):
        self.path = path
        self.run_id = path.name

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
        name = f"{number:03d}-{_slug(step_id)}.json"
        text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
        write_atomic(self.steps_dir / name, text, sync)
        return f"steps/{name}"

    def step_files(self) -> list[Path]:
        """Step files in order."""
        return sorted(self.steps_dir.glob("*.json")) if self.steps_dir.exists() else []


class RunStore:
    """All run folders of a project, under ``runs_dir`` (default ``.runbook/runs``), and the
    index over them (``.runbook/index.sqlite``)."""

    keeps = True  # False for EphemeralStore: nothing written is kept

    def __init__(self, runs_dir: Path, index_path: Path | None = None):
        from gert.store.index import RunIndex

        self.runs_dir = runs_dir
        self.index = RunIndex(index_path or runs_dir.parent / "index.sqlite")

    def save(
        self, folder: RunFolder, manifest: dict[str, Any], sync: bool = True, index: bool = True
    ) -> None:
        """Write a run's manifest and (unless told not to) bring its index row up to date."""
        folder.write_manifest(manifest, sync)
        if index:
            self.index.record(manifest, folder.path)

    def create(self, run_id: str) -> RunFolder:
        """A new, empty run folder."""
        path = self.runs_dir / run_id
        path.mkdir(parents=True, exist_ok=False)
        return RunFolder(path)

    def open(self, run_id: str) -> RunFolder:
        """An existing run folder; raises FileNotFoundError naming the run."""
        if not RUN_ID.match(run_id):
            raise FileNotFoundError(f"'{run_id}' is not a run ID (YYYYMMDDTHHMMSS-xxxxxxxx)")
        path = self.runs_dir / run_id
        if not (path / "run.yaml").is_file():
            raise FileNotFoundError(f"no run {run_id} under {self.runs_dir}")
        return RunFolder(path)

    def folders(self) -> list[RunFolder]:
        """Every run folder, oldest first."""
        if not self.runs_dir.is_dir():
            return []
        return [RunFolder(p) for p in sorted(self.runs_dir.iterdir()) if RUN_ID.match(p.name)]


class _NoIndex:
    """The index of runs nobody keeps: records nothing."""

    def record(self, manifest: dict[str, Any], folder: Path) -> None:
        """Nothing to record."""

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
        return f"steps/{number:03d}-{_slug(step_id)}.json"


class EphemeralStore(RunStore):
    """Runs nobody keeps, for replays whose result is all that matters (gert test).
    Manual attachments still land in *scratch*, so their checksums can be taken."""

    keeps = False

    def __init__(self, scratch: Path):
        self.runs_dir = scratch
        self.index = _NoIndex()  # type: ignore[assignment]

    def create(self, run_id: str) -> RunFolder:
        """A folder object; the directory is made only if an attachment needs it."""
        return EphemeralFolder(self.runs_dir / run_id)

    def save(
        self, folder: RunFolder, manifest: dict[str, Any], sync: bool = True, index: bool = True
    ) -> None:
        """Nothing is kept."""
