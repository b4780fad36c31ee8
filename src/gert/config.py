"""The model of ``gert.yaml``. Secrets are named by environment variable."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field, ValidationError, ValidationInfo, field_validator

from gert.model import (
    Duration,
    Governance,
    RedactRule,
    SandboxSpec,
    Strict,
    _check_duration,
    parse_duration,
)
from gert.problems import Problem, RunbookInvalid

ProviderName = Literal["local", "webhook", "pagerduty", "jira", "github", "servicenow", "mcp"]
INCIDENT_PROVIDERS: tuple[str, ...] = get_args(ProviderName)
ProviderSettings = dict[str, Any] | None


class IncidentConfig(Strict):
    """Which incident system gert talks to, and whether it posts summaries there. Each
    provider's settings live under its own name (docs/incidents.md)."""

    provider: ProviderName = "local"
    post: Literal["auto", "off"] = "auto"
    webhook: ProviderSettings = None
    pagerduty: ProviderSettings = None
    jira: ProviderSettings = None
    github: ProviderSettings = None
    servicenow: ProviderSettings = None
    mcp: ProviderSettings = None


class SandboxConfig(Strict):
    """The project's bubblewrap sandbox for cli steps (docs/security.md, The sandbox)."""

    default: SandboxSpec | None = Field(
        None,
        description=(
            "The sandbox of every cli step that sets no `sandbox:` of its own, and of those "
            "that say `sandbox: true`."
        ),
    )
    required: bool = Field(
        False,
        description=(
            "Every cli step runs sandboxed: `sandbox: false` is refused; a step that sets none "
            "gets `default`, else nothing writable and no network."
        ),
    )

    def for_step(self, own: SandboxSpec | bool | None) -> SandboxSpec | None:
        """The sandbox a cli step with *own* as its `sandbox:` runs in (None: none);
        ValueError when the step asks for none and one is required."""
        if own is False:
            if self.required:
                raise ValueError(
                    "sandbox: false is refused: gert.yaml sets sandbox.required, so every cli "
                    "step runs sandboxed"
                )
            return None
        if isinstance(own, SandboxSpec):
            return own
        if own is True or self.required:
            return self.default or SandboxSpec()
        return self.default


class ServerToken(Strict):
    """An API token of `gert serve`: its secret is read from an environment variable."""

    name: str = Field(description="Who holds it; actions are recorded as `user:<name>`.")
    env: str = Field(description="The environment variable that holds the token.")
    role: Literal["viewer", "operator", "approver"] = Field(
        "viewer",
        description="viewer reads; operator also starts runs and answers steps; approver also approves.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}", value):
            raise ValueError(
                f"a token's name is letters, digits and . _ @ - (at most 64), not {value!r}"
            )
        return value


