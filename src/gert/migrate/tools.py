"""kernel/v0 tool definitions (``tool/v0``, kernel flavour) as gert tool definitions, and
the contracts and risk that decide their governance."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from gert.migrate.conditions import Unconvertible, references
from gert.migrate.source import Source

TOOL_KEYS = {"apiVersion", "meta", "contract", "actions"}
TOOL_META_KEYS = {"name", "description", "transport", "binary", "platform", "secrets"}
CONTRACT_KEYS = {"inputs", "outputs", "effects", "side_effects", "deterministic", "idempotent"}
CONTRACT_KEYS |= {"reads", "writes"}
ACTION_KEYS = {"description", "argv", "method", "mcp_tool", "contract", "extract"}
EXTRACT_KEYS = {"from", "pattern", "path"}
ARG_TYPES = {"string", "integer", "number", "boolean", "array", "object"}
_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def is_kernel_tool(data: Any) -> bool:
    """A ``tool/v0`` file in the kernel flavour (not gert's own tool format)."""
    if not isinstance(data, dict) or data.get("apiVersion") != "tool/v0":
        return False
    meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
    actions = data.get("actions") if isinstance(data.get("actions"), dict) else {}
    kernel_action = any(
        isinstance(a, dict) and ("extract" in a or "contract" in a) for a in actions.values()
    )
    return "contract" in data or "transport" in meta or "platform" in meta or kernel_action


@dataclass
class Contract:
    """A resolved contract: what a step may touch, and so its risk."""

    has_effects: bool = False
    effects: list[str] = field(default_factory=list)
    side_effects: bool = True
    deterministic: bool = False
    idempotent: bool = False
    reads: list[str] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    def merged(self, child: dict[str, Any]) -> Contract:
        """This contract tightened by *child*: booleans overridden, reads and writes
        united, effects kept from the parent (as gert's Go implementation merges)."""
        out = Contract(
            self.has_effects,
            list(self.effects),
            self.side_effects,
            self.deterministic,
            self.idempotent,
            list(self.reads),
            list(self.writes),
            list(self.outputs),
        )
        for key in ("side_effects", "deterministic", "idempotent"):
            if isinstance(child.get(key), bool):
                setattr(out, key, child[key])
        for key in ("reads", "writes"):
            extra = [str(x) for x in child.get(key) or [] if isinstance(x, str | int | float)]
            setattr(out, key, sorted(set(getattr(out, key)) | set(extra)))
        outputs = child.get("outputs")
        if isinstance(outputs, dict):
            out.outputs = sorted(set(out.outputs) | {str(k) for k in outputs})
        return out

    @property
    def risk(self) -> str:
        """low, medium, high or critical, by gert's Go implementation's rules."""
        if self.has_effects:
            if not self.writes:
                return "low"
        elif not self.side_effects:
            return "low"
        if self.idempotent:
            return "medium"
        return "high" if self.deterministic else "critical"


def contract_of(value: Any) -> Contract:
    """A tool's own contract."""
    value = value if isinstance(value, dict) else {}
    c = Contract()
    if "effects" in value:
        c.has_effects = True
        c.effects = [str(x) for x in value.get("effects") or [] if isinstance(x, str)]
    if isinstance(value.get("side_effects"), bool):
        c.side_effects = value["side_effects"]
    return c.merged(value)


@dataclass
class Action:
    """One converted action: what a step calling it needs to know."""

    name: str
    data: dict[str, Any]  # the gert action
    contract: Contract
    args: list[str]  # names its templates read: args a step must pass
    captures: dict[str, Any]  # the step captures its extract becomes
    declared: set[str] = field(default_factory=set)  # every arg the gert action has
    program: str = ""  # the program a stdio call runs
    approval: int = 0  # approvals the converted action needs (0: none)
    approved_by: list[str] = field(default_factory=list)  # runbook:step that asked for it
    allowed_by: list[str] = field(default_factory=list)  # runbook:step that needed none
    origin: dict[str, str] = field(default_factory=dict)  # capture -> FILE:LINE:COL of its extract


@dataclass
class Tool:
    """A kernel tool file and its conversion."""

    source: Source
    name: str
    out_path: str  # where the gert tool file is written, relative to the output folder
    data: dict[str, Any]
    actions: dict[str, Action]
    contract: Contract
    ok: bool = True

    def document(self) -> dict[str, Any]:
        """The gert tool definition, with the approvals runbooks asked for."""
        doc = dict(self.data)
        actions = {}
        for name, a in self.actions.items():
            action = dict(a.data)
            gov = dict(action.get("governance") or {})
            if a.approval:
                gov["requires_approval"] = True
                if a.approval > 1:
                    gov["approval_min"] = a.approval
            if gov:
                action["governance"] = gov
            actions[name] = action
        doc["actions"] = actions
        return doc


def _json_path(path: str) -> str:
    """A kernel ``extract.path`` (dots through maps) as a JSONPath."""
    out = "$"
    for part in path.split("."):
        out += f".{part}" if _ID.match(part) else "[" + _jstr(part) + "]"
    return out


def _jstr(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def convert_tool(src: Source) -> Tool | None:
    """A kernel tool file as a gert tool (None when it has no usable name)."""
    data = src.mapping((), src.data, TOOL_KEYS, "tool file")
    meta = src.mapping(("meta",), data.get("meta"), TOOL_META_KEYS, "meta")
    name = src.text(("meta", "name"), meta.get("name"), "meta.name")
    if not name or not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", name):
        src.refuse(("meta", "name"), "meta.name", f"{name!r} is not a tool name gert can use")
        return None
    tool = Tool(src, name, f"tools/{name}.tool.yaml", {}, {}, Contract())
    transport = src.text(("meta", "transport"), meta.get("transport"), "meta.transport", "stdio")
    if transport not in ("stdio", "jsonrpc", "mcp"):
        src.refuse(
            ("meta", "transport"), "meta.transport", f"'{transport}' is not stdio, jsonrpc or mcp"
        )
        tool.ok = False
        transport = "stdio"
    binary = src.text(("meta", "binary"), meta.get("binary"), "meta.binary")
    out_meta: dict[str, Any] = {"name": name}
    if meta.get("description"):
        out_meta["description"] = src.text(
            ("meta", "description"), meta["description"], "description"
        )
    if binary:
        out_meta["binary"] = binary
    out: dict[str, Any] = {"apiVersion": "tool/v0", "meta": out_meta}
    if transport != "stdio":
        if not binary:
            src.refuse(
                ("meta", "transport"),
                f"transport {transport}",
                "needs meta.binary: the server gert starts",
            )
            tool.ok = False
        out["transport"] = {"mode": transport}
        src.note(
            ("meta", "transport"),
            "differs",
            f"transport {transport}",
            f"gert runs {transport} tools (gert's Go implementation answers 'not yet "
            f"implemented'); the server is started from [{binary}]",
        )
    else:
        src.note(("meta", "transport"), "converted", "transport stdio", "transport.mode stdio")
    if "platform" in meta:
        src.note(
            ("meta", "platform"),
            "dropped",
            "meta.platform",
            "only a validation warning in gert's Go implementation",
        )
    for i, secret in enumerate(
        src.listing(("meta", "secrets"), meta.get("secrets"), "meta.secrets")
    ):
        env = secret.get("env") if isinstance(secret, dict) else None
        src.note(
            ("meta", "secrets", i),
            "dropped",
            f"secret {env}",
            "the tool inherits the environment as before; gert's Go implementation never "
            "redacted it either (to redact it, a runbook input from env.VAR with secret: true)",
        )
    contract_data = src.mapping(("contract",), data.get("contract"), CONTRACT_KEYS, "contract")
    if "effects" in contract_data and "side_effects" in contract_data:
        src.refuse(
            ("contract",),
            "contract",
            "declares both effects and side_effects (an error in gert's Go implementation)",
        )
        tool.ok = False
    tool.contract = contract_of(contract_data)
    if "side_effects" in contract_data and "effects" not in contract_data:
        src.note(
            ("contract", "side_effects"),
            "converted",
            "contract.side_effects",
            "deprecated; read as gert's Go implementation reads it for risk",
        )
    read_only = tool.contract.risk == "low"
    out["governance"] = {"read_only": read_only}
    src.note(
        ("contract",),
        "converted",
        "contract",
        f"risk {tool.contract.risk}: governance.read_only {str(read_only).lower()}",
    )
    inputs = contract_data.get("inputs") if isinstance(contract_data.get("inputs"), dict) else {}
    actions = src.mapping(
        ("actions",),
        data.get("actions"),
        set(data.get("actions") or {}) if isinstance(data.get("actions"), dict) else set(),
        "actions",
    )
    if not actions:
        src.refuse(("actions",), "actions", "a tool needs at least one action")
        tool.ok = False
    for aname, raw in actions.items():
        ap = ("actions", aname)
        if not isinstance(aname, str) or not aname:
            src.refuse(ap, "action", "an action name is text")
            tool.ok = False
            continue
        act = src.mapping(ap, raw, ACTION_KEYS, f"action '{aname}'")
        converted = _action(src, tool, aname, act, transport, binary, inputs)
        if converted is None:
            tool.ok = False
            continue
        tool.actions[aname] = converted
    out["actions"] = {}
    tool.data = out
    return tool


def _action(
    src: Source,
    tool: Tool,
    name: str,
    act: dict[str, Any],
    transport: str,
    binary: str,
    tool_inputs: dict[str, Any],
) -> Action | None:
    ap = ("actions", name)
    out: dict[str, Any] = {}
    if act.get("description"):
        out["description"] = src.text((*ap, "description"), act["description"], "description")
    target = {"stdio": "argv", "jsonrpc": "method", "mcp": "mcp_tool"}[transport]
    program = ""
    templates: list[tuple[str, tuple[Any, ...]]] = []
    if transport == "stdio":
        argv_raw = src.listing((*ap, "argv"), act.get("argv"), "argv")
        argv = [src.text((*ap, "argv", i), a, "argv element") for i, a in enumerate(argv_raw)]
        if not argv:
            src.refuse(ap, f"action '{name}'", "a stdio action needs argv")
            return None
        if binary:
            first = argv[0]
            if first == binary or PurePosixPath(first).name == PurePosixPath(binary).name:
                src.note(
                    (*ap, "argv"),
                    "converted",
                    f"action '{name}' argv",
                    f"runs {binary} {' '.join(argv[1:])}".rstrip(),
                )
            else:
                src.note(
                    (*ap, "argv"),
                    "differs",
                    f"action '{name}' argv",
                    f"gert's Go implementation puts meta.binary in place of argv[0] "
                    f"({first!r} is lost); converted to what the author meant: "
                    f"[{binary}, {', '.join(argv)}]",
                )
                argv = [binary, *argv]
        program = argv[0]
        out["argv"] = argv
        templates += [(a, (*ap, "argv", i)) for i, a in enumerate(argv)]
    else:
        value = src.text((*ap, target), act.get(target), target)
        if not value:
            src.refuse(ap, f"action '{name}'", f"a {transport} action needs {target}")
            return None
        out[target] = value
        program = binary
    for other in ("argv", "method", "mcp_tool"):
        if other != target and act.get(other) is not None:
            src.note(
                (*ap, other),
                "dropped",
                f"action '{name}' {other}",
                f"not used by the {transport} transport",
            )
    args: list[str] = []
    for text, path in templates:
        try:
            refs = references(text)
        except Unconvertible as e:
            src.refuse(path, "template", str(e))
            return None
        for ref in refs:
            if len(ref) > 1:
                src.refuse(
                    path,
                    "template",
                    f"reads .{'.'.join(ref)}: gert's tool args are text, not mappings",
                )
                return None
            if ref[0] not in args:
                args.append(ref[0])
    action_contract = act.get("contract") if isinstance(act.get("contract"), dict) else {}
    declared = dict(tool_inputs)
    if isinstance(action_contract.get("inputs"), dict):
        declared.update(action_contract["inputs"])
    spec: dict[str, Any] = {}
    for arg in sorted(set(args) | {str(k) for k in declared}):
        if not _ID.match(arg):
            src.refuse((*ap,), f"arg '{arg}'", "not a name a template can read")
            return None
        d = declared.get(arg) if isinstance(declared.get(arg), dict) else {}
        entry: dict[str, Any] = {}
        if d.get("type") in ARG_TYPES and d.get("type") != "string":
            entry["type"] = d["type"]
        if d.get("description"):
            entry["description"] = str(d["description"])
        spec[arg] = entry
    if declared:
        src.note(
            ("contract", "inputs"),
            "converted",
            "contract inputs",
            "args, none required and without defaults: gert's Go implementation neither "
            "checks required nor applies defaults",
        )
    if spec:
        out["args"] = spec
    contract = tool.contract.merged(action_contract)
    if action_contract:
        a_read_only = contract.risk == "low"
        if a_read_only != (tool.contract.risk == "low"):
            out["governance"] = {"read_only": a_read_only}
        src.note(
            (*ap, "contract"), "converted", f"action '{name}' contract", f"risk {contract.risk}"
        )
    captures: dict[str, Any] = {}
    origin: dict[str, str] = {}
    extract = src.mapping(
        (*ap, "extract"),
        act.get("extract"),
        set(act.get("extract") or {}) if isinstance(act.get("extract"), dict) else set(),
        "extract",
    )
    for out_name, ex in extract.items():
        ep = (*ap, "extract", out_name)
        e = src.mapping(ep, ex, EXTRACT_KEYS, f"extract '{out_name}'")
        if not isinstance(out_name, str) or not _ID.match(out_name):
            src.refuse(ep, f"extract '{out_name}'", "not a name a capture can have")
            return None
        line, col = src.doc.position(ep, key=True)
        origin[str(out_name)] = f"{src.shown}:{line}:{col}"
        where = src.text((*ep, "from"), e.get("from"), "from", "stdout")
        pattern = e.get("pattern")
        if where == "json":
            path = src.text((*ep, "path"), e.get("path"), "path")
            if not path:
                src.refuse(ep, f"extract '{out_name}'", "from json needs a path")
                return None
            captures[out_name] = _json_path(path)
            src.note(
                ep,
                "differs",
                f"extract '{out_name}'",
                f'capture {_json_path(path)}: a missing path gives "" (not set in gert\'s Go '
                "implementation); output that is not JSON fails the step (leaves it unset there)",
            )
            continue
        if where not in ("stdout", "stderr"):
            src.note(
                (*ep, "from"),
                "converted",
                f"extract '{out_name}'",
                f"from {where!r} reads stdout, as gert's Go implementation does",
            )
            where = "stdout"
        if pattern is not None:
            pattern = src.text((*ep, "pattern"), pattern, "pattern")
            try:
                re.compile(pattern)
            except (re.error, OverflowError, RecursionError) as err:
                src.refuse(
                    (*ep, "pattern"),
                    f"extract '{out_name}'",
                    f"the pattern does not compile here: {err}",
                )
                return None
            # the kernel searches the trimmed text; its first group, else the whole match
            captures[out_name] = {"from": where, "pattern": pattern}
            src.note(
                ep,
                "differs",
                f"extract '{out_name}'",
                'capture with the pattern: no match gives "" (not set in gert\'s Go '
                "implementation); Python's regular expressions, not Go's RE2",
            )
        else:
            captures[out_name] = {"from": where, "pattern": r"^\s*([\s\S]*?)\s*$"}
            src.note(ep, "converted", f"extract '{out_name}'", f"capture of {where}, trimmed")
    return Action(name, out, contract, args, captures, set(spec), program, origin=origin)
