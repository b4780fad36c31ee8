"""Posting a chain's summary to its incident.

The summary is built from the run folders — manifests and traces, already redacted — so
the automatic post after ``gert exec`` and a later ``gert incident post RUN_ID`` say the
same thing. A chain is posted once: the post (provider, entry ID, time) is recorded in
every run's manifest and as an ``incident_posted`` trace event, and a chain whose root
manifest records a post is never posted again.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from gert.governance import Redactor
from gert.incident import IncidentError
from gert.incident.providers import make_provider
from gert.store import RunHandle, RunManifest, Store, open_store
from gert.util import iso, shorten, utc_now


@dataclass
class RunView:
    """What the summary needs of one run."""

    folder: RunHandle
    manifest: RunManifest
    captures: dict[str, str] = field(default_factory=dict)
    seal: str = ""  # chain hash of the run's last run_completed: the incident witnesses it

    @property
    def name(self) -> str:
        return self.manifest.runbook_name or self.manifest.runbook

    @property
    def state(self) -> str:
        return self.manifest.state


def chain_of(store: Store, run_id: str) -> list[RunView]:
    """The chain rooted at *run_id* (its child_runs followed), root first."""
    views = []
    seen = set()
    current: str | None = run_id
    while current and current not in seen:
        seen.add(current)
        folder = store.open(current)
        manifest = store.read_manifest(folder)
        captures: dict[str, str] = {}
        seal = ""
        for e in store.events(folder):
            if e["type"] == "step_completed":
                captures.update({k: str(v) for k, v in (e["data"].get("captures") or {}).items()})
            elif e["type"] == "run_completed":
                seal = str(e["data"].get("chain_hash", ""))
        views.append(RunView(folder, manifest, captures, seal))
        children = manifest.child_runs
        current = str(children[-1]["run_id"]) if children else None
    return views


def _steps(summary: dict[str, Any]) -> str:
    passed, failed = int(summary.get("passed", 0)), int(summary.get("failed", 0))
    skipped = int(summary.get("skipped", 0))
    text = f"{passed} step{'s' * (passed != 1)} passed"
    if failed:
        text += f", {failed} failed"
    if skipped:
        text += f", {skipped} skipped"
    return text


def final_state(views: list[RunView]) -> str:
    """The chain's final state, as `gert exec` reports it."""
    if any(v.manifest.chain_error for v in views):
        return "chain_error"
    return views[-1].state


def summary_text(views: list[RunView], incident_id: str, markdown: bool = False) -> str:
    """The single-run or chain summary (Markdown where the system renders it)."""
    bold = (lambda s: f"**{s}**") if markdown else (lambda s: s)
    nl = "  \n" if markdown else "\n"  # a Markdown line break inside one paragraph
    if len(views) == 1:
        v = views[0]
        m = v.manifest
        status = m.status
        verb = {
            "completed": "completed",
            "failed": "failed",
            "error": "failed",
            "interrupted": "interrupted",
        }.get(str(status), str(status))
        lines = [
            bold(f"[gert] Runbook execution {verb}"),
            f"Runbook: {v.name}",
            f"Run ID: {m.run_id}",
            f"Outcome: {v.state}",
            f"Steps: {m.steps_summary.get('passed', 0)} passed, {m.steps_summary.get('failed', 0)} failed",
        ]
        if v.captures:
            lines.append(
                "Captures: " + ", ".join(f"{k}={_one_line(val)}" for k, val in v.captures.items())
            )
        recommendation = m.outcome.get("recommendation")
        if recommendation:
            lines.append(f"Recommendation: {_one_line(recommendation)}")
        lines += _reference(m.outcome, "")
        if m.error:
            lines.append(f"Error: {_one_line(m.error)}")
        if m.chain_error:
            lines.append(f"Chain error: {_one_line(m.chain_error)}")
        lines += _evidence(views)
        return nl.join(lines) + "\n"
    out = [bold(f"[gert] Runbook chain completed for incident {incident_id}"), ""]
    for n, v in enumerate(views, start=1):
        m = v.manifest
        stamp = m.run_id[:15]
        entry = [f"{n}. {v.name} ({stamp})", f"   → {_steps(m.steps_summary)}"]
        outcome = f"   → Outcome: {v.state}"
        if n < len(views):
            outcome += f" → chained to {views[n].name}"
        entry.append(outcome)
        recommendation = m.outcome.get("recommendation")
        if recommendation and n == len(views):
            entry.append(f"   → Recommendation: {_one_line(recommendation)}")
        entry += _reference(m.outcome, "   → ")
        if m.error:
            entry.append(f"   → Error: {_one_line(m.error)}")
        if m.chain_error:
            entry.append(f"   → Chain error: {_one_line(m.chain_error)}")
        out.append(nl.join(entry))
        out.append("")
    total = sum(v.manifest.steps_summary.get("total", 0) for v in views)
    out.append(f"Total: {total} steps, {len(views)} runbooks, final state: {final_state(views)}")
    out.append(nl.join(_evidence(views)))
    return "\n".join(out) + "\n"


