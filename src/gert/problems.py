"""Problems (diagnostics) located in files, and the errors that carry them.

A leaf module: every layer may report problems; it imports nothing from gert but the
error tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gert.errors import InvalidError


@dataclass(frozen=True)
class Problem:
    """One finding, located in a file. ``severity`` is ``error`` or ``warning``."""

    file: str
    line: int
    col: int
    message: str
    severity: str = "error"
    field: str = ""
    hint: str | None = None
    rule: str = ""

    def format(self) -> str:
        """``file:line:col: severity: field: message`` plus an indented hint line."""
        where = f"{self.field}: " if self.field else ""
        text = f"{self.file}:{self.line}:{self.col}: {self.severity}: {where}{self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The problem as plain data (for --json)."""
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "severity": self.severity,
            "field": self.field,
            "message": self.message,
            "hint": self.hint,
            "rule": self.rule,
        }


@dataclass
class Report:
    """The outcome of validating one or more files."""

    files: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        """Problems that make a file invalid."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """Problems worth a look that do not make a file invalid."""
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there are no errors."""
        return not self.errors


class RunbookInvalid(InvalidError):
    """A runbook that failed validation; ``problems`` says why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__("\n".join(p.format() for p in errors) or "invalid runbook")
