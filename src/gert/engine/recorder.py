"""The evidence of one run: its trace, step records and manifest, all redacted on the way in."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from gert.governance import Redactor
from gert.store import RunHandle, RunManifest, Store
from gert.store.trace import manifest_digest

Observer = Callable[[str, dict[str, Any]], None]


class RunRecorder:
    """Writes one run's evidence to a store: trace events (hash-chained), step records and
    the manifest. Everything passes the run's redactor first; observers see what was
    written, never more."""

    def __init__(
        self,
        store: Store,
        run: RunHandle,
        redactor: Redactor,
        *,
        key: bytes | None,
        durable: bool,
        observer: Observer | None,
        runbook_name: str,
    ):
        self.store = store
        self.run = run
        self.run_id = run.run_id
        self.redactor = redactor
        self.durable = durable  # fsync evidence (not for dry-runs and gert test's replays)
        self.observer = observer
        self.runbook_name = runbook_name
        # A trace nobody keeps needs no redaction.
        self.trace = store.trace(run, key, redactor if store.keeps else None, durable)
        self.saved_at = 0.0  # monotonic time of the last manifest write

    def emit(self, type_: str, data: dict[str, Any], sync: bool = False) -> dict[str, Any]:
        """Append an event to the trace and tell the observer."""
        event = self.trace.emit(type_, data, sync=sync)
        if self.observer:
            try:
                self.observer(
                    type_, {**event["data"], "run_id": self.run_id, "runbook": self.runbook_name}
                )
            except Exception:  # a display that breaks never changes the run: stop showing
                self.observer = None
        return event

    def output_watcher(self, step_id: str) -> Callable[[str], None] | None:
        """What a step's command tells each line it prints as it runs (StepContext.on_output):
        the line goes, redacted, to the observer as a ``step_output`` event, from the
        thread that read it. Not a trace event: the step record keeps the output. None
        without an observer."""
        if self.observer is None:
            return None

        def watch(line: str) -> None:
            observer = self.observer
            if observer is None:
                return
            try:
                observer(
                    "step_output",
                    {
                        "step_id": step_id,
                        "line": self.redactor.text(line),
                        "run_id": self.run_id,
                        "runbook": self.runbook_name,
                    },
                )
            except Exception:  # a display that breaks never changes the run: stop showing
                self.observer = None

        return watch

    def write_step(self, number: int, step_id: str, payload: dict[str, Any]) -> tuple[str, str]:
        """Record what a step saw (redacted); returns the record's name and SHA-256 (the
        trace seals it, so an edited or deleted step record shows)."""
        if not self.store.keeps:  # gert test: nothing is kept, so nothing to redact
            return self.store.write_step(self.run, number, step_id, payload, False), ""
        name = self.store.write_step(
            self.run, number, step_id, self.redactor.data(payload), self.durable
        )
        return name, self.store.step_sha256(self.run, name) or ""

    def manifest_digest(self, manifest: RunManifest) -> str:
        """SHA-256 of the manifest's sealed fields, as the manifest will be written."""
        return manifest_digest(self.redactor.data(manifest.to_dict()))

    @property
    def trace_info(self) -> dict[str, Any]:
        """The trace's length and head, for the manifest."""
        return {"events": self.trace.seq, "head": self.trace.head}

    def save(self, manifest: RunManifest, index: bool = True) -> None:
        """Rewrite the manifest (redacted); ``index=False`` after a step (the index row
        changes only at start, end and chaining)."""
        if not self.store.keeps:  # gert test: no manifest to build or write
            return
        data = self.redactor.data(manifest.to_dict())
        self.store.save(self.run, data, sync=self.durable, index=index)
        self.saved_at = time.monotonic()

    def close(self) -> None:
        """Close the trace (it reopens on the next event)."""
        self.trace.close()
