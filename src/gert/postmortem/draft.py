"""Postmortems drafted from evidence.

``build`` collects an incident (through its provider) and every run of it (through the
index and the run folders); ``render`` writes every section of the standard structure, in its order, filling
what the evidence says and leaving visible ``[to be confirmed]`` placeholders for the rest;
``write`` saves ``postmortems/post-mortem-YYYY-MM-DD-<slug>.md``, keeps what a person already
wrote in the sections gert cannot fill, and updates ``POST_MORTEM_TRACKING.md``.

Blameless by construction: gert's sentences name systems, steps and roles, never people;
answers a person supplies are checked for blame words.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gert.engine.recovery import needs_evidence
from gert.errors import GertError
from gert.scenario import replay_command
from gert.store import RunManifest
from gert.util import shorten
from gert.util import slug as _slug

TBC = "[to be confirmed]"


class RenderError(GertError):
    """An HTML or PDF rendering could not be made (a missing font or extra)."""


QUESTIONS = {
    "severity": (
        "What was the severity of the incident?",
        [
            "SEV-1 (Critical - full outage)",
            "SEV-2 (Major - significant degradation)",
            "SEV-3 (Minor - limited impact)",
            "SEV-4 (Low - minimal impact)",
        ],
    ),
    "impact": (
        "What was the primary impact?",
        [
            "Complete service outage",
            "Data loss/corruption",
            "Security breach",
            "Performance degradation",
            "Partial feature failure",
            "Other (specify)",
        ],
    ),
    "duration": (
        "How long did the incident last?",
        ["< 5 minutes", "5-30 minutes", "30 minutes - 2 hours", "2-24 hours", "> 24 hours"],
    ),
    "detection": (
        "How was the incident detected?",
        [
            "Monitoring alert",
            "Customer report",
            "Internal discovery",
            "Automated system",
            "Other (specify)",
        ],
    ),
    "root_cause": (
        "What was the root cause category?",
        [
            "Code bug",
            "Configuration error",
            "Infrastructure failure",
            "Third-party service",
            "Human error",
            "Process failure",
            "Unknown/Under investigation",
        ],
    ),
}
BLAME = re.compile(
    r"(?i)\b(fault|blame[ds]?|careless(ness)?|negligen(t|ce)|stupid|incompetent|lazy|"
    r"should have known|screwed up|messed up|(his|her|their) mistake|mistake by)\b"
)
# Long runs stay readable: this many passed steps in a row fold into one timeline row, and
# a run contributes at most this many output excerpts and commands (failures first).
FOLD_PASSED_AFTER = 8
EXCERPTS_PER_RUN = 5
COMMANDS_SHOWN = 40
# Sections whose text a person writes; regeneration keeps what they wrote.
HUMAN_SECTIONS = (
    "Lessons Learned",
    "Prevention Measures",
    "Follow-up",
    "Communication",
    "Sign-off",
)


def _parse(ts: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(ts).replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None


def _hm(ts: dt.datetime) -> str:
    return ts.astimezone(dt.UTC).strftime("%H:%M:%S")


def _minutes(a: dt.datetime | None, b: dt.datetime | None) -> str:
    """A span as people read it: "45 s", "2 h 14 min", "3 days 2 h"; with the dates when
    it crosses midnight."""
    if a is None or b is None:
        return TBC
    seconds = round((b - a).total_seconds())
    if seconds < 0:
        return TBC
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        text = f"{days} day{'s' * (days != 1)}" + (f" {hours} h" if hours else "")
    elif hours:
        text = f"{hours} h" + (f" {minutes} min" if minutes else "")
    elif minutes:
        text = f"{minutes} min" + (f" {secs} s" if secs and minutes < 10 else "")
    else:
        text = f"{secs} s"
    a_utc, b_utc = a.astimezone(dt.UTC), b.astimezone(dt.UTC)
    if a_utc.date() != b_utc.date():
        text += f" ({a_utc:%Y-%m-%d %H:%M} → {b_utc:%Y-%m-%d %H:%M} UTC)"
    return text


@dataclass
class Row:
    """One timeline row: when, what, who (a role), the evidence it comes from, and its kind."""

    ts: dt.datetime
    event: str
    actor: str
    evidence: str = ""
    marker: str = ""  # detection | diagnosis | repair


@dataclass
class RunFacts:
    """What one run's evidence says."""

    run_id: str
    runbook: str
    manifest: RunManifest
    events: list[dict[str, Any]]
    captures: dict[str, str] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    excerpts: list[tuple[str, str]] = field(
        default_factory=list
    )  # (step id, first lines of output)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (step id, error)
    retried: list[str] = field(default_factory=list)
    excerpts_omitted: int = 0  # step outputs left in the run folder
    manual: list[str] = field(default_factory=list)
    owner: str = ""  # the runbook's meta.owner, when it names one
    evidence_texts: list[tuple[str, str]] = field(default_factory=list)  # (step, text given)


@dataclass
class Postmortem:
    """Everything the document is made from."""

    incident_id: str
    incident: dict[str, Any]
    runs: list[RunFacts]
    answers: dict[str, str]
    related: list[tuple[str, str]] = field(default_factory=list)  # (incident id, why related)
    blame: list[str] = field(default_factory=list)  # "where: text" of each flagged text
    sources: dict[str, str] = field(default_factory=dict)  # question -> where its answer came from

    @property
    def chains(self) -> list[list[RunFacts]]:
        """The runs as chains: each root with the runs its hand-offs started, in order."""
        return group_chains(self.runs)


# ------------------------------------------------------------------ collecting


