"""Reading kernel/v0 files: YAML with the line and column of every node, bounded."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gert.load import Document, LoadError, parse_text
from gert.migrate.report import Report

MAX_FILE = 4 * 1024 * 1024  # a kernel file larger than this is refused unread
Path_ = tuple[Any, ...]


@dataclass
class Source:
    """One kernel file, read: its data, where each node is, and the report to write to."""

    path: Path
    shown: str  # the path as the report names it
    doc: Document
    report: Report
    # Unknown keys that are a typo of a known one: (path of the mapping, known key) ->
    # the key written, so that the missing field is not refused a second time.
    typos: dict[tuple[Path_, str], str] = field(default_factory=dict)
    refusals: int = 0  # entries refused in this file

    @property
    def data(self) -> Any:
        return self.doc.data

    def pos(self, path: Path_) -> tuple[int, int]:
        """(line, col) of the node at *path* (or its nearest ancestor)."""
        return self.doc.position(path)

    def note(self, path: Path_, verdict: str, construct: str, detail: str) -> None:
        """Add a report entry at *path*."""
        self.refusals += verdict == "refused"
        self.report.add(self.shown, self.pos(path), verdict, construct, detail)

    def refuse(self, path: Path_, construct: str, detail: str) -> None:
        """Report a construct that cannot be converted."""
        self.note(path, "refused", construct, detail)

    def mapping(self, path: Path_, value: Any, known: set[str], what: str) -> dict[str, Any]:
        """*value* as a mapping whose keys are all *known* (each other key refused, as the
        Go implementation's strict decoder refuses it); {} when it is not a mapping."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.refuse(path, what, f"must be a mapping, not {_kind(value)}")
            return {}
        for key in value:
            if key not in known:
                close = suggestion(key, known - set(value))
                if close is not None:
                    self.typos[(tuple(path), close)] = str(key)
                self.refusals += 1
                self.report.add(
                    self.shown,
                    self.doc.position((*path, key), key=True),
                    "refused",
                    what,
                    f"unknown field '{key}'"
                    + (f" (did you mean '{close}'?)" if close is not None else "")
                    + f": not a field of {what} in the kernel/v0 format (its decoder rejects it)",
                )
        return value

    def typo_of(self, path: Path_, key: str) -> str | None:
        """The unknown key written at *path* in place of the known *key*, if any."""
        return self.typos.get((tuple(path), key))

    def listing(self, path: Path_, value: Any, what: str) -> list[Any]:
        """*value* as a list; [] (refused) when it is something else."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.refuse(path, what, f"must be a list, not {_kind(value)}")
            return []
        return value

    def text(self, path: Path_, value: Any, what: str, default: str = "") -> str:
        """*value* as text (numbers and booleans as YAML wrote them); refused otherwise."""
        if value is None:
            return default
        if isinstance(value, str):
            return value
        if isinstance(value, bool | int | float):
            return self.doc.plain.get(tuple(path), str(value))
        self.refuse(path, what, f"must be text, not {_kind(value)}")
        return default


def suggestion(key: Any, known: set[str]) -> str | None:
    """The known field *key* is most likely a typo of (difflib), or None."""
    if not isinstance(key, str) or not known:
        return None
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    return close[0] if close else None


def _kind(value: Any) -> str:
    """A value's kind in YAML words."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return f"{type(value).__name__} {value!r}"[:80]


def read_source(path: Path, shown: str, report: Report) -> Source | None:
    """Read one kernel file; None (reported) when it cannot be read as YAML."""
    try:
        size = path.stat().st_size
    except OSError as e:
        report.add(shown, (1, 1), "refused", "file", f"cannot read: {e.strerror}")
        return None
    if size > MAX_FILE:
        report.add(shown, (1, 1), "refused", "file", f"larger than {MAX_FILE} bytes")
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        report.add(shown, (1, 1), "refused", "file", f"not UTF-8 text ({e.reason})")
        return None
    except OSError as e:
        report.add(shown, (1, 1), "refused", "file", f"cannot read: {e.strerror}")
        return None
    try:
        doc = parse_text(text, shown)
    except LoadError as e:
        report.add(shown, (e.line, e.col), "refused", "file", e.message)
        return None
    except RecursionError:
        report.add(shown, (1, 1), "refused", "file", "nested too deeply")
        return None
    return Source(path, shown, doc, report)
