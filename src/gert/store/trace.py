"""The append-only, hash-chained trace (``trace.jsonl``) and its verifier.

Each line is one JSON event: ``seq`` (from 1), ``ts``, ``type``, ``run_id``, ``data`` and
``prev_hash``, the SHA-256 of the previous line's bytes (without its newline; 64 zeros
for the first line). ``run_completed`` also carries ``chain_hash``, the SHA-256 of every
byte before it, and, when a key is configured, ``hmac``: HMAC-SHA256 of the chain hash.
"""

from __future__ import annotations

import hashlib
import hmac as _hmac
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gert.util import iso, utc_now

ZERO = "0" * 64
EVENTS = frozenset(
    {
        "run_started",
        "inputs_resolved",
        "step_started",
        "step_completed",
        "step_skipped",
        "evidence_recorded",
        "approval_requested",
        "approval_granted",
        "governance_blocked",
        "outcome_reached",
        "chain_started",
        "chain_error",
        "run_completed",
        "run_interrupted",
        "run_resumed",
        "condition_warning",
        "incident_posted",
        "scenario_saved",
    }
)


def _line_bytes(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class TraceWriter:
    """Appends events to a trace, continuing the hash chain of an existing file (resume)."""

    def __init__(
        self,
        path: Path,
        run_id: str,
        key: bytes | None = None,
        redact: Any = None,
        durable: bool = True,
    ):
        self.durable = durable  # fsync after each step; a dry-run has nothing to keep
        self.path = path
        self.run_id = run_id
        self.key = key
        self.redact = redact
        self.seq = 0
        self.prev = ZERO
        self.whole = hashlib.sha256()
        if path.exists():
            self._continue()
        self.file = open(path, "ab")  # noqa: SIM115 - kept open for the run's lifetime

    def _continue(self) -> None:
        """Pick up the chain after a crash; a torn last line (no newline) is dropped."""
        raw = self.path.read_bytes()
        if raw and not raw.endswith(b"\n"):
            raw = raw[: raw.rfind(b"\n") + 1]
            with open(self.path, "r+b") as f:
                f.truncate(len(raw))
        for line in raw.splitlines():
            self.whole.update(line + b"\n")
            self.prev = hashlib.sha256(line).hexdigest()
            self.seq += 1

    def emit(
        self, type_: str, data: dict[str, Any] | None = None, *, sync: bool = False
    ) -> dict[str, Any]:
        """Append one event; ``sync`` forces it to disk (after each step)."""
        assert type_ in EVENTS, type_
        payload = self.redact.data(data or {}) if self.redact else (data or {})
        if type_ == "run_completed":
            chain = self.whole.hexdigest()
            payload = {**payload, "chain_hash": chain}
            if self.key:
                payload["hmac"] = _hmac.new(self.key, chain.encode(), hashlib.sha256).hexdigest()
        self.seq += 1
        event = {
            "seq": self.seq,
            "ts": iso(utc_now()),
            "type": type_,
            "run_id": self.run_id,
            "data": payload,
            "prev_hash": self.prev,
        }
        line = _line_bytes(event)
        if self.file.closed:  # events after run_completed: chain_error, incident_posted...
            self.file = open(self.path, "ab")  # noqa: SIM115
        self.file.write(line + b"\n")
        self.file.flush()
        if self.durable and (
            sync or type_ in ("run_completed", "step_completed", "run_interrupted")
        ):
            getattr(os, "fdatasync", os.fsync)(self.file.fileno())
        self.whole.update(line + b"\n")
        self.prev = hashlib.sha256(line).hexdigest()
        return event

    @property
    def head(self) -> str:
        """Hash of the last line written."""
        return self.prev

    def close(self) -> None:
        """Close the file (events already written are on disk)."""
        self.file.close()


@dataclass
class VerifyReport:
    """What :func:`verify_trace` found."""

    path: Path
    events: int = 0
    completed: bool = False
    hmac_checked: bool = False
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events of a trace (lines that do not parse are skipped)."""
    out = []
    for line in path.read_bytes().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def verify_trace(
    path: str | Path, key: bytes | None = None, manifest: dict[str, Any] | None = None
) -> VerifyReport:
    """Check a trace's hash chain: any edited, removed, inserted or reordered line shows.

    With the run's *manifest*, a trace cut short (lines removed from its end) shows too.
    """
    path = Path(path)
    report = VerifyReport(path=path)
    if not path.is_file():
        report.problems.append(f"{path}: no trace file")
        return report
    raw = path.read_bytes()
    if raw and not raw.endswith(b"\n"):
        torn = raw.count(b"\n") + 1
        report.problems.append(f"line {torn}: torn last line (the run was killed while writing it)")
        raw = raw[: raw.rfind(b"\n") + 1]
    prev = ZERO
    whole = hashlib.sha256()
    run_id = None
    for n, line in enumerate(raw.splitlines(), start=1):
        try:
            event = json.loads(line)
        except ValueError:
            report.problems.append(f"line {n}: not valid JSON (edited or truncated)")
            prev = hashlib.sha256(line).hexdigest()
            whole.update(line + b"\n")
            continue
        report.events += 1
        if event.get("seq") != n:
            report.problems.append(
                f"line {n}: seq is {event.get('seq')}, expected {n} (a line was removed, inserted or moved)"
            )
        if event.get("prev_hash") != prev:
            report.problems.append(
                f"line {n}: prev_hash does not match line {n - 1} (a line before it was edited, removed, inserted or moved)"
            )
        if run_id is None:
            run_id = event.get("run_id")
        elif event.get("run_id") != run_id:
            report.problems.append(f"line {n}: run_id {event.get('run_id')} differs from {run_id}")
        if event.get("type") == "run_completed":
            report.completed = True
            data = event.get("data") or {}
            chain = whole.hexdigest()
            if data.get("chain_hash") != chain:
                report.problems.append(f"line {n}: chain_hash does not match the lines before it")
            if "hmac" in data:
                if key is None:
                    report.notes.append(
                        "the trace is signed (hmac); give the key to check the signature"
                    )
                else:
                    want = _hmac.new(key, chain.encode(), hashlib.sha256).hexdigest()
                    report.hmac_checked = True
                    if not _hmac.compare_digest(want, str(data["hmac"])):
                        report.problems.append(
                            f"line {n}: hmac does not match (the trace was rewritten, or the key is wrong)"
                        )
            elif key is not None:
                report.problems.append(f"line {n}: the trace is not signed, but a key was given")
        prev = hashlib.sha256(line).hexdigest()
        whole.update(line + b"\n")
    if manifest:
        trace_info = manifest.get("trace") or {}
        if trace_info.get("events") and report.events < int(trace_info["events"]):
            report.problems.append(
                f"the manifest recorded {trace_info['events']} events but the trace has {report.events} (lines were removed from the end)"
            )
        elif (
            trace_info.get("head")
            and trace_info.get("events") == report.events
            and trace_info["head"] != prev
        ):
            report.problems.append("the last line differs from the one the manifest recorded")
        if manifest.get("status") not in (None, "running") and not report.completed:
            report.problems.append(
                f"the manifest says the run ended ({manifest.get('status')}) but the trace has no run_completed"
            )
    return report
