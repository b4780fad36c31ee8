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
    from gert.overview import answer_problems, run_view

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
    wrong = answer_problems(waiting, given)
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
