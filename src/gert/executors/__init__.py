"""Step executors: one module per step kind behind one small interface.

The engine renders a step's templated fields, checks governance, and hands the result to
an executor as a :class:`StepContext`; the executor does the work and returns a
:class:`StepOutput`. Executors never decide pass or fail: captures, assertions and
outcomes are the engine's. Dry-run and replay wrap the same executors (:class:`gert.executors.modes.Executors`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from gert.errors import GertError

MAX_OUTPUT = 16 * 1024 * 1024  # bytes of stdout/stderr kept per stream; the rest is counted


@dataclass
class StepOutput:
    """What a step produced: the raw material of captures, assertions and evidence."""

    request: dict[str, Any] = field(default_factory=dict)  # what was executed, rendered
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    status_code: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    data: Any = None  # parsed JSON: a tool's envelope, an HTTP body, a command's JSON output
    has_data: bool = False
    error: str | None = None  # could not start, timed out, crashed, protocol error
    timed_out: bool = False
    evidence: dict[str, Any] = field(default_factory=dict)
    choice: str | None = None
    chosen_outcome: str | None = None
    approved_by: list[str] = field(default_factory=list)
    truncated: dict[str, int] = field(default_factory=dict)  # stream -> bytes dropped
    # Captures a canned response gives as they are (a scenario's tool_responses): the
    # step's capture sources are not applied. Never set by a real call.
    given_captures: dict[str, str] | None = None
    started_at: str = ""
    ended_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The step file's view of this output (empty fields left out)."""
        out: dict[str, Any] = {"request": self.request}
        for name in RECORDED_FIELDS[1:]:
            value = getattr(self, name)
            # 0 is an exit code worth keeping; only absent or empty values are left out
            if (
                value is None
                or value is False
                or (isinstance(value, str | dict | list) and not value)
            ):
                continue
            out[name] = value
        if self.has_data:
            out["data"] = self.data
        return out

    @classmethod
    def from_dict(cls, recorded: dict[str, Any]) -> StepOutput:
        """The output a step file recorded (the inverse of :meth:`to_dict`)."""
        out = cls(**{k: recorded[k] for k in RECORDED_FIELDS if k in recorded})
        if "data" in recorded:
            out.data, out.has_data = recorded["data"], True
        return out


# What a step file keeps of a StepOutput (besides ``data``), in order.
RECORDED_FIELDS = (
    "request",
    "stdout",
    "stderr",
    "exit_code",
    "status_code",
    "headers",
    "body",
    "error",
    "timed_out",
    "evidence",
    "choice",
    "chosen_outcome",
    "approved_by",
    "truncated",
)


class Prompter(Protocol):
    """How a surface asks the engineer (a terminal, a web form); absent when unattended."""

    def show(self, title: str, markdown: str) -> None: ...
    def ask_text(self, prompt: str, default: str | None = None) -> str: ...
    def ask_choice(self, prompt: str, options: list[tuple[str, str]]) -> str: ...
    def ask_checklist(self, prompt: str, items: list[str]) -> list[str]: ...
    def confirm(self, prompt: str) -> bool: ...


@dataclass
class StepContext:
    """Everything an executor may use for one step."""

    step: Any  # a gert.model step
    rendered: dict[str, Any]  # the step's templated fields, rendered
    project_root: Path
    run_folder: Path
    env: Mapping[str, str]  # the child environment (policy already applied)
    timeout: float | None = None
    answers: dict[str, Any] = field(default_factory=dict)  # --evidence answers for this step
    prompter: Prompter | None = None
    tools: dict[str, Any] = field(default_factory=dict)  # alias -> ToolDefinition
    check_command: Callable[[list[str]], str | None] = lambda argv: None  # governance
    actor: str = "unknown"
    step_id: str = ""  # as recorded: <invoke step>/<id> inside an invoked runbook
    occurrence: int = 1  # how many times this step has run in this run, this time included
    attempt: int = 1  # the try, with retries
    # Told each line a command prints while it runs (the last of a chunk, as it arrives, from
    # a reader thread), for a display; None when nobody watches. Never part of the evidence.
    on_output: Callable[[str], None] | None = None


class Executor(Protocol):
    """Runs one kind of step: renders its templated fields, then executes them."""

    def render(self, step: Any, values: Mapping[str, str], project_root: Path) -> dict[str, Any]:
        """The step's templated fields rendered against *values* (raises TemplateError)."""
        ...

    def execute(self, ctx: StepContext) -> StepOutput:
        """Do the work; faults of the world become ``StepOutput.error``, not exceptions."""
        ...


class StepError(GertError):
    """A step that cannot run as asked (missing evidence, bad URL, unknown tool...)."""


def inside_project(project_root: Path, rel: str, what: str) -> str:
    """*rel* unchanged when it stays inside the project; a StepError otherwise."""
    root = project_root.resolve()
    if not (root / rel).resolve().is_relative_to(root):
        raise StepError(f"{what} '{rel}' is outside the project; runbook paths stay inside it")
    return rel
