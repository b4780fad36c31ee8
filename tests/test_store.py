"""FileStore (run folders + SQLite index) keeps the Store contract; the typed manifest."""

from __future__ import annotations

import pytest

from gert.store import EphemeralStore, FileStore, RunManifest
from store_contract import StoreContract


class TestFileStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        s = FileStore(tmp_path / ".runbook" / "runs", tmp_path / ".runbook" / "index.sqlite")
        yield s
        s.close()


def test_the_ephemeral_store_keeps_nothing(tmp_path):
    store = EphemeralStore(tmp_path / "scratch")
    run = store.create("20260101T000000-00000001")
    store.save(run, {"run_id": run.run_id})
    assert store.keeps is False
    assert store.write_step(run, 1, "a", {}) == "steps/001-a.json"
    assert not (tmp_path / "scratch").exists()
    assert store.query() == [] and store.events(run) == []


def test_manifest_from_damaged_or_old_data_is_empty_not_none():
    m = RunManifest.from_dict({"run_id": "r", "icm_id": None, "steps_summary": {"total": "x"}})
    assert m.icm_id == "" and m.incident_id == ""  # never the text "None"
    assert m.steps_summary == {}
    assert RunManifest.from_dict({"incident_id": "INC-9"}).incident_id == "INC-9"
    assert RunManifest.from_dict(["not", "a", "mapping"]) == RunManifest()
