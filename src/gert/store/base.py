"""The ``Store`` protocol: where runs, their traces, step records and the index live.

The engine, posting, scenarios, postmortems and every surface reach evidence only
through a store, so a different backend (files + SQLite today; a database server later)
plugs in without touching them. ``tests/store_contract.py`` holds the tests any store
must pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from gert.store.index import RunRow
from gert.store.manifest import RunManifest
from gert.store.trace import ChainedTrace, VerifyReport


@runtime_checkable
class RunHandle(Protocol):
    """One run in a store: its ID and a local folder for what the run copies in
    (attachments)."""

    run_id: str
    path: Path


@runtime_checkable
class Store(Protocol):
    """Runs, their traces, step records and manifests, and the index over them."""

    keeps: bool  # False: nothing written is kept (replays for gert test)

    # runs
    def create(self, run_id: str) -> RunHandle:
        """A new, empty run."""
        ...

    def open(self, run_id: str) -> RunHandle:
        """An existing run; raises :class:`gert.errors.NotFound` naming it."""
        ...

    def run_ids(self) -> Iterator[str]:
        """Every run's ID, oldest first."""
        ...

    # the manifest
    def save(
        self, run: RunHandle, manifest: dict[str, Any], sync: bool = True, index: bool = True
    ) -> None:
        """Write a run's manifest and (unless ``index=False``) its index row."""
        ...

    def read_manifest(self, run: RunHandle) -> RunManifest:
        """A run's manifest, typed."""
        ...

    def manifest_data(self, run: RunHandle) -> dict[str, Any]:
        """A run's manifest as plain data, as written ({} when none was)."""
        ...

    def revision(self, run_id: str) -> tuple[int, int]:
        """Something that changes whenever the run's evidence does: what live views poll."""
        ...

    # the trace
    def trace(
        self, run: RunHandle, key: bytes | None = None, redact: Any = None, durable: bool = True
    ) -> ChainedTrace:
        """A writer appending to the run's trace (continuing its hash chain)."""
        ...

    def events(self, run: RunHandle) -> list[dict[str, Any]]:
        """The run's trace events in order (torn or unreadable lines skipped)."""
        ...

    # step records
    def write_step(
        self, run: RunHandle, number: int, step_id: str, payload: dict[str, Any], sync: bool = True
    ) -> str:
        """Record what one step saw; returns the record's name (``steps/NNN-id.json``)."""
        ...

    def step_sha256(self, run: RunHandle, name: str) -> str | None:
        """SHA-256 of a step record as stored (the trace seals it), or None when none."""
        ...

    def steps(self, run: RunHandle) -> list[tuple[str, dict[str, Any]]]:
        """Every step record of a run, in order, as (name, data)."""
        ...

    def attachment(self, run: RunHandle, name: str) -> bytes | None:
        """The bytes of an attachment as stored (``attachments/<file>``), or None."""
        ...

    def export(self, run: RunHandle, dest: Path) -> None:
        """Write the run's evidence in the folder layout of a run (``run.yaml``,
        ``trace.jsonl``, ``steps/``, attachments) into *dest*, which must not exist."""
        ...

    def verify(self, run: RunHandle, key: bytes | None = None) -> VerifyReport:
        """Check the run's evidence: hash chain, seals and HMAC, step records,
        attachments and the sealed manifest."""
        ...

    # the index
    def query(
        self,
        *,
        incident: str | None = None,
        runbook: str | None = None,
        state: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int | None = 100,
    ) -> list[RunRow]:
        """Indexed runs matching every filter, newest first."""
        ...

    def incident_runs(self, incident_id: str) -> list[RunRow]:
        """Every run of an incident, oldest first."""
        ...

    def values(self, column: str) -> list[str]:
        """The distinct values of an index column (``state``, ``runbook_name``,
        ``incident_id``, ``mode``): what a filter may name."""
        ...

    def reindex(self) -> int:
        """Rebuild the index from the runs; returns how many it holds."""
        ...

    def claim(self, run: RunHandle) -> None:
        """Hold *run* for this process (exec, resume) until :meth:`close`; raises an
        InvalidError when another process holds it."""
        ...

    def release(self, run_id: str) -> None:
        """Let go of one run this process held (a worker moving on to the next)."""
        ...

    def close(self) -> None:
        """Release connections and held runs; the store may be used again afterwards."""
        ...
