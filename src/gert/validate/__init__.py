"""Validation of runbooks and tool definitions in three phases.

1. **structure**: the file reads as YAML, is a mapping, and names a known format;
2. **schema**: the pydantic models (unknown fields, types, required fields);
3. **domain rules**: what a schema cannot say — unique step IDs, variables defined
   before use, regexes that compile, tools and actions that exist, child runbooks
   and imports that exist (imports acyclic), reachable outcomes, and so on.

Every problem is collected (none stops the others within a phase) and carries the
file, line, column and field it is about.

The names below load on first use: reading gert.yaml needs only ``gert.validate.schema``,
and every command reads it, so the rules (and the two languages they parse) load only
when something is validated.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_API = {
    "Problem": "gert.problems",
    "Report": "gert.problems",
    "RunbookInvalid": "gert.problems",
    "SIMPLE_JSONPATH": "gert.validate.rules",
    "step_produces": "gert.validate.rules",
    "walk_steps": "gert.validate.rules",
    "problems_from_pydantic": "gert.validate.schema",
    "validate_model": "gert.validate.schema",
    "Checked": "gert.validate.validator",
    "Validator": "gert.validate.validator",
    "expand_paths": "gert.validate.validator",
    "load_runbook": "gert.validate.validator",
    "validate_paths": "gert.validate.validator",
}

__all__ = [
    "SIMPLE_JSONPATH",
    "Checked",
    "Problem",
    "Report",
    "RunbookInvalid",
    "Validator",
    "expand_paths",
    "load_runbook",
    "problems_from_pydantic",
    "step_produces",
    "validate_model",
    "validate_paths",
    "walk_steps",
]


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'gert.validate' has no attribute {name!r}")
    value = getattr(import_module(_API[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))


if TYPE_CHECKING:  # for type checkers and editors; never executed
    from gert.problems import Problem, Report, RunbookInvalid
    from gert.validate.rules import SIMPLE_JSONPATH, step_produces, walk_steps
    from gert.validate.schema import problems_from_pydantic, validate_model
    from gert.validate.validator import (
        Checked,
        Validator,
        expand_paths,
        load_runbook,
        validate_paths,
    )
