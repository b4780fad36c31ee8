"""kernel/v0 runbooks as gert runbooks.

The kernel body is a list of steps where ``branch`` and ``end`` are steps of their own;
in gert, branches and outcomes belong to the step they follow. So a ``branch`` or an
``end`` is attached to the step before it in the same list when that step always runs
when reached (no ``when``, no ``continue_on_fail``), and an arm that starts with an
``end`` becomes an outcome of that step, guarded by the arm's condition and the
negation of the arms before it. What has no such host, and the kernel's loops, jumps
and parallel blocks, are refused with their line.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gert.migrate.conditions import (
    NO_VALUE,
    Condition,
    Unconvertible,
    combine,
    convert_condition,
    references,
    surprises,
)
from gert.migrate.source import Source
from gert.migrate.tools import Contract, Tool
from gert.model import INPUT_SOURCE_PATTERN

TOP_KEYS = {"apiVersion", "meta", "tools", "steps", "extensions"}
META_KEYS = {"name", "description", "inputs", "constants", "governance", "secrets", "extensions"}
INPUT_KEYS = {"type", "required", "default", "description", "from"}
STEP_KEYS = {"id", "type", "when", "next", "continue_on_fail", "extensions", "scope", "export"}
STEP_KEYS |= {"visibility", "for_each", "repeat", "contract", "tool", "action", "inputs"}
STEP_KEYS |= {"inputs_from", "instructions", "required_evidence", "assert", "branches"}
STEP_KEYS |= {"outcome", "extension"}
RULE_KEYS = {"risk", "effects", "writes", "contract", "default", "action", "min_approvers"}
RULE_KEYS |= {"contract_violations"}
CATEGORIES = ("resolved", "escalated", "no_action", "needs_rca")
_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_DEPTH = 64  # branches nested deeper than this are refused


@dataclass
class Built:
    """A converted step, with what may still be attached to it."""

    id: str
    step: dict[str, Any]
    kind: str
    plain: bool  # no when, no continue_on_fail: reached means run
    captures: dict[str, Any] = field(default_factory=dict)
    branches: list[dict[str, Any]] = field(default_factory=list)
    final: bool = False  # holds an outcome without `when`
    origin: dict[str, str] = field(default_factory=dict)  # capture -> where its tool defines it
    # A refused step's place: what follows it is reported once as depending on it
    # (the root refusal says why), not refused again for want of a step before it.
    stand_in: bool = False
    line: int = 0

    @property
    def host(self) -> bool:
        """Outcomes and branches may be attached: it always runs when reached, and
        nothing after it is already decided."""
        return self.plain and not self.branches and not self.final

    def node(self) -> dict[str, Any]:
        """The step as a tree node."""
        return {"step": self.step, **({"branches": self.branches} if self.branches else {})}


@dataclass
class Converted:
    """A converted runbook and what its tests need to know about the conversion."""

    source: Source
    base: str  # the kernel file's name without extension (its scenarios folder)
    name: str
    data: dict[str, Any] | None
    tools: dict[str, Tool]  # by the name steps use
    ends: dict[str, tuple[str, str]] = field(default_factory=dict)  # end ID -> (category, code)
    branch_hosts: dict[str, str] = field(default_factory=dict)  # branch step ID -> host ID
    assert_hosts: dict[str, str] = field(default_factory=dict)  # assert ID -> host ID
    dropped: set[str] = field(default_factory=set)  # step IDs with no gert counterpart
    steps: set[str] = field(default_factory=set)  # step IDs of the gert runbook
    manual: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # ID -> evidence
    inputs: set[str] = field(default_factory=set)
    constants: dict[str, Any] = field(default_factory=dict)
    captured: set[str] = field(default_factory=set)  # names some step captures

    @property
    def ok(self) -> bool:
        return self.data is not None


class RunbookConverter:
    """Converts one kernel runbook; every construct is reported on the source."""

    def __init__(
        self,
        src: Source,
        base: str,
        find_tool: Callable[[str, tuple[Any, ...]], Tool | None],
        source_ref: str,
    ):
        self.src = src
        self.base = base
        self.find_tool = find_tool
        self.source_ref = source_ref
        self.failed = False
        self.refs: dict[str, tuple[Any, ...]] = {}  # root names read -> first place
        # Names gert's Go implementation lets a template read without any value in a real
        # run: step IDs and contract outputs (only a scenario's canned outputs set them).
        self.declared: set[str] = set()
        self.numeric: set[str] = set()
        self.ids: dict[str, tuple[Any, ...]] = {}
        self.rules: list[tuple[tuple[Any, ...], dict[str, Any], str, int]] = []
        self.denied: dict[str, list[str]] = {}  # program -> denied step IDs
        self.programs: dict[str, list[str]] = {}  # program -> every tool step ID running it
        self.result: Converted
        self.loop_names: frozenset[str] = frozenset()  # for_each `as` names in scope
        self.stand_ins: list[Built] = []  # refused steps: their outputs are unknown
        self.dependents: list[tuple[Any, ...]] = []  # steps reported as depending on one

    # reporting --------------------------------------------------------------
    def refuse(self, path: tuple[Any, ...], construct: str, detail: str) -> None:
        self.failed = True
        self.src.refuse(path, construct, detail)

    def note(self, path: tuple[Any, ...], verdict: str, construct: str, detail: str) -> None:
        self.src.note(path, verdict, construct, detail)

    def stand_in(self, sid: str, p: tuple[Any, ...], kind: str) -> Built:
        """The place of a refused step, for the steps after it to depend on."""
        b = Built(sid, {}, kind, True, stand_in=True, line=self.src.pos(p)[0])
        self.stand_ins.append(b)
        return b

    def depends(self, p: tuple[Any, ...], construct: str, root: Built, why: str = "") -> None:
        """One entry for what cannot be converted only because *root* was refused."""
        if any(p[: len(d)] == d for d in self.dependents):
            self.failed = True
            return  # inside a step that says so already
        self.dependents.append(tuple(p))
        self.refuse(
            p,
            construct,
            f"depends on refused step '{root.id}' (line {root.line})"
            + (f", {why}" if why else "")
            + "; it converts once that step does",
        )

    def unknown_outputs(self, p: tuple[Any, ...]) -> Built | None:
        """The last refused step before *p*, whose outputs are not known."""
        line = self.src.pos(p)[0]
        before = [b for b in self.stand_ins if b.line < line]
        return before[-1] if before else None

    # the whole runbook ------------------------------------------------------
    def convert(self) -> Converted:
        """The runbook converted (``data`` None when something was refused)."""
        src = self.src
        top = src.mapping((), src.data, TOP_KEYS, "runbook")
        meta = src.mapping(("meta",), top.get("meta"), META_KEYS, "meta")
        name = src.text(("meta", "name"), meta.get("name"), "meta.name")
        self.result = Converted(src, self.base, name, None, {})
        if not name or not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", name):
            self.refuse(
                ("meta", "name"), "meta.name", f"{name!r} is not a runbook name gert can use"
            )
        out_meta: dict[str, Any] = {"name": name, "kind": "mitigation"}
        if meta.get("description") is not None:
            out_meta["description"] = src.text(
                ("meta", "description"), meta["description"], "description"
            )
        out_meta["inputs"] = self.inputs(meta.get("inputs"))
        out_meta["vars"] = self.constants(meta.get("constants"))
        self.governance_rules(meta.get("governance"))
        for i, secret in enumerate(
            src.listing(("meta", "secrets"), meta.get("secrets"), "meta.secrets")
        ):
            env = secret.get("env") if isinstance(secret, dict) else None
            self.note(
                ("meta", "secrets", i),
                "dropped",
                f"secret {env}",
                "the environment is inherited as before, and gert's Go implementation never "
                "redacted it; to redact it, declare an input {from: env.VAR, secret: true}",
            )
        for where in (("extensions",), ("meta", "extensions")):
            node = top if where == ("extensions",) else meta
            if node.get("extensions") is not None:
                self.note(
                    where,
                    "dropped",
                    "extensions",
                    "passed through and never read by gert's Go implementation",
                )
        self.tool_names = self.tool_list(top.get("tools"))
        steps = src.listing(("steps",), top.get("steps"), "steps")
        if not steps and src.typo_of((), "steps") is None:  # a typo is refused already
            self.refuse(("steps",), "steps", "a runbook needs at least one step")
        built, ends = self.body(steps, ("steps",), 0)
        if built and not ends:
            self.note(
                ("steps",),
                "differs",
                "end of the steps",
                "a run that reaches no end step is an error in gert's Go implementation; "
                "in gert it ends as completed",
            )
        self.finish_governance()
        unset = sorted(
            n
            for n in self.refs
            if n not in self.result.inputs
            and n not in out_meta["vars"]
            and n not in self.result.captured
        )
        for n in unset:
            root = self.unknown_outputs(self.refs[n])
            if n not in self.declared and root is not None:
                self.depends(self.refs[n], f"name '{n}'", root, "whose outputs are unknown")
                continue
            if n not in self.declared:  # a typo, or a name nothing declares
                self.refuse(
                    self.refs[n],
                    f"name '{n}'",
                    "nothing declares it (no input, constant, step or contract output of "
                    "that name): gert's Go implementation refuses the runbook too; declare "
                    "it or correct the name",
                )
                continue
            out_meta["vars"][n] = NO_VALUE
            self.note(
                self.refs[n],
                "converted",
                f"name '{n}'",
                f"nothing in a real run sets it: declared in meta.vars as {NO_VALUE!r}, the "
                "text gert's Go implementation renders for a missing name (a scenario's "
                "canned outputs may still set it)",
            )
        if self.deny_programs:
            out_meta["governance"] = {"denied_commands": self.deny_programs}
        out_meta["source"] = {
            "path": self.source_ref,
            "sha256": hashlib.sha256(src.doc.text.encode("utf-8")).hexdigest(),
        }
        for key in ("inputs", "vars"):
            if not out_meta[key]:
                del out_meta[key]
        data: dict[str, Any] = {"apiVersion": "runbook/v0", "meta": out_meta}
        used = {t: self.result.tools[t] for t in sorted(self.result.tools)}
        if used:
            data["tools"] = {t: f"../{tool.out_path}" for t, tool in used.items()}
        data["tree"] = [b.node() for b in built]
        if not self.failed and not src.refusals:  # an unknown field too: nothing is written
            self.result.data = data
        return self.result

    # meta -------------------------------------------------------------------
    def inputs(self, value: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        raw = self.src.mapping(
            ("meta", "inputs"),
            value,
            set(value or {}) if isinstance(value, dict) else set(),
            "inputs",
        )
        for name, spec in raw.items():
            p = ("meta", "inputs", name)
            if not isinstance(name, str) or not _VAR.match(name):
                self.refuse(
                    p, f"input '{name}'", "not a name gert's templates and conditions can read"
                )
                continue
            d = self.src.mapping(p, spec, INPUT_KEYS, f"input '{name}'")
            entry: dict[str, Any] = {}
            if d.get("description") is not None:
                entry["description"] = self.src.text(
                    (*p, "description"), d["description"], "description"
                )
            if "default" in d and d["default"] is not None:
                default = d["default"]
                if isinstance(default, dict | list):
                    self.refuse(
                        (*p, "default"),
                        f"input '{name}' default",
                        "gert's inputs are text, not mappings or lists",
                    )
                    continue
                entry["default"] = default
                if not isinstance(default, str):
                    self.numeric.add(name)
            elif not d.get("required"):
                entry["default"] = NO_VALUE
                self.note(
                    p,
                    "converted",
                    f"input '{name}'",
                    f"optional without a default: default {NO_VALUE!r}, the text gert's Go "
                    "implementation renders when it is not given",
                )
            if d.get("type") is not None:
                self.note(
                    (*p, "type"),
                    "dropped",
                    f"input '{name}' type",
                    "never checked by gert's Go implementation; gert's inputs are text",
                )
            if d.get("from") is not None:
                self.input_source(p, name, self.src.text((*p, "from"), d["from"], "from"), entry)
            self.result.inputs.add(name)
            out[name] = entry
        return out

    def input_source(
        self, p: tuple[Any, ...], name: str, source: str, entry: dict[str, Any]
    ) -> None:
        """An input's `from`: gert's own source of that name where it has one."""
        if re.match(INPUT_SOURCE_PATTERN, source) and source != "parent":
            entry["from"] = source
            self.note(
                (*p, "from"),
                "differs",
                f"input '{name}' from",
                f"from {source}: gert takes the value from "
                + (
                    "the incident given with --incident"
                    if source.startswith("incident")
                    else f"environment variable {source[4:]}"
                    if source.startswith("env.")
                    else "the engineer, asked on a terminal"
                )
                + " (before any default); gert's Go implementation's command line never "
                "consulted from, so there only --var or the default gave it",
            )
            return
        self.note(
            (*p, "from"),
            "dropped",
            f"input '{name}' from",
            f"{source!r} names a source of gert's Go implementation's input resolver, which "
            "its command line never runs, and is not one gert has (incident.<field>, "
            "incident.custom_fields.<Name>, incident.location.<field>, env.<VAR>, prompt): "
            "the value comes from --var or the default, as it did there",
        )

    def constants(self, value: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        raw = self.src.mapping(
            ("meta", "constants"),
            value,
            set(value or {}) if isinstance(value, dict) else set(),
            "constants",
        )
        for name, v in raw.items():
            p = ("meta", "constants", name)
            if not isinstance(name, str) or not _VAR.match(name):
                self.refuse(
                    p, f"constant '{name}'", "not a name gert's templates and conditions can read"
                )
                continue
            self.result.constants[name] = v
            if isinstance(v, dict):
                self.note(
                    p,
                    "converted",
                    f"constant '{name}'",
                    "an object: used by inputs_from only (gert's vars are text, numbers or booleans)",
                )
                continue
            if isinstance(v, list):
                self.refuse(
                    p, f"constant '{name}'", "a list: gert's vars are text, numbers or booleans"
                )
                continue
            out[name] = NO_VALUE if v is None else v
            if not isinstance(v, str):
                self.numeric.add(name)
            self.note(p, "converted", f"constant '{name}'", "meta.vars")
        return out

    def tool_list(self, value: Any) -> dict[str, tuple[Any, ...]]:
        names: dict[str, tuple[Any, ...]] = {}
        for i, entry in enumerate(self.src.listing(("tools",), value, "tools")):
            name = self.src.text(("tools", i), entry, "tools entry")
            if name:
                names[name] = ("tools", i)
        return names

    # governance -------------------------------------------------------------
    def governance_rules(self, value: Any) -> None:
        gov = self.src.mapping(
            ("meta", "governance"), value, {"rules", "approval_timeout"}, "governance"
        )
        if gov.get("approval_timeout") is not None:
            self.note(
                ("meta", "governance", "approval_timeout"),
                "dropped",
                "approval_timeout",
                "parsed but never used by gert's Go implementation",
            )
        for i, raw in enumerate(
            self.src.listing(("meta", "governance", "rules"), gov.get("rules"), "rules")
        ):
            p = ("meta", "governance", "rules", i)
            rule = self.src.mapping(p, raw, RULE_KEYS, "governance rule")
            if rule.get("contract_violations") is not None:
                self.note(
                    (*p, "contract_violations"),
                    "dropped",
                    "contract_violations",
                    "never enforced by gert's Go implementation",
                )
            decisions = [k for k in ("action", "default") if rule.get(k) is not None]
            if len(decisions) != 1:
                if set(rule) <= {"contract_violations"}:
                    continue
                self.refuse(p, "governance rule", "needs exactly one of action or default")
                continue
            decision = str(rule[decisions[0]])
            if decision not in ("allow", "require-approval", "deny"):
                self.refuse(
                    (*p, decisions[0]),
                    "governance rule",
                    f"'{decision}' is not allow, require-approval or deny",
                )
                continue
            n = rule.get("min_approvers")
            n = n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1
            self.rules.append((p, rule, decision, n))
            self.note(
                p,
                "converted",
                "governance rule",
                f"{decision}: applied to each step it matches (first match wins)",
            )

    def decide(self, contract: Contract) -> tuple[str, int, tuple[Any, ...] | None]:
        """The first rule that matches a step's contract: (decision, approvers, where)."""
        for p, rule, decision, n in self.rules:
            if _matches(rule, contract):
                return decision, n, p
        return "allow", 0, None

    def finish_governance(self) -> None:
        self.deny_programs: list[str] = []
        for program, denied in sorted(self.denied.items()):
            every = self.programs.get(program, [])
            if sorted(denied) == sorted(every):
                self.deny_programs.append(program)
            else:
                others = sorted(set(every) - set(denied))
                self.refuse(
                    ("meta", "governance"),
                    "deny",
                    f"steps {', '.join(sorted(denied))} are denied, but {', '.join(others)} "
                    f"run {program} too: gert denies programs, not single steps",
                )

    # the body ---------------------------------------------------------------
    def body(self, items: list[Any], path: tuple[Any, ...], depth: int) -> tuple[list[Built], bool]:
        """Convert a step list: (the gert steps, whether it always reaches an outcome)."""
        if depth > MAX_DEPTH:
            self.refuse(path, "branches", f"nested more than {MAX_DEPTH} deep")
            return [], False
        built: list[Built] = []
        last: Built | None = None
        ended = False
        outer = self.loop_names
        for i, raw in enumerate(items):
            self.loop_names = outer
            p = (*path, i)
            if ended:
                self.note(p, "dropped", "step", "unreachable: an end step comes before it")
                continue
            step = self.src.mapping(p, raw, STEP_KEYS, "step")
            if not step:
                self.refuse(p, "step", "a step is a mapping with at least a type")
                continue
            sid = self.step_id(p, step, i)
            kind = self.src.text((*p, "type"), step.get("type"), "type")
            loop = step.get("for_each")
            if isinstance(loop, dict) and isinstance(loop.get("as"), str) and loop["as"]:
                # the loop variable is declared inside the loop (the loop itself is refused)
                self.loop_names = outer | {loop["as"]}
            self.common(p, step, sid, kind)
            if kind in ("tool", "manual"):
                b = (
                    self.tool_step(p, step, sid)
                    if kind == "tool"
                    else self.manual_step(p, step, sid)
                )
                if b is not None:
                    built.append(b)
                    self.result.steps.add(sid)
                    last = b
                else:
                    last = self.stand_in(sid, p, kind)
            elif kind == "end":
                if last is None or not last.host:
                    self.refuse(
                        p,
                        f"end step '{sid}'",
                        "needs a step before it in the same list that always runs when reached "
                        "(no when, no continue_on_fail): gert checks outcomes after a step",
                    )
                    continue
                outcome = self.outcome(p, step, sid)
                if outcome is None:
                    continue
                when = step.get("when")
                if when is not None:
                    cond = self.condition((*p, "when"), when, f"end step '{sid}' when")
                    if cond is None:
                        continue
                    if cond.text != "true":
                        outcome = {"when": cond.text, **outcome}
                if "when" not in outcome:
                    last.final = True
                    ended = True
                if last.stand_in:
                    self.depends(p, f"end step '{sid}'", last)
                    continue
                last.step.setdefault("outcomes", []).append(outcome)
                self.note(p, "converted", f"end step '{sid}'", f"an outcome of step '{last.id}'")
            elif kind == "branch":
                if last is None or not last.host:
                    self.refuse(
                        p,
                        f"branch step '{sid}'",
                        "needs a step before it in the same list that always runs when reached "
                        "(no when, no continue_on_fail): gert enters branches after a step",
                    )
                    continue
                ended = self.branch(p, step, sid, last, depth) or ended
            elif kind == "assert":
                if last is not None and last.stand_in:
                    self.depends(p, f"assert step '{sid}'", last)
                    continue
                self.assert_step(p, step, sid, last)
            elif kind == "parallel":
                self.refuse(
                    p,
                    f"parallel step '{sid}'",
                    "gert runs one step at a time and has no parallel block",
                )
                last = self.stand_in(sid, p, kind)
            elif kind == "extension":
                self.refuse(
                    p,
                    f"extension step '{sid}'",
                    "a stub in gert's Go implementation (the run ends in error), with no "
                    "counterpart in gert",
                )
                last = self.stand_in(sid, p, kind)
            else:
                if not kind and self.src.typo_of(p, "type") is None:
                    self.refuse(
                        p,
                        f"step '{sid}'",
                        "has no type (tool, manual, assert, branch, parallel, end, extension)",
                    )
                elif kind:
                    self.refuse(
                        (*p, "type"),
                        f"step '{sid}'",
                        f"unknown type {kind!r} (tool, manual, assert, branch, parallel, end, extension)",
                    )
                last = self.stand_in(sid, p, kind or "unknown")
        self.loop_names = outer
        return built, ended

    def step_id(self, p: tuple[Any, ...], step: dict[str, Any], index: int) -> str:
        raw = step.get("id")
        sid = self.src.text((*p, "id"), raw, "id") if raw is not None else f"_step_{index}"
        if raw is None:
            self.note(
                p,
                "converted",
                "step without id",
                f"id '{sid}', the name gert's Go implementation reports it by",
            )
        if not _ID.match(sid):
            self.refuse(
                (*p, "id"),
                f"step '{sid}'",
                "a gert step ID is letters, digits, _ and -, starting with a letter or _",
            )
        elif sid in self.ids:
            self.refuse(
                (*p, "id"),
                f"step '{sid}'",
                f"the ID is used at line {self.src.pos(self.ids[sid])[0]} too",
            )
        else:
            self.ids[sid] = p
        return sid

    def common(self, p: tuple[Any, ...], step: dict[str, Any], sid: str, kind: str) -> None:
        """The fields every kernel step may carry."""
        if step.get("for_each") is not None:
            self.refuse(
                (*p, "for_each"),
                f"step '{sid}' for_each",
                "gert has no loops: write a step per item, or a tool that takes the list",
            )
        if step.get("repeat") is not None:
            self.refuse(
                (*p, "repeat"),
                f"step '{sid}' repeat",
                "gert has no loops (retry runs a failed step again, which is not until)",
            )
        if step.get("next") is not None:
            self.refuse(
                (*p, "next"),
                f"step '{sid}' next",
                "gert has no jumps: steps run in order, branches choose a way",
            )
        if step.get("visibility") is not None:
            self.note(
                (*p, "visibility"),
                "dropped",
                f"step '{sid}' visibility",
                "only a trace event in gert's Go implementation; never enforced",
            )
        if step.get("extensions") is not None:
            self.note(
                (*p, "extensions"),
                "dropped",
                f"step '{sid}' extensions",
                "never read by gert's Go implementation",
            )
        if step.get("scope") is not None or step.get("export") is not None:
            self.note(
                (*p, "scope") if step.get("scope") is not None else (*p, "export"),
                "differs",
                f"step '{sid}' scope",
                "gert has no step scopes: the step's captures stay visible after it, "
                "exported or not",
            )
        if step.get("contract") is not None and kind not in ("tool", "manual"):
            self.note(
                (*p, "contract"),
                "dropped",
                f"step '{sid}' contract",
                f"changes nothing on a step of type {kind}",
            )

    def condition(self, p: tuple[Any, ...], text: Any, construct: str) -> Condition | None:
        try:
            cond = convert_condition(text, self.numeric)
        except Unconvertible as e:
            self.refuse(p, construct, str(e))
            return None
        if cond.template:
            self.read_template(p, cond.text, construct)
        else:
            for name in _expr_names(cond.text):
                if name not in self.loop_names:
                    self.refs.setdefault(name, p)
        for n in cond.notes:
            self.note(p, "differs", construct, n)
        if cond.rewritten and "{{" in str(text):
            self.note(p, "converted", construct, cond.text)
        return cond

    def read_template(self, p: tuple[Any, ...], text: Any, construct: str) -> bool:
        """Record the names a template reads; refuse what gert cannot read."""
        if not isinstance(text, str) or "{{" not in text:
            return True
        try:
            refs = references(text)
        except Unconvertible as e:
            self.refuse(p, construct, str(e))
            return False
        ok = True
        for ref in refs:
            root = ref[0]
            if len(ref) > 1:
                if root in self.ids or root == "repeat":
                    why = (
                        f"reads step '{root}''s outputs by its ID: gert keeps captures by name (.{ref[-1]})"
                        if root != "repeat"
                        else "reads the repeat counter; gert has no loops"
                    )
                else:
                    why = f"reads .{'.'.join(ref)}: gert's values are text, not mappings"
                self.refuse(p, construct, why)
                ok = False
                continue
            if root not in self.loop_names:
                self.refs.setdefault(root, p)
        try:
            for n in surprises(text):
                self.note(p, "differs", construct, n)
        except Unconvertible:
            pass
        return ok

    # step kinds ------------------------------------------------------------------
    def tool_step(self, p: tuple[Any, ...], step: dict[str, Any], sid: str) -> Built | None:
        tool_name = self.src.text((*p, "tool"), step.get("tool"), "tool")
        action_name = self.src.text((*p, "action"), step.get("action"), "action")
        if not tool_name:
            self.refuse(p, f"tool step '{sid}'", "names no tool")
            return None
        if tool_name not in self.tool_names:
            self.refuse((*p, "tool"), f"tool step '{sid}'", self.not_listed(tool_name))
            return None
        tool = self.find_tool(tool_name, self.tool_names[tool_name])
        if tool is None:
            self.failed = True
            return None
        action = tool.actions.get(action_name)
        if action is None:
            self.refuse(
                (*p, "action"),
                f"tool step '{sid}'",
                f"tool '{tool_name}' has no action '{action_name}'",
            )
            return None
        alias = tool.name  # the name scenarios key responses by
        self.result.tools[alias] = tool
        args: dict[str, Any] = {}
        inputs = self.src.mapping(
            (*p, "inputs"),
            step.get("inputs"),
            set(step.get("inputs") or {}) if isinstance(step.get("inputs"), dict) else set(),
            "inputs",
        )
        for k, v in inputs.items():
            if not isinstance(k, str) or not _VAR.match(k):
                self.refuse(
                    (*p, "inputs", k),
                    f"tool step '{sid}' input",
                    f"{k!r} is not a name an action's template can read",
                )
                continue
            if k not in action.declared:
                self.note(
                    (*p, "inputs", k),
                    "dropped",
                    f"tool step '{sid}' input '{k}'",
                    f"action '{action_name}' never reads it (not in its argv or contract)",
                )
                continue
            self.read_template((*p, "inputs", k), v, f"tool step '{sid}' input '{k}'")
            args[k] = v
        from_names = step.get("inputs_from")
        for j, n in enumerate(
            [from_names]
            if isinstance(from_names, str)
            else self.src.listing((*p, "inputs_from"), from_names, "inputs_from")
        ):
            const = self.result.constants.get(n) if isinstance(n, str) else None
            if isinstance(const, dict) and all(
                not isinstance(v, dict | list) for v in const.values()
            ):
                for k, v in const.items():
                    if str(k) in action.declared:
                        args.setdefault(str(k), NO_VALUE if v is None else v)
                self.note(
                    (*p, "inputs_from"),
                    "converted",
                    f"tool step '{sid}' inputs_from",
                    f"the entries of constant '{n}' as args",
                )
            else:
                self.refuse(
                    (*p, "inputs_from") if isinstance(from_names, str) else (*p, "inputs_from", j),
                    f"tool step '{sid}' inputs_from",
                    f"'{n}' is not a constant mapping of text; a step's outputs as a mapping do not exist in gert",
                )
        for a in action.args:
            if a not in args:
                args[a] = "{{ ." + a + " }}"
                if a not in self.loop_names:
                    self.refs.setdefault(a, p)
        out: dict[str, Any] = {"id": sid, "type": "tool"}
        plain = self.when(p, step, sid, out)
        out["tool"] = {"name": alias, "action": action_name, **({"args": args} if args else {})}
        if action.captures:
            out["capture"] = dict(action.captures)
            self.result.captured |= set(action.captures)
        if "argv" in action.data:
            out["assertions"] = [{"exit_code": 0}]
        if step.get("continue_on_fail"):
            out["continue_on_fail"] = True
            plain = False
        step_contract = step.get("contract") if isinstance(step.get("contract"), dict) else {}
        contract = action.contract.merged(step_contract)
        self.declared.update(contract.outputs)
        self.declared.add(sid)
        decision, n, where = self.decide(contract)
        if action.program:
            self.programs.setdefault(action.program, []).append(sid)
        owner = f"{self.result.name}:{sid}"
        if decision == "require-approval":
            action.approval = max(action.approval, n)
            action.approved_by.append(owner)
            self.note(
                where or p,
                "converted",
                f"tool step '{sid}' governance",
                f"risk {contract.risk}: action '{action_name}' of tool '{tool_name}' requires {n} approval(s)",
            )
        elif decision == "deny":
            self.denied.setdefault(action.program, []).append(sid)
            self.note(
                where or p,
                "differs",
                f"tool step '{sid}' governance",
                f"risk {contract.risk}: denied, as denied_commands [{action.program}]; a "
                "replay (gert test, --check) runs no command, so only a real run is blocked",
            )
        else:
            action.allowed_by.append(owner)
        self.note(
            p,
            "converted",
            f"tool step '{sid}'",
            f"type tool: {alias}.{action_name}"
            + (
                ", exit code 0 asserted (a non-zero exit fails the step)"
                if "argv" in action.data
                else ""
            ),
        )
        return Built(sid, out, "tool", plain, dict(action.captures), origin=dict(action.origin))

    def not_listed(self, name: str) -> str:
        """Why a step's tool is not in the tools list, and what to write instead."""
        paths = [t for t in self.tool_names if "/" in t or "\\" in t]
        same = [
            t
            for t in paths
            if re.sub(r"\.tool\.ya?ml$", "", t.replace("\\", "/").rsplit("/", 1)[-1]) == name
        ]
        if same:
            return (
                f"tool '{name}' is not in the runbook's tools list, which names the file "
                f"{same[0]} by its path; gert's Go implementation matches a step's tool "
                "against the entries as written, and refuses this too. gert names each tool "
                f"(the converted runbook says tools: {{{name}: ../tools/{name}.tool.yaml}}): "
                f"write tools: [{name}] with the file at tools/{name}.tool.yaml beside the "
                f"runbook, or tool: {same[0]} in the step"
            )
        listed = ", ".join(self.tool_names) or "none"
        return (
            f"tool '{name}' is not in the runbook's tools list ({listed}): add it there "
            "(gert's Go implementation refuses a tool the list does not name too)"
        )

    def when(self, p: tuple[Any, ...], step: dict[str, Any], sid: str, out: dict[str, Any]) -> bool:
        """Set the step's `when`; False when it has one (it may be skipped)."""
        if step.get("when") is None:
            return True
        cond = self.condition((*p, "when"), step["when"], f"step '{sid}' when")
        if cond is not None and cond.text != "true":
            out["when"] = cond.text
            return False
        return True

    def manual_step(self, p: tuple[Any, ...], step: dict[str, Any], sid: str) -> Built | None:
        out: dict[str, Any] = {"id": sid, "type": "manual"}
        plain = self.when(p, step, sid, out)
        instructions = self.src.text((*p, "instructions"), step.get("instructions"), "instructions")
        if not instructions:
            self.refuse(p, f"manual step '{sid}'", "needs instructions")
        self.read_template((*p, "instructions"), instructions, f"manual step '{sid}' instructions")
        out["instructions"] = instructions
        evidence = []
        for j, raw in enumerate(
            self.src.listing(
                (*p, "required_evidence"), step.get("required_evidence"), "required_evidence"
            )
        ):
            ep = (*p, "required_evidence", j)
            e = self.src.mapping(ep, raw, {"kind", "name", "items"}, "required evidence")
            kind = self.src.text((*ep, "kind"), e.get("kind"), "kind")
            name = self.src.text((*ep, "name"), e.get("name"), "name")
            if kind not in ("text", "checklist", "attachment") or not _VAR.match(name or ""):
                self.refuse(
                    ep,
                    "required evidence",
                    f"kind {kind!r} and name {name!r}: text, checklist or attachment, with a name",
                )
                continue
            entry: dict[str, Any] = {"kind": kind, "name": name}
            if kind == "checklist":
                items = [
                    self.src.text((*ep, "items", k), x, "item")
                    for k, x in enumerate(self.src.listing((*ep, "items"), e.get("items"), "items"))
                ]
                if not items:
                    self.refuse(ep, "required evidence", "a checklist needs items")
                    continue
                entry["items"] = items
            evidence.append(entry)
        if evidence:
            out["required_evidence"] = evidence
        self.result.manual[sid] = evidence
        if step.get("continue_on_fail"):
            out["continue_on_fail"] = True
            plain = False
        base = Contract(side_effects=True, deterministic=False, idempotent=False)
        contract = base.merged(
            step.get("contract") if isinstance(step.get("contract"), dict) else {}
        )
        decision, n, where = self.decide(contract)
        if decision == "require-approval":
            out["approvals"] = {"min": n}
            self.note(
                where or p,
                "converted",
                f"manual step '{sid}' governance",
                f"risk {contract.risk}: approvals.min {n}",
            )
        elif decision == "deny":
            self.refuse(
                where or p,
                f"manual step '{sid}' governance",
                "denied; gert cannot deny a manual step",
            )
        self.note(
            p,
            "converted",
            f"manual step '{sid}'",
            "type manual"
            + (
                " (evidence is stored only under the step's ID in gert's Go implementation; here it is not captured either)"
                if evidence
                else ""
            ),
        )
        return Built(sid, out, "manual", plain)

    def assert_step(
        self, p: tuple[Any, ...], step: dict[str, Any], sid: str, last: Built | None
    ) -> None:
        asserts = self.src.listing((*p, "assert"), step.get("assert"), "assert")
        if not asserts:
            self.refuse(p, f"assert step '{sid}'", "needs at least one assertion")
            return
        if step.get("continue_on_fail"):
            self.result.dropped.add(sid)
            self.note(
                p,
                "dropped",
                f"assert step '{sid}'",
                "with continue_on_fail its failure changes nothing in gert's Go implementation "
                "but the step's record; gert has no step that checks values",
            )
            return
        if last is None or not last.host or last.kind != "tool":
            self.refuse(
                p,
                f"assert step '{sid}'",
                "gert checks a step's own output: an assert needs the tool step it checks "
                "right before it (always run when reached)",
            )
            return
        checks = []
        for j, raw in enumerate(asserts):
            ap = (*p, "assert", j)
            a = self.src.mapping(ap, raw, {"type", "value", "expected", "pattern"}, "assertion")
            kind = a.get("type")
            value = a.get("value")
            m = (
                re.fullmatch(r"\{\{-?\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}", value.strip())
                if isinstance(value, str)
                else None
            )
            source = _assert_source(last.captures.get(m.group(1))) if m else None
            if source is None:
                self.refuse(
                    (*ap, "value"),
                    f"assert step '{sid}'",
                    self.unassertable(value, m.group(1) if m else None, last),
                )
                return
            want_key = "pattern" if kind == "matches" else "expected"
            want = a.get(want_key)
            if isinstance(want, str) and "{{" in want:
                self.refuse(
                    (*ap, want_key),
                    f"assert step '{sid}'",
                    "gert's assertions compare with a literal, not a template",
                )
                return
            check = {
                "equals": "equals",
                "not_equals": "not_equals",
                "contains": "contains",
                "matches": "matches",
            }.get(str(kind))
            if check is None:
                self.refuse(
                    (*ap, "type"),
                    f"assert step '{sid}'",
                    f"{kind!r} is not equals, not_equals, contains or matches",
                )
                return
            text = (
                ""
                if want is None
                else want
                if isinstance(want, str)
                else self.src.text((*ap, want_key), want, want_key)
            )
            checks.append({check: text, "source": source})
        last.step.setdefault("assertions", []).extend(checks)
        self.result.assert_hosts[sid] = last.id
        self.note(
            p,
            "differs",
            f"assert step '{sid}'",
            f"assertions of step '{last.id}' on its output: in a replay they check the canned "
            "stdout, where gert's Go implementation checks the canned outputs",
        )

    def unassertable(self, value: Any, name: str | None, last: Built) -> str:
        """Why an assertion's value is not something gert's assertions can check."""
        capture = last.captures.get(name) if name else None
        if isinstance(capture, dict) and capture.get("pattern"):
            where = last.origin.get(name or "", "")
            return (
                f"'{name}' is captured with the pattern {capture['pattern']} from "
                f"{capture.get('from', 'stdout')}"
                + (f" (the extract at {where})" if where else "")
                + ": gert's assertions check a whole source (stdout, stderr, a JSON path), "
                "not a capture, and no single check means 'the first match's group equals'; "
                f"check {name} in a branch condition or an outcome's when instead, or extract "
                "it with from: json and a path"
            )
        if name is None:
            return (
                f"the value {value!r} is not a single name ({{{{ .NAME }}}}): gert's "
                f"assertions check what step '{last.id}' printed, not a template"
            )
        what = (
            "an input"
            if name in self.result.inputs
            else "a constant"
            if name in self.result.constants
            else "captured by an earlier step"
            if name in self.result.captured
            else f"not captured by step '{last.id}'"
        )
        return (
            f"'{name}' is {what}: gert's assertions check the output of the step they belong "
            f"to, here step '{last.id}' (its captures: "
            f"{', '.join(sorted(last.captures)) or 'none'})"
        )

    def outcome(self, p: tuple[Any, ...], step: dict[str, Any], sid: str) -> dict[str, Any] | None:
        o = self.src.mapping(
            (*p, "outcome"), step.get("outcome"), {"category", "code", "meta"}, "outcome"
        )
        category = self.src.text((*p, "outcome", "category"), o.get("category"), "category")
        code = self.src.text((*p, "outcome", "code"), o.get("code"), "code")
        if category not in CATEGORIES:
            self.refuse(
                (*p, "outcome"),
                f"end step '{sid}'",
                f"category {category!r} is not one of {', '.join(CATEGORIES)}",
            )
            return None
        if not code:
            self.refuse((*p, "outcome"), f"end step '{sid}'", "needs a code")
            return None
        out: dict[str, Any] = {"state": category, "code": code}
        meta = o.get("meta")
        if meta is not None:
            if not isinstance(meta, dict):
                self.refuse((*p, "outcome", "meta"), f"end step '{sid}'", "meta must be a mapping")
                return None
            for k, v in meta.items():
                self.read_template((*p, "outcome", "meta", k), v, f"end step '{sid}' meta '{k}'")
            out["meta"] = {str(k): v for k, v in meta.items()}
        self.result.ends[sid] = (category, code)
        return out

    def branch(
        self, p: tuple[Any, ...], step: dict[str, Any], sid: str, host: Built, depth: int
    ) -> bool:
        """Attach a branch step to *host*; True when every way through it ends."""
        gate = Condition("true")
        if step.get("when") is not None:
            found = self.condition((*p, "when"), step["when"], f"branch step '{sid}' when")
            if found is None:
                return False
            gate = found
        arms = self.src.listing((*p, "branches"), step.get("branches"), "branches")
        if not arms:
            self.refuse(p, f"branch step '{sid}'", "needs at least one branch")
            return False
        before: list[Condition] = []  # conditions of the arms that became branches
        has_default, always = False, gate.text == "true" and not gate.template
        for j, raw in enumerate(arms):
            ap = (*p, "branches", j)
            arm = self.src.mapping(ap, raw, {"condition", "label", "steps"}, "branch")
            text = arm.get("condition")
            cond = self.condition((*ap, "condition"), text, f"branch step '{sid}' condition")
            if cond is None:
                continue
            if cond.text == "true" and not cond.template:
                has_default = True
            steps = self.src.listing((*ap, "steps"), arm.get("steps"), "steps")
            if not steps:
                self.refuse(ap, f"branch step '{sid}'", "a branch needs at least one step")
                continue
            first = steps[0] if isinstance(steps[0], dict) else {}
            label = arm.get("label")
            if (
                first.get("type") == "end"
                and first.get("when") is None
                and not set(first) & {"for_each", "repeat", "next"}
            ):
                fp = (*ap, "steps", 0)
                end_id = self.step_id(fp, first, 0)
                self.src.mapping(fp, first, STEP_KEYS, "step")
                outcome = self.outcome(fp, first, end_id)
                for k in range(1, len(steps)):
                    self.note(
                        (*ap, "steps", k),
                        "dropped",
                        "step",
                        "unreachable: an end step comes before it",
                    )
                if outcome is None:
                    continue
                try:
                    guard = combine([(gate, False), *[(c, True) for c in before], (cond, False)])
                except Unconvertible as e:
                    self.refuse((*ap, "condition"), f"branch step '{sid}'", str(e))
                    continue
                if guard.text != "true":
                    outcome = {"when": guard.text, **outcome}
                else:
                    host.final = True
                host.step.setdefault("outcomes", []).append(outcome)
                if not host.stand_in:  # else the branch step says it depends on it, once
                    self.note(
                        fp,
                        "converted",
                        f"end step '{end_id}'",
                        f"an outcome of step '{host.id}'"
                        + (f" when {guard.text}" if guard.text != "true" else ""),
                    )
                if host.final:
                    for k in range(j + 1, len(arms)):
                        self.note(
                            (*p, "branches", k),
                            "dropped",
                            "branch",
                            "unreachable: an earlier branch always holds",
                        )
                    break
                continue
            inner, ends = self.body(steps, (*ap, "steps"), depth + 1)
            if not inner:
                self.refuse(
                    ap,
                    f"branch step '{sid}'",
                    "no step of this branch converts to a gert step, so it has nothing to hold its outcomes",
                )
                continue
            always = always and ends
            try:
                guard = combine([(gate, False), (cond, False)])
            except Unconvertible as e:
                self.refuse((*ap, "condition"), f"branch step '{sid}'", str(e))
                continue
            branch: dict[str, Any] = {"condition": guard.text}
            if label is not None:
                branch["label"] = self.src.text((*ap, "label"), label, "label")
            branch["steps"] = [b.node() for b in inner]
            host.branches.append(branch)
            before.append(cond)
        if host.stand_in:
            self.depends(p, f"branch step '{sid}'", host)
            return always and has_default
        self.result.branch_hosts[sid] = host.id
        self.note(
            p,
            "converted",
            f"branch step '{sid}'",
            f"branches of step '{host.id}' (the first that holds is entered)",
        )
        if not has_default:
            self.note(
                p,
                "differs",
                f"branch step '{sid}'",
                "no default branch: when no condition holds, gert's Go implementation ends "
                "the run in error; gert goes on after the branches",
            )
        return always and has_default


