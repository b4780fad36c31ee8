"""Scenarios: every real chain saved, replayed offline.

A saved scenario is a folder::

    scenarios/YYYY/MM/DD/<slug>-<incident>/
      incident.json   the incident as fetched at run start (redacted)
      inputs.yaml     the root run's resolved inputs
      scenario.yaml   manifest: incident, root runbook, captured_at, reference time, chain
      runs/01-<runbook>/  run.yaml, trace.jsonl, steps/*.json of the root run
      runs/02-<runbook>/  the child, and so on down the chain

Replay reads it back: each step's response is found by chain position, step ID and
occurrence (and attempt), never by suffix and never live.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gert.errors import InvalidError
from gert.executors import StepOutput
from gert.util import shift_timestamps
from gert.util import slug as _slug

SCENARIO_API = "scenario/v0"


class ScenarioError(InvalidError):
    """A scenario folder that cannot be used: names the file and what is wrong."""


def slug(text: str) -> str:
    """Lower-case words joined by dashes, for folder names."""
    return _slug(text, 48, "run")


# ------------------------------------------------------------------ saving


def scenario_folder(root: Path, started_at: str, runbook_name: str, anchor: str) -> Path:
    """A new folder ``YYYY/MM/DD/<slug>-<anchor>`` under *root* (suffixed when taken),
    created here: making it is what reserves the name, so concurrent chains never share
    one."""
    day = started_at[:10].split("-")
    base = root / day[0] / day[1] / day[2] / f"{slug(runbook_name)}-{slug(anchor)}"
    base.parent.mkdir(parents=True, exist_ok=True)
    path, n = base, 1
    while True:
        try:
            path.mkdir()
            return path
        except FileExistsError:
            n += 1
            path = base.with_name(f"{base.name}-{n}")


def replay_command(root: Any) -> str:
    """The command that replays a chain from the scenario its root run was saved as (''
    when none was saved); *root* is the root run's manifest."""
    if not root.scenario or not root.runbook:
        return ""
    return f"gert exec {root.runbook} --mode replay --scenario {root.scenario}"


def write_scenario(
    folder: Path,
    *,
    runs: list[Any],
    incident: dict[str, Any] | None,
    inputs: dict[str, str],
    root_runbook: str,
    status: str,
    redact: Any,
    store: Any,
    incident_id: str = "",
) -> None:
    """Write a scenario folder from finished runs (each has ``runbook``, ``run_id``, ``state``
    and ``started_at``), exporting each run's evidence from *store*."""
    from gert.load import dump_yaml
    from gert.util import iso, utc_now, write_atomic

    folder.mkdir(parents=True, exist_ok=True)  # reserved by scenario_folder
    (folder / "runs").mkdir()
    chain = []
    for n, run in enumerate(runs, start=1):
        name = f"{n:02d}-{slug(run.runbook)}"
        store.export(store.open(run.run_id), folder / "runs" / name)
        chain.append(
            {
                "position": n,
                "runbook": run.runbook,
                "run_id": run.run_id,
                "folder": f"runs/{name}",
                "outcome": run.state,
            }
        )
    if incident is not None:
        write_atomic(
            folder / "incident.json",
            json.dumps(redact.data(incident), indent=2, ensure_ascii=False) + "\n",
        )
    write_atomic(folder / "inputs.yaml", dump_yaml(redact.data(dict(inputs))) if inputs else "{}\n")
    manifest = {
        "apiVersion": SCENARIO_API,
        "incident_id": str((incident or {}).get("id", "") or incident_id),
        "root_runbook": root_runbook,
        "captured_at": iso(utc_now()),
        "reference_time": runs[0].started_at,
        "status": status,
        "chain": chain,
    }
    write_atomic(folder / "scenario.yaml", dump_yaml(manifest))


# ------------------------------------------------------------------ time