class AlertRoute(Strict):
    """Which runbook an incoming alert starts: every `match` entry must hold (a label of
    an Alertmanager alert, a field of a generic one; exact text, or /regex/), and `title`
    (a regex) must find the alert's title when given."""

    runbook: str = Field(description="The runbook file to start, relative to the project.")
    match: dict[str, str] = Field(default_factory=dict)
    title: str | None = None
    mode: Literal["real", "dry-run"] = "real"

    @field_validator("title")
    @classmethod
    def _title(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as e:
                raise ValueError(f"title is not a valid regular expression: {e}") from None
        return value

    @field_validator("match")
    @classmethod
    def _match(cls, value: dict[str, str]) -> dict[str, str]:
        for key, want in value.items():
            if len(want) > 1 and want.startswith("/") and want.endswith("/"):
                try:
                    re.compile(want[1:-1])
                except re.error as e:
                    raise ValueError(
                        f"match.{key} is not a valid regular expression: {e}"
                    ) from None
        return value


class ServerConfig(Strict):
    """`gert serve`: who may do what."""

    alert_secret_env: str | None = Field(
        None,
        description="Environment variable holding the HMAC key of POST /api/v1/alerts "
        "(X-Gert-Signature: sha256=HEX); operators' tokens are accepted too.",
    )

    tokens: list[ServerToken] = Field(
        default_factory=list,
        description="API tokens. Without any, the server is read-only and only on 127.0.0.1.",
    )
    max_runs: int = Field(
        4, ge=1, le=64, description="Chains the server runs at once; more wait their turn."
    )

    @field_validator("tokens")
    @classmethod
    def _tokens(cls, value: list[ServerToken]) -> list[ServerToken]:
        for attr in ("name", "env"):
            seen: set[str] = set()
            for t in value:
                key = getattr(t, attr)
                if key in seen:
                    what = "name" if attr == "name" else "environment variable"
                    raise ValueError(f"two tokens have the {what} {key!r}: each needs its own")
                seen.add(key)
        return value


class AssistantConfig(Strict):
    """`gert mcp`: what an assistant's client may ask of the person using it."""

    approvals: Literal["elicit", "never"] = Field(
        "elicit",
        description="`elicit`: the request_approval tool asks the person at the client "
        "(MCP elicitation) and records the approval as theirs; `never`: approvals only "
        "through gert serve or gert resume.",
    )


class StoreConfig(Strict):
    """Where runs and their evidence are kept."""

    backend: Literal["files", "postgresql"] = Field(
        "files",
        description="`files`: run folders and a SQLite index (one machine); "
        "`postgresql`: one database shared by every gert process and worker.",
    )
    url_env: str = Field(
        "GERT_DATABASE_URL",
        description="Environment variable holding the postgresql:// URL (credentials "
        "never live in gert.yaml).",
    )


class QueueConfig(Strict):
    """Chains run by `gert worker` processes from a Celery queue (Redis broker)."""

    broker_url_env: str = Field(
        "GERT_BROKER_URL",
        description="Environment variable holding the broker URL (redis://host:6379/0).",
    )
    name: str = Field("gert", description="The queue's name on the broker.")
    max_concurrent_per_runbook: int = Field(
        0,
        ge=0,
        description="At most this many runs of one runbook at once across all workers "
        "(0: no limit); more wait in the queue.",
    )
    max_concurrent_per_incident: int = Field(
        0,
        ge=0,
        description="At most this many runs for one incident at once (0: no limit).",
    )
    lease_seconds: float = Field(
        30,
        ge=3,
        le=3600,
        description="A worker renews its hold on a run every third of this; a run whose "
        "worker stopped renewing is taken over by another worker after it.",
    )


class ProjectConfig(Strict):
    """The contents of gert.yaml; every field has a default."""

    runs_dir: str = ".runbook/runs"
    scenarios_dir: str = "scenarios"
    record: Literal["auto", "off"] = "auto"
    max_chain_depth: int = Field(5, ge=0, le=50)
    incident: IncidentConfig = Field(default_factory=IncidentConfig)
    governance: Governance | None = None
    redact: list[RedactRule] = Field(default_factory=list)
    store: StoreConfig = Field(default_factory=StoreConfig)
    queue: QueueConfig | None = Field(
        None, description="Run chains on `gert worker` processes (needs store: postgresql)."
    )
    tools_path: list[str] = Field(default_factory=lambda: ["tools"])
    hmac_key_env: str | None = Field(
        None, description="Environment variable holding the key that signs trace chain hashes."
    )
    step_timeout: Duration = Field(
        "1h",
        description=(
            "How long a cli step that sets no timeout (nor its runbook's defaults) may run "
            "before its process group is killed."
        ),
    )
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    mcp: AssistantConfig = Field(default_factory=AssistantConfig)
    routes: list[AlertRoute] = Field(
        default_factory=list, description="Alerts to runbooks, first match wins (gert serve)."
    )

    @field_validator("step_timeout")
    @classmethod
    def _step_timeout(cls, value: Any) -> Any:
        _check_duration(value)
        if parse_duration(value) <= 0:
            raise ValueError(
                f"step_timeout must be longer than 0 (it kills every cli step after it), "
                f"not {value!r}; write e.g. '30m' or '1h'"
            )
        return value

    @field_validator("store", mode="before")
    @classmethod
    def _store(cls, value: Any) -> Any:
        if value in ("files", "postgresql"):  # the short form: store: files
            return {"backend": value}
        if isinstance(value, str):
            raise ValueError(
                f"store is `files`, or {{backend: postgresql, url_env: GERT_DATABASE_URL}} "
                f"with the URL in that environment variable, not {value[:40]!r}"
            )
        return value

    @field_validator("queue")
    @classmethod
    def _queue_needs_a_shared_store(cls, value: Any, info: ValidationInfo) -> Any:
        store = info.data.get("store")
        if value is not None and store is not None and store.backend != "postgresql":
            raise ValueError(
                "queue needs store: {backend: postgresql}: workers on other machines "
                "cannot see run folders on this one (docs/scaling.md)"
            )
        return value


SANDBOX_PATH_HINT = "relative paths stay inside the project; write a path elsewhere absolute"


def sandbox_path_problems(spec: SandboxSpec, root: Path) -> list[tuple[int, str]]:
    """(index, problem) of each relative writable path that leaves the project *root*."""
    out = []
    base = root.resolve()
    for i, path in enumerate(spec.writable):
        if not Path(path).is_absolute() and not (base / path).resolve().is_relative_to(base):
            out.append((i, f"sandbox writable path '{path}' is outside the project"))
    return out


class ConfigInvalid(RunbookInvalid):
    """A gert.yaml with errors: no command runs on it (each problem names file, line and
    field)."""


def load_config(path: Path) -> tuple[ProjectConfig, list[Problem]]:
    """Read and check gert.yaml: its schema (unknown keys and values are errors, with a
    did-you-mean), then its governance, sandbox and redaction rules.

    Returns the configuration and the problems found (never raises): the defaults when
    the schema fails. The one path every command and ``gert validate`` take; a project
    refuses to use a configuration with errors (:class:`gert.project.Project`).
    """
    from gert.load import LoadError, load_file
    from gert.validate.schema import problems_from_pydantic, validate_model, yaml_type

    try:
        doc = load_file(path)
    except LoadError as e:
        problem = Problem(e.file, e.line, e.col, e.message, hint=e.hint, rule="structure")
        return ProjectConfig(), [problem]
    if doc.data is None:
        doc.data = {}
    if not isinstance(doc.data, dict):
        message = f"gert.yaml must be a mapping of settings, not {yaml_type(doc.data)}"
        return ProjectConfig(), [Problem(str(path), 1, 1, message, rule="structure")]
    try:
        config = validate_model(ProjectConfig, doc)
    except ValidationError as e:
        found = problems_from_pydantic(e, doc, ProjectConfig)
        return ProjectConfig(), sorted(found, key=lambda p: (p.line, p.col))
    return config, _rules(config, doc, path)


def _rules(config: ProjectConfig, doc: Any, path: Path) -> list[Problem]:
    """What the schema cannot say: a command both allowed and denied, sandbox paths out
    of the project, redaction patterns that do not compile."""
    from gert.validate.schema import field_path

    problems: list[Problem] = []

    def add(where: tuple[str | int, ...], message: str, field: str, **kw: Any) -> None:
        line, col = doc.position(where)
        problems.append(Problem(str(path), line, col, message, field=field, **kw))

    gov = config.governance
    if gov is not None:
        both = sorted(set(gov.allowed_commands or []) & set(gov.denied_commands))
        if both:
            add(
                ("governance", "denied_commands"),
                f"{', '.join(both)} both allowed and denied",
                "governance.denied_commands",
                rule="governance-overlap",
            )
    if config.sandbox.default is not None:
        for i, message in sandbox_path_problems(config.sandbox.default, path.parent):
            add(
                ("sandbox", "default", "writable", i),
                message,
                f"sandbox.default.writable[{i}]",
                hint=SANDBOX_PATH_HINT,
                rule="sandbox",
            )
    rules = [(("redact", i), r) for i, r in enumerate(config.redact)]
    rules += [(("governance", "redact", i), r) for i, r in enumerate(gov.redact if gov else [])]
    for where, rule in rules:
        try:
            re.compile(rule.pattern)
        except re.error as e:
            add(
                (*where, "pattern"),
                f"invalid regular expression: {e.msg}",
                field_path((*where, "pattern")),
                rule="regex",
            )
    return problems


__all__ = [
    "INCIDENT_PROVIDERS",
    "ConfigInvalid",
    "IncidentConfig",
    "ProjectConfig",
    "SandboxConfig",
    "load_config",
]