def collect_runs(store: Any, incident_id: str) -> list[RunFacts]:
    """Every real run of the incident, oldest first, with what its trace and step files
    say (dry-runs and replays are not what happened)."""
    facts = []
    for row in store.incident_runs(incident_id):
        if row.mode not in ("real", ""):
            continue
        folder = store.open(row.run_id)
        manifest = store.read_manifest(folder)
        events = store.events(folder)
        f = RunFacts(row.run_id, row.runbook_name, manifest, events)
        for e in events:
            d = e.get("data") or {}
            if e["type"] == "step_completed":
                f.captures.update({k: str(v) for k, v in (d.get("captures") or {}).items()})
                if d.get("status") == "failed" and not needs_evidence(d):  # waited: not failed
                    f.failed.append((d["step_id"], str(d.get("error", ""))))
                if int(d.get("attempts") or 1) > 1:
                    f.retried.append(d["step_id"])
            elif e["type"] == "evidence_recorded":
                f.manual.append(d["step_id"])
                for name, ev in (d.get("evidence") or {}).items():
                    if isinstance(ev, dict) and ev.get("kind") == "text":
                        f.evidence_texts.append(
                            (f"{d['step_id']}.{name}", str(ev.get("value", "")))
                        )
        for _, payload in store.steps(folder):
            last = (payload.get("attempts") or [{}])[-1]
            request = last.get("request") or {}
            if request.get("argv"):
                f.commands.append(" ".join(str(a) for a in request["argv"]))
            elif request.get("tool"):
                what = (
                    request.get("query")
                    or request.get("method")
                    or request.get("mcp_tool")
                    or request.get("action")
                )
                f.commands.append(f"{request['tool']}: {what}")
            if payload.get("type") == "manual" and payload["step_id"] not in f.manual:
                f.manual.append(payload["step_id"])
            out = str(last.get("stdout") or last.get("body") or "").strip()
            if out:
                lines = out.splitlines()
                excerpt = "\n".join(line[:160] for line in lines[:5]) + (
                    f"\n... ({len(lines) - 5} more lines)" if len(lines) > 5 else ""
                )
                f.excerpts.append((payload["step_id"], excerpt))
        f.owner = _owner(store, manifest)
        failed = {step for step, _ in f.failed}
        f.excerpts.sort(key=lambda item: item[0] not in failed)  # stable: failures first
        f.excerpts_omitted = max(0, len(f.excerpts) - EXCERPTS_PER_RUN)
        del f.excerpts[EXCERPTS_PER_RUN:]
        facts.append(f)
    return facts


def _owner(store: Any, manifest: RunManifest) -> str:
    """The owner the run's runbook names (``meta.owner``), read from the project."""
    from gert.load import LoadError, load_file

    root = getattr(store, "runs_dir", None)
    if not manifest.runbook or root is None:
        return ""
    for base in (Path(root).parent.parent, Path.cwd()):
        path = base / manifest.runbook
        if path.is_file():
            try:
                data = load_file(path).data
            except LoadError:
                return ""
            meta = data.get("meta") if isinstance(data, dict) else None
            return str(meta.get("owner") or "") if isinstance(meta, dict) else ""
    return ""


def group_chains(runs: list[RunFacts]) -> list[list[RunFacts]]:
    """Runs grouped into chains by their manifests' links (a child's parent_run_id, a
    parent's child_runs): each chain root first, chains oldest first. A hand-off no
    manifest records is never assumed."""
    by_id = {r.run_id: r for r in runs}
    chains = []
    for root in runs:
        if root.manifest.parent_run_id in by_id:
            continue
        chain, current = [root], root
        while True:
            children = [
                by_id[c["run_id"]]
                for c in current.manifest.child_runs
                if c.get("run_id") in by_id
                and by_id[c["run_id"]].manifest.parent_run_id == current.run_id
            ]
            if not children or children[-1] in chain:
                break
            current = children[-1]
            chain.append(current)
        chains.append(chain)
    return chains


def related_incidents(store: Any, incident_id: str, runs: list[RunFacts]) -> list[tuple[str, str]]:
    """Other incidents that reached the same cause, started from the same failure signature
    (gert triage --run), or whose runs used the same runbooks.

    A cause is where a chain ended: the last runbook and the outcome state it reached.
    """
    reasons: dict[str, list[str]] = {}

    def note(other: str, reason: str) -> None:
        if other and other != incident_id and reason not in reasons.setdefault(other, []):
            reasons[other].append(reason)

    if runs:
        last = runs[-1]
        state = last.manifest.outcome.get("state")
        if state:
            for row in store.query(runbook=last.runbook, state=state, limit=200):
                note(row.incident_id, f"reached the same cause ({last.runbook}: {state})")
        signature = runs[0].manifest.triggered_by.get("signature")
        if signature:  # started by gert triage: others started from the same failure
            for row in store.query(runbook=runs[0].runbook, limit=200):
                if row.incident_id and row.incident_id != incident_id and not row.parent_run_id:
                    trigger = store.read_manifest(store.open(row.run_id)).triggered_by
                    if trigger.get("signature") == signature:
                        note(
                            row.incident_id,
                            f"started from the same failure signature ({signature})",
                        )
    for name in sorted({r.runbook for r in runs}):
        for row in store.query(runbook=name, limit=200):
            note(row.incident_id, f"also ran {name}")
    # Same cause or signature first, then by incident id.
    ranked = sorted(reasons.items(), key=lambda kv: (kv[1][0].startswith("also ran"), kv[0]))
    return [(other, "; ".join(why)) for other, why in ranked]


def load_answers(path: str | Path) -> dict[str, Any]:
    """An ``--answers`` file: answers to some of the five questions (raises InvalidError
    naming the file when it holds anything else)."""
    import difflib

    from gert.errors import InvalidError
    from gert.load import load_mapping

    data = load_mapping(path, f"answers are a mapping of {', '.join(QUESTIONS)}")
    unknown = sorted(set(data) - set(QUESTIONS))
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), list(QUESTIONS), n=1, cutoff=0.6)
            hints.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        raise InvalidError(
            f"{path}: no question named {', '.join(hints)}; the questions are "
            f"{', '.join(QUESTIONS)}"
        )
    return data


