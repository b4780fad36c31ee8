"""The other files gert reads, besides runbooks, tool files and gert.yaml: failure
signatures (``signatures/v0``), saved scenarios (``scenario/v0``), hand-written scenarios
and their ``test.yaml``. Their formats and checks live here, in the language layer, so that
``gert validate`` checks them as it checks runbooks; ``gert.signatures`` and
``gert.testing`` read them through the same code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from gert.load import Document
from gert.model import Strict
from gert.problems import Problem
from gert.validate.schema import field_path

SIGNATURES_API = "signatures/v0"
SCENARIO_API = "scenario/v0"
SEVERITIES = ("critical", "high", "medium", "low")
SIGNATURE_FIELDS = (
    "id",
    "title",
    "match",
    "severity",
    "runbook",
    "replay",
    "artifacts",
    "remediation",
)

# ------------------------------------------------------------------ scenarios and tests


class CommandResponse(Strict):
    """A canned answer for a command, matched by its rendered argv."""

    argv: list[str] = Field(min_length=1)
    stdout: str = ""
    stderr: str = ""
    exit_code: int = 0


class ToolResponse(Strict):
    """A canned answer for a call of a tool action, taken in call order."""

    exit_code: int = 0
    stdout: str = ""
    stderr: str = ""
    captures: dict[str, Any] | None = Field(
        None,
        description="The values the call gives, as they are: the step's capture sources "
        "are not applied (the replay of gert's Go implementation sets a tool's outputs so).",
    )


class HandwrittenScenario(Strict):
    """``scenario.yaml`` of a hand-written scenario."""

    description: str | None = None
    runbook: str | None = Field(
        None, description="The runbook's path; default: the folder's parent name."
    )
    incident: dict[str, Any] | None = None
    commands: list[CommandResponse] = Field(default_factory=list)
    evidence: dict[str, dict[str, Any]] = Field(default_factory=dict)
    tool_responses: dict[str, list[ToolResponse]] = Field(
        default_factory=dict,
        description="For tool steps: responses keyed `tool:action` (else `tool`), one "
        "taken per call in order.",
    )


class HopSpec(Strict):
    runbook: str
    outcome: str | None = None


class TestSpec(Strict):
    """``test.yaml``: what a replay of the scenario must show."""

    description: str | None = None
    expected_outcome: str | None = Field(None, description="A state, `completed`, or `error`.")
    expected_code: str | None = Field(
        None, description="The `code` of the outcome the chain ends with ('' for none)."
    )
    expected_chain: list[str | HopSpec] | None = None
    expected_captures: dict[str, str] = Field(default_factory=dict)
    must_reach: list[str] = Field(default_factory=list)
    must_not_reach: list[str] = Field(default_factory=list)
    expected_step_status: dict[str, str] = Field(default_factory=dict)

    @field_validator("expected_captures")
    @classmethod
    def _regexes(cls, value: dict[str, str]) -> dict[str, str]:
        for name, want in value.items():
            if len(want) > 1 and want.startswith("/") and want.endswith("/"):
                try:
                    re.compile(want[1:-1])
                except re.error as e:
                    raise ValueError(f"expected_captures.{name}: bad regex {want}: {e}") from None
        return value

    @field_validator("expected_step_status")
    @classmethod
    def _statuses(cls, value: dict[str, str]) -> dict[str, str]:
        for step, status in value.items():
            if status not in ("passed", "failed", "skipped"):
                raise ValueError(
                    f"expected_step_status.{step}: '{status}' is not passed, failed or skipped"
                )
        return value


class ChainEntry(Strict):
    """One run of a saved scenario's chain."""

    model_config = ConfigDict(extra="allow")  # fields gert may add later are kept

    position: int = Field(ge=1)
    runbook: str
    run_id: str
    folder: str
    outcome: str | None = None


class SavedScenario(Strict):
    """``scenario.yaml`` of a scenario gert saved from a real chain (``scenario/v0``)."""

    model_config = ConfigDict(extra="allow")

    api_version: str = Field(alias="apiVersion")
    root_runbook: str | None = None
    reference_time: str | None = None
    chain: list[ChainEntry] = Field(default_factory=list)


