"""Pydantic models of the ``runbook/v0`` and ``tool/v0`` formats.

The models mirror the YAML as written, so validation errors point at the author's
own lines: both body spellings exist here (``tree`` of ``{step, branches}`` nodes,
and ``steps`` whose steps may carry ``branches``) and :meth:`Runbook.body` turns
either into one list of :class:`Node`. Unknown fields are errors everywhere.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

# ------------------------------------------------------------------ basics

STATES = ("resolved", "escalated", "no_action", "needs_rca")
State = Literal["resolved", "escalated", "no_action", "needs_rca"]
RunbookKind = Literal["mitigation", "composable", "reference", "rca"]
StepType = Literal["cli", "http", "tool", "manual", "invoke"]

_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"
VAR_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
INPUT_SOURCE_PATTERN = (
    r"^(?:incident(?:\.[A-Za-z_][A-Za-z0-9_-]*)+|prompt|parent|env\.[A-Za-z_][A-Za-z0-9_]*)$"
)


def parse_duration(value: str | int | float) -> float:
    """Seconds in a duration: ``90`` (seconds), ``"500ms"``, ``"60s"``, ``"1h30m"``."""
    if isinstance(value, int | float):
        return float(value)
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(value))


def _check_duration(value: str | int | float) -> str | int | float:
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like '30s', '5m', '1h30m'")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return value
    if not _DURATION.match(value):
        raise ValueError(
            f"{value!r} is not a duration; write seconds (90) or units ms, s, m, h ('30s', '1h30m')"
        )
    return value


Duration = Annotated[
    str | int | float,
    Field(
        json_schema_extra={"pattern": _DURATION.pattern},
        description="Seconds, or a string of numbers with units ms, s, m, h: '30s', '1h30m'.",
    ),
]
Scalar = str | int | float | bool
VarName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class Strict(BaseModel):
    """Base of every format model: unknown fields are errors; aliases are the YAML names."""

    # defer_build: schemas are built on first use, once, instead of at import (start-up).
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


# ------------------------------------------------------------------ meta


class RedactRule(Strict):
    """A regular expression whose matches are replaced before anything is written or posted."""

    pattern: str
    replace: str = "***"


class Governance(Strict):
    """Command policy and redaction. Deny wins over allow; project policy is intersected."""

    allowed_commands: list[str] | None = Field(
        None, description="Executables steps may run; absent means any not denied."
    )
    denied_commands: list[str] = Field(default_factory=list)
    deny_env_vars: list[str] = Field(
        default_factory=list, description="Glob patterns of variables kept from child processes."
    )
    redact: list[RedactRule] = Field(default_factory=list)


class InputSpec(Strict):
    """Where an input's value comes from."""

    from_: str | None = Field(
        None,
        alias="from",
        pattern=INPUT_SOURCE_PATTERN,
        description="incident.<field>, incident.custom_fields.<Name>, incident.location.<field>, "
        "incident.title, prompt, parent or env.<VAR>.",
    )
    pattern: str | None = Field(None, description="Regex; its first group is the value.")
    default: Scalar | None = None
    description: str | None = None
    secret: bool = Field(False, description="Redact this input's value everywhere it is written.")


class StepDefaults(Strict):
    """Defaults applied to every step that sets none."""

    timeout: Duration | None = None
    retry: Retry | None = None

    _d = field_validator("timeout")(
        classmethod(lambda cls, v: v if v is None else _check_duration(v))
    )


class SourceRef(Strict):
    """Where an imported runbook (or step) came from."""

    path: str | None = None
    sha256: str | None = None
    lines: list[int] | None = Field(None, min_length=2, max_length=2)


class Meta(Strict):
    """The runbook's identity, inputs, constants, defaults and policy."""

    name: str = Field(pattern=NAME_PATTERN)
    kind: RunbookKind = "mitigation"
    description: str | None = None
    owner: str | None = None
    tags: list[str] = Field(default_factory=list)
    inputs: dict[VarName, InputSpec] = Field(default_factory=dict)
    vars: dict[VarName, Scalar] = Field(default_factory=dict)
    defaults: StepDefaults = Field(default_factory=StepDefaults)
    governance: Governance | None = None
    source: SourceRef | None = None


