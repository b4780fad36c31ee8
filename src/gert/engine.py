"""The engine: walks a runbook, runs its steps, records evidence, picks an outcome, and
chains into the runbook that outcome names (DESIGN §4, §5, §7; seeds 000 and 001).

The engine knows executors, the run store and incident providers only through small
interfaces, and never prints or prompts: surfaces pass a :class:`~gert.executors.Prompter`
and an observer callback, and render the :class:`ChainResult`.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gert import expr as _expr
from gert.capture import CaptureError, check_assertions, take_captures
from gert.errors import ChainError, InvalidError
from gert.executors import Executor, Prompter, StepContext, StepError, StepOutput
from gert.governance import Policy, Redactor
from gert.incident import IncidentError, Provider, field_value
from gert.model import AnyStep, InvokeStep, ManualStep, Node, Runbook, as_node, parse_duration
from gert.project import Project
from gert.store.runs import RunFolder, RunStore, iso, new_run_id, parse_iso, utc_now
from gert.store.trace import TraceWriter
from gert.template import TemplateError, render
from gert.validate import RunbookInvalid, Validator, load_runbook

MODES = ("real", "dry-run", "replay")
TRACE_EXCERPT = 4096  # characters of stdout/stderr kept in trace events (step files keep all)
# In a dry-run, run.yaml is rewritten after a step at most this often (seconds).
MANIFEST_REFRESH = 0.5


# ------------------------------------------------------------------ results


class InputsMissing(InvalidError):
    """Inputs that no source could supply; the message lists each and where it could come from."""

    def __init__(self, runbook: str, missing: dict[str, str]):
        self.missing = missing
        lines = "\n".join(f"  - {name}: {where}" for name, where in missing.items())
        super().__init__(f"{runbook}: {len(missing)} input(s) have no value:\n{lines}")


class ResumeRefused(InvalidError):
    """A run that cannot be resumed (it finished, or it does not exist)."""


class ChainStop(ChainError):
    """A chain that cannot go on (child missing or invalid, depth limit, a repeat)."""


@dataclass
class StepRecord:
    """How one step went, for results, summaries and tests."""

    step_id: str
    status: str  # passed | failed | skipped
    captures: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    step_file: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """ID, status and the error when there is one."""
        return {
            "step_id": self.step_id,
            "status": self.status,
            **({"error": self.error} if self.error else {}),
        }


@dataclass
class RunResult:
    """One run of one runbook."""

    run_id: str
    runbook: str  # meta.name
    path: Path
    folder: Path
    status: str = "running"  # completed | failed | error | interrupted
    outcome: dict[str, Any] | None = None
    captures: dict[str, str] = field(default_factory=dict)
    steps: list[StepRecord] = field(default_factory=list)
    error: str | None = None
    chain_error: str | None = None
    parent_run_id: str = ""
    outcome_index: tuple[str, int] | None = None  # (step ID, index in its outcomes) reached
    started_at: str = ""
    ended_at: str = ""

    @property
    def summary(self) -> dict[str, int]:
        """steps_summary: total, passed, failed, skipped."""
        counts = {"passed": 0, "failed": 0, "skipped": 0}
        for s in self.steps:
            counts[s.status] = counts.get(s.status, 0) + 1
        return {"total": sum(counts.values()), **counts}

    def to_dict(self, root: Path | None = None) -> dict[str, Any]:
        """The run as plain data; its folder relative to *root* when inside it."""
        folder = self.folder
        if root is not None and folder.is_relative_to(root):
            folder = folder.relative_to(root)
        return {
            "run_id": self.run_id,
            "runbook": self.runbook,
            "status": self.status,
            "outcome": self.outcome,
            "captures": self.captures,
            "steps_summary": self.summary,
            "error": self.error,
            "folder": str(folder),
            "steps": [s.to_dict() for s in self.steps],
        }

    @property
    def state(self) -> str:
        """The outcome state, else ``completed``, else the status."""
        if self.outcome:
            return str(self.outcome["state"])
        return self.status


@dataclass
class ChainResult:
    """Every run of a chain, root first."""

    runs: list[RunResult] = field(default_factory=list)
    scenario: str | None = None  # where the chain was saved as a scenario
    posted: dict[str, Any] = field(
        default_factory=dict
    )  # the incident post (provider, entry_id or error)
    scenario_error: str | None = None

    @property
    def final(self) -> RunResult:
        return self.runs[-1]

    @property
    def chain_error(self) -> str | None:
        return next((r.chain_error for r in self.runs if r.chain_error), None)

    @property
    def final_state(self) -> str:
        """The chain's outcome: the last run's state, or ``chain_error``."""
        return "chain_error" if self.chain_error else self.final.state

    def to_dict(self, root: Path | None = None) -> dict[str, Any]:
        """The chain as plain data (``gert exec --json``); folders relative to *root*."""
        return {
            "final_state": self.final_state,
            "exit_code": self.exit_code,
            "chain_error": self.chain_error,
            "scenario": self.scenario,
            "posted": self.posted,
            "runs": [r.to_dict(root) for r in self.runs],
        }

    @property
    def exit_code(self) -> int:
        """0 ended (outcome or completed), 1 failed/errored, 3 chain error, 130 interrupted."""
        if any(r.status == "interrupted" for r in self.runs):
            return 130
        if any(r.status in ("failed", "error") for r in self.runs):
            return 1
        if self.chain_error:
            return 3
        return 0


@dataclass
class Options:
    """How to run: mode, incident, variables, answers, and who is running."""

    mode: str = "real"
    incident_id: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    actor: str = field(default_factory=lambda: _default_actor())
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    max_chain_depth: int | None = None
    prompter: Prompter | None = None
    observer: Callable[[str, dict[str, Any]], None] | None = None
    hmac_key: bytes | None = None
    record: bool = True  # save a real chain as a scenario (unless gert.yaml says record: off)
    scenario: Any = None  # gert.scenario.Scenario to replay from (mode replay)
    rebase_to: Any = None  # datetime: shift recorded timestamps so the root starts here
    ephemeral: bool = False  # evidence nobody keeps (gert test): written, never fsynced
    post: bool = True  # post the chain's summary to the incident (unless gert.yaml says post: off)
    trigger: dict[str, Any] | None = None  # what started the chain (gert triage: the signature)


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user database entry (containers)
        return os.environ.get("USER", "unknown")


class _StepFailed(Exception):
    def __init__(self, record: StepRecord):
        self.record = record


# ------------------------------------------------------------------ engine


def default_executors() -> dict[str, Executor]:
    """One executor per step kind (``invoke`` is the engine's own)."""
    from gert.executors.cli import CliExecutor
    from gert.executors.http import HttpExecutor
    from gert.executors.manual import ManualExecutor
    from gert.executors.tool import ToolExecutor

    return {
        "cli": CliExecutor(),
        "http": HttpExecutor(),
        "tool": ToolExecutor(),
        "manual": ManualExecutor(),
    }


class Engine:
    """Runs runbook chains of one project."""

    def __init__(
        self,
        project: Project,
        *,
        executors: dict[str, Executor] | None = None,
        provider: Provider | None = None,
        store: RunStore | None = None,
    ):
        self.project = project
        self.config = project.config
        self.store = store or open_store(project)
        self.executors = executors if executors is not None else default_executors()
        self._provider = provider
        self.validator = Validator(project)
        self._checked: dict[tuple[str, int], Any] = {}

    def load(self, path: str | Path) -> Any:
        """A validated runbook (cached by path and modification time; raises RunbookInvalid)."""
        p = Path(path)
        try:
            key = (str(p.resolve()), p.stat().st_mtime_ns)
        except OSError:
            return load_runbook(p, self.project)  # reports the missing file
        cached = self._checked.get(key)
        if cached is None:
            cached = self._checked[key] = load_runbook(p, self.project)
        return cached

    @property
    def provider(self) -> Provider:
        if self._provider is None:
            from gert.incident.providers import make_provider

            self._provider = make_provider(self.project)
        return self._provider

    def close(self) -> None:
        """Stop long-lived tool processes and close the index."""
        self.store.index.close()
        for ex in self.executors.values():
            close = getattr(ex, "close", None)
            if close:
                close()

    def run(self, runbook: str | Path, options: Options) -> ChainResult:
        """Run a runbook and the chain its outcomes name.

        Raises RunbookInvalid for an invalid root runbook and InputsMissing when the
        root's inputs cannot be resolved (nothing has run then).
        """
        if options.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        checked = self.load(runbook)
        if options.mode == "replay":  # everything comes from the recording, nothing live
            if options.scenario is None:
                raise ValueError("replay needs a scenario")
            incident = options.scenario.incident
            options.variables = {**options.scenario.inputs, **options.variables}
        else:
            incident = self._incident(options.incident_id)
        depth_limit = (
            options.max_chain_depth
            if options.max_chain_depth is not None
            else self.config.max_chain_depth
        )
        sources: dict[str, str] = {}
        inputs = resolve_inputs(
            checked.model, options.variables, incident, None, options.prompter, sources
        )
        first = _Run(self, checked.model, Path(runbook), options, incident, inputs, None, {})
        first.input_sources = sources
        return self._chain(first, options, incident, depth_limit)

    def _chain(
        self, run: _Run, options: Options, incident: dict[str, Any] | None, depth_limit: int
    ) -> ChainResult:
        """Execute *run*, then each runbook its outcome chains to (DESIGN §5, rules 1-6)."""
        chain = ChainResult()
        seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        parent: _Run | None = None
        runs = [run]
        try:
            while True:
                seen.add((str(run.path.resolve()), tuple(sorted(run.inputs.items()))))
                result = run.execute()
                chain.runs.append(result)
                if parent is not None:
                    parent.record_child(result)
                nxt = (result.outcome or {}).get("next_runbook")
                if result.status != "completed" or not nxt:
                    break
                try:
                    if len(chain.runs) > depth_limit:
                        raise ChainStop(
                            f"chain depth limit reached: {depth_limit} hand-off(s) (max_chain_depth); "
                            f"not starting {nxt['file']}"
                        )
                    path, checked, inputs, inherited = self._child(run, nxt, options, incident)
                    if (str(path.resolve()), tuple(sorted(inputs.items()))) in seen:
                        raise ChainStop(
                            f"chain loop: {path.name} was already run with the same inputs"
                        )
                except ChainStop as e:
                    run.chain_failed(str(e), nxt["file"])
                    break
                parent = run
                run = _Run(self, checked.model, path, options, incident, inputs, parent, inherited)
                runs.append(run)
                parent.record_child(
                    run.result
                )  # linked from the start: a crash leaves a truthful parent
            self._post(runs, chain, options)
            self._save_scenario(runs, chain, options, incident)
        finally:
            self.close()
        return chain

    def _post(self, runs: list[_Run], chain: ChainResult, options: Options) -> None:
        """Post one summary of the chain to its incident (DESIGN §10); never changes the
        exit code, never loses evidence, never posts twice."""
        from gert.incident.posting import build_entry, chain_of, post_record, send

        if (
            options.mode != "real"
            or not options.post
            or not options.incident_id
            or self.config.incident.post == "off"
            or not self.store.keeps
        ):
            return
        incident_id, entry = build_entry(chain_of(self.store, runs[0].run_id), runs[0].redactor)
        result = send(self.provider, incident_id, entry)
        record = post_record(self.provider.name, result)
        for r in runs:
            r.posted = record
            r.emit("incident_posted", {"incident_id": incident_id, **record}, sync=True)
            r.trace.close()
            r.save()
        chain.posted = record

    def _save_scenario(
        self,
        runs: list[_Run],
        chain: ChainResult,
        options: Options,
        incident: dict[str, Any] | None,
    ) -> None:
        """Save a real chain as a scenario (DESIGN §8): failed and interrupted ones too."""
        from gert.scenario import scenario_folder, write_scenario

        if options.mode != "real" or not options.record or self.config.record == "off":
            return
        root = runs[0]
        anchor = options.incident_id or root.run_id
        folder = scenario_folder(
            self.project.resolve(self.config.scenarios_dir),
            root.result.started_at,
            root.rb.meta.name,
            anchor,
        )
        rel = os.path.relpath(folder, self.project.root)
        try:
            for r in runs:
                r.scenario_path = rel
                r.emit("scenario_saved", {"path": rel}, sync=True)
                r.trace.close()
                r.save()
            write_scenario(
                folder,
                runs=[r.result for r in runs],
                incident=incident,
                inputs=root.inputs,
                root_runbook=os.path.relpath(root.path.resolve(), self.project.root.resolve()),
                status=chain.final_state,
                redact=root.redactor,
            )
            chain.scenario = rel
        except OSError as e:  # a full disk must not cost the run its evidence or its exit code
            chain.scenario_error = f"could not save the scenario at {rel}: {e}"

    def resume(self, run_id: str, options: Options) -> ChainResult:
        """Continue a run that was killed or interrupted, from its trace.

        Steps the trace shows as completed are not run again: their captures are restored
        from it. The hash chain continues where it stopped. A run that finished is refused.
        """
        from gert.store.trace import read_events

        folder = self.store.open(run_id)
        m = folder.read_manifest()
        if m.get("status") not in ("running", "interrupted"):
            raise ResumeRefused(
                f"run {run_id} already finished ({m.get('status')}); nothing to resume"
            )
        path = self.project.root / str(m["runbook"])
        checked = self.load(path)
        events = read_events(folder.trace_path)
        journal: dict[tuple[str, int], dict[str, Any]] = {}
        for e in events:
            if e["type"] == "step_completed":
                d = e["data"]
                journal[(d["step_id"], int(d.get("occurrence") or 1))] = d
        options.incident_id = options.incident_id or (str(m.get("icm_id")) or None)
        options.mode = str(m.get("mode") or options.mode)
        options.actor = str(m.get("actor") or options.actor)
        incident = self._incident(options.incident_id)
        secret = {n for n, spec in checked.model.meta.inputs.items() if spec.secret}
        given = {k: str(v) for k, v in (m.get("inputs_resolved") or {}).items() if k not in secret}
        inputs = resolve_inputs(
            checked.model, {**given, **options.variables}, incident, None, options.prompter
        )
        inherited = {k: str(v) for k, v in (m.get("inherited_captures") or {}).items()}
        run = _Run(
            self,
            checked.model,
            path,
            options,
            incident,
            inputs,
            None,
            inherited,
            existing=(folder, m, journal),
        )
        depth = (
            self.config.max_chain_depth
            if options.max_chain_depth is None
            else options.max_chain_depth
        )
        chain = self._chain(run, options, incident, depth)
        if m.get("parent_run_id"):
            self._update_parent(str(m["parent_run_id"]), chain.runs[0])
        return chain

    def _update_parent(self, parent_id: str, child: RunResult) -> None:
        try:
            parent = self.store.open(parent_id)
        except FileNotFoundError:
            return
        pm = parent.read_manifest()
        for entry in pm.get("child_runs") or []:
            if entry.get("run_id") == child.run_id:
                entry["outcome"] = child.state
        self.store.save(parent, pm)

    def _incident(self, incident_id: str | None) -> dict[str, Any] | None:
        if not incident_id:
            return None
        try:
            return self.provider.get(incident_id)
        except IncidentError:
            raise
        except Exception as e:  # a provider that is down or answers nonsense
            raise IncidentError(
                f"incident {incident_id}: {self.provider.name} provider failed: {e}"
            ) from None

    def _child(
        self, parent: _Run, nxt: dict[str, Any], options: Options, incident: dict[str, Any] | None
    ) -> tuple[Path, Any, dict[str, str], dict[str, str]]:
        """Resolve, load and validate the next runbook and its inputs (DESIGN §5 chaining)."""
        rel = nxt["file"]
        path = self.resolve_runbook(rel, parent.path.parent)
        if path is None:
            if not self.project.contains(parent.path.parent / rel):
                raise ChainStop(f"next runbook '{rel}' is outside the project; refused")
            raise ChainStop(
                f"next runbook '{rel}' not found (looked next to {parent.path.name} and in the project root)"
            )
        if not self.project.contains(path):
            raise ChainStop(f"next runbook '{rel}' is outside the project; refused")
        try:
            checked = self.load(path)
        except RunbookInvalid as e:
            first = next((p for p in e.problems if p.severity == "error"), None)
            detail = f": {first.format()}" if first else ""
            raise ChainStop(f"next runbook '{rel}' is invalid{detail}") from None
        # Precedence: next_runbook.inputs, then the parent's captures, then its vars/inputs.
        parent_values = {**parent.values_without_captures(), **parent.captures}
        given = dict(nxt.get("inputs") or {})
        try:
            inputs = resolve_inputs(
                checked.model, {}, incident, {**parent_values, **given}, options.prompter
            )
        except InputsMissing as e:
            raise ChainStop(f"next runbook '{rel}': {e}") from None
        return path, checked, inputs, dict(parent.captures)

    def resolve_runbook(self, rel: str, folder: Path) -> Path | None:
        """A runbook path: relative to *folder*, then the project root; .runbook.yaml added."""
        candidates = [rel] if Path(rel).suffix else [rel + ".runbook.yaml", rel]
        for base in (folder, self.project.root):
            for c in candidates:
                p = base / c
                if p.is_file():
                    return p
        return None


def open_store(project: Project) -> RunStore:
    """The run store of a project: runs_dir from gert.yaml, the index in .runbook/."""
    return RunStore(
        project.resolve(project.config.runs_dir), project.root / ".runbook" / "index.sqlite"
    )


# ------------------------------------------------------------------ inputs


def resolve_inputs(
    rb: Runbook,
    given: dict[str, str],
    incident: dict[str, Any] | None,
    parent: dict[str, str] | None,
    prompter: Prompter | None,
    sources: dict[str, str] | None = None,
) -> dict[str, str]:
    """Every input's value: --var / chained inputs, then the source, then default, then a
    prompt. *sources*, when given, is filled with where each value came from."""
    import re

    values: dict[str, str] = {}
    missing: dict[str, str] = {}
    where: dict[str, str] = {}
    for name, spec in rb.meta.inputs.items():
        if name in given:
            values[name], where[name] = str(given[name]), "given"
            continue
        source = spec.from_ or "prompt"
        value: Any = None
        why_not = ""
        if parent is not None and (source == "parent" or name in parent):
            value, origin = parent.get(name), "parent"
        elif source.startswith("incident"):
            value, origin = (
                (field_value(incident, source) if incident is not None else None),
                source,
            )
        elif source.startswith("env."):
            value, origin = os.environ.get(source[4:]), source
        else:
            origin = source
        if value is not None and spec.pattern:
            m = re.search(spec.pattern, str(value))
            if m is None:
                why_not = f"{source} did not match pattern {spec.pattern!r}"
            value = (m.group(1) if m.groups() else m.group(0)) if m else None
        if value is None and spec.default is not None:
            value, origin = spec.default, "default"
        if value is None and prompter is not None and source != "parent":
            value, origin = prompter.ask_text(spec.description or name, None), "prompt"
        if value is None:
            missing[name] = (
                (why_not + f"; or --var {name}=VALUE")
                if why_not
                else _where(name, source, incident is not None)
            )
            continue
        values[name], where[name] = _text(value), origin
    if missing:
        raise InputsMissing(rb.meta.name, missing)
    if sources is not None:
        sources.update(where)
    return values


def _where(name: str, source: str, have_incident: bool) -> str:
    if source.startswith("incident"):
        why = "the incident has no such field" if have_incident else "no --incident was given"
        return f"from {source} ({why}); or --var {name}=VALUE"
    if source.startswith("env."):
        return f"from environment variable {source[4:]} (not set); or --var {name}=VALUE"
    if source == "parent":
        return f"from the parent runbook (none: this run has no parent); or --var {name}=VALUE"
    return f"asked on a terminal (none here); give --var {name}=VALUE"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ------------------------------------------------------------------ one run


@dataclass
class _Scope:
    """What steps see: the runbook being walked, its variables, and where it lives."""

    runbook: Runbook
    folder: Path
    values: dict[str, str]
    prefix: str = ""
    tools: dict[str, Any] = field(default_factory=dict)
    policy: Policy = field(default_factory=Policy)


class _Run:
    """The execution of one runbook: its evidence folder, trace and state."""

    def __init__(
        self,
        engine: Engine,
        rb: Runbook,
        path: Path,
        options: Options,
        incident: dict[str, Any] | None,
        inputs: dict[str, str],
        parent: _Run | None,
        inherited: dict[str, str],
        existing: tuple[RunFolder, dict[str, Any], dict[Any, Any]] | None = None,
    ):
        self.engine = engine
        self.rb = rb
        self.path = path
        self.options = options
        self.incident = incident
        self.inputs = inputs
        self.parent = parent
        self.inherited = inherited
        self.project = engine.project
        self.captures: dict[str, str] = {}
        self.step_number = 0
        self.occurrences: dict[str, int] = {}
        self.children: list[dict[str, Any]] = []
        cfg = engine.config
        secrets = [inputs[n] for n, s in rb.meta.inputs.items() if s.secret and n in inputs]
        if parent is not None:
            secrets += parent.redactor.secrets
        rules = [cfg.redact, rb.meta.governance.redact if rb.meta.governance else []]
        self.redactor = Redactor.from_config(*rules, secrets=secrets)
        self.policy = Policy.merge(cfg.governance, rb.meta.governance)
        self.journal: dict[tuple[str, int], dict[str, Any]] = {}
        self.resumed_from: dict[str, Any] | None = None
        self.position = parent.position + 1 if parent else 1
        self.scenario_path = ""
        self.posted: dict[str, Any] = {}
        # Only the chain's root records what started it; children point to their parent.
        self.triggered_by: dict[str, Any] = dict(options.trigger or {}) if parent is None else {}
        self.input_sources: dict[str, str] = {n: "parent" for n in inputs} if parent else {}
        self.attempt_no = 1
        self.recording = None
        self.offset = dt.timedelta(0)
        self.answers = options.answers
        self.durable = options.mode != "dry-run" and not options.ephemeral
        if options.mode == "replay" and options.scenario is not None:
            self.recording = options.scenario.recording(self.position)
            self.answers = self.recording.answers if self.recording else {}
            if options.rebase_to is not None and options.scenario.reference_time:
                from gert.scenario import parse_reference

                self.offset = options.rebase_to - parse_reference(options.scenario.reference_time)
        if existing is not None:
            self.folder, self.resumed_from, self.journal = existing
            self.run_id = self.folder.run_id
        else:
            self.run_id = new_run_id()
            self.folder = engine.store.create(self.run_id)
        key = options.hmac_key
        if key is None and cfg.hmac_key_env and os.environ.get(cfg.hmac_key_env):
            key = os.environ[cfg.hmac_key_env].encode()
        self.trace = TraceWriter(
            self.folder.trace_path,
            self.run_id,
            key,
            self.redactor
            if engine.store.keeps
            else None,  # a trace nobody keeps needs no redaction
            durable=options.mode != "dry-run" and not options.ephemeral,
        )
        self.result = RunResult(
            run_id=self.run_id,
            runbook=rb.meta.name,
            path=path,
            folder=self.folder.path,
            parent_run_id=parent.run_id if parent else "",
        )
        self.started = utc_now()
        self.result.started_at = iso(self.started)
        self.runbook_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        self.saved_at = 0.0
        if self.resumed_from is not None:  # keep what the first attempt recorded
            m = self.resumed_from
            self.result.started_at = str(m.get("started_at") or self.result.started_at)
            self.result.parent_run_id = str(m.get("parent_run_id") or "")
            self.children = list(m.get("child_runs") or [])
            self.triggered_by = dict(m.get("triggered_by") or {})
            self.step_number = max(
                (int(d.get("number") or 0) for d in self.journal.values()), default=0
            )

    # state
    def values_without_captures(self) -> dict[str, str]:
        return {
            **{k: _text(v) for k, v in self.rb.meta.vars.items()},
            **self.inherited,
            **self.inputs,
        }

    def scope(self) -> _Scope:
        values = {**self.values_without_captures(), **self.captures}
        return _Scope(
            self.rb,
            self.path.parent,
            values,
            "",
            _tools(self.engine, self.rb, self.path),
            self.policy,
        )

    # evidence
    def emit(self, type_: str, data: dict[str, Any], sync: bool = False) -> None:
        event = self.trace.emit(type_, data, sync=sync)
        if self.options.observer:
            self.options.observer(
                type_, {**event["data"], "run_id": self.run_id, "runbook": self.rb.meta.name}
            )

    def manifest(self) -> dict[str, Any]:
        r = self.result
        rel = os.path.relpath(self.path.resolve(), self.project.root.resolve())
        m: dict[str, Any] = {
            "run_id": self.run_id,
            "icm_id": self.options.incident_id or "",
            "runbook": rel,
            "actor": self.options.actor,
            "mode": self.options.mode,
            "started_at": r.started_at,
            "ended_at": r.ended_at,
            "outcome": r.outcome or {},
            "inputs_resolved": dict(self.inputs),
            "steps_summary": r.summary,
            "parent_run_id": r.parent_run_id,
            "child_runs": self.children,
            "inherited_captures": dict(self.inherited),
            "status": r.status,
            "error": r.error or "",
            "chain_error": r.chain_error or "",
            "runbook_name": self.rb.meta.name,
            "runbook_sha256": self.runbook_sha256,
            "gert_version": _version(),
            "host": platform.node(),
            "scenario": self.scenario_path,
            "posted": self.posted,
            "triggered_by": self.triggered_by,
            "trace": {"events": self.trace.seq, "head": self.trace.head},
        }
        return self.redactor.data(m)

    def save(self, index: bool = True) -> None:
        """Rewrite run.yaml; ``index=False`` after a step (the index row changes only at
        start, end and chaining)."""
        if not self.engine.store.keeps:  # gert test: no manifest to build or write
            return
        self.engine.store.save(self.folder, self.manifest(), sync=self.durable, index=index)
        self.saved_at = time.monotonic()

    def record_child(self, child: RunResult) -> None:
        """List a child run in this run's manifest (when it starts, again when it ends)."""
        rel = os.path.relpath(child.path.resolve(), self.project.root.resolve())
        entry = {"run_id": child.run_id, "runbook": rel, "outcome": child.state}
        self.children = [c for c in self.children if c.get("run_id") != child.run_id] + [entry]
        self.save()

    def chain_failed(self, message: str, file: str) -> None:
        self.result.chain_error = message
        self.emit("chain_error", {"error": message, "file": file}, sync=True)
        self.trace.close()
        self.save()

    # the run
    def execute(self) -> RunResult:
        r = self.result
        r.status = "running"
        self.save()
        if self.resumed_from is None:
            self.emit(
                "run_started",
                {
                    "runbook": self.rb.meta.name,
                    "path": str(self.path),
                    "mode": self.options.mode,
                    "actor": self.options.actor,
                    "incident_id": self.options.incident_id or "",
                    "parent_run_id": r.parent_run_id,
                    **({"triggered_by": self.triggered_by} if self.triggered_by else {}),
                },
            )
            self.emit(
                "inputs_resolved",
                {"inputs": self.inputs, "sources": self.input_sources, "inherited": self.inherited},
            )
        else:
            done = sorted(sid for sid, _ in self.journal)
            self.emit(
                "run_resumed", {"completed_steps": done, "actor": self.options.actor}, sync=True
            )
        try:
            outcome = self.walk(self.rb.body(), self.scope())
            r.status = "completed"
            if outcome is not None:
                r.outcome = outcome
                self.emit("outcome_reached", outcome, sync=True)
                if outcome.get("next_runbook"):
                    self.emit(
                        "chain_started",
                        {
                            "file": outcome["next_runbook"]["file"],
                            "inputs": outcome["next_runbook"].get("inputs", {}),
                        },
                    )
        except _StepFailed as e:
            r.status = "failed"
            r.error = f"step '{e.record.step_id}' failed: {e.record.error}"
        except KeyboardInterrupt:
            r.status = "interrupted"
            r.error = "interrupted (Ctrl-C)"
            self.emit("run_interrupted", {"reason": "interrupted by the operator"}, sync=True)
        except Exception as e:  # a bug or an unexpected fault: record it, never lose the run
            r.status = "error"
            r.error = f"{type(e).__name__}: {e}"
        # What surfaces show (console, --json) is redacted like everything written.
        r.captures = self.redactor.data(dict(self.captures))
        r.error = self.redactor.text(r.error) if r.error else r.error
        for record in r.steps:
            record.captures = self.redactor.data(record.captures)
            record.error = self.redactor.text(record.error) if record.error else record.error
        r.ended_at = iso(utc_now())
        self.emit(
            "run_completed",
            {
                "status": r.status,
                "outcome": r.outcome or {},
                "error": r.error or "",
                "steps_summary": r.summary,
            },
            sync=True,
        )
        self.trace.close()
        self.save()
        return r

    def walk(self, nodes: list[Node], scope: _Scope) -> dict[str, Any] | None:
        """Run nodes in order; return the first outcome reached (None: the body ended)."""
        for node in nodes:
            step = node.step
            record, output = self.run_step(step, scope)
            if record.status == "skipped":
                continue
            if record.status == "failed":
                if step.continue_on_fail:
                    continue
                raise _StepFailed(record)
            if isinstance(step, InvokeStep) and output is not None and output.chosen_outcome:
                return dict(output.evidence["outcome"])  # a gated sub-runbook outcome
            outcome = self.pick_outcome(step, scope, output)
            if outcome is not None:
                return outcome
            for branch in node.branches:
                if self.condition(branch.condition, scope, step.id):
                    found = self.walk([as_node(s) for s in branch.steps], scope)
                    if found is not None:
                        return found
                    break
        return None

    def condition(self, text: str, scope: _Scope, step_id: str) -> bool:
        warnings: list[str] = []
        value = _expr.evaluate(text, scope.values, warnings)
        for w in warnings:
            self.emit("condition_warning", {"step_id": scope.prefix + step_id, "warning": w})
        return value

    def render(self, text: str, scope: _Scope) -> str:
        return render(text, scope.values)

    def pick_outcome(
        self, step: AnyStep, scope: _Scope, output: StepOutput | None
    ) -> dict[str, Any] | None:
        chosen = None
        for o in step.outcomes:
            if o.when and self.condition(o.when, scope, step.id):
                chosen = o
                break
        if chosen is None:
            unconditional = [o for o in step.outcomes if not o.when]
            if isinstance(step, ManualStep) and len(unconditional) > 1:
                state = self.ask_outcome(step, [o.state for o in unconditional])
                chosen = next(o for o in unconditional if o.state == state)
            elif unconditional:
                chosen = unconditional[0]
        if chosen is None:
            return None
        out: dict[str, Any] = {
            "state": chosen.state,
            "step_id": scope.prefix + step.id,
            "recommendation": self.render(chosen.recommendation, scope).strip()
            if chosen.recommendation
            else "",
        }
        if not scope.prefix:  # which outcome, for coverage (the manifest keeps seed 000's fields)
            self.result.outcome_index = (step.id, step.outcomes.index(chosen))
        if chosen.next_runbook and not scope.prefix:
            out["next_runbook"] = {
                "file": self.render(chosen.next_runbook.file, scope),
                "inputs": {k: self.render(v, scope) for k, v in chosen.next_runbook.inputs.items()},
            }
        return out

    def ask_outcome(self, step: ManualStep, states: list[str]) -> str:
        answers = self.answers.get(step.id, {})
        given = answers.get("outcome")
        if given is None and self.options.prompter:
            given = self.options.prompter.ask_choice(
                f"{step.title or step.id}: which outcome?", [(s, s) for s in states]
            )
        if given is None:
            raise _StepFailed(
                StepRecord(
                    step.id,
                    "failed",
                    error=(
                        f"step '{step.id}' needs an outcome (one of {', '.join(states)}); "
                        f"give it in --evidence FILE as {step.id}: {{outcome: STATE}}"
                    ),
                )
            )
        if given not in states:
            raise _StepFailed(
                StepRecord(
                    step.id, "failed", error=f"outcome {given!r} is not one of {', '.join(states)}"
                )
            )
        return str(given)

    # one step ------------------------------------------------------------------
    def run_step(self, step: AnyStep, scope: _Scope) -> tuple[StepRecord, StepOutput | None]:
        sid = scope.prefix + step.id
        if step.when and not self.condition(step.when, scope, step.id):
            return self.skip(sid, f"when is false: {step.when}"), None
        occurrence = self.occurrences.get(sid, 0) + 1
        done = self.journal.get((sid, occurrence))
        if done is not None:  # completed before the run was killed: restore, do not re-run
            self.occurrences[sid] = occurrence
            return self.restore(step, scope, done)
        self.step_number += 1
        number = self.step_number
        self.occurrences[sid] = occurrence
        started = utc_now()
        self.emit(
            "step_started",
            {
                "step_id": sid,
                "number": number,
                "type": step.type,
                "title": step.title or "",
                "occurrence": self.occurrences[sid],
            },
        )
        if step.precondition:
            skip = self.precondition(step, scope, sid)
            if skip:
                self.step_number -= 1
                return self.skip(sid, skip, self.occurrences[sid]), None
        attempts: list[dict[str, Any]] = []
        retry = step.retry or scope.runbook.meta.defaults.retry
        tries = retry.attempts if retry else 1
        output: StepOutput | None = None
        captures: dict[str, str] = {}
        assertions: list[dict[str, Any]] = []
        error: str | None = None
        for attempt in range(1, tries + 1):
            self.attempt_no = attempt
            output, captures, assertions, error = self.attempt(step, scope, sid)
            attempts.append(
                {
                    "attempt": attempt,
                    **output.to_dict(),
                    "captures": captures,
                    "assertions": assertions,
                    **({"error": error} if error else {}),
                }
            )
            if error is None:
                break
            if attempt < tries and retry is not None:
                time.sleep(parse_duration(retry.delay))
        status = "failed" if error else "passed"
        record = StepRecord(sid, status, captures, error)
        if status == "passed" or step.continue_on_fail:
            if not scope.prefix:  # an invoked runbook's captures stay in its own scope
                self.captures.update(captures)
            scope.values.update(captures)
        ended = utc_now()
        if self.recording is not None and (sid, self.occurrences[sid]) in self.recording.steps:
            from gert.scenario import shift_timestamps

            rec = self.recording.steps[(sid, self.occurrences[sid])]
            started = parse_iso(
                shift_timestamps(rec.get("started_at") or iso(started), self.offset)
            )
            ended = parse_iso(shift_timestamps(rec.get("ended_at") or iso(ended), self.offset))
        payload = {
            "step_id": sid,
            "number": number,
            "type": step.type,
            "title": step.title or "",
            "occurrence": self.occurrences[sid],
            "status": status,
            "started_at": iso(started),
            "ended_at": iso(ended),
            "duration_ms": round((ended - started).total_seconds() * 1000, 3),
            "attempts": attempts,
            "captures": captures,
            "assertions": assertions,
        }
        if error:
            payload["error"] = error
        dry = self.options.mode == "dry-run"
        if not dry:  # step files hold what executed steps saw; a dry-run executes nothing
            record.step_file = self.folder.write_step(
                number, sid, self.redactor.data(payload), self.durable
            )
        if output is not None and output.evidence:
            self.emit(
                "evidence_recorded",
                {
                    "step_id": sid,
                    "evidence": output.evidence,
                    "choice": output.choice,
                    "approved_by": output.approved_by,
                },
            )
        last = attempts[-1] if attempts else {}
        self.emit(
            "step_completed",
            {
                "step_id": sid,
                "number": number,
                "occurrence": self.occurrences[sid],
                "status": status,
                "captures": captures,
                "assertions": [{k: a[k] for k in ("check", "passed")} for a in assertions],
                "duration_ms": payload["duration_ms"],
                "attempts": len(attempts),
                "step_file": record.step_file,
                "exit_code": last.get("exit_code"),
                "status_code": last.get("status_code"),
                "stdout": _excerpt(last.get("stdout", "")),
                "stderr": _excerpt(last.get("stderr", "")),
                **({"would_run": last.get("request", {})} if dry else {}),
                **({"error": error} if error else {}),
            },
            sync=True,
        )
        self.result.steps.append(record)
        # The manifest is rewritten after every step of a real run, so a crash leaves a
        # truthful one; a dry-run (thousands of steps a second, nothing real) refreshes it
        # at most every MANIFEST_REFRESH seconds.
        if dry is False or time.monotonic() - self.saved_at >= MANIFEST_REFRESH:
            self.save(index=False)
        return record, output

    def restore(
        self, step: AnyStep, scope: _Scope, done: dict[str, Any]
    ) -> tuple[StepRecord, StepOutput | None]:
        """A step the trace shows as completed: its record and captures, without running it."""
        captures = {k: str(v) for k, v in (done.get("captures") or {}).items()}
        record = StepRecord(
            done["step_id"],
            done["status"],
            captures,
            done.get("error"),
            done.get("step_file"),
            reason="restored from the trace",
        )
        if record.status == "passed" or step.continue_on_fail:
            if not scope.prefix:
                self.captures.update(captures)
            scope.values.update(captures)
        self.result.steps.append(record)
        output = StepOutput()
        if isinstance(step, ManualStep) and step.choices:
            output.choice = captures.get(step.choices.variable)
        return record, output

    def skip(self, sid: str, reason: str, occurrence: int | None = None) -> StepRecord:
        data: dict[str, Any] = {"step_id": sid, "reason": reason}
        if occurrence is not None:  # a precondition skip: replay needs to know which occurrence
            data["occurrence"] = occurrence
        self.emit("step_skipped", data)
        record = StepRecord(sid, "skipped", reason=reason)
        self.result.steps.append(record)
        return record

    def precondition(self, step: AnyStep, scope: _Scope, sid: str) -> str | None:
        """Run the precondition check; the reason to skip the step, or None to run it."""
        from gert.executors.cli import run_command

        pre = step.precondition
        argv = [self.render(a, scope) for a in pre.check]
        blocked = self.blocked(argv, scope, sid)
        if blocked:
            raise _StepFailed(StepRecord(sid, "failed", error=blocked))
        if self.options.mode == "dry-run":
            return None
        if self.options.mode == "replay":  # the recording says whether the check skipped the step
            return (
                self.recording.skipped.get((sid, self.occurrences[sid])) if self.recording else None
            )
        out = run_command(
            argv,
            env=scope.policy.child_env(os.environ),
            cwd=self.project.root,
            timeout=self.timeout(step, scope),
        )
        ok = out.exit_code == 0 and out.error is None
        if ok == pre.skip_if_succeeds:
            return (
                pre.message or f"precondition {'succeeded' if ok else 'failed'}: {' '.join(argv)}"
            )
        return None

    def timeout(self, step: AnyStep, scope: _Scope) -> float | None:
        t = step.timeout if step.timeout is not None else scope.runbook.meta.defaults.timeout
        return parse_duration(t) if t is not None else None

    def blocked(self, argv: list[str], scope: _Scope, sid: str) -> str | None:
        reason = scope.policy.blocked(argv[0]) if argv else "empty command"
        if reason:
            self.emit(
                "governance_blocked", {"step_id": sid, "argv": argv, "reason": reason}, sync=True
            )
            return f"blocked by governance: {reason}"
        return None

    def attempt(
        self, step: AnyStep, scope: _Scope, sid: str
    ) -> tuple[StepOutput, dict[str, str], list[dict[str, Any]], str | None]:
        """One try of a step: render, check policy, execute, capture, assert."""
        started = iso(utc_now())
        try:
            if isinstance(step, InvokeStep):
                output = self.invoke(step, scope, sid)
            else:
                rendered = self.render_step(step, scope)
                if step.type == "cli":
                    blocked = self.blocked(rendered["argv"], scope, sid)
                    if blocked:
                        raise StepError(blocked)
                output = self.dispatch(step, rendered, scope, sid)
        except (StepError, TemplateError, _expr.ExprError) as e:
            output = StepOutput(error=str(e))
        output.started_at = output.started_at or started
        output.ended_at = iso(utc_now())
        if output.error:
            return output, {}, [], output.error
        try:
            captures = {} if isinstance(step, InvokeStep) else take_captures(step, output)
        except CaptureError as e:
            return output, {}, [], str(e)
        if isinstance(step, InvokeStep):
            captures = dict(output.evidence.get("captures", {}))
        if self.options.mode == "dry-run":
            captures = {k: "<dry-run>" for k in captures}
        assertions = [] if self.options.mode == "dry-run" else check_assertions(step, output)
        failed = [a for a in assertions if not a["passed"]]
        if failed:
            a = failed[0]
            return (
                output,
                captures,
                assertions,
                f"assertion {a['check']} failed: expected {a['expected']!r}, got {a['actual']!r}",
            )
        return output, captures, assertions, None

    def render_step(self, step: AnyStep, scope: _Scope) -> dict[str, Any]:
        """The step's templated fields, rendered against the scope's values."""

        def tree(value: Any) -> Any:
            if isinstance(value, str):
                return self.render(value, scope)
            if isinstance(value, dict):
                return {k: tree(v) for k, v in value.items()}
            if isinstance(value, list):
                return [tree(v) for v in value]
            return value

        if step.type == "cli":
            w = step.with_
            out: dict[str, Any] = {"argv": tree(w.argv), "env": tree(w.env)}
            if w.cwd:
                out["cwd"] = self.inside_project(self.render(w.cwd, scope), "cwd")
            if w.stdin is not None:
                out["stdin"] = self.render(w.stdin, scope)
            return out
        if step.type == "http":
            h = step.http
            return {
                "method": h.method,
                "url": self.render(h.url, scope),
                "headers": tree(h.headers),
                "json": tree(h.json_),
                "body": self.render(h.body, scope) if h.body is not None else None,
                "timeout": parse_duration(h.timeout) if h.timeout is not None else None,
            }
        if step.type == "tool":
            return {
                "name": step.tool.name,
                "action": step.tool.action,
                "args": tree(step.tool.args),
            }
        if step.type == "manual":
            return {
                "instructions": self.render(step.instructions or "", scope),
                "prompt": self.render(step.choices.prompt, scope)
                if step.choices and step.choices.prompt
                else None,
            }
        return {}

    def inside_project(self, rel: str, what: str) -> str:
        p = (self.project.root / rel).resolve()
        if not self.project.contains(p):
            raise StepError(f"{what} '{rel}' is outside the project; runbook paths stay inside it")
        return rel

    def approve(self, sid: str, need: int, roles: list[str], reason: str) -> list[str]:
        """Collect approvals (answers file, else a prompt); raise StepError when too few.

        Only real runs ask: a dry-run never counts as approval, and an approval recorded
        elsewhere is never reused.
        """
        self.emit(
            "approval_requested",
            {"step_id": sid, "min": need, "roles": roles, "reason": reason},
            sync=True,
        )
        answers = self.answers.get(sid)
        given = answers.get("approved_by") if isinstance(answers, dict) else None
        if given is None and self.options.prompter:
            text = self.options.prompter.ask_text(
                f"{reason}: approved by (at least {need}, comma-separated)"
            )
            given = [n.strip() for n in text.split(",") if n.strip()]
        names = list(dict.fromkeys([given] if isinstance(given, str) else list(given or [])))
        if len(names) < need:
            who = f" ({', '.join(roles)})" if roles else ""
            raise StepError(
                f"{reason} needs {need} approval(s){who}, got {len(names)}; "
                f"give them in --evidence FILE as {sid}: {{approved_by: [names]}}"
            )
        self.emit("approval_granted", {"step_id": sid, "approved_by": names}, sync=True)
        return names

    def replayed(
        self, step: AnyStep, rendered: dict[str, Any], scope: _Scope, sid: str
    ) -> StepOutput:
        """The recorded response of this step's occurrence and attempt; fails closed."""
        from gert.scenario import ScenarioError

        rec = self.recording
        if rec is None:
            raise StepError(
                f"the scenario has no run at chain position {self.position}; replay never runs a step live"
            )
        if rec.runbook and rec.runbook != self.rb.meta.name:
            raise StepError(
                f"the scenario recorded '{rec.runbook}' at chain position {self.position}, "
                f"but replay is running '{self.rb.meta.name}'"
            )
        try:
            return rec.response(sid, self.occurrences[sid], self.attempt_no, self.offset, rendered)
        except ScenarioError as e:
            if step.type == "manual" and rec.answers.get(sid) is not None:
                # A hand-written scenario answers manual steps through its evidence map.
                return self._execute(step, rendered, scope, sid)
            raise StepError(str(e)) from None

    def required_approval(self, step: AnyStep, scope: _Scope) -> tuple[int, list[str], str] | None:
        """(min, roles, reason) when the step may not complete without approval."""
        if isinstance(step, ManualStep) and step.approvals:
            return step.approvals.min, step.approvals.roles, f"step '{step.id}'"
        if step.type == "tool" and step.tool.name in scope.tools:
            action = scope.tools[step.tool.name].actions.get(step.tool.action)
            if action is not None and action.governance.requires_approval:
                return (
                    action.governance.approval_min,
                    [],
                    f"action '{step.tool.action}' of tool '{step.tool.name}'",
                )
        return None

    def dispatch(
        self, step: AnyStep, rendered: dict[str, Any], scope: _Scope, sid: str
    ) -> StepOutput:
        """Execute a step through its executor, with the approvals it needs."""
        if self.options.mode == "replay":
            return self.replayed(step, rendered, scope, sid)
        approval = self.required_approval(step, scope) if self.options.mode == "real" else None
        approved: list[str] = []
        if approval is not None and step.type == "tool":  # a tool action waits before it runs
            approved = self.approve(sid, *approval)
        output = self._execute(step, rendered, scope, sid)
        if (
            approval is not None and step.type == "manual" and not output.error
        ):  # a manual step, once done
            approved = self.approve(sid, *approval)
        output.approved_by = approved
        return output

    def _execute(
        self, step: AnyStep, rendered: dict[str, Any], scope: _Scope, sid: str
    ) -> StepOutput:
        if self.options.mode == "dry-run" and step.type != "manual":
            return StepOutput(
                request={"dry_run": True, **{k: v for k, v in rendered.items() if v is not None}}
            )
        executor = self.engine.executors.get(step.type)
        if executor is None:
            raise StepError(f"no executor for {step.type} steps")
        answers = self.answers.get(sid, {}) if isinstance(self.answers.get(sid), dict) else {}
        ctx = StepContext(
            step=step,
            rendered=rendered,
            project_root=self.project.root,
            run_folder=self.folder.path,
            env=scope.policy.child_env(os.environ),
            timeout=self.timeout(step, scope),
            answers=answers,
            prompter=None if self.options.mode == "replay" else self.options.prompter,
            tools=scope.tools,
            check_command=lambda argv: self.blocked(argv, scope, sid),
            actor=self.options.actor,
        )
        if (
            self.options.mode == "dry-run"
        ):  # manual steps show their instructions, record nothing real
            return StepOutput(
                request={"dry_run": True, "instructions": rendered.get("instructions", "")}
            )
        return executor.execute(ctx)

    def invoke(self, step: InvokeStep, scope: _Scope, sid: str) -> StepOutput:
        """Run a sub-runbook inline in its own scope; its steps are recorded as <sid>/<id>."""
        ref = step.invoke.runbook
        rel = scope.runbook.imports.get(ref, ref)
        path = self.engine.resolve_runbook(rel, scope.folder)
        if path is None:
            raise StepError(f"invoked runbook '{ref}' not found")
        try:
            sub = load_runbook(path, self.project).model
        except RunbookInvalid as e:
            raise StepError(
                f"invoked runbook '{ref}' is invalid: {e.problems[0].format()}"
            ) from None
        given = {k: self.render(v, scope) for k, v in step.invoke.inputs.items()}
        try:
            inputs = resolve_inputs(
                sub, {}, self.incident, {**scope.values, **given}, self.options.prompter
            )
        except InputsMissing as e:
            raise StepError(str(e)) from None
        values = {**{k: _text(v) for k, v in sub.meta.vars.items()}, **inputs}
        policy = Policy.merge(
            self.engine.config.governance, scope.runbook.meta.governance, sub.meta.governance
        )
        child = _Scope(sub, path.parent, values, f"{sid}/", _tools(self.engine, sub, path), policy)
        before = set(values)
        out = StepOutput(request={"invoke": str(rel), "inputs": inputs})
        try:
            outcome = self.walk(sub.body(), child)
        except _StepFailed as e:
            if step.gate.on_error == "skip":
                out.evidence = {"captures": {}, "skipped_error": e.record.error}
                return out
            raise StepError(
                f"invoked runbook failed at {e.record.step_id}: {e.record.error}"
            ) from None
        sub_captures = {
            k: v for k, v in child.values.items() if k not in before or k in sub.meta.inputs
        }
        mapped = {
            parent_name: sub_captures.get(child_name, "")
            for parent_name, child_name in step.capture.items()
        }
        out.evidence = {"captures": mapped}
        if outcome is not None:
            out.request["outcome"] = outcome
            stops = set(step.gate.stop_if)
            if outcome["state"] in stops:
                out.chosen_outcome = outcome["state"]
                out.evidence["outcome"] = {**outcome, "step_id": sid}
        return out


def _tools(engine: Engine, rb: Runbook, path: Path) -> dict[str, Any]:
    """The tool definitions a runbook declares, loaded (validation already checked them)."""
    tools: dict[str, Any] = {}
    entries = rb.tools.items() if isinstance(rb.tools, dict) else [(n, None) for n in rb.tools]
    for alias, rel in entries:
        file = None
        if rel is not None:
            for base in (path.parent, engine.project.root):
                cand = base / rel if Path(rel).suffix else base / f"{rel}.tool.yaml"
                if cand.is_file():
                    file = cand
                    break
        else:
            file = next(
                (
                    f / f"{alias}.tool.yaml"
                    for f in engine.project.tools_path
                    if (f / f"{alias}.tool.yaml").is_file()
                ),
                None,
            )
        if file is not None:
            checked = engine.validator.tool_file(file)
            if checked.model is not None:
                tools[alias] = checked.model
    return tools


def _excerpt(text: str) -> str:
    if len(text) <= TRACE_EXCERPT:
        return text
    return (
        text[:TRACE_EXCERPT]
        + f"\n... ({len(text) - TRACE_EXCERPT} more characters in the step file)"
    )


def _version() -> str:
    from gert import __version__

    return __version__