def answer_questions(
    incident: dict[str, Any],
    given: dict[str, Any],
    asker: Any = None,
    runs: list[RunFacts] | None = None,
    sources: dict[str, str] | None = None,
) -> dict[str, str]:
    """The five questions, each from the first that has it: the ``--answers`` file, a
    field of the incident that states it, the engineer at a terminal (in order), else
    TBC. *sources*, when given, says where each answer came from."""
    answers: dict[str, str] = {}
    stated = _stated_by_incident(incident)
    where: dict[str, str] = {}
    for key, (question, options) in QUESTIONS.items():
        value, origin = given.get(key), "the --answers file"
        if key == "severity" and value and str(value).strip().isdigit():
            value = f"SEV-{str(value).strip()}"
        if not value and key in stated:
            value, origin = stated[key]
        if not value and asker is not None:
            value, origin = asker(question, options), "asked at the terminal"
        if not value:
            value, origin = None, "not answered"
        answers[key] = str(value) if value else TBC
        where[key] = origin
    if sources is not None:
        sources.update(where)
    return answers


def _stated_by_incident(incident: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Answers an incident's own fields state (never guessed from its having a timeline)."""
    out: dict[str, tuple[str, str]] = {}
    sev = incident.get("severity")
    if isinstance(sev, int) or (isinstance(sev, str) and sev.isdigit()):
        out["severity"] = (f"SEV-{sev}", "the incident's severity")
    start = _parse(incident.get("created_at", ""))
    end = _parse(incident.get("resolved_at", "")) if incident.get("resolved_at") else None
    if start is not None and end is not None:
        out["duration"] = (
            _duration_answer(incident, []) or "",
            "the incident's open and resolve times",
        )
    fields = incident.get("custom_fields") or {}
    for key in ("impact", "detection", "root_cause"):
        value = incident.get(key) or fields.get(key) or fields.get(key.replace("_", " ").title())
        if value:
            out[key] = (str(value), f"the incident's {key} field")
    return out


def _duration_answer(incident: dict[str, Any], runs: list[RunFacts]) -> str | None:
    start = _parse(incident.get("created_at", ""))
    end = _parse(incident.get("resolved_at", "")) if incident.get("resolved_at") else None
    if start is None or end is None:
        return None
    minutes = (end - start).total_seconds() / 60
    for limit, label in (
        (5, "< 5 minutes"),
        (30, "5-30 minutes"),
        (120, "30 minutes - 2 hours"),
        (1440, "2-24 hours"),
    ):
        if minutes < limit:
            return label
    return "> 24 hours"


def build(
    store: Any,
    incident_id: str,
    incident: dict[str, Any],
    given: dict[str, Any] | None = None,
    asker: Any = None,
) -> Postmortem:
    """Collect everything for one incident's postmortem."""
    runs = collect_runs(store, incident_id)
    given = {k: str(v) for k, v in (given or {}).items()}
    sources: dict[str, str] = {}
    answers = answer_questions(incident, given, asker, runs, sources)
    pm = Postmortem(incident_id, incident, runs, answers, sources=sources)
    pm.related = related_incidents(store, incident_id, runs)
    pm.blame = blame_flags(pm)
    return pm


def _role(actor: str) -> str:
    """Who acted, as a blameless document names them: a role, never a person; an
    assistant's part stays visible."""
    if actor.startswith("assistant:"):
        return "Assistant (for the on-call engineer)"
    return "On-call engineer"


def for_incident(
    project: Any, incident_id: str, given: dict[str, Any] | None = None, asker: Any = None
) -> Postmortem:
    """The postmortem of *incident_id* as the project's evidence stands now (the incident
    read with its timeline; raises IncidentError when it cannot be)."""
    from contextlib import closing

    from gert.incident.providers import get_with_timeline
    from gert.store import open_store

    incident = get_with_timeline(project, incident_id)
    with closing(open_store(project)) as store:
        return build(store, incident_id, incident, given, asker)


def blame_flags(pm: Postmortem) -> list[str]:
    """Every text that enters the document and reads as blame: incident notes, answers,
    manual evidence, recommendations and captured values ("where: text")."""
    texts: list[tuple[str, str]] = []
    for entry in pm.incident.get("timeline") or []:
        if entry.get("kind") in ("note", "opened", "status"):
            texts.append((f"incident {entry.get('kind')}", str(entry.get("text", ""))))
    texts += [(f"answer {k}", v) for k, v in pm.answers.items() if v != TBC]
    for r in pm.runs:
        texts += [(f"{r.runbook} evidence {where}", text) for where, text in r.evidence_texts]
        rec = r.manifest.outcome.get("recommendation")
        if rec:
            texts.append((f"{r.runbook} recommendation", str(rec)))
        texts += [(f"{r.runbook} capture {k}", str(v)) for k, v in r.captures.items()]
    flagged = [f"{where}: {_value(text)}" for where, text in texts if BLAME.search(text)]
    return list(dict.fromkeys(flagged))


# ------------------------------------------------------------------ the content


def timeline(pm: Postmortem) -> list[Row]:
    """Incident events and every run's evidence, in time order, actors as roles."""
    rows: list[Row] = []
    for entry in pm.incident.get("timeline") or []:
        ts = _parse(entry.get("ts", ""))
        if ts is None:
            continue
        kind = entry.get("kind")
        if kind == "opened":
            rows.append(
                Row(
                    ts,
                    f"Alert triggered, incident opened: {entry.get('text', '')}",
                    "Monitoring",
                    "incident timeline",
                    "detection",
                )
            )
        elif kind == "note":
            rows.append(Row(ts, f"Note: {entry.get('text', '')}", "Responder", "incident timeline"))
        elif kind == "status":
            marker = "repair" if "resolved" in str(entry.get("text", "")) else ""
            rows.append(
                Row(
                    ts,
                    f"Incident {entry.get('text', '')}",
                    "Incident commander",
                    "incident timeline",
                    marker,
                )
            )
        elif kind == "gert":
            rows.append(
                Row(
                    ts,
                    "Runbook summary posted to the incident",
                    "gert",
                    f"run {entry.get('run_id', '')}",
                )
            )
    for run in pm.runs:
        passed: list[Row] = []  # a stretch of passed steps, folded when it is long
        for e in run.events:
            ts = _parse(e.get("ts", ""))
            d = e.get("data") or {}
            if passed and (
                e["type"] in _STRETCH_BREAKERS
                or (e["type"] == "step_completed" and d.get("status") != "passed")
            ):
                rows.extend(_fold(passed, run.run_id))
                passed = []
            if ts is None:
                continue
            cite = f"run {run.run_id}"
            if e["type"] == "run_started":
                rows.append(
                    Row(
                        ts,
                        f"Runbook {run.runbook} started ({d.get('mode', '')} mode)",
                        _role(str(d.get("actor", ""))),
                        cite,
                    )
                )
            elif e["type"] == "step_completed" and needs_evidence(d):
                text = f"Step {d['step_id']} waited for a person's answers"
                rows.append(Row(ts, text, "gert", cite))
            elif e["type"] == "step_completed":
                caps = ", ".join(f"{k}={_value(v)}" for k, v in (d.get("captures") or {}).items())
                text = f"Step {d['step_id']} {d.get('status')}" + (f": {caps}" if caps else "")
                if d.get("error"):
                    text += f" ({d['error']})"
                row = Row(ts, text, "gert", f"{cite}, {d.get('step_file', '')}".rstrip(", "))
                if d.get("status") == "passed":
                    passed.append(row)
                    continue
                rows.append(row)
            elif e["type"] == "evidence_recorded":
                rows.append(
                    Row(
                        ts,
                        f"Manual evidence recorded for {d['step_id']}",
                        _role(str(d.get("recorded_by", ""))),
                        cite,
                    )
                )
            elif e["type"] == "outcome_reached":
                state = d.get("state", "")
                marker = "repair" if state == "resolved" else "diagnosis"
                text = f"Outcome {state}" + (
                    f": {d['recommendation']}" if d.get("recommendation") else ""
                )
                rows.append(Row(ts, text, "gert", cite, marker))
            elif e["type"] == "chain_started":
                rows.append(
                    Row(ts, f"Handed off to runbook {d.get('file', '')}", "gert", cite, "diagnosis")
                )
            elif e["type"] == "chain_error":
                rows.append(Row(ts, f"Chain stopped: {d.get('error', '')}", "gert", cite))
        rows.extend(_fold(passed, run.run_id))
    return sorted(rows, key=lambda r: r.ts)


# Trace events that end a stretch of passed steps (they get rows of their own).
_STRETCH_BREAKERS = {
    "run_started",
    "evidence_recorded",
    "outcome_reached",
    "chain_started",
    "chain_error",
}


def _fold(passed: list[Row], run_id: str) -> list[Row]:
    """A long stretch of passed steps as one row citing its first and last step files."""
    if len(passed) <= FOLD_PASSED_AFTER:
        return passed
    first, last = passed[0], passed[-1]
    steps = [row.event.split()[1] for row in (first, last)]  # "Step <id> passed..."
    files = [row.evidence.split(", ", 1)[-1] for row in (first, last)]
    return [
        Row(
            first.ts,
            f"Steps {steps[0]} to {steps[1]} passed ({len(passed)} steps; "
            "captures under Supporting Data)",
            "gert",
            f"run {run_id}, {files[0]} to {files[1]}",
        )
    ]


def metrics(pm: Postmortem) -> list[tuple[str, str, str, str]]:
    """(metric, value, from, to) for time to detect, respond, mitigate and resolve."""
    inc = pm.incident
    opened = _parse(inc.get("created_at", ""))
    impact = _parse(inc.get("started_at", "")) if inc.get("started_at") else None
    first_run = min(
        (_parse(r.manifest.started_at) for r in pm.runs),
        default=None,
        key=lambda t: t or dt.datetime.max.replace(tzinfo=dt.UTC),
    )
    mitigated = None
    for r in pm.runs:  # the first run that reached a resolution mitigated it
        if r.manifest.outcome.get("state") in ("resolved", "no_action"):
            mitigated = _parse(r.manifest.ended_at)
            break
    mitigated = _parse(inc.get("mitigated_at", "")) if inc.get("mitigated_at") else mitigated
    resolved = _parse(inc.get("resolved_at", "")) if inc.get("resolved_at") else None

    def stamp(t: dt.datetime | None, label: str) -> str:
        return (
            f"{label} {t.astimezone(dt.UTC).isoformat().replace('+00:00', 'Z')}"
            if t
            else f"{label} {TBC}"
        )

    return [
        (
            "Time to Detect (TTD)",
            _minutes(impact, opened),
            stamp(impact, "impact began"),
            stamp(opened, "incident opened"),
        ),
        (
            "Time to Respond (TTR)",
            _minutes(opened, first_run),
            stamp(opened, "incident opened"),
            stamp(first_run, "first run started"),
        ),
        (
            "Time to Mitigate (TTM)",
            _minutes(opened, mitigated),
            stamp(opened, "incident opened"),
            stamp(mitigated, "mitigated"),
        ),
        (
            "Time to Resolve",
            _minutes(opened, resolved),
            stamp(opened, "incident opened"),
            stamp(resolved, "resolved"),
        ),
    ]


def action_items(pm: Postmortem) -> list[tuple[str, str, str, str]]:
    """(action, type, priority, owner) from what the evidence shows needs doing; an action
    several runs call for appears once, citing them; the owner is the runbook's."""
    found: dict[tuple[str, str, str], list[str]] = {}
    owners: dict[tuple[str, str, str], str] = {}
    for item, run in _raw_action_items(pm):
        found.setdefault(item, []).append(run.run_id)
        owners.setdefault(item, run.owner or "unassigned")
    return [
        (f"{action} ({_runs_cited(runs)})", kind, priority, owners[(action, kind, priority)])
        for (action, kind, priority), runs in found.items()
    ]


def _raw_action_items(pm: Postmortem) -> list[tuple[tuple[str, str, str], RunFacts]]:
    items: list[tuple[tuple[str, str, str], RunFacts]] = []
    for r in pm.runs:
        outcome = r.manifest.outcome
        if outcome.get("state") == "escalated" and not outcome.get("next_runbook"):
            items.append(
                (
                    (
                        f"Write a runbook for what '{r.runbook}' escalated ({outcome.get('recommendation') or 'no recommendation'})",
                        "mitigate",
                        "High",
                    ),
                    r,
                )
            )
        if r.manifest.chain_error:
            items.append(
                (
                    (
                        f"Fix the runbook chain after '{r.runbook}': {r.manifest.chain_error}",
                        "process",
                        "High",
                    ),
                    r,
                )
            )
        for step, error in r.failed:
            items.append(
                ((f"Make step '{step}' of '{r.runbook}' reliable ({error})", "prevent", "High"), r)
            )
        for step in r.retried:
            items.append(
                (
                    (
                        f"Find out why step '{step}' of '{r.runbook}' needed retries",
                        "prevent",
                        "Medium",
                    ),
                    r,
                )
            )
        for step in r.manual:
            items.append(
                (
                    (
                        f"Consider automating manual step '{step}' of '{r.runbook}'",
                        "process",
                        "Low",
                    ),
                    r,
                )
            )
    return items


# ------------------------------------------------------------------ rendering


def render(pm: Postmortem, author: str = "gert (draft from evidence)") -> str:
    """The Markdown document, every section of the standard structure in its order."""
    inc = pm.incident
    title = inc.get("title") or f"Incident {pm.incident_id}"
    opened = _parse(inc.get("created_at", ""))
    ended = _parse(inc.get("resolved_at", "")) if inc.get("resolved_at") else None
    date = opened.strftime("%Y-%m-%d") if opened else TBC
    rows = timeline(pm)
    chains = pm.chains
    a = pm.answers
    out: list[str] = []
    add = out.append
    add(f"# Post-Mortem: {title}\n")
    add(f"**Incident Number:** INC-{date}-{pm.incident_id}  ")
    add(f"**Date:** {date}  ")
    add(
        f"**Time:** {opened.strftime('%H:%M') if opened else TBC} - {ended.strftime('%H:%M') if ended else TBC} UTC  "
    )
    add(f"**Duration:** {_duration(pm)}  ")
    add(f"**Severity:** {a['severity']}  ")
    add(f"**Author:** {author}  ")
    add("**Status:** Draft\n")
    add("## Executive Summary\n")
    add(_summary(pm, title) + f" Primary impact: {a['impact']}.\n")
    add("## Impact\n")
    add("### Customer Impact")
    add(
        f"- **Affected Users:** {TBC}\n- **Affected Features:** {TBC}\n- **Geographic Regions:** "
        f"{', '.join(str(v) for v in (inc.get('location') or {}).values()) or TBC}\n- **Lost Revenue:** {TBC}\n- **SLA Breach:** {TBC}\n"
    )
    add("### Technical Impact")
    systems = ", ".join(f"{k}={v}" for k, v in (inc.get("custom_fields") or {}).items()) or TBC
    add(
        f"- **Systems Affected:** {systems}\n- **Data Loss:** {TBC}\n- **Performance Degradation:** {a['impact']}\n"
    )
    add("### Business Impact")
    add(
        f"- **Customer Tickets:** {TBC}\n- **Reputation Impact:** {TBC}\n- **Compliance Issues:** {TBC}\n"
    )
    add("## Timeline\n")
    add("All times in UTC\n")
    add("| Time | Event | Actor | Evidence | Kind |")
    add("|------|-------|-------|----------|------|")
    for r in rows:
        add(f"| {_hm(r.ts)} | {_cell(r.event)} | {r.actor} | {_cell(r.evidence)} | {r.marker} |")
    add("")
    add("## Root Cause Analysis\n")
    add("### What Happened")
    add(f"{_what_happened(pm)}\n")
    add("### Why It Happened (5 Whys Analysis)")
    for n, line in enumerate(_five_whys(pm), start=1):
        add(f"{n}. {line}")
    add("")
    add("### Root Cause")
    add(f"**Primary Cause:** {a['root_cause']}  ")
    add(f"**Contributing Factors:**\n1. {TBC}\n")
    add("### Trigger")
    add(f"{inc.get('title') or TBC}\n")
    add("## Detection and Response\n")
    add("### Detection")
    m = metrics(pm)
    add(f"- **Time to Detect (TTD):** {m[0][1]} ({m[0][2]} → {m[0][3]})")
    add(f"- **Detection Method:** {a['detection']}")
    add(f"- **Why wasn't it detected sooner?** {TBC}\n")
    add("### Response")
    for label, value, start, end in m[1:]:
        add(f"- **{label}:** {value} ({start} → {end})")
    add(f"- **Response Quality:** {TBC}\n")
    add("### What Went Well")
    well = _cited(
        (
            f"Runbook {r.runbook} ran to its end "
            f"({_count(r.manifest.steps_summary.get('passed', 0), 'step')} passed)",
            r.run_id,
        )
        for r in pm.runs
        if r.manifest.status == "completed"
    )
    out.extend(f"- ✅ {line}" for line in well)
    add("")
    add("### What Went Poorly")
    poor = _cited(
        [(f"Step {s} of {r.runbook} failed: {e}", r.run_id) for r in pm.runs for s, e in r.failed]
        + [(r.manifest.chain_error, r.run_id) for r in pm.runs if r.manifest.chain_error]
    )
    out.extend([f"- ❌ {line}" for line in poor] or [f"- ❌ {TBC}"])
    add("")
    add("## Resolution\n")
    add("### Immediate Fix")
    out.extend(
        f"- {line}"
        for line in _cited(
            (f"{c[-1].runbook}: {c[-1].manifest.outcome['recommendation']}", c[-1].run_id)
            for c in chains
            if c[-1].manifest.outcome.get("recommendation")
        )
    )
    add("\nCommands that ran:\n")
    add("```bash")
    commands = list(dict.fromkeys(c for r in pm.runs for c in r.commands))
    out.extend(commands[:COMMANDS_SHOWN])
    if len(commands) > COMMANDS_SHOWN:
        add(f"# ... {len(commands) - COMMANDS_SHOWN} more: see the run folders (Appendix A)")
    add("```\n")
    add("### Long-term Fix")
    add(f"{TBC}\n")
    add("## Lessons Learned\n")
    add(
        f"### Technical Lessons\n1. {TBC}\n\n### Process Lessons\n1. {TBC}\n\n### Communication Lessons\n1. {TBC}\n"
    )
    add("## Action Items\n")
    add("| ID | Action | Type | Owner | Priority | Due Date | Status |")
    add("|----|--------|------|-------|----------|----------|--------|")
    for n, (action, kind, priority, owner) in enumerate(action_items(pm), start=1):
        add(f"| AI-{n:03d} | {_cell(action)} | {kind} | {owner} | {priority} | {TBC} | Open |")
    add("")
    add("## Prevention Measures\n")
    add(
        f"### Short-term (This Week)\n- [ ] {TBC}\n\n### Medium-term (This Month)\n- [ ] {TBC}\n\n### Long-term (This Quarter)\n- [ ] {TBC}\n"
    )
    add("## Supporting Data\n")
    add("### Metrics During Incident")
    add("```")
    out.extend(  # a value several runs captured alike is one line, citing them
        _cited(
            (f"{r.runbook}: {k}={_value(v)}", r.run_id)
            for r in pm.runs
            for k, v in r.captures.items()
        )
    )
    add("```\n")
    add("### Graphs")
    add(f"{TBC}\n")
    add("### Logs")
    for r in pm.runs:
        for step, excerpt in r.excerpts:
            add(f"`{r.runbook}` / `{step}` (run {r.run_id}):\n```\n{excerpt}\n```")
        if r.excerpts_omitted:
            add(f"({r.excerpts_omitted} more step outputs of run {r.run_id} are in its folder.)")
    add("")
    add("### Related Incidents")
    out.extend([f"- [{i}] - {why}" for i, why in pm.related] or ["- none found in the run index"])
    add("")
    add("## Follow-up\n")
    add(
        f"### Review Meeting\n- **Date:** {TBC}\n- **Attendees:** {TBC}\n- **Agenda:**\n"
        "  1. Review timeline and root cause\n  2. Discuss action items\n"
        "  3. Assign owners and deadlines\n  4. Schedule follow-up\n\n### Success Criteria\n"
        "- [ ] All action items have owners\n- [ ] Root cause is fully understood\n- [ ] Prevention measures are implemented\n"
        "- [ ] Documentation is updated\n- [ ] Team training is completed\n"
    )
    add("## Communication\n")
    add(
        f"### Internal Communication\n- **Incident Channel:** {TBC}\n- **Stakeholder Updates:** {TBC}\n"
        f"- **Post-Incident Report:** {TBC}\n\n### External Communication\n"
        f"- **Status Page Updated:** {TBC}\n- **Customer Notification:** {TBC}\n"
        f"- **Public Post-Mortem:** {TBC}\n"
    )
    add("## Appendices\n")
    add("### Appendix A: Full Log Analysis")
    add(
        "Run evidence: "
        + (", ".join(f"`.runbook/runs/{r.run_id}`" for r in pm.runs) or "none")
        + "\n"
    )
    if chains:
        add("Each chain, and how to see exactly what its engineer saw, offline:\n")
        for n, chain in enumerate(chains, start=1):
            add(f"{n}. {_chain_line(chain)}")
            replay = replay_command(chain[0].manifest)
            if replay:
                add(f"   `{replay}`")
        add("")
    add(
        f"### Appendix B: Configuration Changes\n{TBC}\n\n### Appendix C: Code Changes\n{TBC}\n\n### Appendix D: Monitoring Improvements\n{TBC}\n"
    )
    add("### Appendix E: Where the Answers Came From")
    for key, (question, _) in QUESTIONS.items():
        add(f"- {question} **{a[key]}** ({pm.sources.get(key, 'not answered')})")
    add("")
    add("---\n")
    add("## Sign-off\n")
    add("| Role | Name | Date | Reviewed |\n|------|------|------|----------|")
    for role in ("Incident Commander", "Tech Lead", "Engineering Manager", "SRE Lead"):
        add(f"| {role} | {TBC} | {TBC} | [ ] |")
    add("")
    add("## Revision History\n")
    add(
        f"| Version | Date | Changes | Author |\n|---------|------|---------|--------|\n| 1.0 | {date} | Draft from evidence | {author} |\n"
    )
    add("---\n")
    add("## Post-Mortem Quality Checklist\n")
    text = "\n".join(out)
    for item, ok in checklist(pm, rows, text):
        add(f"- [{'x' if ok else ' '}] {item}")
    if pm.blame:
        add(
            "\n> **Blameless review:** these texts read as blame; restate them about systems "
            "and processes before this document is shared:"
        )
        out.extend(f"> - {_cell(flag)}" for flag in pm.blame)
    return "\n".join(out) + "\n"


def checklist(pm: Postmortem, rows: list[Row], text: str) -> list[tuple[str, bool]]:
    """The review checklist, each box ticked only when the document satisfies it."""
    sorted_ok = all(a.ts <= b.ts for a, b in itertools.pairwise(rows))
    return [
        (
            "Timeline is complete and accurate",
            bool(rows) and sorted_ok and any(r.marker == "detection" for r in rows),
        ),
        (
            "Root cause is clearly identified",
            pm.answers["root_cause"] not in (TBC, "Unknown/Under investigation"),
        ),
        ("Impact is quantified", pm.answers["impact"] != TBC and pm.answers["duration"] != TBC),
        ("Action items are specific and assigned", False),  # gert leaves every owner unassigned
        ("Lessons learned are documented", False),
        ("No blame is assigned to individuals", not pm.blame),
        ("Technical details are sufficient for understanding", any(r.captures for r in pm.runs)),
        ("Prevention measures address the root cause", False),
    ]


def _what_happened(pm: Postmortem) -> str:
    if not pm.runs:
        return f"No runbook runs are recorded for incident {pm.incident_id}. {TBC}"
    chains = pm.chains
    paragraphs = []
    for n, chain in enumerate(chains, start=1):
        parts = []
        for r in chain:
            outcome = r.manifest.outcome
            caps = ", ".join(f"{k}={_value(v)}" for k, v in r.captures.items())
            parts.append(
                f"Runbook **{r.runbook}** "
                + (f"found {caps} and " if caps else "")
                + f"reached **{outcome.get('state') or r.manifest.status}**"
                + (f" ({outcome['recommendation']})" if outcome.get("recommendation") else "")
                + "."
            )
        lead = (
            f"Attempt {n} ({_runs_cited([r.run_id for r in chain])}): " if len(chains) > 1 else ""
        )
        paragraphs.append(lead + " ".join(parts))
    return "\n\n".join(paragraphs)


def _five_whys(pm: Postmortem) -> list[str]:
    """As far as the evidence goes, on the chain that ended the incident: each hand-off a
    manifest records, each failed or retried step with its reason; TBC after that."""
    whys = []
    chain = pm.chains[-1] if pm.chains else []
    for r, nxt in itertools.pairwise(chain):
        caps = ", ".join(f"{k}={_value(v)}" for k, v in r.captures.items()) or "its checks"
        whys.append(
            f"**Why did triage continue past {r.runbook}?**\n   → Because {r.runbook} observed {caps} "
            f"and handed off to {nxt.runbook}"
        )
    for r in chain:
        for step, error in r.failed:
            whys.append(f"**Why did step {step} of {r.runbook} fail?**\n   → {_value(error)}")
        for step in r.retried:
            whys.append(
                f"**Why did step {step} of {r.runbook} need more than one attempt?**\n   → {TBC}"
            )
    while len(whys) < 5:
        whys.append(f"**Why?**\n   → {TBC}")
    return whys


def _summary(pm: Postmortem, title: str) -> str:
    """The executive summary's first sentence: each triage attempt, as the chain it was."""
    chains = pm.chains
    if not chains:
        return f"Incident {pm.incident_id} ({title}) has no runbook runs recorded."
    final = chains[-1][-1]
    outcome = final.manifest.outcome
    state = outcome.get("state") or final.manifest.status
    ending = f": {outcome['recommendation'].rstrip('.')}." if outcome.get("recommendation") else "."
    if len(chains) == 1:
        return (
            f"Incident {pm.incident_id} ({title}) was triaged with gert through "
            f"{len(chains[0])} runbook run(s) ({_chain_line(chains[0])}); the final state was "
            f"**{state}**{ending}"
        )
    attempts = "; ".join(f"attempt {n}: {_chain_line(c)}" for n, c in enumerate(chains, 1))
    return (
        f"Incident {pm.incident_id} ({title}) was triaged with gert {len(chains)} times "
        f"({attempts}); the last attempt's final state was **{state}**{ending}"
    )


def _chain_line(chain: list[RunFacts]) -> str:
    """``A → B (resolved)``: a chain's runbooks and where it ended."""
    last = chain[-1]
    state = last.manifest.outcome.get("state") or last.manifest.status
    return " → ".join(r.runbook for r in chain) + f" ({state})"


def _duration(pm: Postmortem) -> str:
    """How long the incident lasted: from its open and resolve times, else the answer
    given, else TBC (never the runs' span: an incident outlives its triage)."""
    inc = pm.incident
    opened = _parse(inc.get("created_at", ""))
    ended = _parse(inc.get("resolved_at", "")) if inc.get("resolved_at") else None
    if opened is not None and ended is not None:
        return _minutes(opened, ended)
    return pm.answers.get("duration", TBC)


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def _cited(items: Any) -> list[str]:
    """Lines said once, each citing every run it came from."""
    found: dict[str, list[str]] = {}
    for text, run_id in items:
        found.setdefault(text, []).append(run_id)
    return [f"{text} ({_runs_cited(runs)})" for text, runs in found.items()]


def _runs_cited(runs: list[str]) -> str:
    return ("run " if len(runs) == 1 else "runs ") + ", ".join(runs)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


# ------------------------------------------------------------------ writing


def _value(value: object, limit: int = 200) -> str:
    """A captured value as a postmortem line shows it: one line, at most *limit* characters
    (the evidence keeps the whole value)."""
    return shorten(" ".join(str(value).split()), limit)


def slug(text: str) -> str:
    """A short file-name slug of a title (never ending in '-')."""
    return _slug(text, 40, "incident").strip("-") or "incident"


def _sections(text: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for chunk in re.split(r"(?m)^(?=## )", text):
        if chunk.startswith("## "):
            parts[chunk.splitlines()[0][3:].strip()] = chunk
    return parts


def merge(previous: str, fresh: str, template: str) -> str:
    """*fresh*, with everything a person wrote in *previous* kept.

    What counts as written by a person: a section gert leaves to people (Lessons Learned,
    Prevention Measures, …) that differs from what gert writes there (*template*); a
    subsection (``###``) gert can only fill with ``[to be confirmed]`` that now says
    something else; a labelled line (``**Primary Cause:** …``) whose placeholder was
    replaced; and lines added after the document's last line.
    """
    old, tmpl = _sections(previous), _sections(template)
    out = fresh
    for name in HUMAN_SECTIONS:
        if name in old and name in tmpl and old[name].strip() != tmpl[name].strip():
            new = _sections(out).get(name)
            if new is not None:
                out = out.replace(new, old[name] if old[name].endswith("\n") else old[name] + "\n")
    out = _keep_subsections(previous, out)
    out = _keep_labelled_lines(previous, out)
    return _keep_added_tail(previous, template, out)


def _subsections(text: str) -> dict[str, str]:
    """``### `` subsections by heading, each with its body (up to the next heading)."""
    parts: dict[str, str] = {}
    for chunk in re.split(r"(?m)^(?=#{2,3} )", text):
        if chunk.startswith("### "):
            parts.setdefault(chunk.splitlines()[0], chunk)
    return parts


def _keep_subsections(previous: str, fresh: str) -> str:
    old = _subsections(previous)
    for heading, body in _subsections(fresh).items():
        lines = [ln for ln in body.splitlines()[1:] if ln.strip()]
        mine = old.get(heading)
        if mine and lines and all(ln.strip() == TBC for ln in lines) and mine != body:
            fresh = fresh.replace(body, mine if mine.endswith("\n") else mine + "\n", 1)
    return fresh


_LABEL = re.compile(r"^(\s*(?:[-*] |\d+\. )?\*\*[^*]+:\*\*)\s*(.*)$")


def _keep_labelled_lines(previous: str, fresh: str) -> str:
    given = {}
    before = ""
    for line in previous.splitlines():
        m = _LABEL.match(line)
        if m and TBC not in m.group(2) and m.group(2).strip():
            given.setdefault(m.group(1), line)
        elif line.lstrip().startswith("→") and TBC not in line and before:
            given.setdefault(("answer", before), line)  # a why's answer, under its question
        before = line
    out = []
    before = ""
    for line in fresh.splitlines(keepends=True):
        bare = line.rstrip("\n")
        m = _LABEL.match(bare)
        if m and m.group(2).strip() == TBC and m.group(1) in given:
            line = given[m.group(1)] + ("\n" if line.endswith("\n") else "")
        elif bare.strip() == f"→ {TBC}" and ("answer", before) in given:
            line = given[("answer", before)] + ("\n" if line.endswith("\n") else "")
        out.append(line)
        before = bare
    return "".join(out)


def _keep_added_tail(previous: str, template: str, fresh: str) -> str:
    """Lines a person added after the end of the document gert wrote."""
    last = template.rstrip("\n").splitlines()[-1] if template.strip() else ""
    if not last or last not in previous:
        return fresh
    tail = previous[previous.rindex(last) + len(last) :].strip("\n")
    ours = set(template.splitlines())
    added = [ln for ln in tail.splitlines() if ln.strip() and ln not in ours]
    if not added:
        return fresh
    return fresh.rstrip("\n") + "\n\n" + "\n".join(added) + "\n"


def document_path(pm: Postmortem, out_dir: Path) -> Path:
    """Where :func:`write` puts *pm*: ``post-mortem-YYYY-MM-DD-<slug>.md`` in *out_dir*."""
    opened = _parse(pm.incident.get("created_at", ""))
    date = opened.strftime("%Y-%m-%d") if opened else dt.date.today().isoformat()
    return out_dir / f"post-mortem-{date}-{slug(pm.incident.get('title') or pm.incident_id)}.md"


def write(
    pm: Postmortem, text: str, out_dir: Path, tracking: Path, force: bool = False
) -> tuple[Path, bool]:
    """Write the document (merging what a person wrote unless *force*); update the tracking
    table. Returns the path and whether person-written sections were kept."""
    from gert.util import write_atomic

    path = document_path(pm, out_dir)
    name, date = path.stem, path.stem[len("post-mortem-") :][:10]
    kept = False
    if path.exists() and not force:
        merged = merge(path.read_text(encoding="utf-8"), text, text)
        kept = merged != text
        text = merged
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)
    _track(tracking, name, pm.answers["severity"], date)
    return path, kept


def _track(tracking: Path, name: str, severity: str, date: str) -> None:
    from gert.util import write_atomic

    header = (
        "| Post-mortem | Severity | Date | Status |\n|-------------|----------|------|--------|\n"
    )
    lines = (
        tracking.read_text(encoding="utf-8").splitlines(keepends=True)
        if tracking.exists()
        else [header]
    )
    row = f"| {name} | {severity} | {date} | Draft |\n"
    lines = [ln for ln in lines if not ln.startswith(f"| {name} |")]
    if not any(ln.startswith("| Post-mortem |") for ln in lines):
        lines.insert(0, header)
    lines.append(row)
    write_atomic(tracking, "".join(lines))


def commit_message(pm: Postmortem) -> str:
    """The commit message of a postmortem: its title, then severity, duration, root cause
    and how many action items it has."""
    title = pm.incident.get("title") or f"Incident {pm.incident_id}"
    return (
        f"Post-Mortem: {title}\n\n"
        f"- Severity: {pm.answers['severity']}\n"
        f"- Duration: {_duration(pm)}\n"
        f"- Root Cause: {pm.answers['root_cause']}\n"
        f"- Action Items: {len(action_items(pm))}\n"
    )


def check_repository(repo: Path) -> None:
    """Raise InvalidError unless *repo* is inside a git work tree (before anything is
    written for ``--commit``)."""
    import subprocess

    from gert.errors import InvalidError

    try:
        done = subprocess.run(
            ["git", "rev-parse", "--is-inside-work-tree"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise InvalidError(f"--commit: git could not run: {e}") from None
    if done.returncode != 0 or done.stdout.strip() != "true":
        raise InvalidError(f"--commit: {repo} is not in a git repository; nothing was written")


def commit(pm: Postmortem, files: list[Path], repo: Path) -> str:
    """``git add`` *files* and commit them with :func:`commit_message`; the new commit's
    hash. Raises InvalidError when *repo* is not in a git work tree or git fails."""
    import subprocess

    from gert.errors import InvalidError

    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", *args], cwd=repo, capture_output=True, text=True, timeout=60
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise InvalidError(f"--commit: git could not run: {e}") from None
        if done.returncode != 0:
            raise InvalidError(f"--commit: git {args[0]} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    try:
        inside = git("rev-parse", "--is-inside-work-tree") == "true"
    except InvalidError:
        inside = False
    if not inside:
        raise InvalidError(f"--commit: {repo} is not in a git repository")
    git("add", "--force", "--", *(str(f) for f in files))  # asked for, even if ignored
    git("commit", "-m", commit_message(pm), "--", *(str(f) for f in files))
    return git("rev-parse", "--short", "HEAD")
