"""The validator: structure, schema and domain-rule phases over runbooks, tool files and
gert.yaml, with a cache of tool definitions."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from gert.load import Document, LoadError, load_file
from gert.model import (
    Runbook,
    ToolDefinition,
)
from gert.problems import Problem, Report, RunbookInvalid
from gert.project import Project, open_project
from gert.validate.rules import (
    SANDBOX_PATH_HINT,
    RunbookRules,
    ToolRules,
    sandbox_path_problems,
)
from gert.validate.schema import problems_from_pydantic, yaml_type


@dataclass
class Checked:
    """One validated file: its document, its model (when the schema passed), its problems."""

    path: Path
    kind: str | None
    doc: Document | None = None
    model: Runbook | ToolDefinition | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the file has no errors."""
        return not any(p.severity == "error" for p in self.problems)


class Validator:
    """Validates files of one project, caching tool definitions and import graphs."""

    def __init__(self, project: Project | None = None):
        self.project = project
        self._tools: dict[Path, Checked] = {}

    def project_for(self, path: Path) -> Project:
        """The project a file belongs to (the one given, else found from the file)."""
        return self.project or open_project(path)

    # phase 1 + 2
    def check(self, path: str | Path, expect: str | None = None) -> Checked:
        """Validate one file through every phase that applies."""
        p = Path(path)
        result = Checked(path=p, kind=None)
        if p.name == "gert.yaml" and expect is None:
            return self.check_config(p)
        try:
            doc = load_file(p)
        except LoadError as e:
            result.problems.append(
                Problem(e.file, e.line, e.col, e.message, hint=e.hint, rule="structure")
            )
            return result
        result.doc = doc
        file = doc.file
        if doc.data is None:
            result.problems.append(Problem(file, 1, 1, "the file is empty", rule="structure"))
            return result
        if not isinstance(doc.data, dict):
            result.problems.append(
                Problem(
                    file,
                    1,
                    1,
                    f"expected a mapping at the top, got {yaml_type(doc.data)}",
                    rule="structure",
                )
            )
            return result
        kind = doc.kind
        api = doc.data.get("apiVersion")
        if kind is None or (expect and kind != expect):
            if api is None:
                msg, hint = (
                    "missing apiVersion",
                    "start the file with `apiVersion: runbook/v0` or `apiVersion: tool/v0`",
                )
            else:
                msg, hint = f"unknown apiVersion {api!r}", "gert reads runbook/v0 and tool/v0"
            if expect and kind and kind != expect:
                msg, hint = f"expected a {expect} file, got {kind}", None
            line, col = doc.position(("apiVersion",)) if api is not None else (1, 1)
            result.problems.append(
                Problem(file, line, col, msg, field="apiVersion", hint=hint, rule="structure")
            )
            return result
        result.kind = kind
        model_cls = Runbook if kind == "runbook" else ToolDefinition
        data = doc.data
        if api is None:
            result.problems.append(
                Problem(
                    file,
                    1,
                    1,
                    "missing apiVersion",
                    field="apiVersion",
                    hint=f"add `apiVersion: {kind}/v0` (inferred from the file name)",
                    rule="structure",
                )
            )
            return result
        try:
            result.model = model_cls.model_validate(data)
        except ValidationError as e:
            result.problems.extend(problems_from_pydantic(e, doc, model_cls))
            return result
        # phase 3
        if kind == "runbook":
            RunbookRules(self, result).run()
        else:
            ToolRules(result).run()
        return result

    def check_config(self, path: Path) -> Checked:
        """Validate a project's gert.yaml: schema, then its governance, sandbox and redaction
        rules."""
        from gert.config import load_config

        result = Checked(path=path, kind="config")
        config, problems = load_config(path)
        result.problems.extend(problems)
        if not problems and config.governance is not None:
            doc = load_file(path)
            gov = config.governance
            both = sorted(set(gov.allowed_commands or []) & set(gov.denied_commands))
            if both:
                line, col = doc.position(("governance", "denied_commands"))
                result.problems.append(
                    Problem(
                        str(path),
                        line,
                        col,
                        f"{', '.join(both)} both allowed and denied",
                        field="governance.denied_commands",
                        rule="governance-overlap",
                    )
                )
        if not problems and config.sandbox.default is not None:
            doc = load_file(path)
            for i, message in sandbox_path_problems(config.sandbox.default, path.parent):
                line, col = doc.position(("sandbox", "default", "writable", i))
                result.problems.append(
                    Problem(
                        str(path),
                        line,
                        col,
                        message,
                        field=f"sandbox.default.writable[{i}]",
                        hint=SANDBOX_PATH_HINT,
                        rule="sandbox",
                    )
                )
        if not problems:
            doc = load_file(path)
            for i, rule in enumerate(config.redact):
                try:
                    re.compile(rule.pattern)
                except re.error as e:
                    line, col = doc.position(("redact", i, "pattern"))
                    result.problems.append(
                        Problem(
                            str(path),
                            line,
                            col,
                            f"invalid regular expression: {e.msg}",
                            field=f"redact[{i}].pattern",
                            rule="regex",
                        )
                    )
        return result

    def tool_file(self, path: Path) -> Checked:
        """A validated tool file, checked once per validator."""
        key = path.resolve()
        if key not in self._tools:
            self._tools[key] = self.check(path, expect="tool")
        return self._tools[key]


def expand_paths(paths: list[str | Path]) -> list[Path]:
    """Files named, plus every runbook, tool file and gert.yaml under folders named."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(
                f
                for pattern in (
                    "*.runbook.yaml",
                    "*.runbook.yml",
                    "*.tool.yaml",
                    "*.tool.yml",
                    "gert.yaml",
                )
                for f in p.rglob(pattern)
                if not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
            out.extend(found)
        else:
            out.append(p)
    return out


def validate_paths(paths: list[str | Path], project: Project | None = None) -> Report:
    """Validate files and folders; returns every problem found."""
    report = Report()
    validator = Validator(project)
    for path in expand_paths(paths):
        report.files.append(str(path))
        checked = validator.check(path)
        report.problems.extend(checked.problems)
    return report


def load_runbook(path: str | Path, project: Project | None = None) -> Checked:
    """Load and validate a runbook; raises :class:`RunbookInvalid` when it has errors."""
    checked = Validator(project).check(path, expect="runbook")
    if not checked.ok:
        raise RunbookInvalid(checked.problems)
    return checked
