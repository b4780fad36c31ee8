"""Validation of runbooks and tool definitions in three phases (DESIGN §4, issue 2).

1. **structure**: the file reads as YAML, is a mapping, and names a known format;
2. **schema**: the pydantic models (unknown fields, types, required fields);
3. **domain rules**: what a schema cannot say — unique step IDs, variables defined
   before use, regexes that compile, tools and actions that exist, child runbooks
   and imports that exist (imports acyclic), reachable outcomes, and so on.

Every problem is collected (none stops the others within a phase) and carries the
file, line, column and field it is about.
"""

from gert.problems import Problem, Report, RunbookInvalid
from gert.validate.rules import SIMPLE_JSONPATH, step_produces, walk_steps
from gert.validate.schema import problems_from_pydantic
from gert.validate.validator import (
    Checked,
    Validator,
    expand_paths,
    load_runbook,
    validate_paths,
)

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
    "validate_paths",
    "walk_steps",
]
