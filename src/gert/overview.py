"""What gert knows of incidents and runs, assembled for a surface to show: an incident's
record and its chains of runs, a run's steps, trace and verification.

The command line (``gert incident show``) and the server (``gert serve``) read the same
views from here; neither builds its own.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gert.project import Project
from gert.store import RunManifest, chains, open_index, open_store
from gert.store.index import RunRow


@dataclass
class IncidentOverview:
    """An incident's record (None when its provider has none) and every chain run for it."""

    incident_id: str
    incident: dict[str, Any] | None
    chains: list[list[tuple[int, RunRow]]]
    replays: list[dict[str, str]]  # per chain: its scenario and the command that replays it
    hidden: int = 0  # dry-runs and replays left out
    warning: str | None = None  # the provider could not be asked
    earlier: int = 0  # chains left out: only the latest were asked for

    @property
    def runs(self) -> int:
        """How many runs the chains hold."""
        return sum(len(c) for c in self.chains)

    def to_dict(self) -> dict[str, Any]:
        """As ``gert incident show --json`` prints it."""
        return {
            "incident": self.incident,
            "chains": [[{"depth": d, **r.to_dict()} for d, r in c] for c in self.chains],
            "replays": self.replays,
        }


def incident_overview(
    project: Project, incident_id: str, include_all: bool = False, latest: int | None = None
) -> IncidentOverview:
    """The incident and its chains (only the *latest* ones when given); dry-runs and
    replays (not evidence of the incident) only with *include_all*. A provider that
    fails is a warning, not an error: the runs are still shown."""
    from gert.incident import IncidentError
    from gert.incident.providers import look_up

    warning = None
    try:
        info = look_up(project, incident_id)
    except IncidentError as e:
        info, warning = None, str(e)
    index = open_index(project.root)
    every = index.query(incident=incident_id, limit=None)
    rows = every if include_all else [r for r in every if r.mode in ("real", "")]
    grouped = chains(rows)
    earlier = 0
    if latest is not None and len(grouped) > latest:
        earlier = len(grouped) - latest
        grouped = sorted(grouped, key=lambda c: c[0][1].started_at)[-latest:]
    return IncidentOverview(
        incident_id,
        info,
        grouped,
        [replay_of(project, c[0][1]) for c in grouped],
        hidden=len(every) - len(rows),
        warning=warning,
        earlier=earlier,
    )


def replay_of(project: Project, root: RunRow) -> dict[str, str]:
    """The scenario a chain was saved as, and the command that replays it ({} when none)."""
    from gert.scenario import replay_command
    from gert.store import RunFolder

    try:
        if (Path(root.folder) / "run.yaml").is_file():  # a run folder: no store to open
            manifest = RunManifest.from_dict(RunFolder(Path(root.folder)).read_manifest())
        else:
            with closing(open_store(project)) as store:
                manifest = store.read_manifest(store.open(root.run_id))
    except Exception:  # a run that cannot be read has no replay to offer
        return {}
    command = replay_command(manifest)
    return {"scenario": manifest.scenario, "command": command} if command else {}


def incidents(project: Project) -> list[dict[str, Any]]:
    """Every incident gert knows: the local provider's, and any other that runs name;
    newest first, each with its run count and the state of its latest chain."""
    from gert.incident.local import local_provider

    known = {i["id"]: dict(i) for i in local_provider(project).list()}
    rows = open_index(project.root).query(limit=None)
    latest: dict[str, RunRow] = {}
    counts: dict[str, int] = {}
    for r in rows:
        if not r.incident_id or r.mode not in ("real", ""):
            continue
        counts[r.incident_id] = counts.get(r.incident_id, 0) + 1
        if r.incident_id not in latest or r.started_at > latest[r.incident_id].started_at:
            latest[r.incident_id] = r
    for incident_id in latest.keys() - known.keys():
        known[incident_id] = {"id": incident_id, "title": "", "status": "", "severity": ""}
    out = []
    for incident_id, info in known.items():
        last = latest.get(incident_id)
        out.append(
            {
                **info,
                "runs": counts.get(incident_id, 0),
                "last_state": last.state if last else "",
                "last_run_at": last.started_at if last else "",
            }
        )
    return sorted(
        out, key=lambda i: str(i.get("last_run_at") or i.get("created_at") or ""), reverse=True
    )


