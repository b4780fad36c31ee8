"""Validation of runbooks and tool definitions in three phases (DESIGN §4, issue 2).

1. **structure**: the file reads as YAML, is a mapping, and names a known format;
2. **schema**: the pydantic models (unknown fields, types, required fields);
3. **domain rules**: what a schema cannot say — unique step IDs, variables defined
   before use, regexes that compile, tools and actions that exist, child runbooks
   and imports that exist (imports acyclic), reachable outcomes, and so on.

Every problem is collected (none stops the others within a phase) and carries the
file, line, column and field it is about.
"""

from __future__ import annotations

import re
from collections import ChainMap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from gert import expr as _expr
from gert import template as _template
from gert.errors import InvalidError
from gert.load import Document, LoadError, load_file
from gert.model import (
    STATES,
    AnyStep,
    CliStep,
    HttpStep,
    InvokeStep,
    ManualStep,
    Node,
    Runbook,
    Strict,
    ToolDefinition,
    ToolStep,
)
from gert.project import Project, open_project

Path_ = tuple[str | int, ...]
BUILTIN_TOOLS = {"sql": {"query": {"required": {"url", "query"}, "optional": {"params"}}}}
SIMPLE_SOURCES = {"stdout", "stderr", "exit_code", "row_count", "status_code", "body"}
SOURCES_BY_KIND = {
    "cli": {"stdout", "stderr", "exit_code", "row_count"},
    "tool": {"stdout", "stderr", "exit_code", "row_count"},
    "http": {"status_code", "body"},
    "manual": set(),
}
RUNBOOK_SUFFIX = ".runbook.yaml"
# The JSONPaths most captures use ($.data[0].error, $.data[*].node, $.a.b): always valid.
SIMPLE_JSONPATH = re.compile(
    r"\$(?:\.[A-Za-z_][A-Za-z0-9_]*|\[(?:0|[1-9][0-9]{0,14}|\*)\]|\.\*)*\Z", re.ASCII
)


# ------------------------------------------------------------------ problems


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


def field_path(path: Path_) -> str:
    """``('tree', 0, 'step', 'with')`` -> ``tree[0].step.with``."""
    out = ""
    for el in path:
        if isinstance(el, int):
            out += f"[{el}]"
        else:
            out += ("." if out else "") + str(el)
    return out


# ------------------------------------------------------------- pydantic -> us


def _all_models() -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = []
    stack = list(Strict.__subclasses__())
    while stack:
        m = stack.pop()
        if m not in seen:
            seen.append(m)
            stack.extend(m.__subclasses__())
    return seen


def _aliases(model: type[BaseModel]) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items()}