# ------------------------------------------------------------------ steps


class Retry(Strict):
    """Run a failed step again: `attempts` in all, `delay` between them."""

    attempts: int = Field(ge=1, le=100)
    delay: Duration = 0

    _d = field_validator("delay")(classmethod(lambda cls, v: _check_duration(v)))


class Precondition(Strict):
    """A check run before the step; by default the step is skipped when the check succeeds."""

    check: list[str] = Field(min_length=1, description="argv, rendered per element, no shell.")
    skip_if_succeeds: bool = True
    message: str | None = None


class CaptureFrom(Strict):
    """A capture taken from a source through a regex; its first group is the value."""

    from_: str = Field(alias="from")
    pattern: str | None = None


CaptureSpec = Annotated[
    str | CaptureFrom,
    Field(
        description="stdout, stderr, exit_code, row_count, status_code, body, header.<Name>, "
        "a JSONPath ($.data[0].x), or {from, pattern}."
    ),
]


ASSERTION_CHECKS = (
    "contains",
    "not_contains",
    "matches",
    "equals",
    "not_equals",
    "exit_code",
    "status_code",
    "json_path",
)


class JsonPathCheck(Strict):
    """An assertion that a JSONPath in the output equals a value."""

    path: str
    equals: Scalar | None = None


class Assertion(Strict):
    """One check on the step's result; exactly one of the check fields is set."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": [k]} for k in ASSERTION_CHECKS]}
    )

    source: str | None = Field(
        None, description="What to check (a capture source); default stdout, or body for http."
    )
    contains: str | None = None
    not_contains: str | None = None
    matches: str | None = None
    equals: Scalar | None = None
    not_equals: Scalar | None = None
    exit_code: int | None = None
    status_code: int | None = None
    json_path: JsonPathCheck | None = None
    message: str | None = None

    @model_validator(mode="after")
    def _one_check(self) -> Assertion:
        set_ = [k for k in ASSERTION_CHECKS if getattr(self, k) is not None]
        if len(set_) != 1:
            raise ValueError(
                "an assertion needs exactly one of "
                + ", ".join(ASSERTION_CHECKS)
                + (f" (found {', '.join(set_)})" if set_ else "")
            )
        return self

    @property
    def check(self) -> str:
        """The name of the check this assertion makes."""
        return next(k for k in ASSERTION_CHECKS if getattr(self, k) is not None)


class NextRunbook(Strict):
    """The runbook an outcome chains into, and the inputs it passes."""

    file: str = Field(description="Templated path; relative to this runbook, then the project.")
    inputs: dict[str, str] = Field(default_factory=dict)


class Outcome(Strict):
    """An end state of the runbook, reached when `when` holds after the step passes."""

    when: str | None = None
    state: State
    code: str | None = Field(
        None,
        description="A finer name for the end state (`disk_cleaned`): recorded with the "
        "outcome, and what test.yaml's `expected_code` checks.",
    )
    meta: dict[str, Any] = Field(
        default_factory=dict,
        description="Data recorded with the outcome; its top-level string values are templates.",
    )
    recommendation: str | None = None
    next_runbook: NextRunbook | None = None


class StepBase(Strict):
    """Fields every step kind shares."""

    id: str = Field(pattern=ID_PATTERN)
    title: str | None = None
    description: str | None = None
    when: str | None = None
    precondition: Precondition | None = None
    capture: dict[VarName, CaptureSpec] = Field(default_factory=dict)
    assertions: list[Assertion] = Field(default_factory=list)
    outcomes: list[Outcome] = Field(default_factory=list)
    timeout: Duration | None = None
    retry: Retry | None = None
    continue_on_fail: bool = False
    idempotent: bool = Field(
        False,
        description=(
            "Running the step twice does no harm: `gert resume` may run it again when the "
            "run was stopped while it ran (otherwise it asks: --retry-step/--skip-step)."
        ),
    )
    branches: list[Branch] = Field(
        default_factory=list, description="Only in the flat `steps` spelling."
    )
    source: SourceRef | None = None

    _d = field_validator("timeout")(
        classmethod(lambda cls, v: v if v is None else _check_duration(v))
    )


def _check_sandbox_path(path: str) -> str:
    if "{{" in path:
        raise ValueError(
            "a sandbox path is not a template: a value from an incident would choose what the "
            "command may write; write the path itself"
        )
    if "\0" in path:
        raise ValueError("a path cannot contain a NUL byte")
    if path.startswith("/") and not path.strip("/"):
        raise ValueError("the whole file system cannot be writable; name the folders to write")
    return path


SandboxPath = Annotated[
    str,
    AfterValidator(_check_sandbox_path),
    Field(min_length=1, json_schema_extra={"not": {"pattern": r"\{\{"}}),
]


class SandboxSpec(Strict):
    """A bubblewrap sandbox: the file system read-only but for `writable`, a private /tmp,
    its own process namespace, and no network unless `network` allows it."""

    writable: list[SandboxPath] = Field(
        default_factory=list,
        description=(
            "Existing files and folders the command may write: relative to the project root "
            "(and inside it) or absolute. Not templated."
        ),
    )
    network: bool = Field(
        False, description="Let the command use the network; false: loopback of its own only."
    )


def _sandbox_kind(value: Any) -> str:
    return "switch" if isinstance(value, bool) else "spec"


Sandbox = Annotated[
    Annotated[SandboxSpec, Tag("spec")] | Annotated[bool, Tag("switch")],
    Discriminator(_sandbox_kind),
]


class CliSpec(Strict):
    """A command run without a shell: argv, environment, folder, standard input, sandbox."""

    argv: list[str] = Field(min_length=1, description="Program and arguments; no shell.")
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    stdin: str | None = None
    allow_option_values: bool = Field(
        False,
        description=(
            "Let a templated argument render to text starting with '-' (read as an option) "
            "when its template does not start with '-'; refused otherwise."
        ),
    )
    sandbox: Sandbox | None = Field(
        None,
        description=(
            "Run the command in a bubblewrap sandbox: true (gert.yaml's sandbox.default, "
            "else nothing writable and no network), a mapping {writable, network}, or false "
            "for none. Absent: gert.yaml's sandbox.default, if any."
        ),
    )

    @field_validator("sandbox", mode="before")
    @classmethod
    def _sandbox_form(cls, value: Any) -> Any:
        if value is None or isinstance(value, bool | dict | SandboxSpec):
            return value
        raise ValueError("sandbox is true, false or a mapping {writable: [paths], network: false}")


class CliStep(StepBase):
    """Runs a command."""

    type: Literal["cli"]
    with_: CliSpec = Field(alias="with")


class HttpSpec(Strict):
    """An HTTP request."""

    model_config = ConfigDict(json_schema_extra={"not": {"required": ["json", "body"]}})

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    json_: Any = Field(None, alias="json")
    body: str | None = None
    timeout: Duration | None = None

    @model_validator(mode="after")
    def _one_body(self) -> HttpSpec:
        if self.json_ is not None and self.body is not None:
            raise ValueError("give either json or body, not both")
        return self


class HttpStep(StepBase):
    """Sends an HTTP request."""

    type: Literal["http"]
    http: HttpSpec


# The built-in query tools: tool -> action -> required and optional args. Each returns
# the query envelope (docs/tool-reference.md); gert.executors.tool runs them.
_HTTP_AUTH = frozenset({"token_env", "username", "password_env", "tenant", "limit"})
BUILTIN_TOOLS: dict[str, dict[str, dict[str, frozenset[str]]]] = {
    "sql": {"query": {"required": frozenset({"url", "query"}), "optional": frozenset({"params"})}},
    "promql": {
        "query": {"required": frozenset({"url", "query"}), "optional": _HTTP_AUTH | {"time"}},
        "range": {
            "required": frozenset({"url", "query", "start", "step"}),
            "optional": _HTTP_AUTH | {"end"},
        },
    },
    "loki": {
        "query": {
            "required": frozenset({"url", "query"}),
            "optional": _HTTP_AUTH | {"time", "direction"},
        },
        "query_range": {
            "required": frozenset({"url", "query", "start"}),
            "optional": _HTTP_AUTH | {"end", "step", "direction"},
        },
    },
    "kusto": {
        "query": {
            "required": frozenset({"cluster", "database", "query"}),
            "optional": frozenset(
                {
                    "params",
                    "limit",
                    "auth",
                    "token_env",
                    "client_id",
                    "client_secret_env",
                    "tenant_id",
                }
            ),
        }
    },
    "elasticsearch": {
        "search": {
            "required": frozenset({"url", "index", "body"}),
            "optional": frozenset(
                {"limit", "token_env", "api_key_env", "username", "password_env", "engine"}
            ),
        }
    },
}
# JSON Schema types of the built-in tools' args (any arg may also be a template string).
_BUILTIN_ARG_TYPES = {"params": "object", "body": "object", "limit": "integer"}
BUILTIN_ARG_ENUMS = {
    "direction": ["forward", "backward"],
    "auth": ["none", "token", "app_key", "az_cli", "managed_identity"],
    "engine": ["elasticsearch", "opensearch"],
}


def _builtin_args_schema() -> dict[str, Any]:
    """What an editor may check of a built-in tool's args: one if/then per action."""
    rules = []
    for tool, actions in BUILTIN_TOOLS.items():
        for action, spec in actions.items():
            props: dict[str, Any] = {}
            for arg in sorted(spec["required"] | spec["optional"]):
                kind = _BUILTIN_ARG_TYPES.get(arg)
                if kind == "object":
                    props[arg] = {"type": "object"}
                elif kind == "integer":
                    props[arg] = {"type": ["integer", "string"]}
                elif arg in BUILTIN_ARG_ENUMS:
                    props[arg] = {
                        "anyOf": [{"enum": BUILTIN_ARG_ENUMS[arg]}, {"pattern": "\\{\\{"}]
                    }
                else:
                    props[arg] = {"type": "string"}
            rules.append(
                {
                    "if": {
                        "properties": {"name": {"const": tool}, "action": {"const": action}},
                        "required": ["name", "action"],
                    },
                    "then": {
                        "properties": {
                            "args": {
                                "properties": props,
                                "required": sorted(spec["required"]),
                                "additionalProperties": False,
                            }
                        }
                    },
                }
            )
    return {"allOf": rules}