def parse_reference(text: str) -> dt.datetime:
    """An ISO time or ``now`` (UTC)."""
    if text == "now":
        return dt.datetime.now(dt.UTC)
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ScenarioError(f"--rebase-time must be 'now' or an ISO time, not {text!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


# ------------------------------------------------------------------ reading


@dataclass
class RunRecording:
    """The recorded responses of one run of a chain, by (step ID, occurrence)."""

    position: int
    runbook: str
    folder: Path
    steps: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    skipped: dict[tuple[str, int], str] = field(default_factory=dict)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def response(
        self,
        step_id: str,
        occurrence: int,
        attempt: int,
        offset: dt.timedelta,
        rendered: dict[str, Any] | None = None,
    ) -> StepOutput:
        """The recorded output of one attempt of a step; ScenarioError when there is none."""
        rec = self.steps.get((step_id, occurrence))
        if rec is None:
            raise ScenarioError(
                f"no recorded response for step '{step_id}' (occurrence {occurrence}) in run "
                f"{self.position:02d} ({self.runbook}) of {self.folder}; replay never runs a step live"
            )
        attempts = rec.get("attempts") or []
        if attempt > len(attempts):
            raise ScenarioError(
                f"step '{step_id}' was recorded with {len(attempts)} attempt(s), replay needs {attempt}"
            )
        return output_from_record(shift_timestamps(attempts[attempt - 1], offset))


def output_from_record(attempt: dict[str, Any]) -> StepOutput:
    """A StepOutput from a step file's attempt (what the executor returned back then)."""
    if not isinstance(attempt, dict):
        raise ScenarioError(f"a recorded attempt must be a mapping, got {type(attempt).__name__}")
    return StepOutput.from_dict(attempt)


def read_json(path: Path) -> Any:
    """A JSON file, or ScenarioError naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"{path}: missing") from None
    except ValueError as e:
        raise ScenarioError(f"{path}: not valid JSON (truncated?): {e}") from None


def read_yaml(path: Path) -> Any:
    """A YAML file, or ScenarioError naming it."""
    from gert.load import LoadError, load_file

    try:
        return load_file(path).data
    except LoadError as e:
        raise ScenarioError(str(e)) from None


def load_run_recording(position: int, folder: Path) -> RunRecording:
    """Read one recorded run folder: step files, skips and the engineer's answers."""
    from gert.store import RunManifest, read_events

    manifest = RunManifest.from_dict(read_yaml(folder / "run.yaml"))
    rec = RunRecording(position, manifest.runbook_name, folder)
    for f in sorted((folder / "steps").glob("*.json")) if (folder / "steps").is_dir() else []:
        payload = read_json(f)
        if (
            not isinstance(payload, dict)
            or "step_id" not in payload
            or not isinstance(payload.get("attempts"), list)
        ):
            raise ScenarioError(f"{f}: not a step file (needs step_id and attempts)")
        rec.steps[(payload["step_id"], int(payload.get("occurrence") or 1))] = payload
    for e in read_events(folder / "trace.jsonl") if (folder / "trace.jsonl").exists() else []:
        d = e.get("data") or {}
        if e["type"] == "step_skipped" and d.get("occurrence"):  # precondition skips
            rec.skipped[(d["step_id"], int(d["occurrence"]))] = str(d.get("reason", ""))
        elif e["type"] == "approval_granted":
            rec.answers.setdefault(d["step_id"], {})["approved_by"] = d.get("approved_by", [])
        elif e["type"] == "outcome_reached" and d.get("step_id"):
            rec.answers.setdefault(d["step_id"], {})["outcome"] = d.get("state")
    return rec


@dataclass
class Scenario:
    """A scenario folder, read: what to replay and with which inputs."""

    folder: Path
    inputs: dict[str, str]
    incident: dict[str, Any] | None
    runs: list[RunRecording]
    reference_time: str = ""
    root_runbook: str = ""
    handwritten: Any = None  # a HandwrittenRecording: answers for every run

    def recording(self, position: int) -> Any:
        """The responses for a chain position (1-based): a recorded run, the hand-written
        scenario's answers, or None."""
        if self.handwritten is not None:
            return self.handwritten
        return self.runs[position - 1] if 0 < position <= len(self.runs) else None


def load_scenario(folder: Path) -> Scenario:
    """Read a saved scenario; ScenarioError names the file that is missing or wrong."""
    if not folder.is_dir():
        raise ScenarioError(f"{folder}: no such scenario folder")
    manifest = read_yaml(folder / "scenario.yaml") if (folder / "scenario.yaml").exists() else {}
    if not isinstance(manifest, dict):
        raise ScenarioError(f"{folder / 'scenario.yaml'}: must be a mapping")
    inputs_file = folder / "inputs.yaml"
    if not inputs_file.is_file():
        raise ScenarioError(f"{inputs_file}: missing (a scenario needs the inputs it ran with)")
    inputs = read_yaml(inputs_file) or {}
    if not isinstance(inputs, dict):
        raise ScenarioError(f"{inputs_file}: must be a mapping of input names to values")
    incident = read_json(folder / "incident.json") if (folder / "incident.json").exists() else None
    runs = []
    for entry in manifest.get("chain") or []:
        run_folder = folder / str(entry.get("folder", ""))
        if not (run_folder / "run.yaml").is_file():
            raise ScenarioError(f"{run_folder}: the run folder scenario.yaml names is missing")
        runs.append(load_run_recording(int(entry.get("position", len(runs) + 1)), run_folder))
    return Scenario(
        folder,
        {k: str(v) for k, v in inputs.items()},
        incident,
        runs,
        str(manifest.get("reference_time", "")),
        str(manifest.get("root_runbook", "")),
    )


# ------------------------------------------------------------------ hand-written scenarios


def scenario_document(path: Path) -> Any:
    """A scenario's YAML file as a :class:`gert.load.Document`; ScenarioError naming it."""
    from gert.load import LoadError, load_file

    try:
        return load_file(path)
    except LoadError as e:
        raise ScenarioError(str(e)) from None


def parse_scenario_file(model: type[Any], path: Path, doc: Any = None) -> Any:
    """A scenario's YAML file (or its *doc*, already read) as *model*; ScenarioError with
    every problem, one per line."""
    from pydantic import ValidationError

    from gert.validate import problems_from_pydantic
    from gert.validate.schema import validate_model

    if doc is None:
        doc = scenario_document(path)
    if doc.data is None:
        doc.data = {}
    try:
        return validate_model(model, doc)
    except ValidationError as e:
        problems = sorted(problems_from_pydantic(e, doc, model), key=lambda p: (p.line, p.col))
        raise ScenarioError("\n".join(p.format() for p in problems)) from None


def _json_files(folder: Path) -> list[Path]:
    """The ``*.json`` files of *folder*, sorted (none when it does not exist)."""
    import os

    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [folder / n for n in sorted(names) if n.endswith(".json")]


class HandwrittenRecording:
    """Responses of a hand-written scenario, for every run of the chain."""

    runbook = ""  # any runbook at any chain position

    def __init__(self, folder: Path, spec: Any):  # gert.validate.formats.HandwrittenScenario
        self.skipped: dict[tuple[str, int], str] = {}  # preconditions run as written: none skip
        self.folder = folder
        self.spec = spec
        self.answers = spec.evidence
        self.steps: dict[tuple[str, int], dict[str, Any]] = {}
        self.single: dict[str, dict[str, Any]] = {}
        self.used: dict[tuple[str, ...], int] = {}
        self.tool_calls: dict[str, int] = {}  # tool_responses key -> responses taken
        for f in _json_files(folder / "steps"):
            payload = read_json(f)
            if not isinstance(payload, dict):
                raise ScenarioError(f"{f}: a recorded response must be a JSON object")
            if "attempts" in payload:  # a step file copied from a real run
                if not isinstance(payload["attempts"], list) or "step_id" not in payload:
                    raise ScenarioError(f"{f}: a step file needs step_id and a list of attempts")
                self.steps[(payload["step_id"], int(payload.get("occurrence") or 1))] = payload
            else:  # one response for every occurrence: {stdout, exit_code, status_code, body, data...}
                self.single[re.sub(r"^\d+-", "", f.stem)] = payload

    def response(
        self,
        step_id: str,
        occurrence: int,
        attempt: int,
        offset: dt.timedelta,
        rendered: dict[str, Any] | None = None,
    ) -> StepOutput:
        """The canned response for a step: its step file, else a command matched by argv."""
        rec = self.steps.get((step_id, occurrence))
        if rec is not None:
            attempts = rec["attempts"]
            return output_from_record(attempts[min(attempt, len(attempts)) - 1])
        flat = step_id.replace("/", "-")
        if step_id in self.single or flat in self.single:
            return output_from_record(self.single.get(step_id) or self.single[flat])
        rendered = rendered or {}
        if self.spec.tool_responses and "action" in rendered and "name" in rendered:
            found = self.tool_response(step_id, str(rendered["name"]), str(rendered["action"]))
            if found is not None:
                return found
        argv = rendered.get("argv")
        if argv is not None:
            key = tuple(str(a) for a in argv)
            matches = [c for c in self.spec.commands if tuple(c.argv) == key]
            n = self.used.get(key, 0)
            if matches:
                c = matches[min(n, len(matches) - 1)]  # in order; the last one repeats
                self.used[key] = n + 1
                return StepOutput(
                    request={"argv": list(argv)},
                    stdout=c.stdout,
                    stderr=c.stderr,
                    exit_code=c.exit_code,
                )
            raise ScenarioError(
                f"{self.folder}: no command in scenario.yaml matches argv {list(argv)} (step '{step_id}')"
            )
        raise ScenarioError(
            f"{self.folder}: no recorded response for step '{step_id}' "
            f"(add steps/{flat}.json); replay never runs a step live"
        )

    def tool_response(self, step_id: str, tool: str, action: str) -> StepOutput | None:
        """The next canned response for a call of *tool*'s *action* (``tool:action``, else
        ``tool``); None when the scenario has none for the tool; ScenarioError when they
        are used up."""
        key = next((k for k in (f"{tool}:{action}", tool) if k in self.spec.tool_responses), None)
        if key is None:
            return None
        n = self.tool_calls.get(key, 0)
        responses = self.spec.tool_responses[key]
        if n >= len(responses):
            raise ScenarioError(
                f"{self.folder}: step '{step_id}' calls {tool}:{action} a {n + 1}. time; "
                f"scenario.yaml's tool_responses.{key} has {len(responses)} response(s)"
            )
        self.tool_calls[key] = n + 1
        r = responses[n]
        out = StepOutput(
            request={"tool": tool, "action": action},
            stdout=r.stdout,
            stderr=r.stderr,
            exit_code=r.exit_code,
        )
        if r.captures is not None:
            out.given_captures = {k: _text(v) for k, v in r.captures.items()}
        return out


def _text(value: Any) -> str:
    """A canned capture value as the text a capture holds."""
    from gert.capture import to_text

    return to_text(value)


def load_any_scenario(folder: Path, manifest: Any = None) -> Scenario:
    """A recorded scenario (scenario.yaml lists a chain) or a hand-written one; *manifest*
    is its scenario.yaml's Document when it was read already."""
    manifest_file = folder / "scenario.yaml"
    if manifest is None and manifest_file.is_file():
        manifest = scenario_document(manifest_file)
    data = manifest.data if manifest is not None else {}
    if isinstance(data, dict) and data.get("chain"):
        return load_scenario(folder)
    from gert.validate.formats import HandwrittenScenario

    spec = (
        parse_scenario_file(HandwrittenScenario, manifest_file, manifest)
        if manifest is not None
        else HandwrittenScenario()
    )
    inputs_file = folder / "inputs.yaml"
    if not inputs_file.is_file():
        raise ScenarioError(f"{inputs_file}: missing (a scenario needs the inputs it runs with)")
    doc = scenario_document(inputs_file)
    inputs = doc.data or {}
    if not isinstance(inputs, dict):
        raise ScenarioError(f"{inputs_file}: must be a mapping of input names to values")
    for name, value in inputs.items():
        if isinstance(value, dict | list):
            line, col = doc.position((name,))
            kind = "mapping" if isinstance(value, dict) else "list"
            raise ScenarioError(
                f"{inputs_file}:{line}:{col}: {name}: an input is text, not a {kind}"
            )
    return Scenario(
        folder,
        {k: doc.plain.get((k,), str(v)) for k, v in inputs.items()},  # 1.10 stays 1.10
        spec.incident,
        [],
        handwritten=HandwrittenRecording(folder, spec),
    )
