"""The PostgreSQL store: runs, traces, step records, attachments and the index in one
database, so many gert processes and workers on many machines share one evidence store.

What gert writes is kept as the exact text it wrote (the manifest as JSON, each trace line,
each step record), so the hash chain, the HMAC and the step records' SHA-256 verify as they
do in run folders; :meth:`PostgresStore.export` writes a run back out in that layout.
A run's *path* is a local working folder for what the run copies in (attachments); they are
uploaded when the trace records them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import socket
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from gert.errors import GertError, InvalidError, NotFound
from gert.store.files import RunBusy, step_file_name
from gert.store.index import COLUMNS, RunRow, filters, row_from_manifest
from gert.store.manifest import RunManifest
from gert.store.trace import RUN_ID, ChainedTrace, VerifyReport, verify_trace
from gert.util import first_line

LEASE_SECONDS = 30.0  # a holder that has not renewed for this long is taken for dead
# Upper bounds (seconds) of the step-duration buckets kept in gert_step_durations.
STEP_BUCKETS = (0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600)
INDEX_COLUMNS = tuple(c for c in COLUMNS if c != "folder")


class StoreUnavailable(GertError):
    """The database cannot be reached or used (wrong URL, server down, no rights)."""


def _connect(url: str) -> Any:
    import psycopg

    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as e:
        raise StoreUnavailable(f"cannot connect to the PostgreSQL store: {first_line(e)}") from None


def migrations() -> list[tuple[int, str, str]]:
    """The schema's migrations in order, as (version, name, SQL)."""
    out = []
    for item in resources.files("gert.store").joinpath("migrations").iterdir():
        if item.name.endswith(".sql"):
            version = int(item.name.split("_", 1)[0])
            out.append((version, item.name, item.read_text(encoding="utf-8")))
    return sorted(out)


def apply_migrations(conn: Any) -> list[str]:
    """Bring the schema up to date (one process at a time, under an advisory lock);
    returns the names of the migrations applied now."""
    applied_now = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(74787016)")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS gert_schema (version INTEGER PRIMARY KEY, "
            "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        done = {r[0] for r in conn.execute("SELECT version FROM gert_schema")}
        for version, name, sql in migrations():
            if version in done:
                continue
            conn.execute(sql)
            conn.execute("INSERT INTO gert_schema (version, name) VALUES (%s, %s)", (version, name))
            applied_now.append(name)
    return applied_now