class ToolCall(Strict):
    """An action of a tool definition with its arguments."""

    model_config = ConfigDict(
        json_schema_extra=lambda schema: schema.update(_builtin_args_schema())
    )

    name: str
    action: str
    args: dict[str, Any] = Field(default_factory=dict)


class ToolStep(StepBase):
    """Calls an action of a tool (a *.tool.yaml, or a built-in query tool: `sql`,
    `promql`, `loki`, `kusto`, `elasticsearch`)."""

    type: Literal["tool"]
    tool: ToolCall


class EvidenceSpec(Strict):
    """Evidence the engineer must record: text, a checklist, or an attachment."""

    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"kind": {"const": "checklist"}}},
            "then": {"required": ["items"], "properties": {"items": {"minItems": 1}}},
            "else": {"not": {"required": ["items"]}},
        }
    )

    kind: Literal["text", "checklist", "attachment"]
    name: str = Field(pattern=VAR_PATTERN)
    description: str | None = None
    items: list[str] = Field(default_factory=list, description="The boxes of a checklist.")

    @model_validator(mode="after")
    def _items(self) -> EvidenceSpec:
        if self.kind == "checklist" and not self.items:
            raise ValueError("a checklist needs items")
        if self.kind != "checklist" and self.items:
            raise ValueError(f"items only apply to a checklist, not to {self.kind}")
        return self


