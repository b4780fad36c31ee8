"""What ``gert resume`` does about a step that was running when its run stopped.

Such a step may have done part of its work, or all of it, or be running still (its
processes outlive a ``kill -9`` of gert). Before anything is written, resume works out:

- its processes: found by their ``GERT_STEP`` mark (:mod:`gert.executors.processes`);
  they are waited for or killed, as the operator says (``--in-flight wait|kill``);
- whether to run it again: only when the trace recorded, as it started, that running it
  twice is harmless (marked ``idempotent``, a read-only query or tool action, an HTTP GET,
  a manual step); otherwise the operator decides (``--retry-step`` / ``--skip-step``, or a
  prompt at a terminal). Without a decision, resume refuses and says how to give one.

The plan becomes ``step_recovered`` events in the trace, so the evidence says what was
re-run or skipped, and why.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gert.engine.results import Options
from gert.errors import InvalidError
from gert.executors.processes import StepProcess, find_marked

IN_FLIGHT_ACTIONS = ("wait", "kill")
Key = tuple[str, int]


class ResumeRefused(InvalidError):
    """A run that cannot be resumed (it finished, it does not exist, or it needs a decision)."""


def read_journal(
    events: Iterable[dict[str, Any]],
) -> tuple[dict[Key, dict[str, Any]], dict[Key, dict[str, Any]]]:
    """The completed steps of a trace, and the steps started but never ended (by step ID
    and occurrence; invoke steps, which only walk other steps, are left out)."""
    completed: dict[Key, dict[str, Any]] = {}
    started: dict[Key, dict[str, Any]] = {}
    for e in events:
        d = e.get("data") or {}
        kind = e.get("type")
        if kind not in ("step_started", "step_completed", "step_skipped"):
            continue
        key = (str(d.get("step_id")), int(d.get("occurrence") or 1))
        if kind == "step_started":
            if d.get("type") != "invoke":
                started[key] = d
        else:
            started.pop(key, None)
            if kind == "step_completed":
                completed[key] = d
    return completed, started


def needs_evidence(completed: dict[str, Any]) -> bool:
    """A step that failed only because nobody could give its evidence (a manual step run
    without a terminal or an answer): resumable with ``--evidence FILE``."""
    return completed.get("status") == "failed" and "in --evidence FILE" in str(
        completed.get("error") or ""
    )


def plan(run_id: str, in_flight: dict[Key, dict[str, Any]], options: Options) -> dict[Key, dict]:
    """What to do about each step that was running: a ``step_recovered`` event's data per
    step. Raises ResumeRefused when a decision is needed and nobody can give it."""
    stopped = {sid for sid, _ in in_flight}
    named = sorted((set(options.retry_steps) | set(options.skip_steps)) - stopped)
    if named:
        running = ", ".join(sorted(stopped)) or "none"
        raise ResumeRefused(
            f"run {run_id}: {', '.join(named)} was not running when the run stopped "
            f"(--retry-step and --skip-step name a step that was; here: {running})"
        )
    live = find_marked(f"{run_id}/")
    action = _process_action(run_id, live, in_flight, options)
    recovered: dict[Key, dict[str, Any]] = {}
    for (sid, occurrence), started in in_flight.items():
        decision, reason = _decide(run_id, sid, started, options)
        mark_suffix = f"/{sid}#{occurrence}"
        recovered[(sid, occurrence)] = {
            "step_id": sid,
            "occurrence": occurrence,
            "decision": decision,
            "reason": reason,
            "processes": [p.to_dict() for p in live if p.mark.endswith(mark_suffix)],
            "processes_action": action,
        }
    # Processes of steps that ended (gert was killed before it could end them) go the same
    # way as the rest: nothing of the run is left running behind the resumed one.
    stray = [p for p in live if not any(p.mark.endswith(f"/{s}#{o}") for s, o in in_flight)]
    if stray:
        recovered[("", 0)] = {
            "step_id": "",
            "occurrence": 0,
            "decision": "none",
            "reason": "processes of a step that had ended",
            "processes": [p.to_dict() for p in stray],
            "processes_action": action,
        }
    return recovered


def _process_action(
    run_id: str, live: list[StepProcess], in_flight: dict[Key, Any], options: Options
) -> str:
    if not live:
        return ""
    if options.in_flight in IN_FLIGHT_ACTIONS:
        return options.in_flight
    listing = ", ".join(f"pid {p.pid}: {p.command}" for p in live[:5])
    listing += f" and {len(live) - 5} more" if len(live) > 5 else ""
    if options.prompter is not None:
        return options.prompter.ask_choice(
            f"processes of run {run_id} still run ({listing}): wait for them, or kill them?",
            [("wait", "wait for them to end"), ("kill", "kill them now")],
        )
    steps = ", ".join(f"'{sid}'" for sid, _ in in_flight) or "a step"
    raise ResumeRefused(
        f"run {run_id}: {steps} was running when the run stopped, and its processes still "
        f"run ({listing}); resume with --in-flight wait to let them end first, or "
        "--in-flight kill to stop them"
    )


def _decide(run_id: str, sid: str, started: dict[str, Any], options: Options) -> tuple[str, str]:
    """("retry" | "skip", why) for a step that was running when the run stopped."""
    if started.get("repeatable"):
        if (
            started.get("type") == "manual"
            and options.prompter is None
            and sid not in options.answers
        ):
            raise ResumeRefused(
                f"run {run_id}: manual step '{sid}' was waiting for the engineer when the "
                "run stopped; nobody can be asked here: resume at a terminal, or give its "
                f"answers with --evidence FILE (under '{sid}:')"
            )
        return "retry", f"run again: {started['repeatable']}"
    if sid in options.retry_steps:
        return "retry", f"run again: --retry-step by {options.actor}"
    if sid in options.skip_steps:
        return "skip", (
            f"skipped on resume by {options.actor}: it was running when the run stopped "
            "and may have done its work"
        )
    question = (
        f"step '{sid}' was running when the run stopped and may have changed something "
        "already; run it again, or skip it?"
    )
    if options.prompter is not None:
        choice = options.prompter.ask_choice(
            question, [("retry", "run it again"), ("skip", "skip it (its captures stay unset)")]
        )
        if choice == "skip":
            return "skip", f"skipped on resume by {options.actor}: it may have done its work"
        return "retry", f"run again: chosen by {options.actor}"
    raise ResumeRefused(
        f"run {run_id}: step '{sid}' was running when the run stopped and may have changed "
        "something already (it is not marked idempotent or read-only); resume with "
        f"--retry-step {sid} to run it again, or --skip-step {sid} to go on without it "
        "(its captures stay unset)"
    )