def _matches(rule: dict[str, Any], c: Contract) -> bool:
    """Whether a governance rule applies to a contract (gert's Go implementation's rules)."""
    if rule.get("default") is not None:
        return True
    if rule.get("risk") is not None:
        return str(rule["risk"]) == c.risk
    contract = rule.get("contract") if isinstance(rule.get("contract"), dict) else {}
    writes = [str(x) for x in (rule.get("writes") or []) + (contract.get("writes") or [])]
    if rule.get("effects"):
        if not set(map(str, rule["effects"])) & set(c.effects):
            return False
        return not writes or bool(set(writes) & set(c.writes))
    if contract:
        reads = [str(x) for x in contract.get("reads") or []]
        if not writes and not reads:
            return False
        return (not writes or bool(set(writes) & set(c.writes))) and (
            not reads or bool(set(reads) & set(c.reads))
        )
    return False


def _assert_source(capture: Any) -> str | None:
    """The assertion source that reads what a capture reads (None: no such source)."""
    if isinstance(capture, str) and capture.startswith("$"):
        return capture
    if isinstance(capture, dict) and capture.get("pattern") == r"^\s*([\s\S]*?)\s*$":
        return str(capture["from"])
    return None


_EXPR_NAME = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|([A-Za-z_][A-Za-z0-9_]*)')
_EXPR_WORDS = {"and", "or", "not", "in", "contains", "startsWith", "endsWith", "matches"}
_EXPR_WORDS |= {"true", "false", "null", "nil"}


def _expr_names(text: str) -> list[str]:
    """The variable names a rewritten condition reads."""
    return [
        m.group(1)
        for m in _EXPR_NAME.finditer(text)
        if m.group(1) and m.group(1) not in _EXPR_WORDS
    ]