class ChoiceOption(Strict):
    """One option of a manual choice."""

    value: str
    label: str | None = None
    description: str | None = None


class Choices(Strict):
    """A decision the engineer makes; the chosen value becomes the capture `variable`."""

    variable: str = Field(pattern=VAR_PATTERN)
    prompt: str | None = None
    options: list[ChoiceOption] = Field(min_length=1)


class Approvals(Strict):
    """Approvals needed before the step completes."""

    min: int = Field(1, ge=1)
    roles: list[str] = Field(default_factory=list)


class ManualStep(StepBase):
    """Instructions for the engineer, with evidence, choices and approvals."""

    type: Literal["manual"]
    instructions: str | None = None
    required_evidence: list[EvidenceSpec] = Field(default_factory=list)
    choices: Choices | None = None
    approvals: Approvals | None = None


class InvokeSpec(Strict):
    """The sub-runbook an invoke step runs, and its inputs."""

    runbook: str = Field(description="An alias from `imports`, or a path.")
    inputs: dict[str, str] = Field(default_factory=dict)


class Gate(Strict):
    """When an invoked runbook stops the parent, and what its errors do."""

    stop_if: list[str] = Field(
        default_factory=list, description="Child outcome states that stop the parent."
    )
    on_error: Literal["fail", "skip"] = "fail"


