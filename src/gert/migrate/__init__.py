"""``gert migrate``: runbooks, tool definitions and scenario tests of gert's Go
implementation (the ``kernel/v0`` format) converted into gert's formats.

Deterministic: the same sources give byte-identical files. Nothing is executed; the
sources are read as data, bounded in size and depth. Every construct met is reported —
converted how, converted with a behaviour difference, dropped (it changed nothing), or
refused with its line and why — and a runbook with a refused construct is not written.
The converted files are validated by gert before they count, and ``check`` replays the
converted scenario tests (``gert test``) without writing anything.

Layout of the output folder (a gert project of its own)::

    gert.yaml                         (only when the folder has none)
    runbooks/<file>.runbook.yaml      one per kernel runbook, named after its file
    tools/<name>.tool.yaml            one per kernel tool a runbook uses (or named)
    scenarios/<runbook>/<scenario>/   inputs.yaml, scenario.yaml, test.yaml
    migration-report.txt              the report
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gert.errors import InvalidError
from gert.load import dump_yaml
from gert.migrate.report import Entry, Report
from gert.migrate.runbook import Converted, RunbookConverter
from gert.migrate.scenarios import convert_scenario, convert_test
from gert.migrate.source import Source, read_source
from gert.migrate.tools import Tool, convert_tool, is_kernel_tool

__all__ = ["CheckResult", "Entry", "Migration", "Report", "check", "migrate", "write"]

KERNEL_API = "kernel/v0"
REPORT_NAME = "migration-report.txt"
CONFIG_TEXT = (
    "# A gert project holding runbooks migrated from gert's Go implementation (kernel/v0)\n"
    "# by gert migrate; migration-report.txt lists what was converted and how.\n"
    "scenarios_dir: scenarios\n"
)
MAX_FILES = 10_000  # files looked at in the folders named


class MigrateError(InvalidError):
    """Nothing to migrate (no kernel/v0 file in the paths named)."""


@dataclass
class Migration:
    """The converted files (path relative to the output folder -> text) and the report."""

    files: dict[str, str] = field(default_factory=dict)
    report: Report = field(default_factory=Report)
    runbooks: int = 0
    tools: int = 0
    owned: dict[str, list[str]] = field(default_factory=dict)  # runbook -> its files
    scenarios: int = 0
    removed: list[str] = field(default_factory=list)  # earlier output no longer converted
    kept_stale: list[str] = field(default_factory=list)  # the same, but edited since

    @property
    def refused(self) -> bool:
        """Something could not be converted."""
        return self.report.count("refused") > 0


@dataclass
class CheckResult:
    """The converted scenario tests, replayed: one (scenario, status, failures) each."""

    results: list[tuple[str, str, list[str]]] = field(default_factory=list)

    @property
    def differ(self) -> bool:
        """A converted test did not pass."""
        return any(status not in ("passed", "skipped") for _, status, _ in self.results)


def _base(paths: list[Path]) -> Path:
    """The folder the report names files relative to: the common parent of the PATHs
    named (a folder itself, a file's folder), so that the report does not depend on the
    current folder."""
    folders = [p.resolve() if p.is_dir() else p.resolve().parent for p in paths]
    try:
        return Path(os.path.commonpath([str(f) for f in folders])) if folders else Path.cwd()
    except ValueError:  # no common parent (another drive)
        return folders[0]


def _shown(path: Path, base: Path) -> str:
    """*path* as the report names it: relative to *base* (with .. where outside it)."""
    try:
        return Path(os.path.relpath(path.resolve(), base)).as_posix()
    except (ValueError, OSError):
        return path.as_posix()


def _api(path: Path) -> tuple[str | None, Any]:
    """(apiVersion, is-a-kernel-tool) of a YAML file, cheaply; (None, False) when unreadable."""
    from gert.load import api_version

    try:
        api = api_version(path)
    except (OSError, UnicodeDecodeError, ValueError):
        return None, False
    return api, None


def _candidates(paths: list[Path]) -> list[Path]:
    """YAML files named, and found in folders named (hidden folders skipped), sorted."""
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            for folder, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found += [
                    Path(folder) / f
                    for f in sorted(files)
                    if f.endswith((".yaml", ".yml")) and not f.startswith(".")
                ]
                if len(found) > MAX_FILES:
                    raise MigrateError(f"{p}: more than {MAX_FILES} YAML files; name fewer folders")
        elif p.is_file():
            found.append(p)
        else:
            raise MigrateError(f"{p}: no such file or folder")
    seen, out = set(), []
    for f in found:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


class _Migrator:
    def __init__(self) -> None:
        self.report = Report()
        self.tools: dict[Path, Tool | None] = {}
        self.tool_names: dict[str, Path] = {}
        self.migration = Migration(report=self.report)
        self.base = Path.cwd()

    def shown(self, path: Path) -> str:
        return _shown(path, self.base)

    def tool_at(self, path: Path) -> Tool | None:
        key = path.resolve()
        if key in self.tools:
            return self.tools[key]
        self.tools[key] = None
        src = read_source(path, self.shown(path), self.report)
        if src is None:
            return None
        if not is_kernel_tool(src.data):
            src.refuse(
                ("apiVersion",), "tool file", "not a tool/v0 file of gert's Go implementation"
            )
            return None
        tool = convert_tool(src)
        if tool is not None and tool.name in self.tool_names and self.tool_names[tool.name] != key:
            src.refuse(
                ("meta", "name"),
                "tool file",
                f"another tool file is named '{tool.name}' too: {self.shown(self.tool_names[tool.name])}",
            )
            tool = None
        if tool is not None:
            self.tool_names[tool.name] = key
        self.tools[key] = tool if tool is not None and tool.ok else None
        return self.tools[key]

    def finder(self, rb_src: Source) -> Any:
        def find(name: str, where: tuple[Any, ...]) -> Tool | None:
            base = rb_src.path.parent
            if "/" in name or "\\" in name:
                looked = [base / name.replace("\\", "/"), Path(name.replace("\\", "/"))]
            else:
                looked = [base / "tools" / f"{name}.tool.yaml", Path("tools") / f"{name}.tool.yaml"]
            for path in looked:
                if path.is_file():
                    tool = self.tool_at(path)
                    if tool is None:
                        rb_src.refuse(
                            where,
                            f"tool '{name}'",
                            f"its file {self.shown(path)} could not be converted",
                        )
                    return tool
            rb_src.refuse(
                where,
                f"tool '{name}'",
                "no tool file at " + " or ".join(dict.fromkeys(self.shown(p) for p in looked)),
            )
            return None

        return find

    def run(self, paths: list[Path], out_ref: Path) -> Migration:
        self.base = _base(paths)
        runbooks: list[Source] = []
        named_tools: list[Path] = []
        for f in _candidates(paths):
            api, _ = _api(f)
            explicit = f in paths
            if api == KERNEL_API:
                src = read_source(f, self.shown(f), self.report)
                if src is not None:
                    runbooks.append(src)
            elif api == "tool/v0":
                named_tools.append(f)
            elif explicit:
                if read_source(f, self.shown(f), self.report) is None:
                    continue  # not YAML: the report says where
                self.report.add(
                    self.shown(f),
                    (1, 1),
                    "refused",
                    "file",
                    f"apiVersion {api!r}: not a kernel/v0 runbook or tool file",
                )
        converted: list[Converted] = []
        bases: dict[str, str] = {}
        for src in runbooks:
            base = src.path.stem
            if base in bases:
                src.refuse(
                    (),
                    "runbook",
                    f"another runbook file is named {base}.yaml too ({bases[base]}); they would be written to the same file",
                )
                continue
            bases[base] = src.shown
            ref = os.path.relpath(src.path.resolve(), (out_ref / "runbooks").resolve())
            conv = RunbookConverter(src, base, self.finder(src), ref.replace(os.sep, "/")).convert()
            converted.append(conv)
        for f in named_tools:
            src_probe = read_source(f, self.shown(f), Report())
            if src_probe is not None and is_kernel_tool(src_probe.data):
                self.tool_at(f)
        m = self.migration
        for tool in sorted((t for t in self.tools.values() if t is not None), key=lambda t: t.name):
            for a in tool.actions.values():
                if a.approval and a.allowed_by:
                    tool.source.note(
                        ("actions", a.name),
                        "differs",
                        f"action '{a.name}' governance",
                        f"requires approval for every call (asked by {', '.join(sorted(set(a.approved_by)))}); "
                        f"{', '.join(sorted(set(a.allowed_by)))} needed none",
                    )
            m.files[tool.out_path] = _header(tool.source) + dump_yaml(tool.document())
            m.tools += 1
        for rb in converted:
            self.runbook_files(rb)
        return m

    def runbook_files(self, rb: Converted) -> None:
        m = self.migration
        files: dict[str, str] = {}
        if rb.data is not None:
            files[f"runbooks/{rb.base}.runbook.yaml"] = _header(rb.source) + dump_yaml(rb.data)
        folder = rb.source.path.parent / "scenarios" / rb.base
        scenario_dirs = (
            sorted(d for d in folder.iterdir() if (d / "scenario.yaml").is_file())
            if folder.is_dir()
            else []
        )
        count = 0
        for d in scenario_dirs:
            before = self.report.count("refused")
            src = read_source(d / "scenario.yaml", self.shown(d / "scenario.yaml"), self.report)
            if src is None:
                continue
            inputs, scenario = convert_scenario(src, rb)
            test, tsrc = None, None
            if (d / "test.yaml").is_file():
                tsrc = read_source(d / "test.yaml", self.shown(d / "test.yaml"), self.report)
                if tsrc is None:
                    continue
                test = convert_test(tsrc, rb, inputs)
            if self.report.count("refused") > before:
                continue
            rel = f"scenarios/{rb.name}/{d.name}"
            files[f"{rel}/inputs.yaml"] = _header(src) + dump_yaml(inputs)
            files[f"{rel}/scenario.yaml"] = _header(src) + dump_yaml(scenario)
            if test is not None and tsrc is not None:
                files[f"{rel}/test.yaml"] = _header(tsrc) + dump_yaml(test)
            count += 1
        if rb.data is None:
            return
        m.owned[f"runbooks/{rb.base}.runbook.yaml"] = sorted(files)
        m.files.update(files)
        m.runbooks += 1
        m.scenarios += count


def _header(src: Source) -> str:
    """The first line of a converted file: where it came from."""
    return f"# Migrated by gert migrate from {Path(src.shown).as_posix()} (kernel/v0).\n"


def migrate(paths: list[Path], out: Path | None = None) -> Migration:
    """Convert the kernel/v0 runbooks and tool files under *paths* (with the scenarios
    beside each runbook) in memory, validate the result, and report every construct.
    *out* is where the files will be written (sources are referred to from there)."""
    migrator = _Migrator()
    m = migrator.run(paths, out or Path("migrated"))
    if not m.files and not m.report.entries:
        raise MigrateError(
            "no kernel/v0 runbook or tool file in " + ", ".join(str(p) for p in paths)
        )
    _validate(m)
    m.files[REPORT_NAME] = m.report.text()
    return m


def _validate(m: Migration) -> None:
    """Check the converted files with gert's validator; a runbook or tool it refuses is
    reported (at the source) and left out."""
    from gert.project import open_project
    from gert.validate import validate_paths

    if not m.files:
        return
    with tempfile.TemporaryDirectory(prefix="gert-migrate-") as tmp:
        root = Path(tmp)
        _materialize(m.files, root)
        folders = [root / d for d in ("runbooks", "tools") if (root / d).is_dir()]
        if not folders:
            return
        report = validate_paths(folders, open_project(root))
        bad: dict[str, list[str]] = {}
        for p in report.problems:
            if p.severity != "error":
                continue
            rel = Path(p.file).resolve().relative_to(root.resolve()).as_posix()
            bad.setdefault(rel, []).append(f"{p.line}:{p.col}: {p.field}: {p.message}")
    for rel, problems in sorted(bad.items()):
        text = m.files.get(rel, "")
        first = text.splitlines()[0] if text else ""
        source = first.removeprefix("# Migrated by gert migrate from ").removesuffix(
            " (kernel/v0)."
        )
        m.report.add(
            source or rel,
            (1, 1),
            "refused",
            "converted file",
            f"gert's validation of {rel} failed: " + "; ".join(problems),
        )
        for owned in m.owned.pop(rel, [rel]):
            if owned.startswith("scenarios/") and owned.endswith("/inputs.yaml"):
                m.scenarios -= 1
            m.files.pop(owned, None)
        if rel.startswith("runbooks/"):
            m.runbooks -= 1


def _materialize(files: dict[str, str], root: Path) -> None:
    """Write *files* under *root* (with a gert.yaml when it has none)."""
    if not (root / "gert.yaml").exists():
        (root / "gert.yaml").write_text(CONFIG_TEXT, encoding="utf-8")
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


LEDGER = ".gert-migrate.json"  # in --out: what the last migration wrote there, by SHA-256


def write(m: Migration, out: Path) -> list[Path]:
    """Write the converted files into *out* (a gert.yaml too when it has none), and
    remove what an earlier migration wrote there that this one no longer converts (a
    runbook now refused, a scenario gone), unless a person has edited it since."""
    import hashlib
    import json

    from gert.util import write_atomic

    def digest(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    written = []
    if not (out / "gert.yaml").exists():
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / "gert.yaml", CONFIG_TEXT)
        written.append(out / "gert.yaml")
    try:
        before = json.loads((out / LEDGER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        before = {}
    for rel, sha in sorted(before.items() if isinstance(before, dict) else []):
        path = out / str(rel)
        if rel in m.files or not path.is_file() or ".." in Path(str(rel)).parts:
            continue
        if digest(path.read_text(encoding="utf-8", errors="replace")) != sha:
            m.kept_stale.append(str(rel))  # a person changed it: theirs to remove
            continue
        path.unlink()
        m.removed.append(str(rel))
        parent = path.parent
        while parent != out and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
    for rel, text in sorted(m.files.items()):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text)
        written.append(path)
    ledger = {rel: digest(text) for rel, text in sorted(m.files.items())}
    write_atomic(out / LEDGER, json.dumps(ledger, indent=1, sort_keys=True) + "\n")
    return written


def check(m: Migration) -> CheckResult:
    """Replay every converted scenario test in a scratch folder; nothing is written."""
    from gert.project import open_project
    from gert.testing import find_cases, run_tests

    result = CheckResult()
    with tempfile.TemporaryDirectory(prefix="gert-migrate-check-") as tmp:
        root = Path(tmp)
        _materialize(m.files, root)
        if not (root / "scenarios").is_dir():
            return result
        project = open_project(root)
        cases = find_cases([root / "scenarios"], project)
        for r in run_tests(project, cases, jobs=1):
            name = r.case.folder.resolve().relative_to(root.resolve()).as_posix()
            result.results.append((name, r.status, list(r.failures)))
    return result