def schema_version(conn: Any) -> int:
    """The newest migration applied (0: none)."""
    row = conn.execute("SELECT to_regclass('gert_schema') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return 0
    got = conn.execute("SELECT max(version) FROM gert_schema").fetchone()
    return int(got[0] or 0)


@dataclass
class PgRun:
    """One run in a PostgreSQL store: its ID and a local working folder."""

    run_id: str
    path: Path
    digests: dict[str, str] = field(default_factory=dict)  # step records written here


class PgTrace(ChainedTrace):
    """A run's trace as rows of ``gert_trace_events``: one committed row per event.
    An ``evidence_recorded`` event uploads the attachments it names."""

    def __init__(
        self, store: PostgresStore, run: PgRun, key: bytes | None, redact: Any, durable: bool
    ):
        super().__init__(run.run_id, key, redact, durable)
        self.store = store
        self.run = run
        rows = store._fetch(
            "SELECT line FROM gert_trace_events WHERE run_id = %s ORDER BY seq", (run.run_id,)
        )
        self._continue_from([r[0].encode("utf-8") for r in rows])

    def _append(self, line: bytes, event: dict[str, Any], sync: bool) -> None:
        # Every row is committed at once (autocommit): what a crash leaves is every event
        # written before it, as a file's fsync leaves them.
        with self.store._cursor() as cur, cur.connection.transaction():
            if event["type"] == "evidence_recorded":
                self.store._upload_attachments(cur, self.run, event.get("data") or {})
            elif event["type"] == "step_completed":
                _count_duration(cur, self.run_id, (event.get("data") or {}).get("duration_ms"))
            cur.execute(
                "INSERT INTO gert_trace_events (run_id, seq, type, line) VALUES (%s, %s, %s, %s)",
                (self.run_id, event["seq"], event["type"], line.decode("utf-8")),
            )


class PostgresStore:
    """Runs in PostgreSQL (``store: {backend: postgresql, url_env: …}`` in ``gert.yaml``).
    Implements :class:`gert.store.Store`; the schema is brought up to date on first use."""

    keeps = True

    def __init__(self, url: str, work_dir: Path, lease_seconds: float = LEASE_SECONDS):
        self.url = url
        self.work_dir = work_dir
        self.lease_seconds = lease_seconds
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._conn: Any = None
        self._lock = threading.RLock()
        self._held: set[str] = set()
        self._heartbeat: threading.Thread | None = None
        self._stop_beating = threading.Event()

    # connections ---------------------------------------------------------------
    @property
    def conn(self) -> Any:
        if self._conn is None or self._conn.closed:
            conn = _connect(self.url)
            if schema_version(conn) < migrations()[-1][0]:
                apply_migrations(conn)
            self._conn = conn
        return self._conn

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[Any]:
        import psycopg

        with self._lock:
            try:
                with self.conn.cursor() as cur:
                    yield cur
            except psycopg.OperationalError as e:
                with contextlib.suppress(Exception):
                    self._conn.close()
                self._conn = None
                raise StoreUnavailable(f"the PostgreSQL store went away: {first_line(e)}") from None
            except psycopg.Error as e:  # said as an error of gert's, never a traceback
                raise StoreUnavailable(
                    f"the PostgreSQL store refused a statement: {first_line(e)}"
                ) from e

    def _fetch(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()

    def _exec(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        with self._cursor() as cur:
            cur.execute(sql, args)
            return cur.rowcount

    # runs ----------------------------------------------------------------------
    def _handle(self, run_id: str) -> PgRun:
        return PgRun(run_id, self.work_dir / run_id)

    def create(self, run_id: str) -> PgRun:
        """A new, empty run. A run of that ID that never got its manifest (a worker died
        as it began) is begun again; one that did is refused."""
        with self._cursor() as cur, cur.connection.transaction():
            cur.execute(
                "INSERT INTO gert_runs (run_id) VALUES (%s) ON CONFLICT (run_id) DO UPDATE "
                "SET created_at = now() WHERE gert_runs.manifest IS NULL RETURNING run_id",
                (run_id,),
            )
            if cur.fetchone() is None:
                raise InvalidError(f"run {run_id} already exists")
            for table in ("gert_trace_events", "gert_step_records", "gert_attachments"):
                cur.execute(f"DELETE FROM {table} WHERE run_id = %s", (run_id,))
        return self._handle(run_id)

    def open(self, run_id: str) -> PgRun:
        """An existing run; raises NotFound naming it."""
        if not RUN_ID.match(run_id):
            raise NotFound(f"'{run_id}' is not a run ID (YYYYMMDDTHHMMSS-xxxxxxxx)")
        if not self._fetch(
            "SELECT 1 FROM gert_runs WHERE run_id = %s AND manifest IS NOT NULL", (run_id,)
        ):
            raise NotFound(f"no run {run_id} in the PostgreSQL store")
        return self._handle(run_id)

    def run_ids(self) -> Iterator[str]:
        """Every run's ID, oldest first."""
        return iter([r[0] for r in self._fetch("SELECT run_id FROM gert_runs ORDER BY run_id")])

    # the manifest --------------------------------------------------------------
    def save(
        self, run: PgRun, manifest: dict[str, Any], sync: bool = True, index: bool = True
    ) -> None:
        """Write a run's manifest and (unless told not to) its index columns."""
        text = json.dumps(manifest, ensure_ascii=False, default=str)
        if not index:
            self._exec("UPDATE gert_runs SET manifest = %s WHERE run_id = %s", (text, run.run_id))
            return
        row = row_from_manifest(manifest, run.path)[1:-1]  # without run_id and folder
        sets = ", ".join(f"{c} = %s" for c in INDEX_COLUMNS[1:])
        self._exec(
            f"UPDATE gert_runs SET manifest = %s, {sets} WHERE run_id = %s",
            (text, *row, run.run_id),
        )

    def read_manifest(self, run: PgRun) -> RunManifest:
        """A run's manifest, typed."""
        return RunManifest.from_dict(self.manifest_data(run))

    def manifest_data(self, run: PgRun) -> dict[str, Any]:
        """A run's manifest as plain data ({} when none was saved)."""
        rows = self._fetch("SELECT manifest FROM gert_runs WHERE run_id = %s", (run.run_id,))
        if not rows or rows[0][0] is None:
            return {}
        try:
            data = json.loads(rows[0][0])
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def revision(self, run_id: str) -> tuple[int, int]:
        """Something that changes whenever the run's evidence does: what live views poll."""
        rows = self._fetch(
            "SELECT (SELECT count(*) FROM gert_trace_events WHERE run_id = %s), "
            "coalesce(length(manifest), -1) FROM gert_runs WHERE run_id = %s",
            (run_id, run_id),
        )
        return (int(rows[0][0]), int(rows[0][1])) if rows else (-1, -1)

    # the trace -----------------------------------------------------------------
    def trace(
        self, run: PgRun, key: bytes | None = None, redact: Any = None, durable: bool = True
    ) -> PgTrace:
        """A writer appending to the run's trace rows."""
        return PgTrace(self, run, key, redact, durable)

    def trace_lines(self, run: PgRun) -> list[str]:
        """The run's trace lines as written, in order."""
        rows = self._fetch(
            "SELECT line FROM gert_trace_events WHERE run_id = %s ORDER BY seq", (run.run_id,)
        )
        return [r[0] for r in rows]

    def events(self, run: PgRun) -> list[dict[str, Any]]:
        """The run's trace events in order."""
        out = []
        for line in self.trace_lines(run):
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out

    # step records --------------------------------------------------------------
    def write_step(
        self, run: PgRun, number: int, step_id: str, payload: dict[str, Any], sync: bool = True
    ) -> str:
        """Record what one step saw; returns ``steps/NNN-<step-id>.json``."""
        name = f"steps/{step_file_name(number, step_id)}"
        text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        self._exec(
            "INSERT INTO gert_step_records (run_id, name, body, sha256) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (run_id, name) DO UPDATE SET body = EXCLUDED.body, "
            "sha256 = EXCLUDED.sha256",
            (run.run_id, name, text, digest),
        )
        run.digests[name] = digest
        return name

    def step_sha256(self, run: PgRun, name: str) -> str | None:
        """SHA-256 of a step record as stored, or None."""
        if name in run.digests:
            return run.digests[name]
        rows = self._fetch(
            "SELECT sha256 FROM gert_step_records WHERE run_id = %s AND name = %s",
            (run.run_id, name),
        )
        return rows[0][0] if rows else None

    def steps(self, run: PgRun) -> list[tuple[str, dict[str, Any]]]:
        """Every step record in order, as (name, data)."""
        out = []
        for name, body in self._fetch(
            "SELECT name, body FROM gert_step_records WHERE run_id = %s ORDER BY name",
            (run.run_id,),
        ):
            with contextlib.suppress(ValueError):
                out.append((name, json.loads(body)))
        return out

    # attachments ---------------------------------------------------------------
    def _upload_attachments(self, cur: Any, run: PgRun, data: dict[str, Any]) -> None:
        for item in (data.get("evidence") or {}).values():
            if not (isinstance(item, dict) and item.get("kind") == "attachment"):
                continue
            name = str(item.get("stored") or "")
            source = (run.path / name).resolve()
            if not name or not source.is_relative_to(run.path.resolve()) or not source.is_file():
                continue
            body = source.read_bytes()
            cur.execute(
                "INSERT INTO gert_attachments (run_id, name, body, sha256) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (run_id, name) DO NOTHING",
                (run.run_id, name, body, hashlib.sha256(body).hexdigest()),
            )

    def attachment(self, run: PgRun, name: str) -> bytes | None:
        """The bytes of an attachment (``attachments/<file>``), or None."""
        rows = self._fetch(
            "SELECT body FROM gert_attachments WHERE run_id = %s AND name = %s",
            (run.run_id, name),
        )
        return bytes(rows[0][0]) if rows else None

    # export and verification ---------------------------------------------------
    def export(self, run: PgRun, dest: Path) -> None:
        """Write the run as the folder layout of a run into *dest*, which must not exist."""
        from gert.load import dump_yaml
        from gert.util import write_atomic

        dest.mkdir(parents=True, exist_ok=False)
        manifest = self.manifest_data(run)
        if manifest:
            write_atomic(dest / "run.yaml", dump_yaml(manifest), False)
        lines = self.trace_lines(run)
        (dest / "trace.jsonl").write_bytes("".join(line + "\n" for line in lines).encode("utf-8"))
        rows = self._fetch(
            "SELECT name, body FROM gert_step_records WHERE run_id = %s ORDER BY name",
            (run.run_id,),
        )
        for name, body in rows:
            _write_inside(dest, name, body.encode("utf-8"))
        for name, body in self._fetch(
            "SELECT name, body FROM gert_attachments WHERE run_id = %s", (run.run_id,)
        ):
            _write_inside(dest, name, bytes(body))

    def verify(self, run: PgRun, key: bytes | None = None) -> VerifyReport:
        """Check the run's evidence exactly as a run folder's is checked (hash chain, seals,
        HMAC, step records, attachments, the sealed manifest)."""
        manifest = self.manifest_data(run) or None
        with tempfile.TemporaryDirectory(prefix="gert-verify-") as tmp:
            folder = Path(tmp) / run.run_id
            self.export(run, folder)
            report = verify_trace(folder / "trace.jsonl", key, manifest)
        report.path = Path(f"postgresql:{run.run_id}")
        return report

    def load_folder(self, folder: Path) -> bool:
        """Copy a run folder in, byte for byte, in one transaction; False when the run is
        already here whole (so copying again is safe). A partial earlier copy is replaced."""
        from gert.load import load_file

        run_id = folder.name
        lines = (folder / "trace.jsonl").read_bytes().decode("utf-8").splitlines()
        have = self._fetch(
            "SELECT (SELECT count(*) FROM gert_trace_events WHERE run_id = %s), manifest "
            "FROM gert_runs WHERE run_id = %s",
            (run_id, run_id),
        )
        if have and have[0][0] == len(lines) and have[0][1] is not None:
            return False
        manifest = load_file(folder / "run.yaml").data if (folder / "run.yaml").is_file() else None
        steps = sorted((folder / "steps").glob("*.json")) if (folder / "steps").is_dir() else []
        files = (
            sorted((folder / "attachments").rglob("*")) if (folder / "attachments").is_dir() else []
        )
        handle = self._handle(run_id)
        with self._cursor() as cur, cur.connection.transaction():
            cur.execute("DELETE FROM gert_runs WHERE run_id = %s", (run_id,))
            cur.execute("INSERT INTO gert_runs (run_id) VALUES (%s)", (run_id,))
            for seq, line in enumerate(lines, start=1):
                try:
                    kind = str(json.loads(line).get("type", ""))
                except ValueError:
                    kind = ""
                cur.execute(
                    "INSERT INTO gert_trace_events (run_id, seq, type, line) "
                    "VALUES (%s, %s, %s, %s)",
                    (run_id, seq, kind, line),
                )
            for path in steps:
                body = path.read_bytes()
                cur.execute(
                    "INSERT INTO gert_step_records (run_id, name, body, sha256) "
                    "VALUES (%s, %s, %s, %s)",
                    (
                        run_id,
                        f"steps/{path.name}",
                        body.decode("utf-8"),
                        hashlib.sha256(body).hexdigest(),
                    ),
                )
            for path in files:
                if path.is_file():
                    body = path.read_bytes()
                    cur.execute(
                        "INSERT INTO gert_attachments (run_id, name, body, sha256) "
                        "VALUES (%s, %s, %s, %s)",
                        (
                            run_id,
                            path.relative_to(folder).as_posix(),
                            body,
                            hashlib.sha256(body).hexdigest(),
                        ),
                    )
            if isinstance(manifest, dict):  # same connection: inside this transaction
                self.save(handle, manifest)
        return True

    # the index -----------------------------------------------------------------
    def _row(self, values: tuple[Any, ...]) -> RunRow:
        return RunRow(*values, str(self.work_dir / values[0]))

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
        where, args = filters("%s", incident, runbook, state, since, until)
        where.insert(0, "manifest IS NOT NULL")
        sql = f"SELECT {', '.join(INDEX_COLUMNS)} FROM gert_runs WHERE {' AND '.join(where)}"
        sql += " ORDER BY started_at DESC, run_id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [self._row(r) for r in self._fetch(sql, tuple(args))]

    def incident_runs(self, incident_id: str) -> list[RunRow]:
        """Every run of an incident, oldest first."""
        rows = self._fetch(
            f"SELECT {', '.join(INDEX_COLUMNS)} FROM gert_runs "
            "WHERE incident_id = %s AND manifest IS NOT NULL ORDER BY started_at, run_id",
            (incident_id,),
        )
        return [self._row(r) for r in rows]

    def values(self, column: str) -> list[str]:
        """The distinct values of an index column (what a filter may name)."""
        if column not in ("state", "runbook_name", "incident_id", "mode"):
            raise ValueError(column)
        rows = self._fetch(f"SELECT DISTINCT {column} FROM gert_runs WHERE {column} <> ''")
        return sorted(str(r[0]) for r in rows)

    def reindex(self) -> int:
        """Recompute every index row from its manifest; returns how many runs are indexed."""
        count = 0
        for run_id, text in self._fetch(
            "SELECT run_id, manifest FROM gert_runs WHERE manifest IS NOT NULL"
        ):
            try:
                manifest = json.loads(text)
            except ValueError:
                continue
            self.save(self._handle(run_id), manifest)
            count += 1
        return count

    # holding runs ----------------------------------------------------------------
    def claim(self, run: PgRun) -> None:
        """Hold *run* for this process with a lease it renews until :meth:`release` or
        :meth:`close`; raises RunBusy while another live holder has it."""
        if run.run_id in self._held:
            return
        rows = self._fetch(
            "INSERT INTO gert_leases (run_id, holder, expires_at) "
            "VALUES (%s, %s, now() + make_interval(secs => %s)) "
            "ON CONFLICT (run_id) DO UPDATE SET holder = EXCLUDED.holder, "
            "expires_at = EXCLUDED.expires_at "
            "WHERE gert_leases.expires_at < now() OR gert_leases.holder = EXCLUDED.holder "
            "RETURNING holder",
            (run.run_id, self.holder, self.lease_seconds),
        )
        if not rows:
            other = self._fetch("SELECT holder FROM gert_leases WHERE run_id = %s", (run.run_id,))
            raise RunBusy(
                f"run {run.run_id} is being run by another gert process "
                f"({other[0][0] if other else '?'}); wait for it to end, or for its lease "
                f"to run out ({self.lease_seconds:g} s after it stopped)"
            )
        self._held.add(run.run_id)
        self._start_heartbeat()

    def release(self, run_id: str) -> None:
        """Let go of one held run."""
        if run_id in self._held:
            self._held.discard(run_id)
            with contextlib.suppress(StoreUnavailable):
                self._exec(
                    "DELETE FROM gert_leases WHERE run_id = %s AND holder = %s",
                    (run_id, self.holder),
                )

    def holder_of(self, run_id: str) -> str | None:
        """Who holds *run_id* with a lease still running, or None."""
        rows = self._fetch(
            "SELECT holder FROM gert_leases WHERE run_id = %s AND expires_at >= now()",
            (run_id,),
        )
        return rows[0][0] if rows else None

    def _start_heartbeat(self) -> None:
        if self._heartbeat is not None and self._heartbeat.is_alive():
            return
        self._stop_beating.clear()
        self._heartbeat = threading.Thread(target=self._beat, name="gert-lease", daemon=True)
        self._heartbeat.start()

    def _beat(self) -> None:
        # Its own connection: the run's connection may be busy for a long statement.
        conn = None
        while not self._stop_beating.wait(self.lease_seconds / 3):
            held = list(self._held)
            if not held:
                continue
            try:
                conn = conn if conn is not None and not conn.closed else _connect(self.url)
                conn.execute(
                    "UPDATE gert_leases SET expires_at = now() + make_interval(secs => %s) "
                    "WHERE holder = %s AND run_id = ANY(%s)",
                    (self.lease_seconds, self.holder, held),
                )
            except Exception:  # the database is away: try again at the next beat
                with contextlib.suppress(Exception):
                    conn.close()  # type: ignore[union-attr]
                conn = None
        if conn is not None:
            conn.close()

    def close(self) -> None:
        """Let go of held runs and close connections; the store may be used again."""
        for run_id in list(self._held):
            self.release(run_id)
        self._stop_beating.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=5)
            self._heartbeat = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


def _count_duration(cur: Any, run_id: str, duration_ms: Any) -> None:
    """Count one completed step's duration in its runbook's bucket."""
    if not isinstance(duration_ms, int | float) or duration_ms < 0:
        return
    bucket = next(
        (i for i, b in enumerate(STEP_BUCKETS) if duration_ms <= b * 1000), len(STEP_BUCKETS)
    )
    cur.execute(
        "INSERT INTO gert_step_durations (runbook_name, bucket, count, sum_ms) "
        "SELECT runbook_name, %s, 1, %s FROM gert_runs WHERE run_id = %s "
        "ON CONFLICT (runbook_name, bucket) DO UPDATE SET count = gert_step_durations.count + 1, "
        "sum_ms = gert_step_durations.sum_ms + EXCLUDED.sum_ms",
        (bucket, float(duration_ms), run_id),
    )


def _write_inside(dest: Path, name: str, body: bytes) -> None:
    """Write *body* at *name* under *dest*, refusing a name that leaves it."""
    target = (dest / name).resolve()
    if not target.is_relative_to(dest.resolve()):
        raise InvalidError(f"a stored name leaves the run folder: {name!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