def _reference(outcome: dict[str, Any], prefix: str) -> list[str]:
    """The reference runbook an outcome links to (read, not run)."""
    ref = outcome.get("reference")
    if not isinstance(ref, dict):
        return []
    return [
        f"{prefix}See: {_one_line(str(ref.get('name', '')))} ({_one_line(str(ref.get('file', '')))})"
    ]


EVIDENCE = re.compile(r"Evidence: (\d{8}T\d{6}-[0-9a-f]{8}) sha256:([0-9a-f]{64})")


def _evidence(views: list[RunView]) -> list[str]:
    """One line per run with its sealed chain hash: the incident becomes a witness that
    ``gert trace verify --incident`` checks the evidence against."""
    return [f"Evidence: {v.manifest.run_id} sha256:{v.seal}" for v in views if v.seal]


def witnessed(texts: list[str]) -> dict[str, str]:
    """Run ID -> sealed chain hash, from the summaries posted to an incident."""
    out: dict[str, str] = {}
    for text in texts:
        for m in EVIDENCE.finditer(text):
            out[m.group(1)] = m.group(2)
    return out


# What one value may take of a post: an incident timeline is read by people.
POST_VALUE = 300


def _one_line(text: str) -> str:
    return shorten(" ".join(str(text).split()), POST_VALUE)


@dataclass
class PostResult:
    """What happened when posting a chain's summary."""

    posted: bool
    entry_id: str = ""
    error: str = ""
    skipped: str = ""  # why nothing was posted (already posted, no incident)
    attempts: int = 0


def build_entry(views: list[RunView], redact: Any = None) -> tuple[str, dict[str, Any]]:
    """(incident ID, entry) for a chain: the summary as text and Markdown, redacted."""
    root = views[0].manifest
    incident_id = root.incident_id
    entry = {
        "text": summary_text(views, incident_id),
        "markdown": summary_text(views, incident_id, markdown=True),
        "run_id": root.run_id,
        "final_state": final_state(views),
        "runs": [v.manifest.run_id for v in views],
    }
    return incident_id, redact.data(entry) if redact is not None else entry


def send(
    provider: Any, incident_id: str, entry: dict[str, Any], retries: int = 3, delay: float = 0.5
) -> PostResult:
    """Post one entry, retrying what may pass; never raises."""
    result = PostResult(False)
    for attempt in range(1, retries + 1):
        result.attempts = attempt
        try:
            answer = provider.post(incident_id, entry)
            result.posted, result.entry_id, result.error = True, str(answer.get("id", "")), ""
            break
        except IncidentError as e:
            result.error = str(e)
            if e.final:
                break
            wait = getattr(e, "retry_after", None)  # the server said when to come back
        except Exception as e:  # a provider bug must not cost the run its evidence
            result.error = f"{type(e).__name__}: {e}"
            wait = None
        if attempt < retries:
            time.sleep(min(wait if wait is not None else delay * attempt, 30.0))
    return result


def post_record(provider_name: str, result: PostResult) -> dict[str, Any]:
    """What a manifest's ``posted`` field and the ``incident_posted`` event say."""
    record: dict[str, Any] = {
        "provider": provider_name,
        "at": iso(utc_now()),
        "attempts": result.attempts,
    }
    record.update({"entry_id": result.entry_id} if result.posted else {"error": result.error})
    return record


def already_posted(views: list[RunView]) -> str:
    """The entry ID of an earlier post of this chain, or ``""``."""
    return str(views[0].manifest.posted.get("entry_id", ""))


def post_chain(
    store: Store,
    root_run_id: str,
    provider: Any,
    *,
    retries: int = 3,
    redact: Any = None,
    delay: float = 0.5,
) -> PostResult:
    """Post the summary of a finished chain (gert incident post), once; record it in every run."""
    views = chain_of(store, root_run_id)
    incident_id, entry = build_entry(views, redact)
    if not incident_id:
        return PostResult(False, skipped="the run has no incident")
    if already_posted(views):
        return PostResult(False, entry_id=already_posted(views), skipped="already posted")
    result = send(provider, incident_id, entry, retries, delay)
    record = post_record(provider.name, result)
    for v in views:
        trace = store.trace(v.folder)
        trace.emit("incident_posted", {"incident_id": incident_id, **record}, sync=True)
        trace.close()
        v.manifest.posted = record
        v.manifest.trace = {"events": trace.seq, "head": trace.head}
        store.save(v.folder, v.manifest.to_dict())
    return result


def post_run(project: Any, run_id: str) -> PostResult:
    """Post the summary of the chain rooted at *run_id* to its incident (``gert incident
    post``), with the provider and redaction gert.yaml names; once, like :func:`post_chain`."""
    store = open_store(project)
    try:
        return post_chain(
            store,
            run_id,
            make_provider(project),
            redact=Redactor.from_config(project.config.redact),
        )
    finally:
        store.close()