def saved_scenario_problems(scenario: SavedScenario, doc: Document) -> list[Problem]:
    """What the schema cannot say about a saved scenario: every run folder it names holds a
    run, inside the scenario."""
    problems = []
    base = Path(doc.file).parent
    for i, entry in enumerate(scenario.chain):
        run = (base / entry.folder).resolve()
        if not run.is_relative_to(base.resolve()) or not (run / "run.yaml").is_file():
            line, col = doc.position(("chain", i, "folder"))
            problems.append(
                Problem(
                    doc.file,
                    line,
                    col,
                    f"run folder '{entry.folder}' is missing (no run.yaml there)",
                    field=f"chain[{i}].folder",
                    hint="a saved scenario replays the runs it names from their folders",
                    rule="scenario",
                )
            )
    return problems


# ------------------------------------------------------------------ signatures


def check_signatures(doc: Document) -> tuple[list[dict[str, Any]], list[Problem]]:
    """The signatures of a ``signatures/v0`` document and every problem, each at its place.

    Each usable signature is a dict of its fields with defaults filled in, ``pattern``
    (compiled, RE2), ``literal`` (a plain substring) and ``line`` (where it is defined).
    """
    problems: list[Problem] = []

    def problem(where: tuple[Any, ...], message: str, hint: str | None = None) -> None:
        line, col = doc.position(where)
        problems.append(
            Problem(
                doc.file,
                line,
                col,
                message,
                field=field_path(where),
                hint=hint,
                rule="signatures",
            )
        )

    data = doc.data
    if not isinstance(data, dict) or data.get("apiVersion") != SIGNATURES_API:
        problem(("apiVersion",), f"expected {SIGNATURES_API}")
        return [], problems
    for key in sorted(set(data) - {"apiVersion", "severities", "signatures"}):
        problem((key,), "unknown field", _close(key, ("apiVersion", "severities", "signatures")))
    scale = _severities(doc, data.get("severities"), problem)
    entries = data.get("signatures")
    if not isinstance(entries, list):
        problem(("signatures",), "expected a list of signatures")
        return [], problems
    out: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for n, entry in enumerate(entries):
        at = ("signatures", n)
        if not isinstance(entry, dict):
            problem(at, "expected a mapping")
            continue
        for key in sorted(set(entry) - set(SIGNATURE_FIELDS)):
            problem((*at, key), "unknown field", _close(key, SIGNATURE_FIELDS))
        sig_id = _text(doc, (*at, "id"), entry.get("id"))
        if not isinstance(sig_id, str) or not sig_id:
            problem((*at, "id"), "required, a non-empty string")
            continue
        if sig_id in seen:
            problem((*at, "id"), f"duplicate id {sig_id!r}")
        seen[sig_id] = n
        spec = entry.get("match")
        is_json = isinstance(spec, dict) and list(spec) == ["json"]
        compiled = (
            _json_match(doc, spec["json"], (*at, "match", "json"), problem)
            if is_json
            else _pattern(doc, spec, (*at, "match"), problem)
        )
        severity = str(_text(doc, (*at, "severity"), entry.get("severity", "medium")))
        if severity not in SEVERITIES:
            problem(
                (*at, "severity"),
                f"{severity!r} is not one of {', '.join(SEVERITIES)}",
                _close(severity, SEVERITIES),
            )
        lists: dict[str, list[str]] = {}
        for key in ("replay", "artifacts", "remediation"):
            value = entry.get(key, [])
            if isinstance(value, list):
                value = [_text(doc, (*at, key, i), v) for i, v in enumerate(value)]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problem((*at, key), "expected a list of strings")
                value = []
            lists[key] = value
        if compiled is None:
            continue
        out.append(
            {
                "id": sig_id,
                "title": str(_text(doc, (*at, "title"), entry.get("title")) or sig_id),
                "pattern": None if is_json else compiled[0],
                "literal": False if is_json else compiled[1],
                "json": compiled if is_json else None,
                "severity": severity,
                "scale": scale.get(severity, {}),
                "runbook": str(entry.get("runbook") or ""),
                "line": doc.position(at)[0],
                **lists,
            }
        )
    return out, problems


def _text(doc: Document, path: tuple[Any, ...], value: Any) -> Any:
    """A plain scalar YAML read as a number or boolean, as the author wrote it."""
    return doc.plain.get(path, value) if not isinstance(value, str) else value


def _close(word: str, choices: tuple[str, ...]) -> str | None:
    import difflib

    close = difflib.get_close_matches(word, [c for c in choices if c != word], n=1)
    return f"did you mean '{close[0]}'?" if close else None


SEVERITY_FIELDS = ("level", "label", "criteria", "response")
JSON_OPERATORS = ("not", "gt", "ge", "lt", "le", "in")


