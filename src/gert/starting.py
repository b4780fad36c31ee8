"""What starting a runbook for an incident would do (the server's start link, the
terminal's start screen, alerts): the runbook, checked, and each of its
inputs bound from the incident (or given), with where each value came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gert.errors import InvalidError, NotFound
from gert.project import Project


@dataclass
class StartPlan:
    """A runbook ready to start for an incident."""

    path: Path
    rel: str  # as the project names it
    model: Any
    incident: dict[str, Any] | None
    inputs: dict[str, str]  # a missing one holds <name>
    sources: dict[str, str]  # input -> incident.title, default, given, placeholder…
    missing: list[str] = field(default_factory=list)


def _near_runbook(project: Project, runbook: str) -> str:
    """A did-you-mean among the project's runbook files ('' when none is close)."""
    import difflib
    import itertools

    found = (
        p.relative_to(project.root).as_posix()
        for p in project.root.rglob("*.runbook.yaml")
        if not any(part.startswith(".") for part in p.relative_to(project.root).parts)
    )
    known = list(itertools.islice(found, 5000))
    close = difflib.get_close_matches(runbook, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def plan_start(
    project: Project, runbook: str, incident_id: str | None, given: dict[str, str]
) -> StartPlan:
    """Check the runbook (inside the project, valid) and bind its inputs; raises NotFound
    for a runbook that is not there and InvalidError for one that is not valid."""
    from gert.engine.inputs import PLACEHOLDER, resolve_inputs
    from gert.incident import IncidentError
    from gert.incident.providers import look_up
    from gert.validate import RunbookInvalid, load_runbook

    if not runbook or len(runbook) > 500 or "\0" in runbook:
        raise NotFound("name a runbook file of the project: ?runbook=runbooks/NAME.runbook.yaml")
    path = project.root / runbook
    if not project.contains(path) or not path.is_file():
        raise NotFound(f"no runbook {runbook} in the project{_near_runbook(project, runbook)}")
    try:
        model = load_runbook(path, project).model
    except RunbookInvalid as e:
        first = next((p.format() for p in e.problems if p.severity == "error"), "invalid")
        raise InvalidError(f"{runbook} is not valid: {first}") from None
    if model.meta.kind == "reference":
        raise InvalidError(f"{runbook} is a reference runbook: it is read, never run")
    incident = None
    if incident_id:
        try:
            incident = look_up(project, incident_id)
        except IncidentError as e:
            raise InvalidError(f"incident {incident_id}: {e}") from None
    known = set(model.meta.inputs)
    sources: dict[str, str] = {}
    inputs = resolve_inputs(
        model,
        {k: v for k, v in given.items() if k in known and v != ""},
        incident,
        None,
        None,
        sources,
        placeholders=True,
    )
    missing = [n for n, s in sources.items() if s == PLACEHOLDER]
    rel = str(path.resolve().relative_to(project.real_root))
    return StartPlan(path, rel, model, incident, inputs, sources, missing)
