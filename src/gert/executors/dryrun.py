"""Dry-run: every step rendered and shown, nothing executed (DESIGN §5 modes)."""

from __future__ import annotations

from typing import Any

from gert.executors import StepContext, StepOutput
from gert.executors.modes import Executors


class DryRunExecutors(Executors):
    """Renders each step through its real executor and returns what would run."""

    mode = "dry-run"
    executes = False  # no step records, no assertions
    asks_approval = False  # a dry-run never counts as approval

    def execute(self, ctx: StepContext) -> StepOutput:
        """What the step would run; manual steps show their instructions."""
        if ctx.step.type == "manual":
            self.executor("manual")  # an unknown kind still fails as in a real run
            return StepOutput(
                request={"dry_run": True, "instructions": ctx.rendered.get("instructions", "")}
            )
        return StepOutput(
            request={"dry_run": True, **{k: v for k, v in ctx.rendered.items() if v is not None}}
        )

    def precondition(self, precondition: Any, argv: list[str], ctx: StepContext) -> str | None:
        """Preconditions are not run: the step is shown."""
        return None

    def captures(self, captures: dict[str, str]) -> dict[str, str]:
        """Every capture is ``<dry-run>``."""
        return {k: "<dry-run>" for k in captures}
