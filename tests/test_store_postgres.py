"""PostgresStore keeps the Store contract against a real PostgreSQL, and its evidence
verifies exactly as a run folder's does."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from gert.store import FileStore, RunBusy, new_run_id
from gert.store.postgres import PostgresStore, apply_migrations, migrations, schema_version
from store_contract import StoreContract, manifest


@pytest.fixture
def pg(pg_store_url, tmp_path):
    s = PostgresStore(pg_store_url, tmp_path / "work")
    yield s
    s.close()


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def store(self, pg):
        return pg


def _finished_run(store, tmp_path: Path, key: bytes | None = None):
    """A run with a trace, one step record, one attachment and a sealed manifest."""
    from gert.store.trace import manifest_digest

    run = store.create(new_run_id())
    m = manifest(run.run_id)
    store.save(run, m)
    attachment = run.path / "attachments" / "shot.txt"
    attachment.parent.mkdir(parents=True)
    attachment.write_bytes(b"evidence \xe2\x9c\x93\n")
    writer = store.trace(run, key)
    writer.emit("run_started", {"runbook": "triage"})
    name = store.write_step(run, 1, "check", {"step_id": "check", "stdout": "ok"})
    writer.emit(
        "step_completed",
        {"step_id": "check", "step_file": name, "step_file_sha256": store.step_sha256(run, name)},
    )
    import hashlib

    writer.emit(
        "evidence_recorded",
        {
            "step_id": "check",
            "evidence": {
                "shot": {
                    "kind": "attachment",
                    "stored": "attachments/shot.txt",
                    "sha256": hashlib.sha256(attachment.read_bytes()).hexdigest(),
                }
            },
        },
    )
    writer.emit("run_completed", {"status": "completed", "manifest_sha256": manifest_digest(m)})
    writer.close()
    return run


def test_evidence_verifies_and_tampering_is_found(pg, pg_store_url, tmp_path):
    key = b"k" * 32
    run = _finished_run(pg, tmp_path, key)
    report = pg.verify(run, key)
    assert report.ok, report.problems
    assert report.hmac_checked and report.events == 4
    with psycopg.connect(pg_store_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE gert_trace_events SET line = replace(line, 'triage', 'other') "
            "WHERE run_id = %s AND seq = 1",
            (run.run_id,),
        )
        conn.execute("UPDATE gert_attachments SET body = 'forged' WHERE run_id = %s", (run.run_id,))
        conn.execute(
            "UPDATE gert_step_records SET body = replace(body, 'ok', 'fine') WHERE run_id = %s",
            (run.run_id,),
        )
    problems = " | ".join(pg.verify(run, key).problems)
    assert "line 2: prev_hash does not match" in problems
    assert "step file steps/001-check.json was edited" in problems
    assert "attachment shot was replaced or edited" in problems
    assert "chain_hash does not match" in problems


def test_export_is_the_file_stores_layout_byte_for_byte(pg, tmp_path):
    run = _finished_run(pg, tmp_path)
    pg.export(run, tmp_path / "out" / run.run_id)
    files = FileStore(tmp_path / "runs", tmp_path / "index.sqlite")
    copy = files.create(run.run_id)
    files.save(copy, pg.manifest_data(run))
    out = tmp_path / "out" / run.run_id
    assert (out / "run.yaml").read_bytes() == copy.manifest_path.read_bytes()
    assert (out / "attachments" / "shot.txt").read_bytes() == b"evidence \xe2\x9c\x93\n"
    assert [json.loads(x)["type"] for x in (out / "trace.jsonl").read_text().splitlines()] == [
        "run_started",
        "step_completed",
        "evidence_recorded",
        "run_completed",
    ]
    # the exported folder verifies as a run folder with the ordinary verifier
    from gert.store import verify_trace

    assert verify_trace(out / "trace.jsonl", None, pg.manifest_data(run)).ok
    files.close()


def test_a_held_run_is_refused_to_another_holder_until_its_lease_runs_out(pg_store_url, tmp_path):
    first = PostgresStore(pg_store_url, tmp_path / "a", lease_seconds=3)
    second = PostgresStore(pg_store_url, tmp_path / "b", lease_seconds=3)
    run = first.create(new_run_id())
    first.save(run, manifest(run.run_id))
    first.claim(run)
    with pytest.raises(RunBusy, match="another gert process"):
        second.claim(second.open(run.run_id))
    assert first.holder_of(run.run_id) == first.holder
    # the holder dies without letting go: its lease is no longer renewed
    first._stop_beating.set()
    first._held.clear()
    import time

    time.sleep(3.5)
    second.claim(second.open(run.run_id))
    assert second.holder_of(run.run_id) == second.holder
    second.close()
    assert first.holder_of(run.run_id) is None
    first.close()


def test_the_heartbeat_keeps_a_lease_alive(pg_store_url, tmp_path):
    import time

    first = PostgresStore(pg_store_url, tmp_path / "a", lease_seconds=3)
    run = first.create(new_run_id())
    first.save(run, manifest(run.run_id))
    first.claim(run)
    time.sleep(4)
    assert first.holder_of(run.run_id) == first.holder
    first.close()


def test_migrations_apply_once_in_order(store_database):
    with psycopg.connect(store_database, autocommit=True) as conn:
        apply_migrations(conn)
        assert apply_migrations(conn) == []
        assert schema_version(conn) == migrations()[-1][0]
        names = [r[0] for r in conn.execute("SELECT name FROM gert_schema ORDER BY version")]
    assert names == [m[1] for m in migrations()]


def test_an_unreachable_database_is_a_clear_error(tmp_path):
    from gert.store.postgres import StoreUnavailable

    store = PostgresStore("postgresql://gert@127.0.0.1:1/none?connect_timeout=2", tmp_path)
    with pytest.raises(StoreUnavailable, match="cannot connect to the PostgreSQL store"):
        store.query()


def _example(dest: Path) -> Path:
    """A fresh copy of examples/ with its data."""
    import shutil
    import subprocess
    import sys

    from helpers import ROOT

    ex = dest / "examples"
    shutil.copytree(ROOT / "examples", ex, ignore=shutil.ignore_patterns(".runbook", "data", "20*"))
    subprocess.run(
        [sys.executable, str(ex / "create_example_data.py")], check=True, capture_output=True
    )
    return ex


EXAMPLE = (
    "exec",
    "runbooks/login-success-rate-below-target.runbook.yaml",
    "--incident",
    "747870160",
    "--evidence",
    "answers/747870160.yaml",
    "--json",
)
# What differs between two runs of the same chain, whatever the store.
VARYING = {
    "run_id",
    "started_at",
    "ended_at",
    "duration_ms",
    "host",
    "trace",
    "parent_run_id",
    "child_runs",
    "scenario",
    "posted",
    "ts",
    "prev_hash",
    "chain_hash",
    "step_file_sha256",
    "manifest_sha256",
    "elapsed_ms",
    "folder",
    "pid",
    "started",
    "ended",
    "entry_id",
}


def _shape(value):
    """*value* without what differs from run to run (IDs, times, hashes)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items() if k not in VARYING}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return value


