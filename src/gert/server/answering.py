"""Answering a waiting run, from a form or the API: the first answer wins."""

from __future__ import annotations

import contextlib
from concurrent.futures import TimeoutError as Pending
from typing import Any

from gert.server.auth import Caller


class NotAnswered(Exception):
    """Why an answer was not taken (the step is not waiting, the caller may not)."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


def submit(server: Any, who: Caller, run_id: str, step_id: str, given: dict[str, Any]) -> None:
    """Resume *run_id* with *given* as the answers of its waiting step *step_id*; raises
    NotAnswered when it is not waiting there any more, or when *who* may not answer."""
    from gert.overview import run_view

    if not who.may("operator"):
        raise NotAnswered(f"{who.name} is a {who.role}; answering needs an operator", 403)
    view = run_view(server.project, run_id, server.key)
    waiting = view.waiting
    if not waiting:
        status = view.manifest.get("status", "")
        raise NotAnswered(f"run {run_id} is {status}: no step of it waits for an answer")
    if waiting["step_id"] != step_id:
        raise NotAnswered(
            f"run {run_id} waits at step '{waiting['step_id']}', not '{step_id}'"
            if step_id
            else f"run {run_id} waits at step '{waiting['step_id']}': name it as step_id"
        )
    if not waiting.get("answerable"):
        raise NotAnswered(f"answer step '{step_id}' with gert resume {run_id} --evidence FILE")
    wrong = problems(waiting, given)
    if wrong:  # said now, while the run still waits: the engine would fail the step
        raise NotAnswered("; ".join(wrong), 422)
    if waiting.get("approvals", 0) > 1:
        raise NotAnswered(
            f"step '{step_id}' needs {waiting['approvals']} approvals, given together: "
            f"gert resume {run_id} --evidence FILE ({step_id}: {{approved_by: [names]}})"
        )
    if waiting.get("approvals"):
        if not who.may("approver"):
            raise NotAnswered(f"{who.name} is a {who.role}; approving needs an approver", 403)
        given = {**given, "approved_by": [who.name]}  # as themselves, never a typed name
    future = server.launcher.resume(run_id, answers={step_id: given}, actor=who.actor)
    try:
        with contextlib.suppress(Pending):  # still running after a while: it was taken
            future.result(timeout=5)
    except Exception as e:  # refused: answered already, or running elsewhere
        raise NotAnswered(server.redactor.text(str(e))) from None


def problems(waiting: dict[str, Any], given: dict[str, Any]) -> list[str]:
    """What is wrong with answers for a waiting step, each naming its field: evidence
    missing or not of its kind, a checklist item or choice or outcome the step does not
    offer, a field the step does not ask for."""
    out = []
    asked = {ev["name"]: ev for ev in waiting.get("evidence") or []}
    for name, ev in asked.items():
        value = given.get(name)
        if ev["kind"] == "checklist":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                out.append(f"{name}: a list of the ticked items, of: {', '.join(ev['items'])}")
            else:
                unknown = [v for v in value if v not in ev["items"]]
                if unknown:
                    out.append(f"{name}: no item {unknown[0]!r}; items: {', '.join(ev['items'])}")
        elif not isinstance(value, str) or not value.strip():
            what = "a file (path inside the project)" if ev["kind"] == "attachment" else "text"
            out.append(f"{name}: {what} is required")
    choices = waiting.get("choices")
    if choices:
        values = [o["value"] for o in choices["options"]]
        if given.get("choice") not in values:
            out.append(f"choice: one of {', '.join(values)}")
    outcomes = waiting.get("outcomes") or []
    if outcomes and given.get("outcome") not in outcomes:
        out.append(f"outcome: one of {', '.join(outcomes)}")
    known = {*asked, "choice", "outcome", "approved_by"}
    out += [
        f"{k}: step '{waiting['step_id']}' asks for no such answer" for k in given if k not in known
    ]
    return out
