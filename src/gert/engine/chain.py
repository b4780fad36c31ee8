"""The engine: runs a runbook and the chain its outcomes name, and resumes killed runs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
from pathlib import Path
from typing import Any

from gert.engine import recovery
from gert.engine.answers import check_answers
from gert.engine.inputs import InputsMissing, resolve_inputs
from gert.engine.recovery import ResumeRefused
from gert.engine.results import ChainResult, Options, RunResult
from gert.engine.run import Resumed, Run
from gert.errors import EXIT_INVALID, ChainError, InvalidError
from gert.executors import Executor
from gert.executors.modes import Executors
from gert.governance import Policy
from gert.incident import IncidentError, Provider
from gert.model import Runbook
from gert.project import Project
from gert.store import Store, open_store
from gert.validate import RunbookInvalid, Validator, load_runbook

MODES = ("real", "dry-run", "replay")
KINDS = ("cli", "http", "tool", "manual")  # step kinds with an executor (invoke is the engine's)


class ChainStop(ChainError):
    """A chain that cannot go on (child missing or invalid, depth limit, a repeat)."""


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
    """Runs runbook chains of one project.

    Use it as a context manager, or call :meth:`close` when done; it never changes the
    :class:`Options` it is given.
    """

    def __init__(
        self,
        project: Project,
        *,
        executors: dict[str, Executor] | None = None,
        provider: Provider | None = None,
        store: Store | None = None,
    ):
        self.project = project
        self.config = project.config
        self.store = store or open_store(project)
        unknown = sorted(set(executors or {}) - set(KINDS))
        if unknown:
            raise InvalidError(
                f"no step kind {', '.join(unknown)}; executors are given for {', '.join(KINDS)}"
            )
        # The kinds given replace the real ones; the others stay real.
        self.executors = {**default_executors(), **(executors or {})}
        self._provider = provider
        self.validator = Validator(project)
        self._checked: dict[tuple[str, int, int, int, int], Any] = {}
        self._sha256: dict[tuple[str, int, int, int, int], str] = {}
        self._incidents: dict[str, dict[str, Any] | None] = {}  # fetched, by ID
        self._policies: dict[tuple[int, ...], tuple[tuple[Any, ...], Policy]] = {}

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load(self, path: str | Path) -> Any:
        """A validated runbook (cached by path and modification time; raises RunbookInvalid)."""
        p = Path(path)
        key = _file_key(p)
        if key is None:
            return load_runbook(p, self.project)  # reports the missing file
        cached = self._checked.get(key)
        if cached is None:
            cached = self._checked[key] = load_runbook(p, self.project)
        return cached

    def runbook_sha256(self, path: Path) -> str:
        """The SHA-256 of a runbook file (cached as :meth:`load` caches the runbook)."""
        key = _file_key(path)
        digest = self._sha256.get(key) if key else None
        if digest is None:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if key:
                self._sha256[key] = digest
        return digest

    def policy(self, *governances: Any) -> Policy:
        """The policy of *governances* merged (gert.yaml's, a runbook's…), made once per
        engine: its lookups of denied programs serve every run of the runbook."""
        key = tuple(id(g) for g in governances)
        hit = self._policies.get(key)
        if hit is None or any(a is not b for a, b in zip(hit[0], governances, strict=True)):
            hit = self._policies[key] = (governances, Policy.merge(*governances))
        return hit[1]

    @property
    def provider(self) -> Provider:
        """The project's incident provider (made on first use)."""
        if self._provider is None:
            from gert.incident.providers import make_provider

            self._provider = make_provider(self.project)
        return self._provider

    def close(self) -> None:
        """Stop long-lived tool processes and close the store."""
        self.store.close()
        Executors(self.executors).close()

    def executors_for(self, run: Run) -> Executors:
        """The executors of one run, as its mode uses them (chosen once per run)."""
        mode = run.options.mode
        if mode == "dry-run":
            from gert.executors.dryrun import DryRunExecutors

            return DryRunExecutors(self.executors)
        if mode == "replay":
            from gert.executors.replay import ReplayExecutors
            from gert.scenario import parse_reference

            scenario = run.options.scenario
            recording = scenario.recording(run.position) if scenario is not None else None
            offset = dt.timedelta(0)
            if run.options.rebase_to is not None and scenario and scenario.reference_time:
                offset = run.options.rebase_to - parse_reference(scenario.reference_time)
            return ReplayExecutors(
                self.executors, recording, run.position, run.rb.meta.name, offset
            )
        return Executors(self.executors)

    def run(self, runbook: str | Path, options: Options) -> ChainResult:
        """Run a runbook and the chain its outcomes name.

        Raises RunbookInvalid for an invalid root runbook and InputsMissing when the
        root's inputs cannot be resolved (nothing has run then).
        """
        if options.mode not in MODES:
            raise InvalidError(f"mode must be one of {', '.join(MODES)}, not {options.mode!r}")
        self._check_key(options)
        checked = self.load(runbook)
        if checked.model.meta.kind == "reference":
            raise InvalidError(
                f"{checked.model.meta.name} is a reference runbook: it is linked from "
                "outcomes and read, never run (gert exec prints it)"
            )
        _known_variables(checked.model, options.variables)
        if options.answers and options.mode != "replay":
            check_answers(
                self,
                checked.model,
                Path(runbook),
                options.answers,
                options.answers_file or "answers",
            )
        if options.mode == "replay":  # everything comes from the recording, nothing live
            if options.scenario is None:
                raise InvalidError("replay needs a scenario (Options.scenario: its folder)")
            if isinstance(options.scenario, str | Path):
                from gert.scenario import ScenarioError, load_any_scenario

                folder = Path(options.scenario)
                if not folder.is_dir():
                    raise ScenarioError(f"{folder}: no such scenario folder")
                options = dataclasses.replace(options, scenario=load_any_scenario(folder))
            _same_root(options.scenario, Path(runbook), self.project.root)
            incident = options.scenario.incident
            recorded = {k: v for k, v in options.scenario.inputs.items() if "***" not in str(v)}
            options = dataclasses.replace(  # a redacted (secret) input comes from its source
                options, variables={**recorded, **options.variables}
            )
        else:
            incident = self.incident_for(checked.model, options.incident_id)
        sources: dict[str, str] = {}
        policy = self.policy(self.config.governance, checked.model.meta.governance)
        inputs = resolve_inputs(
            checked.model,
            options.variables,
            incident,
            None,
            options.prompter,
            sources,
            denied_env=policy.denies_env,
            placeholders=options.mode == "dry-run",
        )
        first = Run(self, checked.model, Path(runbook), options, incident, inputs, None, {})
        first.input_sources = sources
        return self._chain(first, options, incident)

    def _check_key(self, options: Options) -> None:
        """A configured signing key that is missing stops the run before it starts: evidence
        must not silently go unsigned."""
        env = self.config.hmac_key_env
        if (
            env
            and options.hmac_key is None
            and options.mode == "real"
            and not options.ephemeral
            and not os.environ.get(env)
        ):
            raise InvalidError(
                f"gert.yaml signs traces with the key in ${env}, but it is not set; set it "
                "(or remove hmac_key_env to run unsigned)"
            )

    def _depth_limit(self, options: Options) -> int:
        if options.max_chain_depth is not None:
            return options.max_chain_depth
        return self.config.max_chain_depth

    def _chain(
        self,
        run: Run,
        options: Options,
        incident: dict[str, Any] | None,
        earlier: list[Run] | None = None,
        ended: RunResult | None = None,
    ) -> ChainResult:
        """Execute *run*, then each runbook its outcome chains to.

        *earlier* are the chain's runs before *run* (a resumed chain), reopened; *ended* is
        *run*'s result when it already ended (its hand-off is what is left to do).
        """
        depth_limit = self._depth_limit(options)
        earlier = earlier or []
        chain = ChainResult(runs=[r.result for r in earlier])
        seen: set[tuple[str, tuple[tuple[str, str], ...]]] = {_identity(r) for r in earlier}
        parent: Run | None = earlier[-1] if earlier else None
        runs = [*earlier, run]
        try:
            while True:
                seen.add(_identity(run))
                executed = ended is None
                result, ended = (ended, None) if ended is not None else (run.execute(), None)
                chain.runs.append(result)
                if parent is not None:
                    parent.record_child(run)
                nxt = run.handoff
                if result.status != "completed" or not nxt:
                    break
                if options.one_run and executed:  # the hand-off is a task of its own
                    chain.handoff_run = run.run_id
                    return chain
                try:
                    if len(chain.runs) > depth_limit:
                        raise ChainStop(
                            f"chain depth limit reached: {depth_limit} hand-off(s) (max_chain_depth); "
                            f"not starting {nxt['file']}"
                        )
                    path, checked, inputs, inherited = self._child(run, nxt, options, incident)
                    if (str(self.project.real(path)), tuple(sorted(inputs.items()))) in seen:
                        raise ChainStop(
                            f"chain loop: {path.name} was already run with the same inputs"
                        )
                except ChainStop as e:
                    run.chain_failed(str(e), nxt["file"])
                    break
                parent = run
                run = Run(self, checked.model, path, options, incident, inputs, parent, inherited)
                runs.append(run)
                # The child's manifest first, then the parent's link to it: killed in
                # between, the parent still shows its hand-off as pending (gert resume
                # starts the child); killed after, the child is there to resume.
                run.save()
                parent.record_child(run)
            self._post(runs, chain, options)
            self._save_scenario(runs, chain, options, incident)
        finally:
            self.close()
        return chain

    def _post(self, runs: list[Run], chain: ChainResult, options: Options) -> None:
        """Post one summary of the chain to its incident; never changes the
        exit code, never loses evidence, never posts twice."""
        from gert.incident.posting import build_entry, chain_of, post_record, send

        if (
            options.mode != "real"
            or chain.final_state in ("interrupted", "waiting")  # posted once, at its end
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
            r.after_chain("incident_posted", {"incident_id": incident_id, **record})
        chain.posted = record

    def _save_scenario(
        self,
        runs: list[Run],
        chain: ChainResult,
        options: Options,
        incident: dict[str, Any] | None,
    ) -> None:
        """Save a real chain as a scenario: failed and interrupted ones too."""
        from gert.scenario import scenario_folder, write_scenario

        if options.mode != "real" or not options.record or self.config.record == "off":
            return
        root = runs[0]
        anchor = options.incident_id or root.run_id
        scenarios = self.project.resolve(self.config.scenarios_dir)
        try:
            folder = _saved_before(root, scenarios, self.project.root) or scenario_folder(
                scenarios, root.result.started_at, root.rb.meta.name, anchor
            )
        except OSError as e:  # a full disk must not cost the run its evidence or exit code
            chain.scenario_error = f"could not save the scenario: {e}"
            return
        rel = os.path.relpath(folder, self.project.root)
        try:
            for r in runs:
                r.scenario_path = rel
                r.after_chain("scenario_saved", {"path": rel})
            write_scenario(
                folder,
                runs=[r.result for r in runs],
                incident=incident,
                inputs=root.inputs,
                root_runbook=os.path.relpath(root.path.resolve(), self.project.root.resolve()),
                status=chain.final_state,
                redact=root.redactor,
                store=self.store,
                incident_id=options.incident_id or "",
            )
            chain.scenario = rel
        except OSError as e:  # a full disk must not cost the run its evidence or its exit code
            chain.scenario_error = f"could not save the scenario at {rel}: {e}"

    def resume(self, run_id: str, options: Options) -> ChainResult:
        """Continue a run that was killed or interrupted, from its trace, and the chain
        after it.

        Steps the trace shows as completed are not run again: their captures are restored
        from it. A step that was running when the run stopped is run again only when that
        is harmless, or when the operator says so (:mod:`gert.engine.recovery`). A run
        that ended with a hand-off that never started starts its child. The hash chain
        continues where it stopped; the post and the scenario cover the whole chain. A
        run that finished is refused.
        """
        self._check_key(options)
        handle = self.store.open(run_id)
        self.store.claim(handle)  # refused while another gert process runs it
        m = self.store.read_manifest(handle)
        journal, in_flight = recovery.read_journal(self.store.events(handle))
        recovered_evidence: dict[tuple[str, int], dict[str, Any]] = {}
        # A run stopped only by evidence nobody could give goes on from that step.
        waiting = {k for k, d in journal.items() if recovery.needs_evidence(d)}
        if m.status in ("waiting", "failed") and waiting:
            for key in waiting:  # run again, with the evidence given now
                recovered_evidence[key] = {
                    "step_id": key[0],
                    "occurrence": key[1],
                    "decision": "retry",
                    "reason": "run again: it was waiting for evidence",
                    "processes": [],
                    "processes_action": "",
                }
        elif m.status not in ("running", "interrupted") and not m.handoff_pending:
            raise ResumeRefused(
                f"run {run_id} already finished ({m.status}); nothing to resume"
                + self._stopped_child(m)
            )
        if options.abort and m.handoff_pending:
            raise ResumeRefused(
                f"run {run_id} ended ({m.state}); only its hand-off is left, nothing to "
                "abort (gert resume starts it)"
            )
        # Decided by who resumes, before anything is written: a refusal leaves no trace.
        if options.abort:  # nothing runs again: no decision to make
            recovered = {}
        else:
            recovered = {} if m.handoff_pending else recovery.plan(run_id, in_flight, options)
            recovered.update(recovered_evidence)
        acting = options.acting or options.actor  # who resumes: recorded on what they do
        options = dataclasses.replace(self._as_first_run(options, m), acting=acting)
        incident = None  # fetched when an input needs it (see incident_for)
        earlier = self._earlier(m, options, incident)
        run = self._reopen(
            handle, m, journal, options, incident, recovered, earlier[-1] if earlier else None
        )
        if m.handoff_pending:
            ended = run.finished()
            run.handoff = _handoff_of(m.outcome)
            return self._chain(run, options, incident, earlier, ended)
        return self._chain(run, options, incident, earlier)

    def _stopped_child(self, m: Any) -> str:
        """'; its child run C stopped: gert resume C' when a later run of the chain is the
        one to resume."""
        for entry in m.child_runs:
            child = str(entry.get("run_id", ""))
            try:
                cm = self.store.read_manifest(self.store.open(child))
            except Exception:  # a child that cannot be read is not the one to name
                continue
            if cm.status in ("running", "interrupted") or cm.handoff_pending:
                return (
                    f"; its chain stopped in run {child} ({cm.runbook_name}): gert resume {child}"
                )
            deeper = self._stopped_child(cm)
            if deeper:
                return deeper
        return ""

    def _as_first_run(self, options: Options, m: Any) -> Options:
        """*options* as the run was first started: its incident, mode, actor, and whether
        it posts, records and where its answers came from (unless given again now)."""
        first = m.options or {}
        answers, answers_file = options.answers, options.answers_file
        if not answers_file and first.get("evidence"):
            from gert.executors.manual import load_answers

            answers_file = str(first["evidence"])
            path = self.project.root / answers_file
            if self.project.contains(path) and path.is_file():
                answers = load_answers(path)
        return dataclasses.replace(
            options,
            incident_id=options.incident_id or m.incident_id or None,
            mode=m.mode or options.mode,
            actor=m.actor or options.actor,
            post=options.post and first.get("post", True),
            record=options.record and first.get("record", True),
            answers=answers,
            answers_file=answers_file,
            max_chain_depth=first.get("max_chain_depth", options.max_chain_depth),
        )

    def _reopen(
        self,
        handle: Any,
        m: Any,
        journal: dict[tuple[str, int], dict[str, Any]],
        options: Options,
        incident: dict[str, Any] | None,
        recovered: dict[tuple[str, int], dict[str, Any]] | None = None,
        parent: Run | None = None,
    ) -> Run:
        """A recorded run as a :class:`Run` again: to go on with, or (earlier in a chain)
        to link, post and save with the rest of it."""
        if not m.runbook:
            raise ResumeRefused(f"run {m.run_id}: its manifest names no runbook; cannot resume")
        path = self.project.root / m.runbook
        if not self.project.contains(path):
            raise ResumeRefused(f"run {m.run_id}: its runbook {m.runbook} is outside the project")
        checked = self.load(path)
        secret = {n for n, spec in checked.model.meta.inputs.items() if spec.secret}
        given = {k: str(v) for k, v in m.inputs_resolved.items() if k not in secret}
        if m.status in ("running", "interrupted"):  # it goes on: its inputs must be real
            _same_runbook(m, path, options)
            incident = incident or self.incident_for(checked.model, options.incident_id)
            inputs = resolve_inputs(
                checked.model, {**given, **options.variables}, incident, None, options.prompter
            )
        else:
            inputs = given
        return Run(
            self,
            checked.model,
            path,
            options,
            incident,
            inputs,
            parent,
            {k: str(v) for k, v in m.inherited_captures.items()},
            resumed=Resumed(handle, m, journal, recovered or {}),
        )

    def _earlier(self, m: Any, options: Options, incident: dict[str, Any] | None) -> list[Run]:
        """The runs of the chain before *m*'s run, root first, reopened (as far back as
        their runbooks still load)."""
        recorded: list[tuple[Any, Any, dict[tuple[str, int], dict[str, Any]]]] = []
        parent_id, seen = m.parent_run_id, {m.run_id}
        while parent_id and parent_id not in seen:
            seen.add(parent_id)
            try:
                handle = self.store.open(parent_id)
                pm = self.store.read_manifest(handle)
            except FileNotFoundError:
                break
            recorded.insert(0, (handle, pm, recovery.read_journal(self.store.events(handle))[0]))
            parent_id = pm.parent_run_id
        earlier: list[Run] = []
        for handle, pm, journal in recorded:
            try:
                run = self._reopen(
                    handle, pm, journal, options, incident, parent=earlier[-1] if earlier else None
                )
            except (ResumeRefused, RunbookInvalid, FileNotFoundError):
                earlier = []  # a gone or changed runbook: the chain is saved from after it
                continue
            run.finished()
            earlier.append(run)
        return earlier

    def incident_for(self, rb: Runbook, incident_id: str | None) -> dict[str, Any] | None:
        """The incident, fetched only when an input of *rb* comes from it (a provider that
        can only receive posts, or an unreachable one, is no obstacle otherwise)."""
        if not incident_id:
            return None
        if incident_id in self._incidents:
            return self._incidents[incident_id]
        if not any((spec.from_ or "").startswith("incident") for spec in rb.meta.inputs.values()):
            return None
        found = self._incidents[incident_id] = self._incident(incident_id)
        return found

    def _incident(self, incident_id: str | None) -> dict[str, Any] | None:
        if not incident_id:
            return None
        try:
            return self.provider.get(incident_id)
        except IncidentError as e:
            e.exit_code = EXIT_INVALID  # the run cannot start: the incident given is unusable
            raise
        except Exception as e:  # a provider that is down or answers nonsense
            error = IncidentError(
                f"incident {incident_id}: {self.provider.name} provider failed: {e}"
            )
            error.exit_code = EXIT_INVALID
            raise error from None

    def _child(
        self, parent: Run, nxt: dict[str, Any], options: Options, incident: dict[str, Any] | None
    ) -> tuple[Path, Any, dict[str, str], dict[str, str]]:
        """Resolve, load and validate the next runbook and its inputs."""
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
        incident = incident or self.incident_for(checked.model, options.incident_id)
        # Precedence: next_runbook.inputs, then the parent's captures, then its vars/inputs.
        parent_values = {**parent.values_without_captures(), **parent.captures}
        if parent.reopened:  # recorded values are redacted: "***" is not the value
            parent_values = {k: v for k, v in parent_values.items() if "***" not in v}
        given = dict(nxt.get("inputs") or {})
        try:
            inputs = resolve_inputs(
                checked.model,
                {},
                incident,
                {**parent_values, **given},
                options.prompter,
                placeholders=options.mode == "dry-run",
            )
        except InputsMissing as e:
            raise ChainStop(f"next runbook '{rel}': {e}") from None
        return path, checked, inputs, dict(parent.captures)

    def reference_of(self, outcome: dict[str, Any], folder: Path) -> dict[str, str] | None:
        """The reference runbook an outcome's ``next_runbook`` names (``{file, name,
        description}``), or None when it names one to run (or none)."""
        nxt = outcome.get("next_runbook")
        path = self.resolve_runbook(nxt["file"], folder) if nxt else None
        if path is None or not self.project.contains(path):
            return None
        try:
            model = self.load(path).model
        except RunbookInvalid:
            return None  # the hand-off reports it
        if model.meta.kind != "reference":
            return None
        return {
            "file": os.path.relpath(path.resolve(), self.project.root.resolve()),
            "name": model.meta.name,
            "description": model.meta.description or "",
        }

    def resolve_runbook(self, rel: str, folder: Path) -> Path | None:
        """A runbook path: relative to *folder*, then the project root; .runbook.yaml added."""
        candidates = [rel] if Path(rel).suffix else [rel + ".runbook.yaml", rel]
        for base in (folder, self.project.root):
            for c in candidates:
                p = base / c
                if p.is_file():
                    return p
        return None

    def tools_of(self, rb: Runbook, path: Path) -> dict[str, Any]:
        """The tool definitions a runbook declares, loaded (validation already checked them)."""
        tools: dict[str, Any] = {}
        entries = rb.tools.items() if isinstance(rb.tools, dict) else [(n, None) for n in rb.tools]
        for alias, rel in entries:
            file = None
            if rel is not None:
                for base in (path.parent, self.project.root):
                    cand = base / rel if Path(rel).suffix else base / f"{rel}.tool.yaml"
                    if cand.is_file():
                        file = cand
                        break
            else:
                file = next(
                    (
                        f / f"{alias}.tool.yaml"
                        for f in self.project.tools_path
                        if (f / f"{alias}.tool.yaml").is_file()
                    ),
                    None,
                )
            if file is not None and self.project.contains(file):
                checked = self.validator.tool_file(file)
                if checked.model is not None:
                    tools[alias] = checked.model
        return tools


def _same_root(scenario: Any, runbook: Path, root: Path) -> None:
    """A scenario replays the runbook it recorded, not another."""
    recorded = getattr(scenario, "root_runbook", "") or ""
    if not recorded:
        return
    try:
        same = (root / recorded).resolve() == runbook.resolve()
    except OSError:
        same = False
    if not same and Path(recorded).name != runbook.name:
        raise InvalidError(
            f"the scenario recorded {recorded}, not {runbook}; replay it with: "
            f"gert exec {recorded} --mode replay --scenario FOLDER"
        )


def _known_variables(rb: Runbook, given: dict[str, str]) -> None:
    """A --var that names no input (or var) of the runbook is a typo, not a value to drop
    silently."""
    import difflib

    constants = sorted(set(given) & set(rb.meta.vars) - set(rb.meta.inputs))
    if constants:
        raise InvalidError(
            f"{rb.meta.name}: {', '.join(constants)} is a constant of the runbook (meta.vars), "
            "not an input; --var sets inputs (declare it under meta.inputs with a default to "
            "let a run change it)"
        )
    known = set(rb.meta.inputs)
    unknown = sorted(set(given) - known)
    if not unknown:
        return
    lines = []
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        lines.append(f"  - {name}" + (f" (did you mean '{close[0]}'?)" if close else ""))
    names = ", ".join(sorted(rb.meta.inputs)) or "none"
    raise InvalidError(
        f"{rb.meta.name} has no input named "
        + ", ".join(unknown)
        + f" (its inputs: {names}):\n"
        + "\n".join(lines)
    )


def _same_runbook(m: Any, path: Path, options: Options) -> None:
    """Refuse to go on with a runbook edited since the run began, unless told to (the
    trace then records both versions)."""
    import hashlib

    now = hashlib.sha256(path.read_bytes()).hexdigest()
    if not m.runbook_sha256 or now == m.runbook_sha256 or options.accept_changed_runbook:
        return
    raise ResumeRefused(
        f"run {m.run_id}: {m.runbook} changed since the run began (sha256 "
        f"{m.runbook_sha256[:12]}… then, {now[:12]}… now); resume with "
        "--accept-changed-runbook to go on with the new version (the trace keeps both)"
    )


def _file_key(path: Path) -> tuple[str, int, int, int, int] | None:
    """What names a file's version without reading it: path, (device, inode) of the file
    a link points to, modification time and size; None when it cannot be read."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (str(path), st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def _identity(run: Run) -> tuple[str, tuple[tuple[str, str], ...]]:
    """What makes a chain loop: the same runbook with the same inputs."""
    return (str(run.real_path), tuple(sorted(run.inputs.items())))


def _handoff_of(outcome: dict[str, Any]) -> dict[str, Any]:
    """A recorded hand-off, to start again: values the trace keeps redacted are left out,
    so the child resolves them itself (or says they are missing)."""
    nxt = dict(outcome.get("next_runbook") or {})
    nxt["inputs"] = {k: v for k, v in (nxt.get("inputs") or {}).items() if "***" not in str(v)}
    return nxt


def _saved_before(root: Run, scenarios: Path, project_root: Path) -> Path | None:
    """The scenario folder an earlier attempt of this chain saved (a Ctrl-C'd run that was
    resumed), emptied so this save replaces it; None when there is none to reuse."""
    import shutil

    if not root.scenario_path:
        return None
    folder = (project_root / root.scenario_path).resolve()
    if not folder.is_relative_to(scenarios.resolve()) or not (folder / "scenario.yaml").is_file():
        return None
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    return folder
