"""The contract every :class:`gert.store.Store` keeps, as tests any backend can run.

A backend's test module subclasses :class:`StoreContract` and provides a ``store``
fixture returning a fresh, empty store (``tests/test_store.py`` does it for FileStore).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from gert.errors import NotFound
from gert.store import RunManifest, Store, new_run_id


def manifest(run_id: str, **fields: Any) -> dict[str, Any]:
    """A full manifest for *run_id*, with *fields* changed."""
    m = RunManifest(
        run_id=run_id,
        icm_id="INC-1",
        runbook="runbooks/triage.runbook.yaml",
        actor="oncall",
        mode="real",
        started_at="2026-02-14T09:57:53.000Z",
        ended_at="2026-02-14T09:57:55.500Z",
        outcome={"state": "resolved", "step_id": "s", "recommendation": "done"},
        inputs_resolved={"server": "sql01"},
        steps_summary={"total": 2, "passed": 2, "failed": 0, "skipped": 0},
        status="completed",
        runbook_name="triage",
        runbook_sha256="ab" * 32,
        gert_version="0.1.0",
        host="h",
        trace={"events": 0, "head": ""},
    ).to_dict()
    m.update(fields)
    return m


class StoreContract:
    """Tests every store passes; subclasses provide the ``store`` fixture."""

    @pytest.fixture
    def store(self) -> Store:  # pragma: no cover - always overridden
        raise NotImplementedError

    def new_run(self, store: Store, **fields: Any) -> Any:
        run = store.create(new_run_id())
        store.save(run, manifest(run.run_id, **fields))
        return run

    # runs ----------------------------------------------------------------------
    def test_it_is_a_store(self, store):
        assert isinstance(store, Store)
        assert store.keeps is True

    def test_create_then_open(self, store):
        run = self.new_run(store)
        again = store.open(run.run_id)
        assert again.run_id == run.run_id
        assert run.run_id in list(store.run_ids())

    def test_open_unknown_or_malformed_is_not_found(self, store):
        with pytest.raises(NotFound, match="20990101T000000-deadbeef"):
            store.open("20990101T000000-deadbeef")
        with pytest.raises(FileNotFoundError):  # NotFound is also a FileNotFoundError
            store.open("../../etc/passwd")

    def test_run_ids_oldest_first(self, store):
        ids = ["20260101T000000-00000001", "20260102T000000-00000002", "20260103T000000-00000003"]
        for run_id in reversed(ids):
            store.save(store.create(run_id), manifest(run_id))
        assert [r for r in store.run_ids() if r in ids] == ids

    # manifests -----------------------------------------------------------------
    def test_manifest_round_trip(self, store):
        run = self.new_run(store, child_runs=[{"run_id": "x", "runbook": "c", "outcome": "ok"}])
        m = store.read_manifest(run)
        assert isinstance(m, RunManifest)
        assert m.to_dict() == manifest(
            run.run_id, child_runs=[{"run_id": "x", "runbook": "c", "outcome": "ok"}]
        )
        assert m.incident_id == "INC-1"
        assert m.state == "resolved"

    def test_saving_again_replaces_the_manifest(self, store):
        run = self.new_run(store, status="running", outcome={})
        store.save(run, manifest(run.run_id, status="failed", error="boom", outcome={}))
        m = store.read_manifest(run)
        assert (m.status, m.error, m.state) == ("failed", "boom", "failed")

    # traces --------------------------------------------------------------------
    def test_trace_events_are_hash_chained_and_continue_after_reopening(self, store):
        run = self.new_run(store)
        writer = store.trace(run)
        writer.emit("run_started", {"runbook": "triage"})
        writer.emit("step_started", {"step_id": "a"})
        writer.close()
        writer = store.trace(run)  # a resumed run continues the same chain
        writer.emit("run_completed", {"status": "completed"}, sync=True)
        writer.close()
        events = store.events(run)
        assert [e["type"] for e in events] == ["run_started", "step_started", "run_completed"]
        assert [e["seq"] for e in events] == [1, 2, 3]
        assert events[0]["prev_hash"] == "0" * 64
        for before, after in itertools.pairwise(events):
            line = json.dumps(before, ensure_ascii=False, separators=(",", ":")).encode()
            assert after["prev_hash"] == hashlib.sha256(line).hexdigest()
        assert all(e["run_id"] == run.run_id for e in events)

    def test_a_new_run_has_no_events(self, store):
        assert store.events(self.new_run(store)) == []

    # step records --------------------------------------------------------------
    def test_step_records_in_order(self, store):
        run = self.new_run(store)
        names = [
            store.write_step(run, 2, "second", {"step_id": "second", "stdout": "b"}),
            store.write_step(run, 1, "first", {"step_id": "first", "stdout": "ä"}),
        ]
        assert names == ["steps/002-second.json", "steps/001-first.json"]
        assert store.steps(run) == [
            ("steps/001-first.json", {"step_id": "first", "stdout": "ä"}),
            ("steps/002-second.json", {"step_id": "second", "stdout": "b"}),
        ]

    def test_step_ids_cannot_leave_the_run(self, store):
        run = self.new_run(store)
        name = store.write_step(run, 1, "../../escape", {"x": 1})
        assert name.startswith("steps/001-") and "/" not in name.removeprefix("steps/")
        assert [n for n, _ in store.steps(run)] == [name]

    # the index -----------------------------------------------------------------
    def test_queries_filter_and_order_newest_first(self, store):
        a = self.new_run(store, started_at="2026-02-14T09:00:00.000Z")
        b = self.new_run(
            store,
            started_at="2026-02-14T10:00:00.000Z",
            outcome={"state": "escalated"},
            runbook_name="other",
        )
        c = self.new_run(
            store,
            icm_id="INC-2",
            started_at="2026-02-14T11:00:00.000Z",
            ended_at="2026-02-14T11:00:02.500Z",
        )
        assert [r.run_id for r in store.query(incident="INC-1")] == [b.run_id, a.run_id]
        assert [r.run_id for r in store.query(runbook="other")] == [b.run_id]
        assert [r.run_id for r in store.query(state="resolved")] == [c.run_id, a.run_id]
        assert [r.run_id for r in store.query(since="2026-02-14T09:30:00Z")] == [c.run_id, b.run_id]
        assert [r.run_id for r in store.query(limit=1)] == [c.run_id]
        assert [r.run_id for r in store.incident_runs("INC-1")] == [a.run_id, b.run_id]
        row = store.query(incident="INC-2")[0]
        assert (row.state, row.steps_total, row.duration_ms) == ("resolved", 2, 2500.0)

    def test_index_false_defers_the_row(self, store):
        run = self.new_run(store, status="running", outcome={})
        store.save(run, manifest(run.run_id, status="failed", outcome={}), index=False)
        assert store.query(incident="INC-1")[0].status == "running"
        store.save(run, manifest(run.run_id, status="failed", outcome={}))
        assert store.query(incident="INC-1")[0].status == "failed"

    def test_reindex_rebuilds_from_the_runs(self, store):
        for _ in range(3):
            self.new_run(store)
        assert store.reindex() == 3
        assert len(store.query(incident="INC-1")) == 3

    def test_close_then_use_again(self, store):
        run = self.new_run(store)
        store.close()
        store.close()  # twice is fine
        assert store.query(incident="INC-1")[0].run_id == run.run_id

    # export --------------------------------------------------------------------
    def test_export_writes_the_run_folder_layout(self, store, tmp_path: Path):
        run = self.new_run(store)
        writer = store.trace(run)
        writer.emit("run_started", {})
        writer.close()
        store.write_step(run, 1, "a", {"step_id": "a"})
        store.export(run, tmp_path / "out")
        assert (tmp_path / "out" / "run.yaml").is_file()
        assert (tmp_path / "out" / "trace.jsonl").read_text().count("\n") == 1
        assert json.loads((tmp_path / "out" / "steps" / "001-a.json").read_text()) == {
            "step_id": "a"
        }