class InvokeStep(StepBase):
    """Runs another runbook inline and continues."""

    type: Literal["invoke"]
    invoke: InvokeSpec
    gate: Gate = Field(default_factory=Gate)


Step = Annotated[
    CliStep | HttpStep | ToolStep | ManualStep | InvokeStep,
    Field(discriminator="type"),
]


class Branch(Strict):
    """Steps entered when `condition` holds (the first matching branch wins)."""

    condition: str
    label: str | None = None
    steps: list[
        Annotated[
            Annotated[Node, Tag("node")] | Annotated[Step, Tag("step")],
            Discriminator(lambda v: _node_or_step(v)),
        ]
    ] = Field(min_length=1)


def _node_or_step(value: Any) -> str:
    if isinstance(value, dict):
        return "node" if "step" in value else "step"
    return "node" if isinstance(value, Node) else "step"


class Node(Strict):
    """A tree node: one step and the branches entered after it."""

    step: Step
    branches: list[Branch] = Field(default_factory=list)

    @model_validator(mode="after")
    def _branches_in_one_place(self) -> Node:
        if self.step.branches:
            raise ValueError("put branches beside `step:` in a tree node, not inside the step")
        return self


AnyStep = CliStep | HttpStep | ToolStep | ManualStep | InvokeStep


# ------------------------------------------------------------------ runbook


class Runbook(Strict):
    """A runbook: `apiVersion: runbook/v0`."""

    api_version: Literal["runbook/v0"] = Field(alias="apiVersion")
    meta: Meta
    tools: dict[str, str] | list[str] = Field(
        default_factory=dict, description="Alias -> tool file, or names found on tools_path."
    )
    imports: dict[str, str] = Field(default_factory=dict, description="Alias -> runbook path.")
    tree: list[Node] | None = None
    steps: list[Step] | None = None

    def body(self) -> list[Node]:
        """The body as tree nodes, whichever spelling the file used."""
        if self.tree is not None:
            return self.tree
        return [as_node(s) for s in self.steps or []]


def as_node(step: AnyStep | Node) -> Node:
    """A step (flat spelling) as a tree node; a node as itself."""
    if isinstance(step, Node):
        return step
    if not step.branches:
        return Node.model_construct(step=step, branches=[])
    branches = [
        Branch.model_construct(
            condition=b.condition, label=b.label, steps=[as_node(s) for s in b.steps]
        )
        for b in step.branches
    ]
    bare = step.model_copy(update={"branches": []})
    return Node.model_construct(step=bare, branches=branches)


# ------------------------------------------------------------------ tools


class ToolMeta(Strict):
    """The tool's identity and executable."""

    name: str = Field(pattern=NAME_PATTERN)
    version: str | None = None
    description: str | None = None
    binary: str | None = Field(None, description="The executable the tool runs.")