def _field_hint(bad: str, siblings: set[str]) -> str | None:
    """Guess the intended field: the model whose fields best fit the sibling keys."""
    best: tuple[int, set[str]] | None = None
    for m in _all_models():
        names = _aliases(m)
        if not siblings <= names:
            continue
        score = len(siblings)
        if best is None or score > best[0] or (score == best[0] and len(names) < len(best[1])):
            best = (score, names)
    vocabulary = best[1] if best else set().union(*(_aliases(m) for m in _all_models()))
    import difflib  # only needed when there is a mistake to explain

    close = difflib.get_close_matches(bad, sorted(vocabulary), n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if best and len(best[1]) <= 14:
        return "allowed here: " + ", ".join(sorted(best[1] - siblings))
    return None


_KIND_NAMES = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _yaml_type(v: Any) -> str:
    if v is None:
        return "nothing (null)"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int | float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    return type(v).__name__


def problems_from_pydantic(
    error: ValidationError, doc: Document, model: type[BaseModel] | None = None
) -> list[Problem]:
    """Turn pydantic's errors into located, readable problems."""
    problems: list[Problem] = []
    seen: set[tuple[Path_, str]] = set()
    for err in error.errors(include_url=False):
        loc = err["loc"]
        typ = err["type"]
        raw: list[str | int] = []
        node: Any = doc.data
        tagged: set[int] = set()  # dicts whose discriminator tag was already skipped
        on_key = False
        for i, el in enumerate(loc):
            if el == "[key]":
                on_key = True
            elif isinstance(node, dict) and node.get("type") == el and id(node) not in tagged:
                tagged.add(id(node))  # pydantic's union tag (cli, http, ...), not a YAML key
            elif (isinstance(node, dict) and el in node) or (
                isinstance(node, list) and isinstance(el, int) and 0 <= el < len(node)
            ):
                raw.append(el)
                node = node[el]
            elif i == len(loc) - 1 and typ in ("missing", "extra_forbidden"):
                raw.append(el)
            # else: a union tag pydantic adds to the location; it is not in the file
        path = tuple(raw)
        fname = field_path(path)
        inp = err.get("input")
        ctx = err.get("ctx") or {}
        hint = None
        if typ == "missing":
            msg = f"missing required field '{path[-1]}'"
            line, col = doc.position(path[:-1])
        elif typ == "extra_forbidden":
            msg = f"unknown field '{path[-1]}'"
            parent = doc.data
            for el in path[:-1]:
                parent = parent[el]
            siblings = set(parent) - {path[-1]} if isinstance(parent, dict) else set()
            hint = _field_hint(str(path[-1]), siblings)
            line, col = doc.position(path, key=True)
        else:
            line, col = doc.position(path, key=on_key)
            if typ == "union_tag_invalid":
                expected = ctx.get("expected_tags", "").replace("'", "")
                msg = f"unknown step type '{ctx.get('tag')}'; expected one of {expected}"
                fname = field_path((*path, "type"))
                line, col = doc.position((*path, "type"))
            elif typ == "union_tag_not_found":
                msg = "missing field 'type'"
                hint = "a step needs type: cli, http, tool, manual or invoke"
            elif typ == "literal_error":
                msg = f"must be one of {ctx.get('expected')}; got {inp!r}"
            elif typ == "string_pattern_mismatch":
                msg, hint = _pattern_message(path, inp, on_key)
            elif typ == "too_short":
                n = ctx.get("min_length", 1)
                msg = f"needs at least {n} item{'s' * (n != 1)}"
            elif typ in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
                bound = {
                    "greater_than_equal": ("at least", "ge"),
                    "less_than_equal": ("at most", "le"),
                    "greater_than": ("more than", "gt"),
                    "less_than": ("less than", "lt"),
                }[typ]
                msg = f"must be {bound[0]} {ctx.get(bound[1])}; got {inp!r}"
            elif typ in _KIND_NAMES:
                msg = f"expected {_KIND_NAMES[typ]}, got {_yaml_type(inp)}"
            elif typ in ("value_error", "assertion_error"):
                msg = str(ctx.get("error", err["msg"])).removeprefix("Value error, ")
            else:
                msg = err["msg"]
        if (path, msg) in seen:
            continue
        seen.add((path, msg))
        problems.append(Problem(doc.file, line, col, msg, field=fname, hint=hint, rule="schema"))
    return problems


def _pattern_message(path: Path_, value: Any, on_key: bool = False) -> tuple[str, str | None]:
    last = path[-1] if path else ""
    if on_key:
        return (
            f"{value!r} is not a valid variable name",
            "use letters, digits and _, not starting with a digit",
        )
    if last == "from":
        return (
            f"{value!r} is not an input source",
            "use incident.<field>, incident.custom_fields.<Name>, incident.location.<field>, "
            "incident.title, prompt, parent or env.<VAR>",
        )
    if last == "id":
        return (
            f"{value!r} is not a valid step id",
            "start with a letter or _, then letters, digits, _ or -",
        )
    if last == "name":
        return (
            f"{value!r} is not a valid name",
            "letters, digits, '.', '_' and '-', starting with a letter or digit",
        )
    return f"{value!r} does not match the expected form", None


# ------------------------------------------------------------------ phases


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
                    f"expected a mapping at the top, got {_yaml_type(doc.data)}",
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
            _RunbookRules(self, result).run()
        else:
            _ToolRules(result).run()
        return result

    def check_config(self, path: Path) -> Checked:
        """Validate a project's gert.yaml: schema, then its governance and redaction rules."""
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


# ------------------------------------------------------------ domain: runbook


@dataclass
class _StepInfo:
    step: AnyStep
    path: Path_
    enclosing: tuple[tuple[str, int], ...]  # (owner step id, branch index) outermost first
    branches: list[tuple[Any, Path_]]  # (Branch, path of the branch)
    order: int


def walk_steps(rb: Runbook) -> list[_StepInfo]:
    """Every step in document (pre-)order with its YAML path and enclosing branches."""
    out: list[_StepInfo] = []

    def visit(items: list[tuple[Any, Path_]], enclosing: tuple[tuple[str, int], ...]) -> None:
        for obj, path in items:
            if isinstance(obj, Node):
                step, spath, branches = obj.step, (*path, "step"), obj.branches
            else:
                step, spath, branches = obj, path, obj.branches
            bpaths = [(b, (*path, "branches", j)) for j, b in enumerate(branches)]
            out.append(_StepInfo(step, spath, enclosing, bpaths, len(out)))
            for j, (b, bpath) in enumerate(bpaths):
                visit(
                    [(s, (*bpath, "steps", k)) for k, s in enumerate(b.steps)],
                    (*enclosing, (step.id, j)),
                )

    if rb.tree is not None:
        visit([(n, ("tree", i)) for i, n in enumerate(rb.tree)], ())
    else:
        visit([(s, ("steps", i)) for i, s in enumerate(rb.steps or [])], ())
    return out


def _strings(value: Any, path: Path_) -> list[tuple[str, Path_]]:
    """Every string inside a nested value, with its path."""
    if isinstance(value, str):
        return [(value, path)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(v, (*path, k))]
    if isinstance(value, list):
        return [s for i, v in enumerate(value) for s in _strings(v, (*path, i))]
    return []


def step_produces(step: AnyStep) -> set[str]:
    """Names a step defines once it has run: its captures and its choice variable."""
    names = set(step.capture)
    if isinstance(step, ManualStep) and step.choices:
        names.add(step.choices.variable)
    return names


class _RunbookRules:
    def __init__(self, validator: Validator, checked: Checked):
        self.v = validator
        self.c = checked
        self.doc: Document = checked.doc  # type: ignore[assignment]
        self.rb: Runbook = checked.model  # type: ignore[assignment]
        self.file = self.doc.file
        self.folder = checked.path.resolve().parent
        self.project = validator.project_for(checked.path)
        self.used: set[str] = set()

    # helpers
    def add(
        self,
        path: Path_,
        msg: str,
        *,
        hint: str | None = None,
        severity: str = "error",
        rule: str = "",
        key: bool = False,
        at: tuple[int, int] | None = None,
    ) -> None:
        line, col = at or self.doc.position(path, key=key)
        self.c.problems.append(
            Problem(self.file, line, col, msg, severity, field_path(path), hint, rule)
        )

    def run(self) -> None:
        steps = walk_steps(self.rb)
        self.inputs = set(self.rb.meta.inputs)
        self.vars = set(self.rb.meta.vars)
        self.unique_ids(steps)
        self.governance(self.rb.meta.governance, ("meta", "governance"))
        self.input_patterns()
        tools = self.resolve_tools()
        for info, before, after in self.availability(steps):
            self.variables(info, steps, before, after)
            self.step_rules(info, tools)
        self.reachability(steps)
        self.imports()
        for name in sorted(self.inputs - self.used):
            self.add(
                ("meta", "inputs", name),
                f"input '{name}' is never used",
                severity="warning",
                rule="unused-input",
                key=True,
            )
        if self.rb.tree is not None and self.rb.steps is not None:
            self.add(
                ("steps",),
                "give the body as `tree` or as `steps`, not both",
                key=True,
                hint="`tree` holds {step, branches} nodes; `steps` holds steps that may carry branches",
                rule="body",
            )
        elif self.rb.meta.kind != "reference" and not steps:
            self.add(
                (), "the runbook has no steps", hint="add a `tree:` or `steps:` list", rule="body"
            )

    def unique_ids(self, steps: list[_StepInfo]) -> None:
        first: dict[str, _StepInfo] = {}
        for info in steps:
            sid = info.step.id
            if sid in first:
                line, _ = self.doc.position((*first[sid].path, "id"))
                self.add(
                    (*info.path, "id"),
                    f"step id '{sid}' is already used (line {line})",
                    hint="step IDs must be unique across the whole runbook",
                    rule="unique-id",
                )
            else:
                first[sid] = info

    def governance(self, gov: Any, path: Path_) -> None:
        if gov is None:
            return
        both = sorted(set(gov.allowed_commands or []) & set(gov.denied_commands))
        if both:
            self.add(
                (*path, "denied_commands"),
                f"{', '.join(both)} both allowed and denied",
                hint="deny wins; remove it from one list",
                rule="governance-overlap",
            )
        for i, r in enumerate(gov.redact):
            self.regex(r.pattern, (*path, "redact", i, "pattern"))

    def regex(self, pattern: str, path: Path_) -> bool:
        try:
            re.compile(pattern)
        except re.error as e:
            pos = e.pos or 0
            at = self.doc.position_in_value(path, 1, pos + 1)
            self.add(
                path, f"invalid regular expression: {e.msg} at position {pos}", at=at, rule="regex"
            )
            return False
        return True

    def input_patterns(self) -> None:
        for name, spec in self.rb.meta.inputs.items():
            path = ("meta", "inputs", name)
            if (
                spec.pattern is not None
                and self.regex(spec.pattern, (*path, "pattern"))
                and re.compile(spec.pattern).groups < 1
            ):
                self.add(
                    (*path, "pattern"),
                    "pattern has no group; its first group is the value",
                    hint="wrap the part you want in parentheses",
                    rule="regex",
                )

    # variables -------------------------------------------------------------
    def availability(
        self, steps: list[_StepInfo]
    ) -> Iterator[tuple[_StepInfo, dict[str, str], Mapping[str, str]]]:
        """Each step with the names defined before it runs and after (its own captures).

        One pass, in document order: a branch starts from what its owner step left; a
        name a branch defines is visible after the owner (that branch may have run) but
        never in the owner's other branches. The dicts yielded are live: use them at once.
        """
        base = {n: "input" for n in self.inputs} | {n: "var" for n in self.vars}
        contexts: dict[tuple[tuple[str, int], ...], dict[str, str]] = {(): base}
        after_owner: dict[str, dict[str, str]] = {}
        for info in steps:
            enclosing = info.enclosing
            if enclosing not in contexts:
                contexts[enclosing] = dict(after_owner[enclosing[-1][0]])
            before = contexts[enclosing]
            own = {n: "capture of this step" for n in step_produces(info.step)}
            yield info, before, ChainMap(own, before)
            if info.branches:
                after_owner[info.step.id] = before | own
            produced = {n: f"capture of '{info.step.id}'" for n in own}
            for depth in range(len(enclosing) + 1):
                contexts[enclosing[:depth]].update(produced)

    def explain_unknown(
        self, name: str, steps: list[_StepInfo], info: _StepInfo, known: Mapping[str, str]
    ) -> str | None:
        for other in steps:
            if name in step_produces(other.step):
                if other.order >= info.order and other.step.id != info.step.id:
                    return f"'{name}' is captured by step '{other.step.id}', which runs later"
                if other.step.id == info.step.id:
                    return (
                        f"'{name}' is this step's own capture; it is not set before the step runs"
                    )
                return f"'{name}' is captured by step '{other.step.id}' in another branch"
        import difflib

        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.7)
        if close:
            return f"did you mean '{close[0]}'?"
        return "declare it under meta.inputs or meta.vars, or capture it in an earlier step"

    def unknown(
        self,
        name: str,
        path: Path_,
        line: int,
        col: int,
        known: Mapping[str, str],
        info: _StepInfo,
        steps: list[_StepInfo],
    ) -> None:
        """Report a variable that is not defined where it is used, with why and a fix."""
        at = self.doc.position_in_value(path, line, col)
        hint = self.explain_unknown(name, steps, info, known)
        self.add(path, f"unknown variable '{name}'", at=at, rule="variables", hint=hint)

    def template(
        self,
        text: str,
        path: Path_,
        known: Mapping[str, str],
        info: _StepInfo,
        steps: list[_StepInfo],
    ) -> None:
        if "{{" not in text:
            return
        try:
            refs = _template.referenced_variables(text)
        except _template.TemplateError as e:
            at = self.doc.position_in_value(path, e.line, e.col)
            self.add(path, f"template: {e.message}", at=at, rule="template")
            return
        for name, offset in refs:
            self.used.add(name)
            if name not in known:
                line = text.count("\n", 0, offset) + 1
                col = offset - (text.rfind("\n", 0, offset) + 1) + 1
                self.unknown(name, path, line, col, known, info, steps)

    def condition(
        self,
        text: str,
        path: Path_,
        known: Mapping[str, str],
        info: _StepInfo,
        steps: list[_StepInfo],
    ) -> None:
        if "{{" in text:
            self.template(text, path, known, info, steps)
            return
        try:
            names = _expr.names(text)
        except _expr.ExprError as e:
            at = self.doc.position_in_value(path, 1, e.col)
            self.add(path, f"condition: {e.message}", at=at, rule="condition")
            return
        for name, col in names:
            self.used.add(name)
            if name not in known:
                self.unknown(name, path, 1, col, known, info, steps)

    def variables(
        self,
        info: _StepInfo,
        steps: list[_StepInfo],
        before: Mapping[str, str],
        after: Mapping[str, str],
    ) -> None:
        s, p = info.step, info.path
        if s.when:
            self.condition(s.when, (*p, "when"), before, info, steps)
        texts: list[tuple[str, Path_, dict[str, str]]] = []
        if s.precondition:
            texts += [
                (t, (*p, "precondition", "check", i), before)
                for i, t in enumerate(s.precondition.check)
            ]
        if isinstance(s, CliStep):
            w = s.with_
            texts += [(t, (*p, "with", "argv", i), before) for i, t in enumerate(w.argv)]
            texts += [(t, (*p, "with", "env", k), before) for k, t in w.env.items()]
            texts += [
                (t, (*p, "with", k), before) for k, t in (("cwd", w.cwd), ("stdin", w.stdin)) if t
            ]
        elif isinstance(s, HttpStep):
            h = s.http
            texts.append((h.url, (*p, "http", "url"), before))
            texts += [(t, (*p, "http", "headers", k), before) for k, t in h.headers.items()]
            if h.body:
                texts.append((h.body, (*p, "http", "body"), before))
            texts += [(t, tp, before) for t, tp in _strings(h.json_, (*p, "http", "json"))]
        elif isinstance(s, ToolStep):
            texts += [(t, tp, before) for t, tp in _strings(s.tool.args, (*p, "tool", "args"))]
        elif isinstance(s, ManualStep):
            if s.instructions:
                texts.append((s.instructions, (*p, "instructions"), before))
            if s.choices and s.choices.prompt:
                texts.append((s.choices.prompt, (*p, "choices", "prompt"), before))
        elif isinstance(s, InvokeStep):
            texts += [(t, (*p, "invoke", "inputs", k), before) for k, t in s.invoke.inputs.items()]
        for k, o in enumerate(s.outcomes):
            op = (*p, "outcomes", k)
            if o.when:
                self.condition(o.when, (*op, "when"), after, info, steps)
            if o.recommendation:
                texts.append((o.recommendation, (*op, "recommendation"), after))
            if o.next_runbook:
                texts.append((o.next_runbook.file, (*op, "next_runbook", "file"), after))
                texts += [
                    (t, (*op, "next_runbook", "inputs", n), after)
                    for n, t in o.next_runbook.inputs.items()
                ]
        for text, path, known in texts:
            self.template(text, path, known, info, steps)
        for b, bpath in info.branches:
            self.condition(b.condition, (*bpath, "condition"), after, info, steps)

    # step rules ------------------------------------------------------------
    def step_rules(self, info: _StepInfo, tools: dict[str, Any]) -> None:
        s, p = info.step, info.path
        kind = s.type
        for name, spec in s.capture.items():
            cp = (*p, "capture", name)
            if isinstance(s, InvokeStep):
                if not isinstance(spec, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", spec):
                    self.add(
                        cp,
                        "an invoke capture maps a parent name to a child capture name",
                        rule="capture",
                    )
                continue
            source = spec if isinstance(spec, str) else spec.from_
            if not isinstance(spec, str):
                cp = (*cp, "from")
                if spec.pattern is not None:
                    self.regex(spec.pattern, (*p, "capture", name, "pattern"))
            self.capture_source(source, kind, cp, s)
        for i, a in enumerate(s.assertions):
            ap = (*p, "assertions", i)
            if a.matches is not None:
                self.regex(a.matches, (*ap, "matches"))
            if a.exit_code is not None and kind not in ("cli", "tool"):
                self.add((*ap, "exit_code"), f"a {kind} step has no exit code", rule="assertion")
            if a.status_code is not None and kind != "http":
                self.add(
                    (*ap, "status_code"), f"a {kind} step has no status code", rule="assertion"
                )
            if a.source is not None:
                self.capture_source(a.source, kind, (*ap, "source"), s)
            if a.json_path is not None:
                self.jsonpath(a.json_path.path, (*ap, "json_path", "path"))
        for k, o in enumerate(s.outcomes):
            if o.next_runbook and "{{" not in o.next_runbook.file:
                self.child_file(o.next_runbook.file, (*p, "outcomes", k, "next_runbook", "file"))
        if isinstance(s, ManualStep):
            if not (s.instructions or "").strip():
                self.add(
                    (*p, "instructions"),
                    "a manual step needs instructions",
                    hint="tell the engineer what to do, in Markdown",
                    rule="manual",
                )
            names = [e.name for e in s.required_evidence]
            for dup in sorted({n for n in names if names.count(n) > 1}):
                self.add(
                    (*p, "required_evidence"), f"evidence name '{dup}' is used twice", rule="manual"
                )
            if s.choices:
                values = [o.value for o in s.choices.options]
                for dup in sorted({v for v in values if values.count(v) > 1}):
                    self.add(
                        (*p, "choices", "options"),
                        f"choice value '{dup}' is listed twice",
                        rule="manual",
                    )
                if s.choices.variable in s.capture:
                    self.add(
                        (*p, "choices", "variable"),
                        f"'{s.choices.variable}' is both the choice variable and a capture",
                        rule="manual",
                    )
        if isinstance(s, ToolStep):
            self.tool_step(s, p, tools)
        if isinstance(s, InvokeStep):
            self.invoke_step(s, p)
        if kind != "manual":
            unconditional = [k for k, o in enumerate(s.outcomes) if not o.when]
            if unconditional and unconditional[0] < len(s.outcomes) - 1:
                self.add(
                    (*p, "outcomes", unconditional[0] + 1),
                    "this outcome is never checked: an earlier one has no `when`",
                    hint="only manual steps let the engineer choose among unconditional outcomes",
                    severity="warning",
                    rule="outcomes",
                )

    def capture_source(self, source: str, kind: str, path: Path_, step: AnyStep) -> None:
        if source.startswith("$"):
            self.jsonpath(source, path)
            return
        if source.startswith("header."):
            if kind != "http":
                self.add(path, f"a {kind} step has no headers", rule="capture")
            return
        if source.startswith("evidence."):
            names = (
                {e.name for e in step.required_evidence} if isinstance(step, ManualStep) else set()
            )
            if kind != "manual" or source.removeprefix("evidence.") not in names:
                self.add(
                    path, f"'{source}' names no required evidence of this step", rule="capture"
                )
            return
        if source not in SIMPLE_SOURCES:
            self.add(
                path,
                f"unknown capture source '{source}'",
                rule="capture",
                hint="stdout, stderr, exit_code, row_count, status_code, body, header.<Name>, "
                "evidence.<name>, or a JSONPath such as $.data[0].error",
            )
            return
        allowed = SOURCES_BY_KIND.get(kind, set())
        if source not in allowed:
            self.add(
                path,
                f"a {kind} step has no '{source}'",
                rule="capture",
                hint=("use one of " + ", ".join(sorted(allowed))) if allowed else None,
            )

    def jsonpath(self, query: str, path: Path_) -> None:
        if SIMPLE_JSONPATH.match(query):  # valid by construction; spares the library's import
            return
        import jsonpath

        try:
            jsonpath.compile(query)
        except jsonpath.JSONPathError as e:
            first = str(e).splitlines()[0]
            self.add(path, f"invalid JSONPath: {first}", rule="jsonpath")

    def resolve(self, rel: str, *, suffix: str = RUNBOOK_SUFFIX) -> Path | None:
        """A referenced file: relative to this runbook's folder, then the project root."""
        candidates = [rel] if Path(rel).suffix else [rel + suffix, rel]
        for base in (self.folder, self.project.root):
            for c in candidates:
                p = base / c
                if p.is_file():
                    return p
        return None

    def display(self, file: Path) -> str:
        """A path as the author would write it: relative to this runbook, else the project."""
        for base in (self.folder, self.project.root):
            try:
                return str(file.resolve().relative_to(base.resolve()))
            except ValueError:
                continue
        return str(file)

    def child_file(self, rel: str, path: Path_) -> None:
        found = self.resolve(rel)
        if found is None:
            self.add(
                path,
                f"next runbook '{rel}' does not exist",
                rule="next-runbook",
                hint=f"looked in {self.folder} and {self.project.root}",
            )
        elif not self.project.contains(found):
            self.add(path, f"next runbook '{rel}' is outside the project", rule="next-runbook")

    # tools -----------------------------------------------------------------
    def resolve_tools(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        entries: list[tuple[str, str | None, Path_]]
        if isinstance(self.rb.tools, dict):
            entries = [(alias, rel, ("tools", alias)) for alias, rel in self.rb.tools.items()]
        else:
            entries = [(name, None, ("tools", i)) for i, name in enumerate(self.rb.tools)]
        for alias, rel, path in entries:
            file: Path | None = None
            if rel is not None:
                file = self.resolve(rel, suffix=".tool.yaml")
                if file is None:
                    self.add(path, f"tool file '{rel}' does not exist", rule="tools")
                    continue
            else:
                for folder in self.project.tools_path:
                    if (folder / f"{alias}.tool.yaml").is_file():
                        file = folder / f"{alias}.tool.yaml"
                        break
                if file is None:
                    if alias in BUILTIN_TOOLS:
                        continue
                    where = ", ".join(str(f) for f in self.project.tools_path)
                    self.add(
                        path,
                        f"tool '{alias}' not found on tools_path",
                        hint=f"looked in {where}",
                        rule="tools",
                    )
                    continue
            checked = self.v.tool_file(file)
            if not checked.ok:
                n = len([p for p in checked.problems if p.severity == "error"])
                shown = self.display(file)
                self.add(
                    path,
                    f"tool file '{shown}' is invalid ({n} problem{'s' * (n != 1)})",
                    hint=f"run: gert validate {shown}",
                    rule="tools",
                )
                out[alias] = None
                continue
            out[alias] = checked.model
        return out

    def tool_step(self, s: ToolStep, p: Path_, tools: dict[str, Any]) -> None:
        name, action = s.tool.name, s.tool.action
        tp = (*p, "tool")
        if name in tools:
            tool = tools[name]
            if tool is None:
                return  # already reported at `tools:`
            actions = {k: (a.args) for k, a in tool.actions.items()}
            if action not in actions:
                self.add(
                    (*tp, "action"),
                    f"tool '{name}' has no action '{action}'",
                    rule="tools",
                    hint="actions: " + ", ".join(sorted(actions)),
                )
                return
            spec = actions[action]
            required = {k for k, a in spec.items() if a.required and a.default is None}
            known = set(spec)
            enums = {k: a.enum for k, a in spec.items() if a.enum}
        elif name in BUILTIN_TOOLS:
            if action not in BUILTIN_TOOLS[name]:
                self.add(
                    (*tp, "action"),
                    f"built-in tool '{name}' has no action '{action}'",
                    hint="actions: " + ", ".join(BUILTIN_TOOLS[name]),
                    rule="tools",
                )
                return
            required = BUILTIN_TOOLS[name][action]["required"]
            known = required | BUILTIN_TOOLS[name][action]["optional"]
            enums = {}
        else:
            declared = sorted(tools) + sorted(set(BUILTIN_TOOLS) - set(tools))
            self.add(
                (*tp, "name"),
                f"unknown tool '{name}'",
                rule="tools",
                hint="declare it under `tools:`; available: " + ", ".join(declared),
            )
            return
        for missing in sorted(required - set(s.tool.args)):
            self.add(
                (*tp, "args"),
                f"action '{action}' of tool '{name}' needs arg '{missing}'",
                rule="tools",
            )
        for extra in sorted(set(s.tool.args) - known):
            self.add(
                (*tp, "args", extra),
                f"action '{action}' of tool '{name}' has no arg '{extra}'",
                rule="tools",
                key=True,
                hint=("args: " + ", ".join(sorted(known))) if known else None,
            )
        for arg, allowed in enums.items():
            v = s.tool.args.get(arg)
            if v is not None and not (isinstance(v, str) and "{{" in v) and v not in allowed:
                self.add((*tp, "args", arg), f"{v!r} is not one of {allowed}", rule="tools")

    # invoke / imports ---------------------------------------------------------
    def invoke_step(self, s: InvokeStep, p: Path_) -> None:
        ref = s.invoke.runbook
        if ref in self.rb.imports:
            return
        if self.resolve(ref) is None:
            self.add(
                (*p, "invoke", "runbook"),
                f"'{ref}' is neither an import alias nor a runbook file",
                hint="declare it under `imports:`",
                rule="imports",
            )
        for state in s.gate.stop_if:
            if state not in (*STATES, "failed", "completed"):
                self.add(
                    (*p, "gate", "stop_if"), f"'{state}' is not an outcome state", rule="imports"
                )

    def imports(self) -> None:
        for alias, rel in self.rb.imports.items():
            path = ("imports", alias)
            found = self.resolve(rel)
            if found is None:
                self.add(path, f"import '{rel}' does not exist", rule="imports")
                continue
            cycle = _import_cycle(self.c.path.resolve(), found.resolve())
            if cycle:
                chain = " -> ".join(c.name for c in cycle)
                self.add(path, f"imports form a cycle: {chain}", rule="imports")

    # reachability ---------------------------------------------------------
    def reachability(self, steps: list[_StepInfo]) -> None:
        if self.rb.meta.kind == "mitigation" and steps and not any(i.step.outcomes for i in steps):
            self.add(
                ("meta", "kind"),
                "a mitigation runbook must be able to reach an outcome",
                hint="add `outcomes:` to a step, or set kind: composable / reference",
                rule="outcome",
            )
        # A non-manual step with an unconditional outcome ends the runbook: what follows it
        # in the same list never runs.
        lists: dict[tuple[Path_, tuple[tuple[str, int], ...]], list[_StepInfo]] = {}
        for info in steps:
            lists.setdefault(
                (info.path[:-2] if info.path[-1] == "step" else info.path[:-1], info.enclosing), []
            ).append(info)
        for seq in lists.values():
            for i, info in enumerate(seq[:-1]):
                s = info.step
                ends = s.type != "manual" and any(not o.when for o in s.outcomes) and not s.when
                if (
                    s.type == "manual"
                    and s.outcomes
                    and all(not o.when for o in s.outcomes)
                    and not s.when
                ):
                    ends = True
                if ends and not info.branches:
                    nxt = seq[i + 1]
                    self.add(
                        (*nxt.path, "id"),
                        f"step '{nxt.step.id}' can never run: step '{s.id}' always reaches an outcome first",
                        severity="warning",
                        rule="unreachable",
                    )
                    break


def _imports_of(path: Path) -> list[Path]:
    try:
        doc = load_file(path)
    except LoadError:
        return []
    data = doc.data if isinstance(doc.data, dict) else {}
    imports = data.get("imports") or {}
    out = []
    if isinstance(imports, dict):
        for rel in imports.values():
            if isinstance(rel, str):
                cand = [rel] if Path(rel).suffix else [rel + RUNBOOK_SUFFIX, rel]
                for c in cand:
                    q = path.parent / c
                    if q.is_file():
                        out.append(q.resolve())
                        break
    return out


def _import_cycle(start: Path, first: Path) -> list[Path] | None:
    """The import path that leads from *first* back to *start*, if any."""
    stack = [(first, [start, first])]
    seen: set[Path] = set()
    while stack:
        cur, trail = stack.pop()
        if cur == start:
            return trail
        if cur in seen:
            continue
        seen.add(cur)
        for nxt in _imports_of(cur):
            stack.append((nxt, [*trail, nxt]))
    return None


# ------------------------------------------------------------ domain: tools


class _ToolRules:
    def __init__(self, checked: Checked):
        self.c = checked
        self.doc: Document = checked.doc  # type: ignore[assignment]
        self.tool: ToolDefinition = checked.model  # type: ignore[assignment]

    def add(
        self,
        path: Path_,
        msg: str,
        *,
        severity: str = "error",
        hint: str | None = None,
        at: tuple[int, int] | None = None,
    ) -> None:
        line, col = at or self.doc.position(path)
        self.c.problems.append(
            Problem(self.doc.file, line, col, msg, severity, field_path(path), hint, "tool")
        )

    def run(self) -> None:
        t = self.tool
        target = {"stdio": "argv", "jsonrpc": "method", "mcp": "mcp_tool"}[t.transport.mode]
        for name, action in t.actions.items():
            if getattr(action, target) is None:
                self.add(
                    ("actions", name),
                    f"action '{name}' needs `{target}` because transport.mode is "
                    f"{t.transport.mode}",
                    hint="argv for stdio, method for jsonrpc, mcp_tool for mcp",
                )
        if t.transport.mode in ("jsonrpc", "mcp") and not (t.transport.command or t.meta.binary):
            self.add(
                ("transport",), f"a {t.transport.mode} tool needs transport.command or meta.binary"
            )
        for i, r in enumerate(t.governance.redact):
            try:
                re.compile(r.pattern)
            except re.error as e:
                self.add(
                    ("governance", "redact", i, "pattern"), f"invalid regular expression: {e.msg}"
                )
        for name, action in t.actions.items():
            ap = ("actions", name)
            args = set(action.args)
            texts = [(v, (*ap, "argv", i)) for i, v in enumerate(action.argv or [])]
            texts += _strings(action.params, (*ap, "params"))
            for text, path in texts:
                if "{{" not in text:
                    continue
                try:
                    refs = _template.referenced_variables(text)
                except _template.TemplateError as e:
                    self.add(
                        path,
                        f"template: {e.message}",
                        at=self.doc.position_in_value(path, e.line, e.col),
                    )
                    continue
                for ref, _ in refs:
                    if ref not in args:
                        self.add(
                            path, f"unknown arg '{ref}'", hint="declare it under this action's args"
                        )
            for arg, spec in action.args.items():
                if (
                    spec.enum is not None
                    and spec.default is not None
                    and spec.default not in spec.enum
                ):
                    self.add(
                        (*ap, "args", arg, "default"), f"default {spec.default!r} is not in enum"
                    )
                if spec.required and spec.default is not None:
                    self.add(
                        (*ap, "args", arg),
                        "a required arg with a default is never missing",
                        severity="warning",
                    )


# ------------------------------------------------------------------ entry points


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
