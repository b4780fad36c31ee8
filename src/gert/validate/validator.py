"""The validator: structure, schema and domain-rule phases over runbooks, tool files and
gert.yaml, with a cache of tool definitions."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ValidationError

from gert.load import FORMATS, SUFFIXES, Document, LoadError, api_version, load_file
from gert.model import (
    Runbook,
    ToolDefinition,
)
from gert.problems import Problem, Report, RunbookInvalid
from gert.project import Project, find_root, open_project
from gert.validate.formats import (
    HandwrittenScenario,
    SavedScenario,
    TestSpec,
    check_signatures,
    saved_scenario_problems,
)
from gert.validate.rules import (
    RunbookRules,
    ToolRules,
)
from gert.validate.schema import problems_from_pydantic, validate_model, yaml_type


@dataclass
class Checked:
    """One validated file: its document, its model (when the schema passed), its problems."""

    path: Path
    kind: str | None
    doc: Document | None = None
    model: Runbook | ToolDefinition | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the file has no errors."""
        return not any(p.severity == "error" for p in self.problems)


class Validator:
    """Validates files of one project, caching tool definitions and import graphs."""

    def __init__(self, project: Project | None = None):
        self.project = project
        self._tools: dict[Path, Checked] = {}
        self._projects: dict[Path, Project] = {}
        self._roots: dict[str, Path] = {}  # folder -> its project root
        self._real_folders: dict[str, Path] = {}  # folder -> itself, symlinks followed

    def real_folder(self, path: Path) -> Path:
        """The folder a file really lies in, symlinks followed (each folder resolved once:
        validating a thousand runbooks of one folder asks a thousand times)."""
        if path.is_symlink():
            return path.resolve().parent
        folder = str(path.parent)
        real = self._real_folders.get(folder)
        if real is None:
            real = self._real_folders[folder] = path.parent.resolve()
        return real

    def project_for(self, path: Path) -> Project:
        """The project a file belongs to (the one given, else found from the file; when its
        gert.yaml has errors, runbooks are checked against the defaults)."""
        if self.project is not None:
            return self.project
        folder = str(Path(path).parent)  # files of one folder share a root: found once
        root = self._roots.get(folder)
        if root is None:
            root = self._roots[folder] = find_root(path)
        if root not in self._projects:
            self._projects[root] = open_project(root, strict=False)
        return self._projects[root]

    # phase 1 + 2
    def check(self, path: str | Path, expect: str | None = None) -> Checked:
        """Validate one file through every phase that applies."""
        p = Path(path)
        result = Checked(path=p, kind=None)
        if p.name == "gert.yaml" and expect is None:
            return self.check_config(p)
        try:
            doc = load_file(p)
        except LoadError as e:
            result.problems.append(
                Problem(e.file, e.line, e.col, e.message, hint=e.hint, rule="structure")
            )
            return result
        result.doc = doc
        file = doc.file
        by_name = _SCENARIO_FILES.get(p.name) if expect is None else None
        if doc.data is None and by_name:
            doc.data = {}  # an empty test.yaml expects nothing
        if doc.data is None:
            result.problems.append(Problem(file, 1, 1, "the file is empty", rule="structure"))
            return result
        if not isinstance(doc.data, dict):
            result.problems.append(
                Problem(
                    file,
                    1,
                    1,
                    f"expected a mapping at the top, got {yaml_type(doc.data)}",
                    rule="structure",
                )
            )
            return result
        api = doc.data.get("apiVersion")
        kind = doc.kind or (by_name if api is None else None)
        if kind is None or (expect and kind != expect):
            if api is None:
                msg, hint = (
                    "missing apiVersion",
                    "start the file with `apiVersion: runbook/v0` or `apiVersion: tool/v0`",
                )
            elif api == "kernel/v0":  # gert's Go implementation's runbooks
                msg = "apiVersion 'kernel/v0' is the format of gert's Go implementation"
                hint = "convert it with gert migrate FILE --out DIR (docs/migrate.md)"
            else:
                msg, hint = f"unknown apiVersion {api!r}", f"gert reads {_KNOWN}"
            if expect and kind and kind != expect:
                msg, hint = f"expected a {expect} file, got {kind}", None
            line, col = doc.position(("apiVersion",)) if api is not None else (1, 1)
            result.problems.append(
                Problem(file, line, col, msg, field="apiVersion", hint=hint, rule="structure")
            )
            return result
        result.kind = kind
        if kind in _OTHER_FORMATS:
            result.problems.extend(_OTHER_FORMATS[kind](doc))
            return result
        model_cls = Runbook if kind == "runbook" else ToolDefinition
        if api is None:
            result.problems.append(
                Problem(
                    file,
                    1,
                    1,
                    "missing apiVersion",
                    field="apiVersion",
                    hint=f"add `apiVersion: {kind}/v0` (inferred from the file name)",
                    rule="structure",
                )
            )
            return result
        try:
            result.model = validate_model(model_cls, doc)
        except ValidationError as e:
            result.problems.extend(problems_from_pydantic(e, doc, model_cls))
            return result
        # phase 3
        if kind == "runbook":
            RunbookRules(self, result).run()
        else:
            ToolRules(result).run()
        return result

    def check_config(self, path: Path) -> Checked:
        """Validate a project's gert.yaml as every command reads it (gert.config.load_config):
        schema, then its governance, sandbox and redaction rules."""
        from gert.config import load_config

        result = Checked(path=path, kind="config")
        result.problems.extend(load_config(path)[1])
        return result

    def tool_file(self, path: Path) -> Checked:
        """A validated tool file, checked once per validator."""
        key = path.resolve()
        if key not in self._tools:
            self._tools[key] = self.check(path, expect="tool")
        return self._tools[key]