def _files(folder: Path) -> list[str]:
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name != ".lock"
    )


def _types(folder: Path) -> list[str]:
    lines = (folder / "trace.jsonl").read_text().splitlines()
    return [json.loads(line)["type"] for line in lines]


def _keys(value):
    """The nested keys of *value* (its shape, whatever the values)."""
    if isinstance(value, dict):
        return {k: _keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_keys(v) for v in value[:1]]
    return type(value).__name__


def test_the_example_chain_in_postgresql_exports_as_the_file_store_writes_and_replays(
    tmp_path, pg_store_url, monkeypatch
):
    from helpers import gert

    files = _example(tmp_path / "files")
    pg = _example(tmp_path / "pg")
    monkeypatch.setenv("GERT_DATABASE_URL", pg_store_url)
    # the example's incident is a local one: copied in with the (no) runs
    moved = gert("store", "migrate", "--to", "postgresql", "--json", cwd=pg)
    assert json.loads(moved.stdout)["incidents"] == ["747870160"], moved.stdout
    with (pg / "gert.yaml").open("a") as f:
        f.write("\nstore: {backend: postgresql}\n")
    on_files = gert(*EXAMPLE, cwd=files)
    on_pg = gert(*EXAMPLE, cwd=pg)
    assert on_files.returncode == on_pg.returncode == 0, on_pg.stderr
    chain_files = json.loads(on_files.stdout)
    chain_pg = json.loads(on_pg.stdout)
    assert [r["outcome"] for r in chain_pg["runs"]] == [r["outcome"] for r in chain_files["runs"]]
    assert not (pg / ".runbook" / "runs").exists()  # nothing in run folders
    for run_files, run_pg in zip(chain_files["runs"], chain_pg["runs"], strict=True):
        out = tmp_path / "exported"
        exported = gert("runs", "export", run_pg["run_id"], str(out), cwd=pg)
        assert exported.returncode == 0, exported.stderr
        a = files / ".runbook" / "runs" / run_files["run_id"]
        b = out / run_pg["run_id"]
        assert _files(a) == _files(b)
        from gert.load import load_file

        assert _shape(load_file(a / "run.yaml").data) == _shape(load_file(b / "run.yaml").data)
        for step in (a / "steps").iterdir():  # the same record (its rows hold times)
            mine, theirs = (
                json.loads(step.read_text()),
                json.loads((b / "steps" / step.name).read_text()),
            )
            assert _keys(mine) == _keys(theirs)
            assert (mine["status"], mine.get("captures", {}).keys()) == (
                theirs["status"],
                theirs.get("captures", {}).keys(),
            )
        assert _types(a) == _types(b)
        # the exported folder verifies as any run folder does
        assert gert("trace", "verify", str(b), cwd=pg).returncode == 0
    # the scenario the PostgreSQL run saved replays, as the file store's does
    tested = gert("test", cwd=pg)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    # the incident and its runs, from the store's SQL index
    shown = gert("incident", "show", "747870160", cwd=pg)
    assert shown.returncode == 0 and "IsReplicaInBuild" in shown.stdout, shown.stdout


