"""The model of ``gert.yaml`` (DESIGN §3, §10). Secrets are named by environment variable."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from gert.model import Duration, Governance, RedactRule, SandboxSpec, Strict


class IncidentConfig(Strict):
    """Which incident system gert talks to, and whether it posts summaries there."""

    provider: str = "local"
    post: Literal["auto", "off"] = "auto"
    # Each provider's settings live under its own name (webhook, pagerduty, ...).
    model_config = Strict.model_config | {"extra": "allow"}


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


class ProjectConfig(Strict):
    """The contents of gert.yaml; every field has a default."""

    runs_dir: str = ".runbook/runs"
    scenarios_dir: str = "scenarios"
    record: Literal["auto", "off"] = "auto"
    max_chain_depth: int = Field(5, ge=0, le=50)
    incident: IncidentConfig = Field(default_factory=IncidentConfig)
    governance: Governance | None = None
    redact: list[RedactRule] = Field(default_factory=list)
    store: str = Field("files", description="`files`, or a postgresql:// URL.")
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


def load_config(path: Path) -> tuple[ProjectConfig, list[Any]]:
    """Load gert.yaml; on problems return defaults plus the problems (never raises)."""
    from gert.load import LoadError, load_file
    from gert.problems import Problem
    from gert.validate.schema import problems_from_pydantic

    try:
        doc = load_file(path)
    except LoadError as e:
        return ProjectConfig(), [Problem(e.file, e.line, e.col, e.message, hint=e.hint)]
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        return ProjectConfig(), [Problem(str(path), 1, 1, "gert.yaml must be a mapping")]
    try:
        return ProjectConfig.model_validate(data), []
    except ValidationError as e:
        return ProjectConfig(), problems_from_pydantic(e, doc, ProjectConfig)


__all__ = ["IncidentConfig", "ProjectConfig", "SandboxConfig", "load_config"]