def _signatures(doc: Document) -> list[Problem]:
    return check_signatures(doc)[1]


def _saved_scenario(doc: Document) -> list[Problem]:
    try:
        scenario = validate_model(SavedScenario, doc)
    except ValidationError as e:
        return problems_from_pydantic(e, doc, SavedScenario)
    return saved_scenario_problems(scenario, doc)


def _model_only(model: type[BaseModel]) -> Callable[[Document], list[Problem]]:
    def check(doc: Document) -> list[Problem]:
        try:
            validate_model(model, doc)
        except ValidationError as e:
            return problems_from_pydantic(e, doc, model)
        return []

    return check


# Formats checked by their schema and checks alone (gert.validate.formats).
_OTHER_FORMATS: dict[str, Callable[[Document], list[Problem]]] = {
    "signatures": _signatures,
    "scenario": _saved_scenario,
    "test": _model_only(TestSpec),
    "handwritten scenario": _model_only(HandwrittenScenario),
}
# Files of a scenario folder, known by their names (they carry no apiVersion).
_SCENARIO_FILES = {"test.yaml": "test", "scenario.yaml": "handwritten scenario"}
_KNOWN = ", ".join(list(FORMATS)[:-1]) + f" and {list(FORMATS)[-1]}"
_GERT_KINDS = tuple(f"{api.split('/')[0]}/" for api in FORMATS)


def is_gert_file(path: Path) -> bool:
    """A file ``gert validate`` checks when it finds it in a folder: gert.yaml; a file whose
    apiVersion is one of gert's (runbook/, tool/, signatures/, scenario/), whatever its
    name; one named like them (``*.runbook.yaml``, ...); a scenario's test.yaml and
    scenario.yaml."""
    name = path.name
    if name == "gert.yaml" or name.endswith(tuple(SUFFIXES)):
        return True
    if path.suffix not in (".yaml", ".yml"):
        return False
    api = api_version(path)
    if api is not None:
        return api.startswith(_GERT_KINDS)
    return name in _SCENARIO_FILES and (path.parent / "inputs.yaml").is_file()


def expand_paths(paths: list[str | Path]) -> list[Path]:
    """Files named, plus every gert file (:func:`is_gert_file`) under folders named, hidden
    folders and run evidence left out."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(
                f
                for pattern in ("*.yaml", "*.yml")
                for f in p.rglob(pattern)
                if not any(part.startswith(".") for part in f.relative_to(p).parts)
                and is_gert_file(f)
            )
            out.extend(found)
        else:
            out.append(p)
    return out


# From this many files on, validation is shared out to worker processes (fewer cost more
# to start than they save).
PARALLEL_FROM = 200


def validate_paths(
    paths: list[str | Path], project: Project | None = None, jobs: int | None = None
) -> Report:
    """Validate files and folders; returns every problem found, in the files' order.

    The gert.yaml of each project a file belongs to is checked too (every command refuses
    to run on one with errors): its problems are reported once, with the file. From
    PARALLEL_FROM files on, *jobs* worker processes (default: the cores, at most 4) share
    the files out.
    """
    report = Report()
    files = expand_paths(paths)
    configs = {f.resolve() for f in files if f.name == "gert.yaml"}
    for path, problems, config in _check_all(files, project, jobs):
        report.files.append(str(path))
        report.problems.extend(problems)
        if config is not None and config[0].resolve() not in configs:
            configs.add(config[0].resolve())
            if config[1]:
                report.files.append(str(config[0]))
                report.problems.extend(config[1])
    return report


_Found = tuple[Path, list[Problem], tuple[Path, list[Problem]] | None]
_worker: Validator | None = None


def _check_one(validator: Validator, path: Path) -> _Found:
    """One file's problems, and its project's gert.yaml with that file's problems."""
    checked = validator.check(path)
    config = None
    if validator.project is None and path.name != "gert.yaml":
        owner = validator.project_for(path)
        if owner.config_file is not None:
            config = (owner.config_file, owner.problems)
    return path, checked.problems, config


def _start_worker(project: Project | None) -> None:
    global _worker
    _worker = Validator(project)


def _check_in_worker(path: Path) -> _Found:
    assert _worker is not None
    return _check_one(_worker, path)


def _check_all(files: list[Path], project: Project | None, jobs: int | None) -> Iterator[_Found]:
    """Each file checked, in order: here, or in worker processes when there are many."""
    validator = Validator(project)
    workers = jobs if jobs is not None else min(os.cpu_count() or 1, 4)
    if workers <= 1 or len(files) < PARALLEL_FROM:
        for path in files:
            yield _check_one(validator, path)
        return
    from concurrent.futures import ProcessPoolExecutor

    # The first file here: the models' validators are built once, before the workers
    # start, and they inherit them.
    yield _check_one(validator, files[0])
    rest = files[1:]
    with ProcessPoolExecutor(workers, initializer=_start_worker, initargs=(project,)) as pool:
        yield from pool.map(_check_in_worker, rest, chunksize=max(1, len(rest) // (workers * 8)))


def load_runbook(path: str | Path, project: Project | None = None) -> Checked:
    """Load and validate a runbook; raises :class:`RunbookInvalid` when it has errors."""
    checked = Validator(project).check(path, expect="runbook")
    if not checked.ok:
        raise RunbookInvalid(checked.problems)
    return checked
