"""What a run and a chain produced (the results surfaces render), and how to run them."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gert.executors import Prompter


@dataclass
class StepRecord:
    """How one step went, for results, summaries and tests."""

    step_id: str
    status: str  # passed | failed | skipped
    captures: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    step_file: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """ID, status and the error when there is one."""
        return {
            "step_id": self.step_id,
            "status": self.status,
            **({"error": self.error} if self.error else {}),
        }


@dataclass
class RunResult:
    """One run of one runbook."""

    run_id: str
    runbook: str  # meta.name
    path: Path
    folder: Path
    status: str = "running"  # completed | failed | error | interrupted
    outcome: dict[str, Any] | None = None
    captures: dict[str, str] = field(default_factory=dict)
    steps: list[StepRecord] = field(default_factory=list)
    error: str | None = None
    chain_error: str | None = None
    parent_run_id: str = ""
    outcome_index: tuple[str, int] | None = None  # (step ID, index in its outcomes) reached
    started_at: str = ""
    ended_at: str = ""

    @property
    def summary(self) -> dict[str, int]:
        """steps_summary: total, passed, failed, skipped."""
        counts = {"passed": 0, "failed": 0, "skipped": 0}
        for s in self.steps:
            counts[s.status] = counts.get(s.status, 0) + 1
        return {"total": sum(counts.values()), **counts}

    def to_dict(self, root: Path | None = None) -> dict[str, Any]:
        """The run as plain data; its folder relative to *root* when inside it."""
        folder: Any = self.folder
        if root is not None:
            folder = os.path.relpath(folder.resolve(), root)
        return {
            "run_id": self.run_id,
            "runbook": self.runbook,
            "status": self.status,
            "outcome": self.outcome,
            "captures": self.captures,
            "steps_summary": self.summary,
            "error": self.error,
            "folder": str(folder),
            "steps": [s.to_dict() for s in self.steps],
        }

    @property
    def state(self) -> str:
        """The outcome state, else ``completed``, else the status."""
        if self.outcome:
            return str(self.outcome["state"])
        return self.status


@dataclass
class ChainResult:
    """Every run of a chain, root first."""

    runs: list[RunResult] = field(default_factory=list)
    scenario: str | None = None  # where the chain was saved as a scenario
    posted: dict[str, Any] = field(
        default_factory=dict
    )  # the incident post (provider, entry_id or error)
    scenario_error: str | None = None
    handoff_run: str = ""  # Options.one_run: the run whose hand-off is left to start

    @property
    def final(self) -> RunResult:
        return self.runs[-1]

    @property
    def chain_error(self) -> str | None:
        return next((r.chain_error for r in self.runs if r.chain_error), None)

    @property
    def final_state(self) -> str:
        """The chain's outcome: the last run's state, or ``chain_error``."""
        return "chain_error" if self.chain_error else self.final.state

    def to_dict(self, root: Path | None = None) -> dict[str, Any]:
        """The chain as plain data (``gert exec --json``); folders relative to *root*."""
        return {
            "final_state": self.final_state,
            "exit_code": self.exit_code,
            "chain_error": self.chain_error,
            "scenario": self.scenario,
            "posted": self.posted,
            "runs": [r.to_dict(root) for r in self.runs],
        }

    @property
    def exit_code(self) -> int:
        """0 ended (outcome or completed), 1 failed/errored, 3 chain error, 4 waiting for
        an answer, 130 interrupted."""
        if any(r.status == "interrupted" for r in self.runs):
            return 130
        if any(r.status in ("failed", "error") for r in self.runs):
            return 1
        if self.chain_error:
            return 3
        if any(r.status == "waiting" for r in self.runs):
            return 4
        return 0


@dataclass
class Options:
    """How to run: mode, incident, variables, answers, and who is running."""

    mode: str = "real"
    incident_id: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    actor: str = field(default_factory=lambda: default_actor())
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers_file: str | None = None  # where *answers* came from (kept for gert resume)
    max_chain_depth: int | None = None
    prompter: Prompter | None = None
    observer: Callable[[str, dict[str, Any]], None] | None = None
    hmac_key: bytes | None = None
    record: bool = True  # save a real chain as a scenario (unless gert.yaml says record: off)
    scenario: Any = None  # gert.scenario.Scenario to replay from (mode replay)
    rebase_to: Any = None  # datetime: shift recorded timestamps so the root starts here
    ephemeral: bool = False  # evidence nobody keeps (gert test): written, never fsynced
    post: bool = True  # post the chain's summary to the incident (unless gert.yaml says post: off)
    trigger: dict[str, Any] | None = None  # what started the chain (gert triage: the signature)
    # gert resume, for a step that was running when the run stopped (see engine.recovery):
    retry_steps: tuple[str, ...] = ()  # run these again
    skip_steps: tuple[str, ...] = ()  # go on without these
    in_flight: str | None = None  # "wait" for its processes, or "kill" them
    accept_changed_runbook: bool = False  # go on with a runbook edited since the run began
    # Set (a threading.Event), the run stops before its next step, as interrupted with
    # this event's reason: how a server parks its runs when it stops.
    stop: Any = None
    stop_reason: str = "the server stopped"
    # Who acts now, when not who started the run (gert resume keeps the starter as the
    # run's actor): recorded on what they do, such as a manual step's answers.
    acting: str = ""
    # A queued chain (gert worker): the root run's ID, given when it was queued; and
    # stop at a hand-off, leaving it pending, so the next runbook is a task of its own.
    run_id: str | None = None
    one_run: bool = False
    # gert answer --abort: end a stopped run here, as failed with this reason, running
    # nothing more (recorded, sealed and posted like any end).
    abort: str = ""


def default_actor() -> str:
    """The OS user running gert."""
    try:
        return getpass.getuser()
    except Exception:  # no user database entry (containers)
        return os.environ.get("USER", "unknown")