class Transport(Strict):
    """How gert talks to the tool: spawn per call (stdio), JSON-RPC, or MCP."""

    mode: Literal["stdio", "jsonrpc", "mcp"] = "stdio"
    command: list[str] | None = Field(
        None, description="Server argv for jsonrpc/mcp; defaults to [meta.binary]."
    )
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    timeout: Duration | None = None


class ToolGovernance(Strict):
    """Whether the tool changes anything, and what to redact from its output."""

    read_only: bool = False
    redact: list[RedactRule] = Field(default_factory=list)


class ActionArg(Strict):
    """An argument of a tool action."""

    type: Literal["string", "integer", "number", "boolean", "array", "object"] = "string"
    required: bool = False
    default: Any = None
    enum: list[Any] | None = None
    redact: bool = False
    description: str | None = None


class ActionCapture(Strict):
    """A capture an action always offers."""

    from_: str = Field(alias="from")
    format: Literal["text", "json", "lines"] = "text"


class ActionGovernance(Strict):
    """Policy for one action: read-only, approvals needed."""

    read_only: bool | None = None
    requires_approval: bool = False
    approval_min: int = Field(1, ge=1)


class ToolAction(Strict):
    """One action of a tool: argv (stdio), method (jsonrpc) or mcp_tool (mcp)."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": [k]} for k in ("argv", "method", "mcp_tool")]}
    )

    description: str | None = None
    argv: list[str] | None = None
    method: str | None = None
    mcp_tool: str | None = None
    params: dict[str, Any] | None = Field(
        None, description="jsonrpc params / MCP arguments, templated over the args."
    )
    args: dict[str, ActionArg] = Field(default_factory=dict)
    capture: dict[str, ActionCapture] = Field(default_factory=dict)
    governance: ActionGovernance = Field(default_factory=ActionGovernance)

    @model_validator(mode="after")
    def _one_target(self) -> ToolAction:
        set_ = [k for k in ("argv", "method", "mcp_tool") if getattr(self, k) is not None]
        if len(set_) != 1:
            raise ValueError(
                "an action needs exactly one of argv (stdio), method (jsonrpc), mcp_tool (mcp)"
            )
        return self


class ToolDefinition(Strict):
    """A tool definition: `apiVersion: tool/v0`."""

    api_version: Literal["tool/v0"] = Field(alias="apiVersion")
    meta: ToolMeta
    transport: Transport = Field(default_factory=Transport)
    governance: ToolGovernance = Field(default_factory=ToolGovernance)
    actions: dict[str, ToolAction] = Field(min_length=1)


def runbook_json_schema() -> dict[str, Any]:
    """JSON Schema (Draft 2020-12) of ``runbook/v0``."""
    return _schema(Runbook, "runbook", "A gert runbook (apiVersion runbook/v0).")


def tool_json_schema() -> dict[str, Any]:
    """JSON Schema (Draft 2020-12) of ``tool/v0``."""
    return _schema(ToolDefinition, "tool", "A gert tool definition (apiVersion tool/v0).")


def _schema(model: type[BaseModel], name: str, title: str) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, mode="validation")
    _plain_scalars_are_text(schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://gert.dev/schemas/{name}.schema.json",
        "title": title,
        **{k: v for k, v in schema.items() if k != "title"},
    }


def _plain_scalars_are_text(node: Any) -> None:
    """Where gert takes any text, an unquoted number or boolean is that text (`argv:
    [sleep, 5]`, gert.validate.schema.validate_model): let the schema accept them too, so
    an editor agrees with gert. Constrained strings (enums, patterns) stay strings."""
    if isinstance(node, dict):
        if node.get("type") == "string" and not {"enum", "const", "pattern", "format"} & set(node):
            node["type"] = ["string", "number", "boolean"]
        for value in node.values():
            _plain_scalars_are_text(value)
    elif isinstance(node, list):
        for value in node:
            _plain_scalars_are_text(value)
