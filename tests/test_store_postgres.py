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
