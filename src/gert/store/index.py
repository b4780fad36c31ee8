"""The run index (``.runbook/index.sqlite``): one row per run, for fast listing by incident,
runbook, outcome and time. The run folders are the truth; ``rebuild`` recreates the index
from them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gert.errors import GertError
from gert.store.manifest import RunManifest
from gert.util import parse_iso

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL DEFAULT '',
    runbook TEXT NOT NULL DEFAULT '',
    runbook_name TEXT NOT NULL DEFAULT '',
    parent_run_id TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT '',
    recommendation TEXT NOT NULL DEFAULT '',
    chain_error TEXT NOT NULL DEFAULT '',
    mode TEXT NOT NULL DEFAULT '',
    actor TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL DEFAULT '',
    ended_at TEXT NOT NULL DEFAULT '',
    duration_ms REAL,
    steps_total INTEGER NOT NULL DEFAULT 0,
    steps_failed INTEGER NOT NULL DEFAULT 0,
    folder TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS runs_incident ON runs (incident_id, started_at);
CREATE INDEX IF NOT EXISTS runs_runbook ON runs (runbook_name, started_at);
CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at);
CREATE INDEX IF NOT EXISTS runs_state ON runs (state, started_at);
CREATE INDEX IF NOT EXISTS runs_parent ON runs (parent_run_id);
"""
# The status a run has in the index while its hand-off has not started (gert resume starts it).
HANDOFF_PENDING = "handoff_pending"
COLUMNS = (
    "run_id",
    "incident_id",
    "runbook",
    "runbook_name",
    "parent_run_id",
    "status",
    "state",
    "recommendation",
    "chain_error",
    "mode",
    "actor",
    "started_at",
    "ended_at",
    "duration_ms",
    "steps_total",
    "steps_failed",
    "folder",
)


@dataclass
class RunRow:
    """One indexed run."""

    run_id: str
    incident_id: str
    runbook: str
    runbook_name: str
    parent_run_id: str
    status: str
    state: str
    recommendation: str
    chain_error: str
    mode: str
    actor: str
    started_at: str
    ended_at: str
    duration_ms: float | None
    steps_total: int
    steps_failed: int
    folder: str

    def to_dict(self) -> dict[str, Any]:
        """The row as plain data."""
        return {c: getattr(self, c) for c in COLUMNS}


def row_from_manifest(manifest: dict[str, Any], folder: Path) -> tuple[Any, ...]:
    """The index row of a run manifest."""
    m = RunManifest.from_dict(manifest)
    duration = None
    if m.started_at and m.ended_at:
        try:
            duration = (parse_iso(m.ended_at) - parse_iso(m.started_at)).total_seconds() * 1000
        except ValueError:
            duration = None
    return (
        m.run_id or folder.name,
        m.incident_id,
        m.runbook,
        m.runbook_name,
        m.parent_run_id,
        HANDOFF_PENDING if m.handoff_pending else m.status,
        m.state,
        str(m.outcome.get("recommendation", "")),
        m.chain_error,
        m.mode,
        m.actor,
        m.started_at,
        m.ended_at,
        duration,
        m.steps_summary.get("total", 0),
        m.steps_summary.get("failed", 0),
        str(folder),
    )


class IndexDamaged(GertError):
    """The index file cannot be read as a run index; ``gert runs reindex`` rebuilds it from
    the run folders (which are the truth)."""


class RunIndex:
    """The SQLite index of a project's runs."""

    def __init__(self, path: Path):
        self.path = path
        self._db: sqlite3.Connection | None = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=10)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript(SCHEMA)
            except sqlite3.DatabaseError as e:
                db.close()
                raise self.damaged(e) from None
            self._db = db
        return self._db

    def damaged(self, error: Exception) -> IndexDamaged:
        """The error for an index that cannot be used."""
        return IndexDamaged(
            f"the run index {self.path} is damaged ({error}); "
            "rebuild it from the run folders with: gert runs reindex"
        )

    def close(self) -> None:
        """Close the database connection."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def record(self, manifest: dict[str, Any], folder: Path) -> None:
        """Insert or update the row of one run."""
        self.upsert([row_from_manifest(manifest, folder)])

    def upsert(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Insert or replace many rows in one transaction."""
        marks = ", ".join("?" for _ in COLUMNS)
        try:
            with self.db:
                self.db.executemany(
                    f"INSERT OR REPLACE INTO runs ({', '.join(COLUMNS)}) VALUES ({marks})", rows
                )
        except sqlite3.DatabaseError as e:
            raise self.damaged(e) from None

    def rebuild(self, folders: Iterable[Any]) -> int:
        """Recreate the index from run folders; returns how many runs it holds. A damaged
        index file is replaced."""
        rows = []
        for f in folders:
            try:
                rows.append(row_from_manifest(f.read_manifest(), f.path))
            except Exception:  # a damaged manifest is skipped, not fatal to the rebuild
                continue
        try:
            with self.db:
                self.db.execute("DELETE FROM runs")
        except (IndexDamaged, sqlite3.DatabaseError):
            self.close()
            for suffix in ("", "-wal", "-shm"):
                self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
        self.upsert(rows)
        return len(rows)

    def values(self, column: str) -> list[str]:
        """The distinct values of *column* (``state``, ``runbook_name``): what a filter
        may name."""
        if column not in ("state", "runbook_name", "incident_id", "mode"):
            raise ValueError(column)
        if self._db is None and not self.path.exists():
            return []
        try:
            rows = self.db.execute(f"SELECT DISTINCT {column} FROM runs").fetchall()
        except sqlite3.DatabaseError as e:
            raise self.damaged(e) from None
        return sorted(str(r[0]) for r in rows if r[0])

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
        """Runs matching every filter given, newest first."""
        if self._db is None and not self.path.exists():
            return []  # no run yet: reading creates nothing (outside a project too)
        where, args = filters("?", incident, runbook, state, since, until)
        sql = f"SELECT {', '.join(COLUMNS)} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at DESC, run_id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        try:
            return [RunRow(*r) for r in self.db.execute(sql, args)]
        except sqlite3.DatabaseError as e:
            raise self.damaged(e) from None


def filters(
    mark: str,
    incident: str | None,
    runbook: str | None,
    state: str | None,
    since: str | None,
    until: str | None,
) -> tuple[list[str], list[str]]:
    """The WHERE conditions and their arguments of an index query (*mark*: the driver's
    placeholder), one per filter given."""
    where, args = [], []
    for given, condition, times in (
        (incident, "incident_id = {m}", 1),
        (runbook, "(runbook_name = {m} OR runbook = {m})", 2),
        (state, "state = {m}", 1),
        (since, "started_at >= {m}", 1),
        (until, "started_at < {m}", 1),
    ):
        if given is not None:
            where.append(condition.format(m=mark))
            args += [given] * times
    return where, args


def chains(rows: list[RunRow]) -> list[list[tuple[int, RunRow]]]:
    """Group runs into chains (parent before children), each as (depth, row) in order."""
    by_id = {r.run_id: r for r in rows}
    children: dict[str, list[RunRow]] = {}
    roots = []
    for r in sorted(rows, key=lambda r: (r.started_at, r.run_id)):
        if r.parent_run_id and r.parent_run_id in by_id:
            children.setdefault(r.parent_run_id, []).append(r)
        else:
            roots.append(r)
    out = []
    for root in roots:
        chain: list[tuple[int, RunRow]] = []
        stack = [(0, root)]
        while stack:
            depth, row = stack.pop()
            chain.append((depth, row))
            stack.extend((depth + 1, c) for c in reversed(children.get(row.run_id, [])))
        out.append(chain)
    return out
