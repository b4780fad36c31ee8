"""One run of one runbook: the walk of its body and each step's lifecycle.

A :class:`Run` asks its executors (real, dry-run or replay, chosen once) to render and
execute steps, takes captures and assertions, picks outcomes and branches, collects
approvals, and records everything through its :class:`RunRecorder`.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gert import expr as _expr
from gert.capture import CaptureError, check_assertions
from gert.engine.inputs import PLACEHOLDER, InputsMissing, resolve_inputs, value_text
from gert.engine.recorder import RunRecorder
from gert.engine.recovery import needs_evidence
from gert.engine.results import Options, RunResult, StepRecord
from gert.executors import StepContext, StepError, StepOutput
from gert.executors.processes import STEP_MARK, end_orphans, settle, step_mark
from gert.governance import Policy, Redactor, protected_env
from gert.model import AnyStep, InvokeStep, ManualStep, Node, Runbook, as_node, parse_duration
from gert.store import RunHandle, RunManifest, new_run_id
from gert.template import MissingVariableError, TemplateError, derived_values, render
from gert.util import iso, utc_now
from gert.validate import RunbookInvalid, load_runbook
from gert.version import __version__

if TYPE_CHECKING:
    from gert.engine.chain import Engine

# The built-in query tools only read: a step that was running when gert stopped may run again.
READ_ONLY_BUILTINS = {
    "sql": "a read-only SQL query",
    "promql": "a PromQL query (reads only)",
    "loki": "a LogQL query (reads only)",
    "kusto": "a KQL query (control commands are refused)",
    "elasticsearch": "an Elasticsearch search (reads only)",
}
TRACE_EXCERPT = 4096  # characters of stdout/stderr kept in trace events (step records keep all)
# In a dry-run, run.yaml is rewritten after a step at most this often (seconds).
MANIFEST_REFRESH = 0.5


class RunAborted(Exception):
    """A person ended a stopped run (gert answer --abort): nothing more runs."""


class StepFailed(Exception):
    """A step failed and the run cannot go on (internal to the walk)."""

    def __init__(self, record: StepRecord):
        self.record = record


@dataclass
class Scope:
    """What steps see: the runbook being walked, its variables, and where it lives."""

    runbook: Runbook
    folder: Path
    values: dict[str, str]
    prefix: str = ""
    tools: dict[str, Any] = field(default_factory=dict)
    policy: Policy = field(default_factory=Policy)


@dataclass
class Resumed:
    """What a killed or interrupted run left: its handle, manifest and completed steps."""

    handle: RunHandle
    manifest: RunManifest
    journal: dict[tuple[str, int], dict[str, Any]]
    # Steps that were running when the run stopped: (step ID, occurrence) -> what to do,
    # as a step_recovered event's data (decision "retry" or "skip", and why).
    recovered: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)


class ChildEnv(Mapping[str, str]):
    """A step's child environment, made when an executor first reads it: a replay or a
    dry-run starts no process, and copying gert's environment for each step is not free."""

    def __init__(self, make: Callable[[], dict[str, str]]):
        self._make = make
        self._env: dict[str, str] | None = None

    def _made(self) -> dict[str, str]:
        if self._env is None:
            self._env = self._make()
        return self._env

    def __getitem__(self, name: str) -> str:
        return self._made()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._made())

    def __len__(self) -> int:
        return len(self._made())


