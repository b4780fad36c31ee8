"""Scenario tests: ``gert test``.

A scenario is a test when its folder has a ``test.yaml``. Two kinds:

* **recorded** incident scenarios (``scenarios/YYYY/MM/DD/...``, with ``scenario.yaml``
  listing the chain): replayed from the recorded step files;
* **hand-written** ones at ``scenarios/<runbook-name>/<scenario-name>/``: ``inputs.yaml``,
  optional ``steps/<NNN->step-id.json`` responses, and ``scenario.yaml`` with
  ``commands: [{argv, stdout, stderr, exit_code}]`` (matched by the rendered argv, in
  order) and ``evidence: {step_id: {name: value}}`` (answers for manual steps).

Each scenario is replayed through the real engine (evidence in a temporary folder), then
every assertion of its ``test.yaml`` is checked.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gert.errors import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from gert.scenario import (  # noqa: F401  (load_any_scenario: the name tests know)
    HandwrittenRecording,
    ScenarioError,
    load_any_scenario,
    parse_scenario_file,
    read_yaml,
    scenario_document,
)
from gert.validate.formats import (  # noqa: F401  (the formats' home; names kept here)
    CommandResponse,
    HandwrittenScenario,
    HopSpec,
    TestSpec,
)

# ------------------------------------------------------------------ formats


def is_runbook_file(path: Path) -> bool:
    """A runbook file, whatever its name: ``*.runbook.yaml``, or YAML with ``apiVersion:
    runbook/v0``."""
    from gert.load import api_version

    if path.name.endswith((".runbook.yaml", ".runbook.yml")):
        return True
    return path.suffix in (".yaml", ".yml") and api_version(path) == "runbook/v0"


# ------------------------------------------------------------------ discovery


@dataclass
class Case:
    """One scenario to test."""

    folder: Path
    runbook: Path | None
    test: TestSpec | None = None
    error: str | None = None
    manifest: Any = None  # scenario.yaml's Document, read once when prepared
    # False until its files are read (find_cases leaves that to whoever replays it, so
    # worker processes read their own share)
    prepared: bool = True

    @property
    def has_test(self) -> bool:
        """It has a test.yaml (read or not)."""
        return self.test is not None if self.prepared else (self.folder / "test.yaml").is_file()

    @property
    def name(self) -> str:
        return str(self.folder)


def _is_scenario(folder: Path) -> bool:
    return any((folder / n).is_file() for n in ("test.yaml", "scenario.yaml", "inputs.yaml"))


def find_scenarios(root: Path) -> list[Path]:
    """Scenario folders under *root* (not descending into a scenario's own runs/)."""
    if _is_scenario(root):
        return [root]
    found = []
    for child in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found.extend(find_scenarios(child))
    return found


class RunbookNames:
    """Runbooks of a project by meta.name (hand-written scenarios name their runbook so)."""

    def __init__(self, root: Path, skip: Path):
        self.root = root
        self.skip = skip.resolve()
        self._names: dict[str, Path] | None = None

    def _yaml_files(self) -> list[Path]:
        """YAML files of the project, not under the scenarios folder or a hidden one (the
        walk does not go into them: a project holds thousands of scenario files)."""
        import os

        found = []
        for folder, dirs, files in os.walk(self.root):
            here = Path(folder)
            dirs[:] = [
                d for d in dirs if not d.startswith(".") and (here / d).resolve() != self.skip
            ]
            found += [here / f for f in files if f.endswith((".yaml", ".yml")) and f[0] != "."]
        return found

    def paths(self) -> list[Path]:
        """Every runbook of the project (one per name)."""
        self.get("")
        return list((self._names or {}).values())

    def get(self, name: str) -> Path | None:
        """The runbook whose meta.name is *name* (None when the project has none)."""
        if self._names is None:
            from gert.load import LoadError, load_file

            self._names = {}
            for f in sorted(
                self._yaml_files(), key=lambda f: (not f.name.endswith(".runbook.yaml"), f)
            ):
                if not is_runbook_file(f):
                    continue
                try:
                    meta = (load_file(f).data or {}).get("meta") or {}
                except (LoadError, AttributeError):
                    continue
                if isinstance(meta, dict) and isinstance(meta.get("name"), str):
                    self._names.setdefault(meta["name"], f)
        return self._names.get(name)


def runbook_names(project: Any) -> RunbookNames:
    """The project's runbooks by name, looked up on first use."""
    return RunbookNames(project.root, project.resolve(project.config.scenarios_dir))


def discover(paths: list[Path], project: Any) -> list[Case]:
    """Cases for runbook files and folders (default: the project's scenarios folder), each
    with its files read (:func:`prepare`)."""
    names = runbook_names(project)
    return [prepare(case, project, names) for case in find_cases(paths, project)]


def find_cases(paths: list[Path], project: Any) -> list[Case]:
    """Cases for runbook files and folders (default: the project's scenarios folder), not
    yet read: a bad path raises ScenarioError, a bad scenario file is the case's error
    once it is prepared."""
    scenarios_dir = project.resolve(project.config.scenarios_dir)
    folders: list[tuple[Path, Path | None]] = []
    for p in paths or [scenarios_dir]:
        if p.is_file() and is_runbook_file(p):
            name = ((read_yaml(p) or {}).get("meta") or {}).get("name", "")
            own = scenarios_dir / str(name)
            folders += [(f, p) for f in (find_scenarios(own) if own.is_dir() else [])]
            for f in find_scenarios(scenarios_dir) if scenarios_dir.is_dir() else []:
                m = read_yaml(f / "scenario.yaml") if (f / "scenario.yaml").is_file() else {}
                if (
                    isinstance(m, dict)
                    and m.get("root_runbook")
                    and (project.root / m["root_runbook"]).resolve() == p.resolve()
                ):
                    folders.append((f, p))
        elif p.is_dir():
            folders += [(f, None) for f in find_scenarios(p)]
        elif p.is_file():
            raise ScenarioError(
                f"{p}: not a runbook (a runbook starts with apiVersion: runbook/v0)"
            )
        else:
            raise ScenarioError(f"{p}: no such file or folder")
    cases, seen = [], set()
    for folder, runbook in folders:
        st = folder.stat()  # the same folder by two paths is one scenario
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        cases.append(Case(folder, runbook, prepared=False))
    return cases


def prepare(case: Case, project: Any, names: RunbookNames) -> Case:
    """Read a case's scenario.yaml and test.yaml and find its runbook (once); what is
    wrong becomes the case's error."""
    if case.prepared:
        return case
    case.prepared = True
    folder = case.folder
    try:
        if (folder / "scenario.yaml").is_file():
            case.manifest = scenario_document(folder / "scenario.yaml")
        manifest = case.manifest.data if case.manifest is not None else {}
        manifest = manifest if isinstance(manifest, dict) else {}
        if case.runbook is None:
            if manifest.get("root_runbook"):
                case.runbook = project.root / str(manifest["root_runbook"])
            elif manifest.get("runbook"):
                case.runbook = project.root / str(manifest["runbook"])
            else:
                case.runbook = names.get(folder.parent.name)
                if case.runbook is None:
                    raise ScenarioError(
                        f"{folder}: no runbook named '{folder.parent.name}' in the project "
                        "(scenarios/<runbook-name>/<scenario>/, or runbook: in scenario.yaml)"
                    )
        if (folder / "test.yaml").is_file():
            case.test = parse_scenario_file(TestSpec, folder / "test.yaml")
    except ScenarioError as e:
        case.error = str(e)
    return case


# ------------------------------------------------------------------ running and checking


@dataclass
class CaseResult:
    """How one scenario fared."""

    case: Case
    status: str  # passed | failed | skipped | error
    failures: list[str] = field(default_factory=list)
    final_state: str = ""
    steps: int = 0
    seconds: float = 0.0
    observed: dict[str, Any] = field(default_factory=dict)  # for --update and coverage


def _unknown_step(field: str, step: str, known: set[str]) -> str:
    """A test.yaml naming a step no runbook has: a typo that would make its check vacuous."""
    import difflib

    close = difflib.get_close_matches(step, sorted(known), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"{field}: no step '{step}' in the project's runbooks{hint}"


def check(spec: TestSpec, chain: Any, known: set[str] | None = None) -> list[str]:
    """Every assertion of a test.yaml that the chain does not meet, as 'what: expected, got'.

    *known*: every step ID the chain could reach; a step a test.yaml names that is not
    among them is reported as such (``must_not_reach: [typo]`` would pass for ever).
    """
    failures = []
    state = chain.final_state
    got_error = state in ("failed", "error", "chain_error", "interrupted")
    if spec.expected_outcome is not None:
        want = spec.expected_outcome
        ok = got_error if want == "error" else state == want
        if not ok:
            failures.append(f"expected_outcome: expected {want}, got {state}")
    if spec.expected_code is not None:
        got_code = final_code(chain)
        if got_code != spec.expected_code:
            failures.append(f"expected_code: expected {spec.expected_code!r}, got {got_code!r}")
    if spec.expected_chain is not None:
        want_chain = [
            (h, None) if isinstance(h, str) else (h.runbook, h.outcome) for h in spec.expected_chain
        ]
        got_chain = [(r.runbook, r.state) for r in chain.runs]
        if [w[0] for w in want_chain] != [g[0] for g in got_chain]:
            failures.append(
                f"expected_chain: expected {[w[0] for w in want_chain]}, got {[g[0] for g in got_chain]}"
            )
        else:
            for (name, outcome), (_, got) in zip(want_chain, got_chain, strict=True):
                if outcome is not None and outcome != got:
                    failures.append(f"expected_chain: {name} expected outcome {outcome}, got {got}")
    captures: dict[str, str] = {}
    for r in chain.runs:
        captures.update(r.captures)
    for name, want in spec.expected_captures.items():
        if name not in captures:
            import difflib

            close = difflib.get_close_matches(name, sorted(captures), n=1)
            hint = f"; captured: '{close[0]}'" if close else ""
            failures.append(
                f"expected_captures.{name}: expected {want!r}, got nothing (never captured{hint})"
            )
        elif not capture_matches(want, captures[name]):
            failures.append(f"expected_captures.{name}: expected {want!r}, got {captures[name]!r}")
    status = {s.step_id: s.status for r in chain.runs for s in r.steps}
    named = [
        *(("must_reach", s) for s in spec.must_reach),
        *(("must_not_reach", s) for s in spec.must_not_reach),
        *(("expected_step_status", s) for s in spec.expected_step_status),
    ]
    unknown = set()
    for field_name, step in named:
        if known is not None and step not in status and step not in known:
            failures.append(_unknown_step(field_name, step, known | set(status)))
            unknown.add(step)
    for step in spec.must_reach:
        if step not in unknown and status.get(step) not in ("passed", "failed"):
            failures.append(f"must_reach: step '{step}' was not reached")
    for step in spec.must_not_reach:
        if status.get(step) in ("passed", "failed"):
            failures.append(f"must_not_reach: step '{step}' was reached ({status[step]})")
    for step, want in spec.expected_step_status.items():
        if step not in unknown and status.get(step) != want:
            failures.append(
                f"expected_step_status.{step}: expected {want}, got {status.get(step, 'not reached')}"
            )
    return failures


def final_code(chain: Any) -> str:
    """The ``code`` of the outcome the chain ended with ('' when it has none)."""
    last = chain.runs[-1] if chain.runs else None
    return str(((last.outcome if last is not None else None) or {}).get("code") or "")


_COMPARE = re.compile(r"^(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?)$")


def capture_matches(want: str, got: str) -> bool:
    """Exact text, a numeric comparison (``>0``, ``<=5``) or a ``/regex/``."""
    if len(want) > 1 and want.startswith("/") and want.endswith("/"):
        return re.search(want[1:-1], got) is not None
    m = _COMPARE.match(want.strip())
    if m:
        try:
            value = float(got.strip())
        except ValueError:
            return False
        bound = float(m.group(2))
        return {
            ">": value > bound,
            "<": value < bound,
            ">=": value >= bound,
            "<=": value <= bound,
            "==": value == bound,
            "!=": value != bound,
        }[m.group(1)]
    return got == want


def observed(chain: Any) -> dict[str, Any]:
    """What a replay showed, as a test.yaml would state it (for --update); ``runs`` is kept
    apart for coverage and never written."""
    captures: dict[str, str] = {}
    for r in chain.runs:
        captures.update(r.captures)
    return {
        "runs": chain.runs,
        "expected_outcome": chain.final_state
        if chain.final_state not in ("failed", "error", "chain_error")
        else "error",
        **({"expected_code": final_code(chain)} if final_code(chain) else {}),
        "expected_chain": [{"runbook": r.runbook, "outcome": r.state} for r in chain.runs],
        "expected_captures": captures,
        "expected_step_status": {s.step_id: s.status for r in chain.runs for s in r.steps},
    }


class _LazySteps(set):  # type: ignore[type-arg]
    """Step IDs of the chain's runbooks; asked for one it lacks, the project's too."""

    def __init__(self, ids: set[str], more: Any):
        super().__init__(ids)
        self._more = more

    def __contains__(self, step: object) -> bool:
        return super().__contains__(step) or step in self._more()

    def __or__(self, other: Any) -> set[str]:
        return set(self) | self._more() | set(other)


class Runner:
    """Replays cases through one engine whose evidence goes to a temporary folder."""

    def __init__(self, project: Any):
        from gert.engine import Engine
        from gert.store import EphemeralStore

        self.tmp = tempfile.TemporaryDirectory(prefix="gert-test-")
        self.engine = Engine(project, store=EphemeralStore(Path(self.tmp.name)))
        self.names = runbook_names(project)
        self._steps: dict[str, set[str]] = {}  # runbook path -> its step IDs
        self._all_steps: set[str] | None = None

    def close(self) -> None:
        """Remove the scratch folder."""
        self.tmp.cleanup()

    def known_steps(self, chain: Any) -> set[str]:
        """Step IDs a test.yaml may name: those of the runbooks the chain ran, else of
        every runbook in the project (read once, only when a name is not found nearer)."""
        ids: set[str] = set()
        for run in chain.runs:
            ids |= self._steps_of(run.path)
        return _LazySteps(ids, self._project_steps)

    def _steps_of(self, path: Path) -> set[str]:
        from gert.validate import walk_steps

        key = str(path)
        if key not in self._steps:
            try:
                self._steps[key] = {i.step.id for i in walk_steps(self.engine.load(path).model)}
            except Exception:  # an invalid runbook is reported where it is run
                self._steps[key] = set()
        return self._steps[key]

    def _project_steps(self) -> set[str]:
        if self._all_steps is None:
            self._all_steps = set()
            for path in self.names.paths():
                self._all_steps |= self._steps_of(path)
        return self._all_steps

    def run(self, case: Case) -> CaseResult:
        """Replay one case and check its test.yaml."""
        from gert.engine import InputsMissing, Options
        from gert.incident import IncidentError
        from gert.validate import RunbookInvalid

        start = time.perf_counter()
        prepare(case, self.engine.project, self.names)
        if case.error:
            # one failure per problem (a problem's hint stays with it)
            return CaseResult(case, "error", re.split(r"\n(?=\S)", case.error))
        if case.test is None:
            return CaseResult(case, "skipped", ["no test.yaml"])
        try:
            scenario = load_any_scenario(case.folder, case.manifest)
            case.manifest = None  # read; not kept for the rest of the run
            options = Options(
                mode="replay",
                scenario=scenario,
                ephemeral=True,
                actor="gert-test",
                incident_id=str((scenario.incident or {}).get("id") or "") or None,
            )
            chain = self.engine.run(case.runbook, options)
        except RunbookInvalid as e:
            errors = [p.format() for p in e.problems if p.severity == "error"]
            return CaseResult(case, "invalid", errors or ["invalid runbook"])
        except InputsMissing as e:
            message = _missing_in_scenario(e, case.folder / "inputs.yaml", scenario.inputs)
            return CaseResult(case, "error", [message], seconds=time.perf_counter() - start)
        except (ScenarioError, IncidentError, OSError) as e:
            return CaseResult(case, "error", [str(e)], seconds=time.perf_counter() - start)
        failures = check(case.test, chain, self.known_steps(chain))
        if failures:  # why a step failed is often why the test did
            failures += [
                f"step '{s.step_id}' failed: {s.error}"
                for r in chain.runs
                for s in r.steps
                if s.status == "failed" and s.error
            ]
        return CaseResult(
            case,
            "failed" if failures else "passed",
            failures,
            chain.final_state,
            sum(r.summary["total"] for r in chain.runs),
            time.perf_counter() - start,
            observed(chain),
        )


def _missing_in_scenario(error: Any, inputs_file: Path, given: dict[str, str]) -> str:
    """An InputsMissing of a replay, told in a scenario's terms: its inputs come from its
    inputs.yaml (there is no --var), and a key there that names no input is likely the
    misspelling."""
    import difflib

    head = str(error).split("\n", 1)[0]
    lines = [head]
    for name in error.missing:
        close = difflib.get_close_matches(name, [k for k in given if k not in error.missing], n=1)
        found = f" (it has '{close[0]}': misspelled?)" if close else ""
        lines.append(f"  - {name}: not in {inputs_file.name}{found}")
    lines.append(f"    hint: add each to {inputs_file} as NAME: VALUE")
    return "\n".join(lines)


def write_test_yaml(case: Case, result: CaseResult) -> Path:
    """Write (or refresh) a case's test.yaml from what its replay showed."""
    from gert.load import dump_yaml
    from gert.util import write_atomic

    path = case.folder / "test.yaml"
    data = {k: v for k, v in result.observed.items() if k != "runs"}
    if case.test is not None and case.test.description:
        data = {"description": case.test.description, **data}
    write_atomic(path, dump_yaml(data))
    return path


def json_result(result: CaseResult) -> dict[str, Any]:
    """A case result as plain data (for --json)."""
    return {
        "scenario": result.case.name,
        "runbook": str(result.case.runbook or ""),
        "status": result.status,
        "failures": result.failures,
        "final_state": result.final_state,
        "steps": result.steps,
        "seconds": round(result.seconds, 4),
    }


__all__ = [
    "Case",
    "CaseResult",
    "CoverageReport",
    "Runner",
    "Tally",
    "TestSpec",
    "check",
    "coverage",
    "discover",
    "find_cases",
    "prepare",
    "run_tests",
    "write_test_yaml",
]


# Below this many scenarios, starting worker processes costs more than it saves.
PARALLEL_FROM = 200
_worker: Runner | None = None


def _init_worker(root: str) -> None:
    global _worker
    from gert.project import open_project

    _worker = Runner(open_project(root))


def _run_in_worker(case: Case) -> CaseResult:
    assert _worker is not None
    result = _worker.run(case)
    result.observed.pop("runs", None)  # the chain's objects stay here: results travel light
    return result


def run_cases(project: Any, cases: list[Case], jobs: int | None = None) -> Iterator[CaseResult]:
    """Results in the cases' order; in worker processes when there are enough cases."""
    import os

    workers = jobs if jobs is not None else min(os.cpu_count() or 1, 4)
    if workers > 1 and len(cases) >= PARALLEL_FROM:
        from concurrent.futures import ProcessPoolExecutor

        # The first case here: the models' validators are built once, before the workers
        # start, and they inherit them.
        runner = Runner(project)
        try:
            yield runner.run(cases[0])
        finally:
            runner.close()
        rest = cases[1:]
        with ProcessPoolExecutor(
            workers, initializer=_init_worker, initargs=(str(project.root),)
        ) as pool:
            yield from pool.map(_run_in_worker, rest, chunksize=max(1, len(rest) // (workers * 8)))
        return
    runner = Runner(project)
    try:
        for case in cases:
            yield runner.run(case)
    finally:
        runner.close()


def run_tests(
    project: Any, cases: list[Case], jobs: int | None = None, update: bool = False
) -> Iterator[CaseResult]:
    """``gert test``: each case's result in order. With *update*, a scenario without
    test.yaml is replayed once to learn its expectations, and every scenario replayed
    gets its test.yaml written (its result then passes, saying ``wrote PATH``)."""
    untested = {c.folder for c in cases if not c.has_test}
    if update:
        names = runbook_names(project)
        cases = [prepare(c, project, names) for c in cases]
        cases = [
            dataclasses.replace(c, test=TestSpec()) if c.test is None and c.error is None else c
            for c in cases
        ]
    for result in run_cases(project, cases, jobs=jobs):
        result.observed.pop("runs", None)  # kept by the caller for the whole run: not needed
        if update and result.case.folder in untested and _interrupted(result.case.folder):
            result.status = "skipped"  # half a chain is no test: resume it first
            result.failures = [
                "the chain was interrupted: resume it (gert resume RUN_ID), then --update"
            ]
            yield result
            continue
        if update and result.status in ("passed", "failed"):
            path = write_test_yaml(result.case, result)
            result.status, result.failures = "passed", [f"wrote {_from_here(path)}"]
        yield result


def _from_here(path: Path) -> str:
    """*path* relative to the current folder (as the CLI prints paths)."""
    import os

    return os.path.relpath(path)


def _interrupted(folder: Path) -> bool:
    """The scenario saved a chain that was interrupted (half of it)."""
    from gert.load import LoadError, load_file

    try:
        data = load_file(folder / "scenario.yaml").data
    except LoadError:
        return False
    return isinstance(data, dict) and data.get("status") == "interrupted"


@dataclass
class Tally:
    """The results of a ``gert test`` run, counted (error and invalid count as failed)."""

    results: list[CaseResult] = field(default_factory=list)

    def count(self, *statuses: str) -> int:
        """How many results have one of *statuses*."""
        return sum(1 for r in self.results if r.status in statuses)

    @property
    def passed(self) -> int:
        return self.count("passed")

    @property
    def failed(self) -> int:
        return self.count("failed", "error", "invalid")

    @property
    def skipped(self) -> int:
        return self.count("skipped")

    @property
    def exit_code(self) -> int:
        """2 when a runbook is invalid, 1 when a scenario failed, else 0."""
        if self.count("invalid"):
            return EXIT_INVALID
        return EXIT_FAILED if self.failed else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        """The results as plain data (``gert test --json``)."""
        return {
            "passed": self.passed,
            "failed": self.failed,
            "skipped": self.skipped,
            "scenarios": [json_result(r) for r in self.results],
        }


# ------------------------------------------------------------------ coverage


COVERAGE_KINDS = ("steps", "branches", "outcomes")


@dataclass
class RunbookCoverage:
    """What the scenarios exercised of one runbook."""

    name: str
    path: Path
    steps: dict[str, bool] = field(default_factory=dict)
    branches: dict[str, bool] = field(default_factory=dict)  # conditions and outcome `when`s
    outcomes: dict[str, bool] = field(default_factory=dict)

    @staticmethod
    def ratio(items: dict[str, bool]) -> tuple[int, int]:
        return sum(items.values()), len(items)

    def uncovered(self) -> list[str]:
        """What no scenario reached, named."""
        return (
            [f"step {k}" for k, v in self.steps.items() if not v]
            + [f"branch {k}" for k, v in self.branches.items() if not v]
            + [f"outcome {k}" for k, v in self.outcomes.items() if not v]
        )

    def to_dict(self) -> dict[str, Any]:
        """Covered and total of each kind, and what was not covered (``gert coverage --json``)."""
        out: dict[str, Any] = {"runbook": self.name, "path": str(self.path)}
        for kind in COVERAGE_KINDS:
            hit, total = self.ratio(getattr(self, kind))
            out[kind] = {"covered": hit, "total": total}
        out["uncovered"] = self.uncovered()
        return out


@dataclass
class CoverageReport:
    """Coverage of every runbook the scenarios reached, and the scenarios that could not run."""

    runbooks: list[RunbookCoverage]
    problems: list[CaseResult]
    scenarios: int  # how many were replayed

    def percent(self) -> dict[str, float]:
        """Per kind (steps, branches, outcomes), the share covered over all runbooks (100 when
        there is nothing to cover)."""
        out = {}
        for kind in COVERAGE_KINDS:
            hit = total = 0
            for cov in self.runbooks:
                h, t = RunbookCoverage.ratio(getattr(cov, kind))
                hit, total = hit + h, total + t
            out[kind] = 100.0 * hit / total if total else 100.0
        return out

    @property
    def exit_code(self) -> int:
        """2 when no scenario could be replayed at all, else 0 (a threshold is the caller's)."""
        return EXIT_INVALID if self.problems and not self.runbooks else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (``gert coverage --json``)."""
        return {
            "runbooks": [cov.to_dict() for cov in self.runbooks],
            "total": {k: round(v, 1) for k, v in self.percent().items()},
            "errors": [{"scenario": p.case.name, "error": p.failures} for p in self.problems],
        }


def coverage_items(rb: Any, path: Path) -> RunbookCoverage:
    """Every step, branch condition, outcome `when` and outcome of a runbook, uncovered."""
    from gert.validate import walk_steps

    cov = RunbookCoverage(rb.meta.name, path)
    for info in walk_steps(rb):
        step = info.step
        cov.steps[step.id] = False
        for j, (branch, _) in enumerate(info.branches):
            cov.branches[
                f"{step.id}[{j}] {branch.label or ''} ({branch.condition})".replace("  ", " ")
            ] = False
        for k, o in enumerate(step.outcomes):
            cov.outcomes[f"{step.id}[{k}] {o.state}"] = False
            if o.when:
                cov.branches[f"{step.id}.outcomes[{k}] when ({o.when})"] = False
    return cov


def add_run(cov: RunbookCoverage, rb: Any, run: Any) -> None:
    """Mark what one run of the runbook reached."""
    from gert.validate import walk_steps

    reached = {s.step_id for s in run.steps}  # passed, failed or skipped: the walk got there
    for info in walk_steps(rb):
        step = info.step
        if step.id in reached:
            cov.steps[step.id] = True
            for owner, j in info.enclosing:  # a step inside a branch means the branch was taken
                for key in cov.branches:
                    if key.startswith(f"{owner}[{j}] "):
                        cov.branches[key] = True
    if run.outcome_index is not None:
        step_id, k = run.outcome_index
        for key in cov.outcomes:
            if key.startswith(f"{step_id}[{k}] "):
                cov.outcomes[key] = True
        for key in cov.branches:
            if key.startswith(f"{step_id}.outcomes[{k}] when"):
                cov.branches[key] = True


def measure_coverage(
    project: Any, cases: list[Case]
) -> tuple[list[RunbookCoverage], list[CaseResult]]:
    """Replay every scenario (test.yaml or not) and collect coverage per runbook."""
    runner = Runner(project)
    by_path: dict[Path, RunbookCoverage] = {}
    problems: list[CaseResult] = []
    try:
        for case in cases:
            prepare(case, project, runner.names)
            if case.runbook is not None:
                try:
                    rb = runner.engine.load(case.runbook).model
                    by_path.setdefault(case.runbook.resolve(), coverage_items(rb, case.runbook))
                except Exception:  # reported below as the case's error
                    pass
            result = runner.run(dataclasses.replace(case, test=TestSpec()))
            if result.status in ("error", "invalid"):
                problems.append(result)
                continue
            for run in result.observed.get("runs", []):
                rb = runner.engine.load(run.path).model
                cov = by_path.setdefault(run.path.resolve(), coverage_items(rb, run.path))
                add_run(cov, rb, run)
    finally:
        runner.close()
    return sorted(by_path.values(), key=lambda c: str(c.path)), problems


def coverage(project: Any, cases: list[Case]) -> CoverageReport:
    """``gert coverage``: replay every case and report what the runbooks' scenarios reached."""
    runbooks, problems = measure_coverage(project, cases)
    return CoverageReport(runbooks, problems, len(cases))
