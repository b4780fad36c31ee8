"""The executors of one run as a real run uses them; dry-run and replay derive from it."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gert.capture import take_captures
from gert.executors import Executor, Prompter, StepContext, StepError, StepOutput
from gert.executors.cli import run_command
from gert.executors.sandbox import command as sandbox_command
from gert.executors.sandbox import step_sandbox


class Executors:
    """The executors of one run, by step kind, as a real run uses them: steps execute.

    Dry-run and replay (:mod:`gert.executors.dryrun`, :mod:`gert.executors.replay`) wrap
    the same executors; the engine picks one set per run and never asks which mode it is.
    """

    mode = "real"
    executes = True  # steps really ran: step records are written and assertions checked
    asks_approval = True  # approvals are collected (never in a dry-run or a replay)

    def __init__(self, by_kind: Mapping[str, Executor]):
        self.by_kind = by_kind

    def executor(self, kind: str) -> Executor:
        """The executor of a step kind."""
        found = self.by_kind.get(kind)
        if found is None:
            raise StepError(f"no executor for {kind} steps")
        return found

    def render(self, step: Any, values: Mapping[str, str], project_root: Path) -> dict[str, Any]:
        """The step's fields rendered by its kind's executor."""
        return self.executor(step.type).render(step, values, project_root)

    def execute(self, ctx: StepContext) -> StepOutput:
        """Execute the step through its kind's executor."""
        return self.executor(ctx.step.type).execute(ctx)

    def precondition(self, precondition: Any, argv: list[str], ctx: StepContext) -> str | None:
        """Run a precondition check; the reason to skip the step, or None to run it.

        A cli step's check runs in the step's sandbox; when that cannot be made, the check
        does not run and neither is the step skipped: the step fails saying why.
        """
        env, root, command = dict(ctx.env), ctx.project_root, argv
        try:
            sandbox = step_sandbox(ctx.step.with_.sandbox, root) if ctx.step.type == "cli" else None
            if sandbox is not None:
                command, _ = sandbox_command(
                    argv, sandbox, project_root=root, cwd=root, path=env.get("PATH", os.defpath)
                )
        except StepError:
            return None
        out = run_command(command, env=env, cwd=root, timeout=ctx.timeout)
        ok = out.exit_code == 0 and out.error is None
        if ok == precondition.skip_if_succeeds:
            state = "succeeded" if ok else "failed"
            return precondition.message or f"precondition {state}: {' '.join(argv)}"
        return None

    def recorded_skip(self, step_id: str, occurrence: int) -> str | None:
        """Why a recording skipped this step (a replay), else None."""
        return None

    def answers(self, given: dict[str, Any]) -> dict[str, Any]:
        """The answers manual steps get (the --evidence file's)."""
        return given

    def prompter(self, given: Prompter | None) -> Prompter | None:
        """Who manual steps may ask."""
        return given

    def take_captures(self, step: Any, output: StepOutput) -> dict[str, str]:
        """The captures a step's output gives."""
        return take_captures(step, output)

    def step_times(
        self, step_id: str, occurrence: int, started: dt.datetime, ended: dt.datetime
    ) -> tuple[dt.datetime, dt.datetime]:
        """When the step started and ended."""
        return started, ended

    def close(self) -> None:
        """Stop long-lived tool processes."""
        for ex in self.by_kind.values():
            close = getattr(ex, "close", None)
            if close:
                close()
