"""The typed manifest of a run (``run.yaml``): the standard fields plus gert's own."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


def _text(value: Any) -> str:
    """A manifest string: absent or null is empty, never the text ``None``."""
    return "" if value is None else str(value)


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


@dataclass
class RunManifest:
    """What ``run.yaml`` records about one run, in the order it is written."""

    run_id: str = ""
    icm_id: str = ""  # the incident ID (its historical name); also readable as incident_id
    runbook: str = ""  # path relative to the project root
    actor: str = ""
    mode: str = ""
    started_at: str = ""
    ended_at: str = ""
    outcome: dict[str, Any] = field(default_factory=dict)
    inputs_resolved: dict[str, Any] = field(default_factory=dict)
    steps_summary: dict[str, int] = field(default_factory=dict)
    parent_run_id: str = ""
    child_runs: list[dict[str, Any]] = field(default_factory=list)
    inherited_captures: dict[str, Any] = field(default_factory=dict)
    status: str = ""
    error: str = ""
    chain_error: str = ""
    runbook_name: str = ""
    runbook_sha256: str = ""
    gert_version: str = ""
    host: str = ""
    scenario: str = ""
    posted: dict[str, Any] = field(default_factory=dict)
    triggered_by: dict[str, Any] = field(default_factory=dict)
    # How the chain was run, so gert resume goes on the same way: post, record, evidence
    # (the answers file, relative to the project), max_chain_depth.
    options: dict[str, Any] = field(default_factory=dict)
    trace: dict[str, Any] = field(default_factory=dict)  # {events, head} when last saved

    @property
    def incident_id(self) -> str:
        """The incident this run belongs to ('' when none)."""
        return self.icm_id

    @property
    def state(self) -> str:
        """The outcome state, else the status."""
        return _text(self.outcome.get("state")) or self.status

    @property
    def handoff_pending(self) -> bool:
        """It reached an outcome that hands off, but no child run was started (gert was
        stopped in between): the chain is not finished, and ``gert resume`` goes on."""
        return (
            self.status == "completed"
            and bool(self.outcome.get("next_runbook"))
            and not self.child_runs
            and not self.chain_error
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data in ``run.yaml``'s order (values shared, not copied: written after
        every step, so a deep copy would cost more than the write)."""
        return {f.name: getattr(self, f.name) for f in _FIELDS}

    @classmethod
    def from_dict(cls, data: Any) -> RunManifest:
        """A manifest from plain data; missing fields are empty, unknown ones ignored."""
        data = data if isinstance(data, dict) else {}
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = data.get(f.name)
            if f.name == "icm_id" and raw in (None, ""):
                raw = data.get("incident_id")
            if f.name == "child_runs":
                values[f.name] = [dict(c) for c in raw or [] if isinstance(c, dict)]
            elif f.name == "steps_summary":
                values[f.name] = {k: int(v) for k, v in _mapping(raw).items() if _is_int(v)}
            elif f.default_factory is dict:  # type: ignore[comparison-overlap]
                values[f.name] = _mapping(raw)
            else:
                values[f.name] = _text(raw)
        return cls(**values)


def _is_int(value: Any) -> bool:
    try:
        int(value)
    except (TypeError, ValueError):
        return False
    return True


_FIELDS = fields(RunManifest)
