"""The migration report: every construct met, converted how, or refused and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# How a construct fared. `refused` means it could not be converted (exit 2); `differs`
# that it was converted but gert's Go implementation behaves differently somewhere.
VERDICTS = ("converted", "differs", "dropped", "refused")


@dataclass(frozen=True, order=True)
class Entry:
    """One line of the report, at the source file's line and column."""

    file: str
    line: int
    col: int
    verdict: str
    construct: str
    detail: str

    def format(self) -> str:
        """``FILE:LINE:COL: VERDICT: CONSTRUCT: DETAIL``."""
        return (
            f"{self.file}:{self.line}:{self.col}: {self.verdict}: {self.construct}: {self.detail}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The entry as plain data."""
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "verdict": self.verdict,
            "construct": self.construct,
            "detail": self.detail,
        }


@dataclass
class Report:
    """Entries of a whole migration, kept sorted by place when shown."""

    entries: list[Entry] = field(default_factory=list)
    # Kept beside the list so that a large project costs no quadratic scan: what is
    # recorded already, and how many of each verdict.
    _seen: set[Entry] = field(default_factory=set, repr=False)
    _counts: dict[str, int] = field(default_factory=dict, repr=False)

    def add(
        self, file: str, pos: tuple[int, int], verdict: str, construct: str, detail: str
    ) -> None:
        """Record one entry (duplicates are kept once)."""
        entry = Entry(file, pos[0], pos[1], verdict, construct, detail)
        if entry not in self._seen:
            self._seen.add(entry)
            self.entries.append(entry)
            self._counts[verdict] = self._counts.get(verdict, 0) + 1

    def sorted(self) -> list[Entry]:
        """Every entry, by file, line and column."""
        return sorted(self.entries)

    def refused(self, file: str | None = None) -> list[Entry]:
        """The entries that could not be converted (of *file*, or all)."""
        if not self._counts.get("refused"):
            return []
        return sorted(
            e for e in self.entries if e.verdict == "refused" and (file is None or e.file == file)
        )

    def count(self, verdict: str) -> int:
        """How many entries have *verdict*."""
        return self._counts.get(verdict, 0)

    def text(self) -> str:
        """The report as text, one entry a line, then a summary line."""
        lines = [e.format() for e in self.sorted()]
        summary = ", ".join(f"{self.count(v)} {v}" for v in VERDICTS)
        return "\n".join([*lines, summary]) + "\n"