def _severities(doc: Document, spec: Any, problem: Any) -> dict[str, dict[str, str]]:
    """The file's severity scale (``severities``): each of gert's levels with the guide's
    label for it, its criteria and response target; by level."""
    if spec is None:
        return {}
    if not isinstance(spec, list):
        problem(("severities",), "expected a list of {level, label, criteria, response}")
        return {}
    out: dict[str, dict[str, str]] = {}
    for n, entry in enumerate(spec):
        at = ("severities", n)
        if not isinstance(entry, dict):
            problem(at, "expected a mapping {level, label, criteria, response}")
            continue
        for key in sorted(set(entry) - set(SEVERITY_FIELDS)):
            problem((*at, key), "unknown field", _close(key, SEVERITY_FIELDS))
        level = entry.get("level")
        if level not in SEVERITIES:
            problem((*at, "level"), f"{level!r} is not one of {', '.join(SEVERITIES)}")
            continue
        values = {k: str(_text(doc, (*at, k), v)) for k, v in entry.items() if k in SEVERITY_FIELDS}
        out.setdefault(level, values)
    return out


def _json_match(doc: Document, spec: Any, where: tuple[Any, ...], problem: Any) -> Any:
    """``{json: {where: {KEY: COND}}}`` or ``{json: {any: [{KEY: COND}, …]}}`` as a list of
    alternatives, each a list of (dotted key, operator, value); None when it is wrong."""
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in ("where", "any"):
        problem(where, "expected {where: {KEY: VALUE}} or {any: [{KEY: VALUE}, ...]}")
        return None
    kind, value = next(iter(spec.items()))
    alternatives = [value] if kind == "where" else value
    if not isinstance(alternatives, list) or not alternatives:
        problem((*where, kind), "expected a non-empty list of mappings")
        return None
    out = []
    for n, alt in enumerate(alternatives):
        at = (*where, kind) if kind == "where" else (*where, kind, n)
        if not isinstance(alt, dict) or not alt:
            problem(at, "expected a mapping of keys to the values they must have")
            return None
        conditions = []
        for key, cond in alt.items():
            if not isinstance(key, str) or not re.fullmatch(r"[^.\s]+(\.[^.\s]+)*", key):
                problem((*at, key), "expected a key or a dotted path (summary.count)")
                return None
            here = (*at, key)
            if isinstance(cond, dict):
                if len(cond) != 1 or next(iter(cond)) not in JSON_OPERATORS:
                    problem(
                        here, f"expected a value or one of {{{', '.join(JSON_OPERATORS)}: VALUE}}"
                    )
                    return None
                op, operand = next(iter(cond.items()))
                if op in ("not",):
                    operand = _text(doc, (*here, op), operand)
                elif op == "in" and isinstance(operand, list):
                    operand = [_text(doc, (*here, op, i), v) for i, v in enumerate(operand)]
                if op in ("gt", "ge", "lt", "le") and (
                    not isinstance(operand, int | float) or isinstance(operand, bool)
                ):
                    problem((*here, op), "expected a number")
                    return None
                if op == "in" and not isinstance(operand, list):
                    problem((*here, op), "expected a list of values")
                    return None
                conditions.append((key, op, operand))
            elif isinstance(cond, list):
                problem(here, "expected a value; a list of values is {in: [...]}")
                return None
            else:
                conditions.append((key, "eq", _text(doc, here, cond)))
        out.append(conditions)
    return out


def _pattern(doc: Document, spec: Any, where: tuple[Any, ...], problem: Any) -> Any:
    if (
        not isinstance(spec, dict)
        or len(spec) != 1
        or next(iter(spec)) not in ("substring", "regex")
    ):
        problem(
            where,
            "expected one of {substring: TEXT}, {regex: PATTERN} or {json: {where: {KEY: VALUE}}}",
        )
        return None
    kind, text = next(iter(spec.items()))
    text = _text(doc, (*where, kind), text)
    if not isinstance(text, str) or not text:
        problem((*where, kind), "expected a non-empty string")
        return None
    import re2  # linear time whatever the log: logs are large and hostile

    if kind == "substring":
        return re2.compile(re2.escape(text)), True
    try:
        return re2.compile(text), False
    except re2.error as e:
        reason = e.args[0] if e.args else e
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        problem(
            (*where, kind),
            f"not a valid regular expression for the linear-time engine (RE2): {reason}",
        )
        return None