@dataclass
class RunView:
    """One run as its evidence holds it."""

    run_id: str
    manifest: dict[str, Any]
    steps: list[tuple[str, dict[str, Any]]]  # (steps/NNN-id.json, record)
    events: list[dict[str, Any]]
    verified: bool
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    waiting: dict[str, Any] | None = None  # what a waiting run needs (see waiting_form)

    def rows(self) -> list[dict[str, Any]]:
        """Each step as a surface lists it: number, step_id, status, captures, error,
        duration_ms. A step that stopped only for answers is ``waiting`` (the run waits
        at it) or ``waited`` (answered since), not ``failed``; a dry-run, which keeps no
        step records, lists what its trace says of each step."""
        from gert.engine.recovery import needs_evidence

        records = [r for _, r in self.steps] or [
            e.get("data") or {} for e in self.events if e.get("type") == "step_completed"
        ]
        waits_at = (self.waiting or {}).get("step_id")
        out = []
        for n, r in enumerate(records, 1):
            row = {
                "number": r.get("number", n),
                "step_id": r.get("step_id"),
                "status": r.get("status"),
                "captures": r.get("captures") or {},
                "error": r.get("error"),
                "duration_ms": r.get("duration_ms"),
            }
            if needs_evidence(r):
                last = n == len(records) and r.get("step_id") == waits_at
                row["status"] = "waiting" if last else "waited"
                row["error"] = None
            out.append(row)
        return out

    def steps_summary(self) -> dict[str, int]:
        """Steps by status, as :meth:`rows` gives them."""
        counts: dict[str, int] = {"total": 0}
        for row in self.rows():
            counts["total"] += 1
            counts[str(row["status"])] = counts.get(str(row["status"]), 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """The run as plain data (the server's API)."""
        return {
            "run_id": self.run_id,
            "manifest": self.manifest,
            "steps": [{"file": name, **record} for name, record in self.steps],
            "events": self.events,
            "verification": {"ok": self.verified, "problems": self.problems, "notes": self.notes},
            "waiting": self.waiting,
        }


def run_view(project: Project, run_id: str, key: bytes | None = None) -> RunView:
    """A run's manifest, step records and trace, its trace verified now (raises
    :class:`gert.errors.NotFound` for an unknown or malformed run ID)."""
    store = open_store(project)
    try:
        run = store.open(run_id)
        manifest = store.manifest_data(run)
        report = store.verify(run, key)
        steps, events = store.steps(run), report.parsed  # the trace is read once
        notes = list(report.notes)
        if report.ok and not report.signed:
            notes.append(
                "unsigned: an edit of the whole trace, hashes recomputed, would not show "
                "(hmac_key_env in gert.yaml signs traces)"
            )
        return RunView(
            run_id,
            manifest,
            steps,
            events,
            report.ok,
            list(report.problems),
            notes,
            waiting_form(project, manifest, steps, events),
        )
    finally:
        store.close()


def waiting_form(
    project: Project,
    manifest: dict[str, Any],
    steps: list[tuple[str, dict[str, Any]]],
    events: list[dict[str, Any]],
) -> dict[str, Any] | None:
    """What a waiting run needs, as a form asks it: the step, its instructions (as they
    were rendered), the evidence it requires, its choices, the outcomes to pick from and
    the approvals it needs. None when the run is not waiting."""
    if manifest.get("status") != "waiting":
        return None
    waited = [e for e in events if e.get("type") == "run_waiting"]
    if not waited:
        return None
    data = waited[-1].get("data") or {}
    sid = str(data.get("step_id", ""))
    form: dict[str, Any] = {"step_id": sid, "needs": str(data.get("needs", ""))}
    records = [r for _, r in steps if r.get("step_id") == sid]
    attempts = (records[-1].get("attempts") or [{}]) if records else [{}]
    form["instructions"] = str((attempts[-1].get("request") or {}).get("instructions", ""))
    step = _step_of(project, str(manifest.get("runbook", "")), sid)
    if step is None:  # a step of an invoked runbook: answered with gert resume --evidence
        form["answerable"] = False
        return form
    form["answerable"] = True
    form["title"] = step.title or sid
    if not form["instructions"] and getattr(step, "instructions", None):
        form["instructions"] = _rendered(step.instructions, manifest, steps)
    form["evidence"] = [
        {
            "name": e.name,
            "kind": e.kind,
            "description": e.description or "",
            "items": list(e.items or []),
        }
        for e in getattr(step, "required_evidence", [])
    ]
    choices = getattr(step, "choices", None)
    form["choices"] = (
        {
            "variable": choices.variable,
            "options": [{"value": o.value, "label": o.label or o.value} for o in choices.options],
        }
        if choices
        else None
    )
    unconditional = [o.state for o in step.outcomes if not o.when]
    form["outcomes"] = unconditional if step.type == "manual" and len(unconditional) > 1 else []
    approvals = getattr(step, "approvals", None) or getattr(
        getattr(step, "tool", None), "approvals", None
    )
    form["approvals"] = int(getattr(approvals, "min", 0) or 0) if approvals else 0
    return form


def _rendered(template: str, manifest: dict[str, Any], steps: list[tuple[str, Any]]) -> str:
    """A step's instructions as the run would have shown them: its inputs and the
    captures of the steps before (as recorded: redacted); the template as written when
    it cannot be rendered."""
    from gert.template import TemplateError, render

    values = {str(k): str(v) for k, v in (manifest.get("inputs_resolved") or {}).items()}
    for _, record in steps:
        if record.get("status") == "passed":
            values.update({str(k): str(v) for k, v in (record.get("captures") or {}).items()})
    try:
        return render(template, values)
    except TemplateError:
        return template


def _step_of(project: Project, runbook: str, sid: str) -> Any:
    """The step *sid* of a runbook of the project (None for one inside an invoked runbook,
    or a runbook that cannot be read)."""
    if "/" in sid or not runbook:
        return None
    from gert.validate import RunbookInvalid, load_runbook, walk_steps

    try:
        model = load_runbook(project.root / runbook, project).model
    except (RunbookInvalid, OSError):
        return None
    return next((i.step for i in walk_steps(model) if i.step.id == sid), None)


def answer_problems(waiting: dict[str, Any], given: dict[str, Any]) -> list[str]:
    """What is wrong with answers for a waiting step, each naming its field: evidence
    missing or not of its kind, a checklist item or choice or outcome the step does not
    offer, a field the step does not ask for."""
    out = []
    asked = {ev["name"]: ev for ev in waiting.get("evidence") or []}
    for name, ev in asked.items():
        value = given.get(name)
        if ev["kind"] == "checklist":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                out.append(f"{name}: a list of the ticked items, of: {', '.join(ev['items'])}")
            else:
                unknown = [v for v in value if v not in ev["items"]]
                if unknown:
                    out.append(f"{name}: no item {unknown[0]!r}; items: {', '.join(ev['items'])}")
        elif not isinstance(value, str) or not value.strip():
            what = "a file (path inside the project)" if ev["kind"] == "attachment" else "text"
            out.append(f"{name}: {what} is required")
    choices = waiting.get("choices")
    if choices:
        values = [o["value"] for o in choices["options"]]
        if given.get("choice") not in values:
            out.append(f"choice: one of {', '.join(values)}")
    outcomes = waiting.get("outcomes") or []
    if outcomes and given.get("outcome") not in outcomes:
        out.append(f"outcome: one of {', '.join(outcomes)}")
    known = {*asked, "choice", "outcome", "approved_by"}
    out += [
        f"{k}: step '{waiting['step_id']}' asks for no such answer" for k in given if k not in known
    ]
    return out


def check_decisions(
    project: Project,
    run_id: str,
    answers: dict[str, Any],
    retry_steps: tuple[str, ...] = (),
    skip_steps: tuple[str, ...] = (),
    source: str = "answers",
) -> None:
    """Refuse (InvalidError, each problem named) answers or decisions that do not fit what
    the run waits for: a step that does not wait, evidence missing or unknown, a
    --retry-step/--skip-step naming a step that was not running when the run stopped."""
    import difflib

    from gert.engine import recovery
    from gert.errors import InvalidError

    view = run_view(project, run_id)
    problems: list[str] = []
    waiting = view.waiting
    for step_id, given in answers.items():
        if waiting is None or step_id != waiting.get("step_id"):
            near = difflib.get_close_matches(str(step_id), [str((waiting or {}).get("step_id"))])
            where = f"it waits at '{waiting['step_id']}'" if waiting else "it waits for no answer"
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            problems.append(f"step '{step_id}' does not wait here; {where}{hint}")
        elif isinstance(given, dict):
            problems += [f"{step_id}.{p}" for p in answer_problems(waiting, given)]
    if problems:
        raise InvalidError(f"{source}: " + "; ".join(problems))
    _, in_flight = recovery.read_journal(view.events)
    running = sorted({sid for sid, _ in in_flight})
    for step_id in (*retry_steps, *skip_steps):
        if step_id not in running:
            near = difflib.get_close_matches(step_id, running, n=1)
            was = f"the step that was: '{running[0]}'" if running else "no step was"
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            problems.append(
                f"step '{step_id}' was not running when run {run_id} stopped; {was}{hint}"
            )
    if problems:
        raise InvalidError("; ".join(problems))
