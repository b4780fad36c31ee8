"""The model of ``gert.yaml`` (DESIGN §3, §10). Secrets are named by environment variable."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from gert.model import Duration, Governance, RedactRule, Strict


class IncidentConfig(Strict):
    """Which incident system gert talks to, and whether it posts summaries there."""

    provider: str = "local"
    post: Literal["auto", "off"] = "auto"
    # Each provider's settings live under its own name (webhook, pagerduty, ...).
    model_config = Strict.model_config | {"extra": "allow"}


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


__all__ = ["IncidentConfig", "ProjectConfig", "load_config"]
