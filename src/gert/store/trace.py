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
import re
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
        "reference_linked",
        "chain_error",
        "run_completed",
        "run_interrupted",
        "run_waiting",
        "run_resumed",
        "step_recovered",
        "condition_warning",
        "incident_posted",
        "scenario_saved",
    }
)


# Events that seal the trace: each carries the hash of every line before it (and its HMAC
# when a key is configured). A run that ended must end its trace with one, so nothing can be
# appended after the end without a seal that only the key can make.
SEALS = frozenset({"run_completed", "chain_error", "incident_posted", "scenario_saved"})
# What the final manifest seals: the fields that no longer change once a run ends.
SEALED_FIELDS = (
    "run_id",
    "icm_id",
    "runbook",
    "actor",
    "mode",
    "started_at",
    "ended_at",
    "outcome",
    "inputs_resolved",
    "steps_summary",
    "parent_run_id",
    "inherited_captures",
    "status",
    "error",
    "runbook_name",
    "runbook_sha256",
    "triggered_by",
)


def manifest_digest(manifest: dict[str, Any]) -> str:
    """SHA-256 of a manifest's sealed fields (recorded in ``run_completed``)."""
    sealed = {k: manifest.get(k) for k in SEALED_FIELDS}
    return hashlib.sha256(
        json.dumps(sealed, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()


def file_digest(path: Path) -> str | None:
    """SHA-256 of a file's bytes, or None when it cannot be read."""
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None


def _line_bytes(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class ChainedTrace:
    """Appends events to a trace, each line hash-chained to the one before it; where the
    lines go is the subclass's (a file, a database table)."""

    def __init__(
        self, run_id: str, key: bytes | None = None, redact: Any = None, durable: bool = True
    ):
        self.durable = durable  # made durable after each step; a dry-run has nothing to keep
        self.run_id = run_id
        self.key = key
        self.redact = redact
        self.seq = 0
        self.prev = ZERO
        self.whole = hashlib.sha256()

    def _continue_from(self, lines: list[bytes]) -> None:
        """Pick up the chain after the *lines* already written (resume, a crash)."""
        for line in lines:
            self.whole.update(line + b"\n")
            self.prev = hashlib.sha256(line).hexdigest()
            self.seq += 1

    def _append(self, line: bytes, event: dict[str, Any], sync: bool) -> None:
        """Write one line (without its newline); *sync*: make it durable now."""
        raise NotImplementedError

    def emit(
        self, type_: str, data: dict[str, Any] | None = None, *, sync: bool = False
    ) -> dict[str, Any]:
        """Append one event; ``sync`` makes it durable at once (after each step)."""
        assert type_ in EVENTS, type_
        payload = self.redact.data(data or {}) if self.redact else (data or {})
        if type_ in SEALS:
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
        self._append(
            line,
            event,
            self.durable
            and (sync or type_ in ("run_completed", "step_completed", "run_interrupted")),
        )
        self.whole.update(line + b"\n")
        self.prev = hashlib.sha256(line).hexdigest()
        return event

    @property
    def head(self) -> str:
        """Hash of the last line written."""
        return self.prev

    def close(self) -> None:
        """Let go of what the writer holds (events already written are kept)."""


class TraceWriter(ChainedTrace):
    """Appends events to ``trace.jsonl``, continuing the hash chain of an existing file."""

    def __init__(
        self,
        path: Path,
        run_id: str,
        key: bytes | None = None,
        redact: Any = None,
        durable: bool = True,
    ):
        super().__init__(run_id, key, redact, durable)
        self.path = path
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
        self._continue_from(raw.splitlines())

    def _append(self, line: bytes, event: dict[str, Any], sync: bool) -> None:
        if self.file.closed:  # events after run_completed: chain_error, incident_posted...
            self.file = open(self.path, "ab")  # noqa: SIM115
        self.file.write(line + b"\n")
        self.file.flush()
        if sync:
            getattr(os, "fdatasync", os.fsync)(self.file.fileno())

    def close(self) -> None:
        """Close the file (events already written are on disk)."""
        self.file.close()


class UnkeptTrace:
    """The trace of a run nobody keeps (gert test's replays): events are numbered and
    returned like :class:`TraceWriter`'s, but never serialised, hashed or written."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.seq = 0

    def emit(
        self, type_: str, data: dict[str, Any] | None = None, *, sync: bool = False
    ) -> dict[str, Any]:
        """The event, numbered."""
        assert type_ in EVENTS, type_
        self.seq += 1
        return {"seq": self.seq, "type": type_, "run_id": self.run_id, "data": data or {}}

    @property
    def head(self) -> str:
        """No hash: nothing was written."""
        return ZERO

    def close(self) -> None:
        """Nothing to close."""


@dataclass
class VerifyReport:
    """What :func:`verify_trace` found."""

    path: Path
    events: int = 0
    completed: bool = False
    hmac_checked: bool = False
    signed: bool = False  # its seals carry an HMAC
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    parsed: list[dict[str, Any]] = field(default_factory=list)  # the events, as read

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


def _check_step_file(folder: Path, n: int, data: dict[str, Any], report: VerifyReport) -> None:
    name, want = data.get("step_file"), data.get("step_file_sha256")
    if not name or not want:
        return
    got = file_digest(folder / str(name))
    if got is None:
        report.problems.append(f"line {n}: step file {name} is missing")
    elif got != want:
        report.problems.append(f"line {n}: step file {name} was edited")


def _check_attachments(folder: Path, n: int, data: dict[str, Any], report: VerifyReport) -> None:
    for name, item in (data.get("evidence") or {}).items():
        if isinstance(item, dict) and item.get("kind") == "attachment" and item.get("stored"):
            got = file_digest(folder / str(item["stored"]))
            if got is None:
                report.problems.append(f"line {n}: attachment {name} is missing")
            elif got != item.get("sha256"):
                report.problems.append(f"line {n}: attachment {name} was replaced or edited")


RUN_ID = re.compile(r"^\d{8}T\d{6}-[0-9a-f]{8}$")  # a run ID, and its folder's name


def verify_trace(
    path: str | Path, key: bytes | None = None, manifest: dict[str, Any] | None = None
) -> VerifyReport:
    """Check a run's evidence: any edited, removed, inserted, reordered or appended trace
    line, any step file or attachment that differs from what the trace recorded, and (with
    the run's *manifest*) a trace cut short or a manifest edited after the run."""
    path = Path(path)
    folder = path.parent if path.name == "trace.jsonl" else None
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
    last: tuple[int, Any] = (0, None)
    last_completed: dict[str, Any] | None = None
    for n, line in enumerate(raw.splitlines(), start=1):
        try:
            event = json.loads(line)
        except ValueError:
            report.problems.append(f"line {n}: not valid JSON (edited or truncated)")
            prev = hashlib.sha256(line).hexdigest()
            whole.update(line + b"\n")
            continue
        report.events += 1
        report.parsed.append(event)
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
        kind = event.get("type")
        data = event.get("data") or {}
        if last[1] in SEALS and kind not in SEALS and kind != "run_resumed":
            report.problems.append(
                f"line {n}: {kind} follows a sealed end of the run "
                "(only a seal or gert resume may continue a trace)"
            )
        last = (n, kind)
        if kind == "run_completed":
            report.completed = True
            last_completed = data
        if kind == "step_completed" and folder is not None:
            _check_step_file(folder, n, data, report)
        if kind == "evidence_recorded" and folder is not None:
            _check_attachments(folder, n, data, report)
        if kind in SEALS:
            chain = whole.hexdigest()
            if data.get("chain_hash") != chain:
                report.problems.append(f"line {n}: chain_hash does not match the lines before it")
            if "hmac" in data:
                report.signed = True
                if key is not None:
                    want = _hmac.new(key, chain.encode(), hashlib.sha256).hexdigest()
                    report.hmac_checked = True
                    if not _hmac.compare_digest(want, str(data["hmac"])):
                        report.problems.append(
                            f"line {n}: hmac does not match (the trace was rewritten, or the key is wrong)"
                        )
            elif key is not None or report.signed:
                report.problems.append(f"line {n}: {kind} is not signed, but the trace is")
        prev = hashlib.sha256(line).hexdigest()
        whole.update(line + b"\n")
    if manifest is None and folder is not None and not (folder / "run.yaml").exists():
        if report.events == 0:  # created, then gert stopped before anything was recorded
            report.notes.append("the run never started: gert stopped before recording it")
        else:
            report.problems.append("run.yaml is missing (the run's manifest was deleted)")
    if report.signed and key is None:
        report.notes.append("the trace is signed (hmac); give the key to check the signature")
    ended = manifest.get("status") not in (None, "running") if manifest else report.completed
    if ended and last[1] is not None and last[1] not in SEALS:
        report.problems.append(
            f"line {last[0]}: the run ended but its trace ends with {last[1]}, not a seal"
        )
    if folder is not None and run_id and RUN_ID.match(folder.name) and run_id != folder.name:
        report.problems.append(
            f"the trace belongs to run {run_id}, not to {folder.name} (copied from another run)"
        )
    sealed = (last_completed or {}).get("manifest_sha256")
    if manifest and sealed and manifest_digest(manifest) != sealed:
        report.problems.append(
            "run.yaml differs from what the trace sealed (outcome, status, actor, inputs "
            "or times were edited)"
        )
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


def check_witness(report: VerifyReport, sealed: str, incident_id: str) -> None:
    """Compare a run's last sealed end with the chain hash its incident recorded: a trace
    cut short and its manifest reset to ``running`` cannot match it."""
    ends = [e for e in report.parsed if e.get("type") == "run_completed"]
    got = str((ends[-1].get("data") or {}).get("chain_hash", "")) if ends else ""
    if not got:
        report.problems.append(
            f"incident {incident_id} recorded this run's sealed end, but its trace has none "
            "(cut short)"
        )
    elif got != sealed:
        report.problems.append(
            f"the run's sealed end differs from the one incident {incident_id} recorded"
        )
