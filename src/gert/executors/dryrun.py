"""Dry-run: every step rendered and shown, nothing executed."""

from __future__ import annotations

from typing import Any

from gert.executors import StepContext, StepOutput
from gert.executors.modes import Executors

PLACEHOLDER = "<dry-run>"  # every capture's value in a dry-run


class DryRunExecutors(Executors):
    """Renders each step through its real executor and returns what would run."""

    mode = "dry-run"
    executes = False  # no step records, no assertions
    asks_approval = False  # a dry-run never counts as approval

    def execute(self, ctx: StepContext) -> StepOutput:
        """What the step would run; manual steps show their instructions."""
        if ctx.step.type == "manual":
            self.executor("manual")  # an unknown kind still fails as in a real run
            out = StepOutput(
                request={"dry_run": True, "instructions": ctx.rendered.get("instructions", "")}
            )
            choices = ctx.step.choices
            given = ctx.answers.get("choice")
            values = [o.value for o in choices.options] if choices else []
            if choices and given is not None and str(given) in values:
                out.choice = str(given)
                out.request["choice"] = f"{out.choice} (from the answers)"
            elif choices:  # the walk goes on as if the first option were chosen, and says so
                out.choice = choices.options[0].value
                out.request["choice"] = f"{out.choice} (a dry-run takes the first option)"
            return out
        return StepOutput(
            request={"dry_run": True, **{k: v for k, v in ctx.rendered.items() if v is not None}}
        )

    def precondition(self, precondition: Any, argv: list[str], ctx: StepContext) -> str | None:
        """Preconditions are not run: the step is shown."""
        return None

    def take_captures(self, step: Any, output: StepOutput) -> dict[str, str]:
        """Every capture is ``<dry-run>``, nothing parsed (there is no output); a manual
        choice is the option taken."""
        values = {name: PLACEHOLDER for name in step.capture}
        if getattr(step, "choices", None) and output.choice is not None:
            values[step.choices.variable] = output.choice
        return values