def test_store_migrate_copies_run_folders_verified_and_is_safe_to_repeat(
    tmp_path, pg_store_url, monkeypatch
):
    from helpers import gert

    ex = _example(tmp_path)
    for _ in range(2):
        assert gert(*EXAMPLE, cwd=ex).returncode == 0
    runs = sorted(p.name for p in (ex / ".runbook" / "runs").iterdir())
    # one run folder is tampered with: it is named, not copied
    victim = ex / ".runbook" / "runs" / runs[0] / "trace.jsonl"
    victim.write_text(victim.read_text().replace("747870160", "747870161", 1))
    monkeypatch.setenv("GERT_DATABASE_URL", pg_store_url)
    first = gert("store", "migrate", "--to", "postgresql", cwd=ex)
    assert first.returncode == 1, first.stdout + first.stderr
    assert f"{runs[0]}: does not verify" in first.stdout
    assert f"copied {len(runs) - 1} runs" in first.stdout
    again = gert("store", "migrate", "--to", "postgresql", "--json", cwd=ex)
    report = json.loads(again.stdout)
    assert report["copied"] == [] and sorted(report["present"]) == runs[1:]
    # switched over, gert reads the copied runs from PostgreSQL
    with (ex / "gert.yaml").open("a") as f:
        f.write("\nstore: {backend: postgresql}\n")
    verified = gert("trace", "verify", *runs[1:], cwd=ex)
    assert verified.returncode == 0 and verified.stdout.count(": ok (") == len(runs) - 1
    listed = json.loads(gert("runs", "list", "--json", cwd=ex).stdout)
    assert sorted(r["run_id"] for r in listed) == runs[1:]


def test_a_missing_database_url_is_a_clear_error(tmp_path, monkeypatch):
    from helpers import gert

    (tmp_path / "gert.yaml").write_text("store: {backend: postgresql}\n")
    monkeypatch.delenv("GERT_DATABASE_URL", raising=False)
    r = gert("runs", "list", cwd=tmp_path)
    assert r.returncode == 2 and "GERT_DATABASE_URL is not set" in r.stderr
    assert "Traceback" not in r.stderr


def test_shared_incidents_lose_no_entry_when_many_post_at_once(pg_store_url):
    from concurrent.futures import ThreadPoolExecutor

    from gert.incident import IncidentError
    from gert.incident.local import SharedIncidents

    incidents = SharedIncidents(pg_store_url)
    incidents.create("INC-9", "disk full on web01")
    with pytest.raises(IncidentError, match="already exists"):
        incidents.create("INC-9", "again")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: SharedIncidents(pg_store_url).note("INC-9", f"n{n}"), range(24)))
    timeline = SharedIncidents(pg_store_url).timeline("INC-9")
    assert sorted(e["text"] for e in timeline if e["kind"] == "note") == sorted(
        f"n{n}" for n in range(24)
    )
    assert len({e["id"] for e in timeline}) == 25  # opened + 24 notes, each its own ID
    incidents.set_status("INC-9", "resolved")
    assert incidents.get("INC-9")["status"] == "resolved"
    assert [i["id"] for i in incidents.list()] == ["INC-9"]
    with pytest.raises(IncidentError, match="not a valid incident ID"):
        incidents.get("../x")