class Run:
    """The execution of one runbook: its state, its walk, and its evidence."""

    def __init__(
        self,
        engine: Engine,
        rb: Runbook,
        path: Path,
        options: Options,
        incident: dict[str, Any] | None,
        inputs: dict[str, str],
        parent: Run | None,
        inherited: dict[str, str],
        resumed: Resumed | None = None,
    ):
        self.engine = engine
        self.rb = rb
        self.path = path
        self.real_path = engine.project.real(path)  # symlinks followed, once
        self.options = options
        self.incident = incident
        self.inputs = inputs
        self.parent = parent
        self.inherited = inherited
        self.project = engine.project
        self.captures: dict[str, str] = {}
        self.step_number = 0
        self.occurrences: dict[str, int] = {}
        self.checked: dict[str, Any] | None = None  # the running step's precondition check
        self.step_mark: str | None = None  # GERT_STEP of the step's processes, last started
        self._envs: dict[int, tuple[Policy, dict[str, str]]] = {}  # see child_env
        self.children: list[dict[str, Any]] = []
        cfg = engine.config
        secrets = [inputs[n] for n, s in rb.meta.inputs.items() if s.secret and n in inputs]
        if parent is not None:
            secrets += parent.redactor.secrets
        rules = [cfg.redact, rb.meta.governance.redact if rb.meta.governance else []]
        self.redactor = Redactor.from_config(*rules, secrets=secrets)
        self.policy = engine.policy(cfg.governance, rb.meta.governance)
        self.journal = resumed.journal if resumed else {}
        self.recovered = resumed.recovered if resumed else {}
        self.handoff: dict[str, Any] | None = None  # next_runbook as rendered, unredacted
        self.withheld: dict[str, str] = {}  # capture -> step: redacted in the trace, not restored
        self.resumed_from = resumed.manifest if resumed else None
        self.reopened = False  # a run that ended before: its manifest's sealed fields stay
        self.position = parent.position + 1 if parent else 1
        self.scenario_path = ""
        self.posted: dict[str, Any] = {}
        # Only the chain's root records what started it; children point to their parent.
        self.triggered_by: dict[str, Any] = dict(options.trigger or {}) if parent is None else {}
        self.input_sources: dict[str, str] = (
            {n: PLACEHOLDER if v == f"<{n}>" else "parent" for n, v in inputs.items()}
            if parent
            else {}
        )
        self.attempt_no = 1
        self.executors = engine.executors_for(self)
        self.answers = self.executors.answers(options.answers)
        self.prompter = self.executors.prompter(options.prompter)
        if resumed is not None:
            handle = resumed.handle
        else:  # a queued chain's root has its ID from when it was queued
            handle = engine.store.create((parent is None and options.run_id) or new_run_id())
        if resumed is None and _keeps_evidence(engine, options):
            engine.store.claim(handle)  # no gert resume of it while this process runs it
        self.run_id = handle.run_id
        self.handle = handle
        key = options.hmac_key
        if key is None and cfg.hmac_key_env and os.environ.get(cfg.hmac_key_env):
            key = os.environ[cfg.hmac_key_env].encode()
        self.recorder = RunRecorder(
            engine.store,
            handle,
            self.redactor,
            key=key,
            durable=self.executors.executes and not options.ephemeral,
            observer=options.observer,
            runbook_name=rb.meta.name,
        )
        self.result = RunResult(
            run_id=self.run_id,
            runbook=rb.meta.name,
            path=path,
            folder=handle.path,
            parent_run_id=parent.run_id if parent else "",
        )
        self.result.started_at = iso(utc_now())
        self.runbook_sha256 = engine.runbook_sha256(path)
        if self.resumed_from is not None:  # keep what the first attempt recorded
            m = self.resumed_from
            self.result.started_at = m.started_at or self.result.started_at
            self.result.parent_run_id = m.parent_run_id
            self.children = list(m.child_runs)
            self.triggered_by = dict(m.triggered_by)
            self.step_number = max(
                (int(d.get("number") or 0) for d in self.journal.values()), default=0
            )
            self.scenario_path = m.scenario
            self.posted = dict(m.posted)

    # state ----------------------------------------------------------------------
    @property
    def trace(self) -> Any:
        """The run's trace writer."""
        return self.recorder.trace

    def values_without_captures(self) -> dict[str, str]:
        """Vars, inherited captures and inputs: what a child or a step sees before captures."""
        return {
            **{k: value_text(v) for k, v in self.rb.meta.vars.items()},
            **self.inherited,
            **self.inputs,
        }

    def scope(self) -> Scope:
        """The top-level scope of this run's runbook."""
        values = {**self.values_without_captures(), **self.captures}
        return Scope(
            self.rb,
            self.path.parent,
            values,
            "",
            self.engine.tools_of(self.rb, self.path),
            self.policy,
        )

    # evidence -------------------------------------------------------------------
    @property
    def acting(self) -> str:
        """Who acts in this run now: who resumed it, else who started it."""
        return self.options.acting or self.options.actor

    def emit(self, type_: str, data: dict[str, Any], sync: bool = False) -> None:
        """Record a trace event."""
        self.recorder.emit(type_, data, sync)

    def manifest(self) -> RunManifest:
        """The run's manifest as it stands."""
        if self.reopened and self.resumed_from is not None:
            return dataclasses.replace(
                self.resumed_from,
                child_runs=self.children,
                chain_error=self.result.chain_error or "",
                scenario=self.scenario_path,
                posted=self.posted,
                trace=self.recorder.trace_info,
            )
        r = self.result
        return RunManifest(
            run_id=self.run_id,
            icm_id=self.options.incident_id or "",
            runbook=os.path.relpath(self.real_path, self.project.real_root),
            actor=self.options.actor,
            mode=self.options.mode,
            started_at=r.started_at,
            ended_at=r.ended_at,
            outcome=r.outcome or {},
            inputs_resolved=dict(self.inputs),
            steps_summary=r.summary,
            parent_run_id=r.parent_run_id,
            child_runs=self.children,
            inherited_captures=dict(self.inherited),
            status=r.status,
            error=r.error or "",
            chain_error=r.chain_error or "",
            runbook_name=self.rb.meta.name,
            runbook_sha256=self.runbook_sha256,
            gert_version=__version__,
            host=platform.node(),
            scenario=self.scenario_path,
            posted=self.posted,
            triggered_by=self.triggered_by,
            options=self.recorded_options(),
            trace=self.recorder.trace_info,
        )

    def recorded_options(self) -> dict[str, Any]:
        """How the chain was run, for gert resume (only what differs from the defaults)."""
        o = self.options
        out: dict[str, Any] = {}
        if not o.post:
            out["post"] = False
        if not o.record:
            out["record"] = False
        if o.answers_file:
            out["evidence"] = o.answers_file
        if o.max_chain_depth is not None:
            out["max_chain_depth"] = o.max_chain_depth
        return out

    def save(self, index: bool = True) -> None:
        """Rewrite the manifest; ``index=False`` after a step."""
        if self.engine.store.keeps:  # gert test: no manifest to build or write
            self.recorder.save(self.manifest(), index)

    def record_child(self, child: Run) -> None:
        """List a child run in this run's manifest (when it starts, again when it ends)."""
        rel = os.path.relpath(child.real_path, self.project.real_root)
        entry = {"run_id": child.run_id, "runbook": rel, "outcome": child.result.state}
        self.children = [c for c in self.children if c.get("run_id") != child.run_id] + [entry]
        self.save()

    def chain_failed(self, message: str, file: str) -> None:
        """Record that the chain could not go on from this run."""
        self.result.chain_error = message
        self.emit("chain_error", {"error": message, "file": file}, sync=True)
        self.recorder.close()
        self.save()

    def after_chain(self, event: str, data: dict[str, Any]) -> None:
        """Record something that happened after the chain ended (a post, a saved scenario)."""
        self.emit(event, data, sync=True)
        self.recorder.close()
        self.save()

    def finished(self) -> RunResult:
        """The result of a run that ended before, as its manifest and trace recorded it (a
        resumed chain's earlier runs; a parent whose hand-off did not happen)."""
        m, r = self.resumed_from, self.result
        assert m is not None, "only a reopened run has a recorded result"
        self.reopened = True
        r.status, r.outcome = m.status, dict(m.outcome) or None
        r.error, r.chain_error, r.ended_at = m.error or None, m.chain_error or None, m.ended_at
        for (sid, _), done in self.journal.items():
            r.steps.append(
                StepRecord(
                    sid,
                    done["status"],
                    dict(done.get("captures") or {}),
                    done.get("error"),
                    done.get("step_file"),
                )
            )
            if done["status"] == "passed" and "/" not in sid:
                self.captures.update({k: str(v) for k, v in (done.get("captures") or {}).items()})
        for name, value in list(self.captures.items()):
            if "***" in value:  # redacted in the trace: not the value the run saw
                del self.captures[name]
        r.captures = dict(self.captures)
        return r

    # the run --------------------------------------------------------------------
    def execute(self) -> RunResult:
        """Walk the runbook to its end; the result says how it went (never raises for a
        step that failed or an operator's Ctrl-C)."""
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
            resumed: dict[str, Any] = {"completed_steps": done, "actor": self.acting}
            before = self.resumed_from.runbook_sha256
            if before and before != self.runbook_sha256:  # --accept-changed-runbook
                resumed["runbook_sha256_before"] = before
                resumed["runbook_sha256"] = self.runbook_sha256
            self.emit("run_resumed", resumed, sync=True)
        try:
            if self.options.abort:
                raise RunAborted(f"aborted by {self.acting}: {self.options.abort}")
            self.recover_in_flight()
            outcome = self.walk(self.rb.body(), self.scope())
            r.status = "completed"
            if outcome is not None:
                r.outcome = outcome
                reference = self.engine.reference_of(outcome, self.path.parent)
                if reference is not None:  # linked, never run: the chain ends here
                    outcome["reference"] = reference
                    del outcome["next_runbook"]
                r.outcome = outcome
                self.emit("outcome_reached", outcome, sync=True)
                if reference is not None:
                    self.emit("reference_linked", reference)
                elif outcome.get("next_runbook"):
                    self.emit(
                        "chain_started",
                        {
                            "file": outcome["next_runbook"]["file"],
                            "inputs": outcome["next_runbook"].get("inputs", {}),
                        },
                    )
        except RunAborted as e:
            r.status = "failed"
            r.error = str(e)
            self.count_unwalked()
        except StepFailed as e:
            if needs_evidence({"status": "failed", "error": e.record.error}):
                # Nobody here could answer: the run waits for the answer (any surface may
                # give it: gert resume --evidence, the server's form) rather than fail.
                r.status = "waiting"
                r.error = f"step '{e.record.step_id}' is waiting: {e.record.error}"
                self.emit(
                    "run_waiting",
                    {"step_id": e.record.step_id, "needs": e.record.error},
                    sync=True,
                )
            else:
                r.status = "failed"
                r.error = f"step '{e.record.step_id}' failed: {e.record.error}"
        except KeyboardInterrupt as e:
            if self.step_mark:  # landed while a step's process was starting, before its
                end_orphans(self.step_mark)  # executor could stop it: stopped here
            r.status = "interrupted"
            how = str(e) or "Ctrl-C"
            r.error = f"interrupted ({how})"
            self.emit(
                "run_interrupted", {"reason": f"interrupted by the operator ({how})"}, sync=True
            )
            self.count_unwalked()
        except Exception as e:  # a bug or an unexpected fault: record it, never lose the run
            r.status = "error"
            r.error = f"{type(e).__name__}: {e}"
        # What surfaces show (console, --json) is redacted like everything written; the
        # hand-off keeps its real inputs for the child (they are redacted where recorded).
        self.handoff = (r.outcome or {}).get("next_runbook")
        r.outcome = self.redactor.data(r.outcome) if r.outcome else r.outcome
        r.captures = self.redactor.data(dict(self.captures))
        r.error = self.redactor.text(r.error) if r.error else r.error
        for record in r.steps:
            record.captures = self.redactor.data(record.captures)
            record.error = self.redactor.text(record.error) if record.error else record.error
        r.ended_at = iso(utc_now())
        sealed = {}
        if self.engine.store.keeps:  # the manifest's final fields, bound into the trace
            sealed = {"manifest_sha256": self.recorder.manifest_digest(self.manifest())}
        self.emit(
            "run_completed",
            {
                "status": r.status,
                "outcome": r.outcome or {},
                "error": r.error or "",
                "steps_summary": r.summary,
                **sealed,
            },
            sync=True,
        )
        self.recorder.close()
        self.save()
        return r

    def count_unwalked(self) -> None:
        """Steps completed before a resume that the walk had not reached when it stopped
        again: they still count in the run's summary."""
        walked = {(s.step_id) for s in self.result.steps}
        for (sid, _), done in self.journal.items():
            if sid not in walked:
                self.result.steps.append(
                    StepRecord(sid, done["status"], {}, done.get("error"), done.get("step_file"))
                )

    def recover_in_flight(self) -> None:
        """Before a resumed run goes on: record what it does about the steps that were
        running when it stopped, and wait for or kill what they left running."""
        for data in self.recovered.values():
            self.emit("step_recovered", data, sync=True)
            if data["processes"]:
                settle(data["processes"], data["processes_action"])

    def walk(self, nodes: list[Node], scope: Scope) -> dict[str, Any] | None:
        """Run nodes in order; return the first outcome reached (None: the body ended)."""
        for node in nodes:
            step = node.step
            record, output = self.run_step(step, scope)
            if record.status == "skipped":
                continue
            if record.status == "failed":
                if step.continue_on_fail:
                    continue
                raise StepFailed(record)
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

    def condition(self, text: str, scope: Scope, step_id: str) -> bool:
        """Evaluate a condition; undefined names are recorded as warnings."""
        warnings: list[str] = []
        try:
            value = _expr.evaluate(text, scope.values, warnings)
        except _expr.ExprError as e:
            if self.executors.executes:
                raise
            # A dry-run's values are placeholders: a comparison they cannot make is false.
            value, warnings = False, [f"dry-run: {text!r} taken as false ({e})"]
        for w in warnings:
            self.emit("condition_warning", {"step_id": scope.prefix + step_id, "warning": w})
        return value

    def pick_outcome(
        self, step: AnyStep, scope: Scope, output: StepOutput | None
    ) -> dict[str, Any] | None:
        """The first outcome whose ``when`` holds, or the one chosen among unconditional ones."""
        chosen = None
        for o in step.outcomes:
            if o.when and self.condition(o.when, scope, step.id):
                chosen = o
                break
        if chosen is None:
            unconditional = [o for o in step.outcomes if not o.when]
            if isinstance(step, ManualStep) and len(unconditional) > 1:
                offered = [(o.state, self.offer(o, scope)) for o in unconditional]
                state = self.ask_outcome(step, [o.state for o in unconditional], offered)
                chosen = next(o for o in unconditional if o.state == state)
            elif unconditional:
                chosen = unconditional[0]
        if chosen is None:
            return None
        out: dict[str, Any] = {
            "state": chosen.state,
            "step_id": scope.prefix + step.id,
            "recommendation": render(chosen.recommendation, scope.values).strip()
            if chosen.recommendation
            else "",
        }
        if chosen.code is not None:
            out["code"] = chosen.code
        if chosen.meta:  # top-level strings are templates; the rest is data as written
            out["meta"] = {
                k: render(v, scope.values) if isinstance(v, str) else v
                for k, v in chosen.meta.items()
            }
        if not scope.prefix:  # which outcome, for coverage (the manifest keeps the standard fields)
            self.result.outcome_index = (step.id, step.outcomes.index(chosen))
        if chosen.next_runbook and not scope.prefix:
            out["next_runbook"] = {
                "file": render(chosen.next_runbook.file, scope.values),
                "inputs": {
                    k: render(v, scope.values) for k, v in chosen.next_runbook.inputs.items()
                },
            }
        return out

    def offer(self, outcome: Any, scope: Scope) -> str:
        """An outcome as the engineer is offered it: its state and recommendation."""
        try:
            text = render(outcome.recommendation or "", scope.values).strip()
        except TemplateError:
            text = (outcome.recommendation or "").strip()
        return self.redactor.text(f"{outcome.state}: {text}" if text else outcome.state)

    def ask_outcome(
        self, step: ManualStep, states: list[str], offered: list[tuple[str, str]] | None = None
    ) -> str:
        """The outcome an engineer picks (answers file, else a prompt, which shows
        *offered*: each state with its label)."""
        answers = self.answers.get(step.id, {})
        given = answers.get("outcome")
        if given in states and not self.executors.executes:
            return str(given)
        if given is None and not self.executors.executes:  # a dry-run: the first, said so
            self.emit(
                "condition_warning",
                {
                    "step_id": step.id,
                    "warning": f"dry-run: took the first outcome, {states[0]} "
                    f"(of {', '.join(states)})",
                },
            )
            return states[0]
        if given is None and self.options.prompter:
            given = self.options.prompter.ask_choice(
                f"{step.title or step.id}: which outcome?", offered or [(s, s) for s in states]
            )
        if given is None:
            raise StepFailed(
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
            raise StepFailed(
                StepRecord(
                    step.id, "failed", error=f"outcome {given!r} is not one of {', '.join(states)}"
                )
            )
        return str(given)

    # one step -------------------------------------------------------------------
    def run_step(self, step: AnyStep, scope: Scope) -> tuple[StepRecord, StepOutput | None]:
        """A step's whole lifecycle: when, precondition, attempts, captures, evidence."""
        stop = self.options.stop
        if stop is not None and stop.is_set():  # parked between steps: resumable as it is
            raise KeyboardInterrupt(self.options.stop_reason)
        sid = scope.prefix + step.id
        if step.when and not self.condition(step.when, scope, step.id):
            return self.skip(sid, f"when is false: {step.when}"), None
        occurrence = self.occurrences.get(sid, 0) + 1
        done = self.journal.get((sid, occurrence))
        again = self.recovered.get((sid, occurrence), {}).get("decision") == "retry"
        if done is not None and not again:  # completed before the run stopped: restore it
            self.occurrences[sid] = occurrence
            return self.restore(step, scope, done)
        recovered = self.recovered.get((sid, occurrence))
        if recovered is not None and recovered["decision"] == "skip":
            self.occurrences[sid] = occurrence
            return self.skip(sid, recovered["reason"], occurrence), None
        recorded = None if step.precondition else self.executors.recorded_skip(sid, occurrence)
        if recorded is not None:  # a replay of a run that skipped it (on resume)
            self.occurrences[sid] = occurrence
            return self.skip(sid, recorded, occurrence), None
        self.step_number += 1
        number = self.step_number
        self.occurrences[sid] = occurrence
        started = utc_now()
        started_data: dict[str, Any] = {
            "step_id": sid,
            "number": number,
            "type": step.type,
            "title": step.title or "",
            "occurrence": occurrence,
        }
        repeatable = self.repeatable(step, scope)
        if repeatable:  # what gert resume needs if the run stops while this step runs
            started_data["repeatable"] = repeatable
        self.emit("step_started", started_data)
        self.checked = None
        if step.precondition:
            skip = self.precondition(step, scope, sid)
            if skip:
                self.step_number -= 1
                return self.skip(sid, skip, occurrence, precondition=self.checked), None
        attempts: list[dict[str, Any]] = []
        retry = step.retry or scope.runbook.meta.defaults.retry
        # A dry-run shows each step once: nothing ran, so nothing to try again or wait for.
        tries = retry.attempts if retry and self.executors.executes else 1
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
        started, ended = self.executors.step_times(sid, occurrence, started, utc_now())
        payload = {
            "step_id": sid,
            "number": number,
            "type": step.type,
            "title": step.title or "",
            "occurrence": occurrence,
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
        if self.checked:
            payload["precondition"] = {**self.checked, "result": "the step ran"}
        executed = self.executors.executes
        digest = ""
        if executed:  # step records hold what executed steps saw; a dry-run executes nothing
            record.step_file, digest = self.recorder.write_step(number, sid, payload)
        if output is not None and output.evidence:
            self.emit(
                "evidence_recorded",
                {
                    "step_id": sid,
                    "evidence": output.evidence,
                    "choice": output.choice,
                    "approved_by": output.approved_by,
                    "recorded_by": self.acting,
                },
            )
        last = attempts[-1] if attempts else {}
        self.emit(
            "step_completed",
            {
                "step_id": sid,
                "number": number,
                "occurrence": occurrence,
                "status": status,
                "captures": captures,
                "assertions": [{k: a[k] for k in ("check", "passed")} for a in assertions],
                "duration_ms": payload["duration_ms"],
                "attempts": len(attempts),
                "step_file": record.step_file,
                **({"step_file_sha256": digest} if digest else {}),
                "exit_code": last.get("exit_code"),
                "status_code": last.get("status_code"),
                "stdout": _excerpt(last.get("stdout", "")),
                "stderr": _excerpt(last.get("stderr", "")),
                **({} if executed else {"would_run": last.get("request", {})}),
                **({"error": error} if error else {}),
            },
            sync=True,
        )
        self.result.steps.append(record)
        # The manifest is rewritten after every step of a real run, so a crash leaves a
        # truthful one; a dry-run (thousands of steps a second, nothing real) refreshes it
        # at most every MANIFEST_REFRESH seconds.
        if executed or time.monotonic() - self.recorder.saved_at >= MANIFEST_REFRESH:
            self.save(index=False)
        return record, output

    def restore(
        self, step: AnyStep, scope: Scope, done: dict[str, Any]
    ) -> tuple[StepRecord, StepOutput | None]:
        """A step the trace shows as completed: its record and captures, without running it."""
        captures = {k: str(v) for k, v in (done.get("captures") or {}).items()}
        # The trace keeps captures redacted: a value with a redaction in it is not the value
        # the step saw. It is withheld, so no later step runs with "***" in its place.
        for name, value in list(captures.items()):
            if "***" in value:
                self.withheld[name] = done["step_id"]
                del captures[name]
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

    def repeatable(self, step: AnyStep, scope: Scope) -> str:
        """Why running *step* a second time does no harm, or '' when it might."""
        if step.idempotent:
            return "marked idempotent"
        if isinstance(step, ManualStep):
            return "a manual step: the engineer is asked again"
        if step.type == "http" and step.http.method in ("GET", "HEAD", "OPTIONS"):
            return f"an HTTP {step.http.method}"
        if step.type == "tool":
            tool = scope.tools.get(step.tool.name)
            if tool is None:
                return READ_ONLY_BUILTINS.get(step.tool.name, "")
            action = tool.actions.get(step.tool.action)
            read_only = action.governance.read_only if action is not None else None
            if read_only if read_only is not None else tool.governance.read_only:
                return "a read-only tool action"
        return ""

    def skip(
        self,
        sid: str,
        reason: str,
        occurrence: int | None = None,
        precondition: dict[str, Any] | None = None,
    ) -> StepRecord:
        """Record a skipped step (with the precondition check that skipped it)."""
        data: dict[str, Any] = {"step_id": sid, "reason": reason}
        if precondition:
            data["precondition"] = precondition
        if occurrence is not None:  # a precondition skip: replay needs to know which occurrence
            data["occurrence"] = occurrence
        self.emit("step_skipped", data)
        record = StepRecord(sid, "skipped", reason=reason)
        self.result.steps.append(record)
        return record

    def context(
        self, step: AnyStep, rendered: dict[str, Any], scope: Scope, sid: str
    ) -> StepContext:
        """What an executor gets for one try of a step."""
        answers = self.answers.get(sid)
        occurrence = self.occurrences.get(sid, 1)
        policy, mark = scope.policy, step_mark(self.run_id, sid, occurrence)
        self.step_mark = mark
        env = ChildEnv(
            lambda: {**self.child_env(policy), STEP_MARK: mark}
        )  # mark: finds its processes later
        return StepContext(
            step=step,
            rendered=rendered,
            project_root=self.project.root,
            run_folder=self.handle.path,
            env=env,
            timeout=self.timeout(step, scope),
            answers=answers if isinstance(answers, dict) else {},
            prompter=self.prompter,
            tools=scope.tools,
            check_command=lambda argv: self.blocked(argv, scope, sid),
            actor=self.acting,
            step_id=sid,
            occurrence=occurrence,
            attempt=self.attempt_no,
            on_output=self.recorder.output_watcher(sid),
        )

    def child_env(self, policy: Policy) -> dict[str, str]:
        """The environment a step's processes start from under *policy* (gert's own,
        less what the policy denies), read once per run and policy: os.environ decodes
        every variable on each read."""
        key = id(policy)
        cached = self._envs.get(key)
        if cached is None or cached[0] is not policy:
            cached = self._envs[key] = (policy, policy.child_env(os.environ))
        return cached[1]

    def precondition(self, step: AnyStep, scope: Scope, sid: str) -> str | None:
        """Check the precondition; the reason to skip the step, or None to run it."""
        pre = step.precondition
        argv = [render(a, scope.values) for a in pre.check]
        self.checked = {"argv": argv}  # the evidence keeps what was checked
        blocked = self.blocked(argv, scope, sid)
        if blocked:
            record = StepRecord(sid, "failed", error=blocked)
            self.result.steps.append(record)  # it counts as the failed step it is
            raise StepFailed(record)
        return self.executors.precondition(pre, argv, self.context(step, {}, scope, sid))

    def timeout(self, step: AnyStep, scope: Scope) -> float | None:
        """The step's timeout in seconds: its own, else the runbook's default, else for a
        command gert.yaml's step_timeout (http and tool steps have their own defaults)."""
        t = step.timeout if step.timeout is not None else scope.runbook.meta.defaults.timeout
        if t is None and step.type == "cli":
            t = self.engine.config.step_timeout
        return parse_duration(t) if t is not None else None

    def blocked(self, argv: list[str], scope: Scope, sid: str) -> str | None:
        """Why governance refuses a command (recorded), or None."""
        reason = scope.policy.blocked(
            argv, os.environ.get("PATH", os.defpath), str(self.project.root)
        )
        if reason:
            self.emit(
                "governance_blocked", {"step_id": sid, "argv": argv, "reason": reason}, sync=True
            )
            return f"blocked by governance: {reason}"
        return None

    def attempt(
        self, step: AnyStep, scope: Scope, sid: str
    ) -> tuple[StepOutput, dict[str, str], list[dict[str, Any]], str | None]:
        """One try of a step: render, check policy, execute, capture, assert."""
        started = iso(utc_now())
        try:
            if isinstance(step, InvokeStep):
                output = self.invoke(step, scope, sid)
            else:
                rendered = self.executors.render(step, scope.values, self.project.root)
                self.hide_derived(step, scope.values)
                if step.type == "cli":
                    protected = protected_env(rendered.get("env") or {})
                    if protected:
                        raise StepError(
                            f"env may not set {', '.join(protected)}: it chooses which program "
                            "runs or what it loads"
                        )
                    blocked = self.blocked(rendered["argv"], scope, sid)
                    if blocked:
                        raise StepError(blocked)
                output = self.dispatch(step, rendered, scope, sid)
        except MissingVariableError as e:
            error = str(e)
            if e.name in self.withheld:
                error = (
                    f"'{e.name}' was captured by step '{self.withheld[e.name]}' before the run "
                    "was resumed and held a secret, which the trace keeps redacted; the value "
                    "cannot be restored: run the runbook again"
                )
            output = StepOutput(error=error)
        except (StepError, TemplateError, _expr.ExprError) as e:
            output = StepOutput(error=str(e))
        output.started_at = output.started_at or started
        output.ended_at = iso(utc_now())
        if output.error:
            return output, {}, [], output.error
        try:
            captures = (
                {} if isinstance(step, InvokeStep) else self.executors.take_captures(step, output)
            )
        except CaptureError as e:
            assertions = check_assertions(step, output) if self.executors.executes else []
            failed = [a for a in assertions if not a["passed"]]
            if failed:  # the assertion says what went wrong (a 404), the capture only that
                a = failed[0]
                return (
                    output,
                    {},
                    assertions,
                    f"assertion {a['check']} failed: expected {a['expected']!r}, got {a['actual']!r}",
                )
            if output.status_code and output.status_code >= 400:
                return output, {}, [], f"HTTP {output.status_code}: {e}"
            return output, {}, [], str(e)
        if isinstance(step, InvokeStep):
            captures = dict(output.evidence.get("captures", {}))
        assertions = check_assertions(step, output) if self.executors.executes else []
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

    def hide_derived(self, step: AnyStep, values: dict[str, str]) -> None:
        """Values the step's templates derive from a secret (``printf "%.6s"``, ``slice``)
        are secrets too: redacted, from now on, wherever the secret itself would be."""
        secrets = self.redactor.secrets
        if not secrets:
            return
        names = {k for k, v in values.items() if any(s in v for s in secrets)}
        if not names:
            return
        for text in _templates(step.model_dump(by_alias=True, exclude_none=True)):
            for value in derived_values(text, values, names):
                if _worth_hiding(value):
                    self.redactor.add_secret(value)

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

    def required_approval(self, step: AnyStep, scope: Scope) -> tuple[int, list[str], str] | None:
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
        self, step: AnyStep, rendered: dict[str, Any], scope: Scope, sid: str
    ) -> StepOutput:
        """Execute a step through the run's executors, with the approvals it needs."""
        approval = self.required_approval(step, scope) if self.executors.asks_approval else None
        approved: list[str] = []
        if approval is not None and step.type == "tool":  # a tool action waits before it runs
            approved = self.approve(sid, *approval)
        output = self.executors.execute(self.context(step, rendered, scope, sid))
        if approval is not None and step.type == "manual" and not output.error:
            approved = self.approve(sid, *approval)  # a manual step, once done
        if self.executors.asks_approval:
            output.approved_by = approved
        return output

    def invoke(self, step: InvokeStep, scope: Scope, sid: str) -> StepOutput:
        """Run a sub-runbook inline in its own scope; its steps are recorded as <sid>/<id>."""
        ref = step.invoke.runbook
        rel = scope.runbook.imports.get(ref, ref)
        path = self.engine.resolve_runbook(rel, scope.folder)
        if path is None:
            raise StepError(f"invoked runbook '{ref}' not found")
        if not self.project.contains(path):
            raise StepError(f"invoked runbook '{ref}' is outside the project; refused")
        try:
            sub = load_runbook(path, self.project).model
        except RunbookInvalid as e:
            raise StepError(
                f"invoked runbook '{ref}' is invalid: {e.problems[0].format()}"
            ) from None
        given = {k: render(v, scope.values) for k, v in step.invoke.inputs.items()}
        try:
            incident = self.incident or self.engine.incident_for(sub, self.options.incident_id)
            inputs = resolve_inputs(
                sub, {}, incident, {**scope.values, **given}, self.options.prompter
            )
        except InputsMissing as e:
            raise StepError(str(e)) from None
        values = {**{k: value_text(v) for k, v in sub.meta.vars.items()}, **inputs}
        policy = self.engine.policy(
            self.engine.config.governance, scope.runbook.meta.governance, sub.meta.governance
        )
        child = Scope(sub, path.parent, values, f"{sid}/", self.engine.tools_of(sub, path), policy)
        before = set(values)
        out = StepOutput(request={"invoke": str(rel), "inputs": inputs})
        try:
            outcome = self.walk(sub.body(), child)
        except StepFailed as e:
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


def _excerpt(text: str) -> str:
    if len(text) <= TRACE_EXCERPT:
        return text
    return (
        text[:TRACE_EXCERPT]
        + f"\n... ({len(text) - TRACE_EXCERPT} more characters in the step file)"
    )


def _templates(value: Any) -> list[str]:
    """The template strings inside a step's fields."""
    if isinstance(value, str):
        return [value] if "{{" in value else []
    if isinstance(value, dict):
        return [t for v in value.values() for t in _templates(v)]
    if isinstance(value, list):
        return [t for v in value for t in _templates(v)]
    return []


def _worth_hiding(value: str) -> bool:
    """A derived value that could give a secret away: not a yes/no, a small number or a
    few characters (hiding those everywhere would blank unrelated evidence)."""
    text = value.strip()
    if len(text) < 4 or text.lower() in ("true", "false", "<no value>"):
        return False
    return not (text.isdigit() and len(text) < 8)


def _keeps_evidence(engine: Any, options: Options) -> bool:
    """Whether a run's evidence is kept (so another process could try to resume it)."""
    return bool(engine.store.keeps) and not options.ephemeral
