"""Create the example's data: a SQLite database of synthetic login failures and replica
builds (examples/data/logins.db), and incident 747870160 in the local provider.

Run from anywhere: .venv/bin/python examples/create_example_data.py
It is idempotent: the database is rebuilt, the incident created once.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from pathlib import Path

from gert.incident import IncidentError
from gert.incident.local import LocalProvider

HERE = Path(__file__).resolve().parent
INCIDENT = "747870160"


def build_database(path: Path, seed: int = 747870160) -> None:
    """Login failures for a few servers; an in-progress replica build on sobeys-sql01."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE login_failures (ts TEXT, server TEXT, database TEXT, error TEXT, client TEXT);
        CREATE INDEX login_failures_server ON login_failures (server, database, ts);
        CREATE TABLE replica_builds (server TEXT, replica TEXT, state TEXT, progress INTEGER, started TEXT);
        """
    )
    start = dt.datetime(2026, 2, 14, 9, 0, tzinfo=dt.UTC)
    rows = []
    for server, database, count, errors in [
        ("sobeys-sql01", "AlarmDB", 42, ["40613", "40613", "40613", "18456"]),
        ("contoso-sql02", "Orders", 3, ["40501"]),
    ]:
        for _ in range(count):
            ts = start + dt.timedelta(seconds=rng.randrange(0, 3 * 3600))
            rows.append((ts.strftime("%Y-%m-%dT%H:%M:%SZ"), server, database, rng.choice(errors),
                         f"app-{rng.randrange(1, 9)}"))
    db.executemany("INSERT INTO login_failures VALUES (?, ?, ?, ?, ?)", rows)
    db.executemany(
        "INSERT INTO replica_builds VALUES (?, ?, ?, ?, ?)",
        [("sobeys-sql01", "AlarmDB-replica-2", "running", 87, "2026-02-14T09:41:00Z"),
         ("contoso-sql02", "Orders-replica-1", "completed", 100, "2026-02-13T22:10:00Z")],
    )
    db.commit()
    db.close()


def open_incident(folder: Path) -> bool:
    """Incident 747870160 as the alert opened it; False when it already exists."""
    try:
        LocalProvider(folder).create(
            INCIDENT,
            "Login success rate below target on sobeys-sql01. LoginFailureCause: IsReplicaInBuild",
            severity=2,
            custom_fields={"ServerName": "sobeys-sql01", "DatabaseName": "AlarmDB"},
            location={"instance": "ProdEus1a", "region": "eastus"},
        )
    except IncidentError:
        return False
    return True


def main() -> None:
    build_database(HERE / "data" / "logins.db")
    created = open_incident(HERE / ".runbook" / "incidents")
    print(f"examples/data/logins.db written; incident {INCIDENT} {'created' if created else 'already open'}")


if __name__ == "__main__":
    main()
