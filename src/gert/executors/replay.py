"""Replay: every step's response from a recorded scenario, never live."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Protocol

from gert.errors import InvalidError
from gert.executors import Executor, Prompter, StepContext, StepError, StepOutput
from gert.executors.modes import Executors
from gert.util import iso, parse_iso, shift_timestamps


class Recording(Protocol):
    """The responses of one run of a scenario: a recorded run folder
    (:class:`gert.scenario.RunRecording`) or a hand-written scenario
    (:class:`gert.scenario.HandwrittenRecording`)."""

    runbook: str  # the runbook recorded at this chain position ('' for any)
    steps: dict[tuple[str, int], dict[str, Any]]  # (step ID, occurrence) -> step record
    skipped: dict[tuple[str, int], str]  # steps a precondition skipped, with the reason
    answers: dict[str, dict[str, Any]]  # the manual steps' answers

    def response(
        self,
        step_id: str,
        occurrence: int,
        attempt: int,
        offset: dt.timedelta,
        rendered: dict[str, Any] | None = None,
    ) -> StepOutput:
        """The recorded output of one attempt; raises an InvalidError when there is none."""
        ...


class ReplayExecutors(Executors):
    """Answers each step from the recording of one chain position; fails closed."""

    mode = "replay"
    asks_approval = False  # the recording holds what was approved

    def __init__(
        self,
        by_kind: Mapping[str, Executor],
        recording: Recording | None,
        position: int,
        runbook: str,
        offset: dt.timedelta,
    ):
        super().__init__(by_kind)
        self.recording = recording  # None past the recorded chain's end
        self.position = position
        self.runbook = runbook
        self.offset = offset

    def execute(self, ctx: StepContext) -> StepOutput:
        """The recorded response of this step's occurrence and attempt."""
        rec = self.recording
        if rec is None:
            raise StepError(
                f"the scenario has no run at chain position {self.position}; replay never runs a step live"
            )
        if rec.runbook and rec.runbook != self.runbook:
            raise StepError(
                f"the scenario recorded '{rec.runbook}' at chain position {self.position}, "
                f"but replay is running '{self.runbook}'"
            )
        try:
            return rec.response(ctx.step_id, ctx.occurrence, ctx.attempt, self.offset, ctx.rendered)
        except InvalidError as e:  # the scenario's ScenarioError: nothing recorded
            if ctx.step.type == "manual" and rec.answers.get(ctx.step_id) is not None:
                # A hand-written scenario answers manual steps through its evidence map.
                return super().execute(ctx)
            raise StepError(str(e)) from None

    def precondition(self, precondition: Any, argv: list[str], ctx: StepContext) -> str | None:
        """Whether the recording skipped the step."""
        if self.recording is None:
            return None
        return self.recording.skipped.get((ctx.step_id, ctx.occurrence))

    def recorded_skip(self, step_id: str, occurrence: int) -> str | None:
        """Why the recording skipped this step (skipped when its run was resumed)."""
        if self.recording is None:
            return None
        return self.recording.skipped.get((step_id, occurrence))

    def answers(self, given: dict[str, Any]) -> dict[str, Any]:
        """The recording's answers, not the command line's."""
        return self.recording.answers if self.recording else {}

    def prompter(self, given: Prompter | None) -> Prompter | None:
        """Nobody is asked during a replay."""
        return None

    def step_times(
        self, step_id: str, occurrence: int, started: dt.datetime, ended: dt.datetime
    ) -> tuple[dt.datetime, dt.datetime]:
        """The recorded times, shifted by the rebase offset."""
        if self.recording is None or (step_id, occurrence) not in self.recording.steps:
            return started, ended
        rec = self.recording.steps[(step_id, occurrence)]
        return (
            parse_iso(shift_timestamps(rec.get("started_at") or iso(started), self.offset)),
            parse_iso(shift_timestamps(rec.get("ended_at") or iso(ended), self.offset)),
        )
