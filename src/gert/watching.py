"""Following a chain that runs elsewhere (a worker, a server) from its evidence in the
store: the trace events of each of its runs, in order, as they are recorded, until the
chain ends, waits for a person, or parks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from gert.errors import NotFound

POLL_SECONDS = 0.25


@dataclass
class Seen:
    """What following a chain produced: an event of one of its runs, or its end."""

    kind: str  # event | queued | end
    type: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    # at the end: the chain's runs as (run ID, runbook, state, status), and how it ended
    runs: list[tuple[str, str, str, str]] = field(default_factory=list)
    ended: str = ""  # ended | failed | chain_error | waiting | interrupted | parked | timeout
    note: str = ""  # why it parked, or the last run's error


def _work(store: Any, run_id: str) -> Any:
    """The work row of *run_id* (None: no queue, a store of files, or no row)."""
    from gert.queue import item

    return item(store, run_id) if hasattr(store, "_fetch") else None


def _parked(store: Any, run_ids: list[str]) -> Any:
    """The parked work row of one of the chain's runs (a hand-off's work is queued under
    the run that hands off), or None."""
    rows = (_work(store, run_id) for run_id in run_ids)
    return next((w for w in rows if w is not None and w.state == "parked"), None)


def watch(store: Any, run_id: str, timeout: float | None = None) -> Iterator[Seen]:
    """Yield the chain's events from *run_id* on as they are recorded, then its end."""
    deadline = None if timeout is None else time.monotonic() + timeout
    current, seq, said_queued = run_id, 0, False
    chain: list[tuple[str, str, str, str]] = []

    def expired() -> bool:
        return deadline is not None and time.monotonic() > deadline

    while True:
        try:
            run = store.open(current)
        except NotFound:
            work = _work(store, current)
            if work is None:
                raise
            if work.state == "parked":
                yield Seen("end", runs=chain, ended="parked", note=work.note)
                return
            if not said_queued:
                said_queued = True
                yield Seen("queued", data={"run_id": current, "state": work.state})
            if expired():
                yield Seen("end", runs=chain, ended="timeout")
                return
            time.sleep(POLL_SECONDS)
            continue
        # The manifest before the events: when it says the run ended, the events read
        # after it hold everything up to that end.
        m = store.read_manifest(run)
        for event in store.events(run)[seq:]:
            seq += 1
            data = {**(event.get("data") or {}), "run_id": current, "runbook": m.runbook_name}
            yield Seen("event", event.get("type", ""), data)
        work = _parked(store, [*(r[0] for r in chain), current]) or _work(store, current)
        if work is not None and work.state == "parked" and m.status in ("running", "interrupted"):
            chain.append((current, m.runbook_name, m.state, m.status))
            yield Seen("end", runs=chain, ended="parked", note=work.note)
            return
        if m.status in ("completed", "failed", "error"):
            if m.child_runs:
                chain.append((current, m.runbook_name, m.state, m.status))
                current, seq = str(m.child_runs[-1].get("run_id", "")), 0
                continue
            if not m.handoff_pending:
                chain.append((current, m.runbook_name, m.state, m.status))
                ended = "chain_error" if m.chain_error else m.status
                yield Seen(
                    "end",
                    runs=chain,
                    ended="ended" if ended == "completed" else ended,
                    note=m.chain_error or m.error,
                )
                return
        elif m.status == "waiting" and (work is None or work.state in ("done", "parked")):
            # (queued or taken: an answer is on its way to a worker, the wait goes on)
            chain.append((current, m.runbook_name, m.state, m.status))
            yield Seen("end", runs=chain, ended="waiting")
            return
        elif m.status == "interrupted" and (work is None or work.state in ("done", "parked")):
            chain.append((current, m.runbook_name, m.state, m.status))
            yield Seen("end", runs=chain, ended="interrupted")
            return
        if expired():
            yield Seen("end", runs=chain, ended="timeout")
            return
        time.sleep(POLL_SECONDS)
