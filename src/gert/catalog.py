"""The runbooks of a project (``gert runbooks``): every ``*.runbook.yaml`` under a folder
with its name, kind, description and inputs, and whether it is valid."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gert.project import Project, open_project
from gert.validate import Validator, expand_paths


@dataclass
class RunbookEntry:
    """One runbook file as a listing shows it."""

    path: Path
    name: str
    kind: str = ""
    description: str = ""
    inputs: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # LINE:COL: FIELD: MESSAGE, when invalid

    @property
    def valid(self) -> bool:
        """True when the runbook has no validation errors."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """The entry as JSON data."""
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "inputs": self.inputs,
            "path": str(self.path),
            "valid": self.valid,
            "errors": self.errors,
        }


def _inputs(meta: Any) -> list[dict[str, Any]]:
    out = []
    for name, spec in meta.inputs.items():
        entry: dict[str, Any] = {"name": name}
        if spec.from_:
            entry["from"] = spec.from_
        if spec.default is not None:
            entry["default"] = spec.default
        if spec.description:
            entry["description"] = spec.description
        if spec.secret:
            entry["secret"] = True
        out.append(entry)
    return out


def list_runbooks(
    folder: str | Path | None = None, project: Project | None = None
) -> list[RunbookEntry]:
    """Every runbook under *folder* (default: the project's root), in path order, hidden
    folders left out. An invalid runbook is listed too, with its errors."""
    project = project or open_project(folder)
    base = Path(folder) if folder is not None else project.root
    validator = Validator(project)
    entries = []
    for path in expand_paths([base]):
        if not path.name.endswith((".runbook.yaml", ".runbook.yml")):
            continue
        checked = validator.check(path, expect="runbook")
        model = checked.model
        if model is not None and checked.ok:
            meta = model.meta  # type: ignore[union-attr]
            entries.append(
                RunbookEntry(
                    path,
                    meta.name,
                    meta.kind,
                    (meta.description or "").strip(),
                    _inputs(meta),
                )
            )
            continue
        data = checked.doc.data if checked.doc is not None else None
        meta_data = data.get("meta") if isinstance(data, dict) else None
        name = meta_data.get("name") if isinstance(meta_data, dict) else None
        errors = [
            f"{p.line}:{p.col}: {p.field + ': ' if p.field else ''}{p.message}"
            for p in checked.problems
            if p.severity == "error"
        ]
        entries.append(RunbookEntry(path, str(name or path.name.split(".")[0]), errors=errors))
    return entries
