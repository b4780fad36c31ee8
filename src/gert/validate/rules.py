"""Phase 3 of validation: the domain rules a schema cannot say: unique IDs,
variables defined before use, regexes and JSONPaths that compile, tools and actions that
exist, child runbooks and imports that exist, reachable outcomes."""

from __future__ import annotations

import re
from collections import ChainMap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gert import expr as _expr
from gert import template as _template
from gert.config import SANDBOX_PATH_HINT, sandbox_path_problems
from gert.load import Document, LoadError, load_file
from gert.model import (
    BUILTIN_ARG_ENUMS,
    BUILTIN_TOOLS,
    STATES,
    AnyStep,
    CliStep,
    HttpStep,
    InvokeStep,
    ManualStep,
    Node,
    Runbook,
    SandboxSpec,
    ToolDefinition,
    ToolStep,
)
from gert.problems import Problem
from gert.validate.schema import Path_, field_path

if TYPE_CHECKING:
    from gert.validate.validator import Checked, Validator


def plainly_a_read(query: str) -> bool:
    """A query that starts as a read and names nothing that writes: no need to load the
    SQL parser to check it here (the tool parses every query before it runs it)."""
    return bool(_PLAIN_READ.match(query)) and not _WRITE_WORD.search(query) and ";" not in query


_PLAIN_READ = re.compile(r"(?is)^\s*(select|with|values)\b")
_WRITE_WORD = re.compile(
    r"(?i)\b(insert|update|delete|drop|create|alter|attach|detach|pragma|copy|grant|revoke|"
    r"merge|truncate|set|lock|into|call|do|vacuum|reindex|replace|load|execute)\b"
)


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


class RunbookRules:
    def __init__(self, validator: Validator, checked: Checked):
        self.v = validator
        self.c = checked
        self.doc: Document = checked.doc  # type: ignore[assignment]
        self.rb: Runbook = checked.model  # type: ignore[assignment]
        self.file = self.doc.file
        self.folder = validator.real_folder(checked.path)
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
            texts += [(t, (*op, "meta", k), after) for k, t in o.meta.items() if isinstance(t, str)]
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
        if isinstance(s, CliStep):
            self.sandbox(s, p)
            self.command_policy(s.with_.argv, (*p, "with", "argv"))
        if s.precondition is not None:
            self.command_policy(s.precondition.check, (*p, "precondition", "check"))
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

    def command_policy(self, argv: list[str], path: Path_) -> None:
        """A command the project's and runbook's governance will refuse (when its program
        is written literally): warned now, not found out at 3 a.m."""
        if not argv or any("{{" in a for a in argv[:1]):
            return
        import os

        from gert.governance import Policy

        try:
            policy = Policy.merge(self.project.config.governance, self.rb.meta.governance)
        except Exception:  # gert.yaml's own problems are reported on gert.yaml
            return
        if not policy.denied and policy.allowed is None:
            return
        argv = [a if "{{" not in a else "VALUE" for a in argv]
        reason = policy.blocked(argv, os.environ.get("PATH", os.defpath), str(self.project.root))
        if reason:
            self.add(
                path,
                f"governance will refuse this command: {reason}",
                hint="change the command, or the policy (governance in gert.yaml or the runbook)",
                severity="warning",
                rule="governance",
            )

    def sandbox(self, s: CliStep, p: Path_) -> None:
        """`sandbox: false` where gert.yaml requires one; writable paths out of the project."""
        own, sp = s.with_.sandbox, (*p, "with", "sandbox")
        if own is False and self.project.config.sandbox.required:
            self.add(
                sp,
                "sandbox: false is refused: gert.yaml sets sandbox.required",
                hint="remove it (the step gets gert.yaml's sandbox.default) or give its own",
                rule="sandbox",
            )
        if isinstance(own, SandboxSpec):
            for i, problem in sandbox_path_problems(own, self.project.root):
                self.add((*sp, "writable", i), problem, rule="sandbox", hint=SANDBOX_PATH_HINT)

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
                if not self.project.contains(file):
                    self.add(path, f"tool file '{rel}' is outside the project", rule="tools")
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
            enums = {k: v for k, v in BUILTIN_ARG_ENUMS.items() if k in known}
            query = s.tool.args.get("query")
            from gert.validate.queries import query_tool_problems

            for f in query_tool_problems(name, s.tool.args, self.rb):
                path = (*tp, "args", *f.where)
                value: Any = s.tool.args
                for key in f.where:
                    value = value[key] if isinstance(value, dict | list) else None
                at = None
                if f.offset is not None and isinstance(value, str):
                    line = value.count("\n", 0, f.offset) + 1
                    col = f.offset - (value.rfind("\n", 0, f.offset) + 1) + 1
                    at = self.doc.position_in_value(path, line, col)
                self.add(
                    path,
                    f.message,
                    hint=f.hint,
                    rule="query",
                    at=at,
                    severity=f.severity,
                    key=f.key,
                )
            if name == "sql" and isinstance(query, str) and "{{" in query:
                # A value spliced into SQL text is an injection waiting for a hostile input.
                self.add(
                    (*tp, "args", "query"),
                    "the query is a template: values may not be spliced into SQL text",
                    rule="sql",
                    hint="write :name in the query and give the value in params: {name: ...}",
                )
            elif name == "sql" and isinstance(query, str) and not plainly_a_read(query):
                from gert.validate.sql import refusal

                url = str(s.tool.args.get("url") or "")
                dialect = "sqlite" if url.startswith("sqlite") else "postgres"
                refused = refusal(query, dialect)
                if refused:  # the tool refuses it when the step runs: say so now
                    self.add((*tp, "args", "query"), refused, severity="warning", rule="sql")
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
        found = self.resolve(ref)
        if found is None:
            self.add(
                (*p, "invoke", "runbook"),
                f"'{ref}' is neither an import alias nor a runbook file",
                hint="declare it under `imports:`",
                rule="imports",
            )
        elif not self.project.contains(found):
            self.add(
                (*p, "invoke", "runbook"),
                f"invoked runbook '{ref}' is outside the project",
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
            if not self.project.contains(found):
                self.add(path, f"import '{rel}' is outside the project", rule="imports")
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


class ToolRules:
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
