"""Examples in the docs run: runbook YAML validates, template and condition tables hold,
and the README's console transcripts match what the commands print."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gert.expr import evaluate
from gert.load import parse_text
from gert.template import render
from gert.validate import Validator

ROOT = Path(__file__).resolve().parent.parent
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
FENCE = re.compile(r"```(\w+)\n(.*?)```", re.S)


def blocks(lang: str) -> list[tuple[str, str]]:
    out = []
    for doc in DOCS:
        for m in FENCE.finditer(doc.read_text(encoding="utf-8")):
            if m.group(1) == lang:
                out.append((doc.name, m.group(2)))
    return out


RUNBOOKS = [(name, text) for name, text in blocks("yaml") if re.search(r"^apiVersion:", text, re.M)]


def test_docs_have_runbook_examples():
    assert len(RUNBOOKS) >= 4


@pytest.mark.parametrize(
    ("doc", "text"), RUNBOOKS, ids=[f"{d}-{i}" for i, (d, _) in enumerate(RUNBOOKS)]
)
def test_runbook_examples_in_docs_are_valid(doc, text, tmp_path):
    if "apiVersion: signatures/v0" in text:
        from gert.signatures import load

        f = tmp_path / "example.signatures.yaml"
        f.write_text(text, encoding="utf-8")
        assert load(f), doc
        return
    kind = "tool" if "apiVersion: tool/v0" in text else "runbook"
    f = tmp_path / f"example.{kind}.yaml"
    f.write_text(text, encoding="utf-8")
    checked = Validator().check(f)
    assert [p.format() for p in checked.problems if p.severity == "error"] == [], doc


def _cell(text: str) -> str:
    text = text.strip()
    if text.startswith("`") and text.endswith("`"):
        text = text[1:-1]
    return text.replace("\\|", "|")


def _table(doc: Path, header: str) -> list[list[str]]:
    rows = []
    lines = doc.read_text(encoding="utf-8").splitlines()
    start = lines.index(header)
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([_cell(c) for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
    return rows


def _data(cell: str) -> dict:
    """A table's data cell: `a: 1`, `b: x` (YAML, one or more) or (nothing)."""
    if cell == "(nothing)":
        return {}
    parts = re.split(r"`,\s*`", cell)
    data: dict = {}
    for part in parts:
        data.update(parse_text(part.strip("`")).data)
    return data


TEMPLATE_ROWS = _table(ROOT / "docs" / "runbook-reference.md", "| template | data | output |")
CONDITION_ROWS = _table(ROOT / "docs" / "runbook-reference.md", "| condition | data | result |")


@pytest.mark.parametrize("row", TEMPLATE_ROWS, ids=[r[0] for r in TEMPLATE_ROWS])
def test_template_table(row):
    template, data, output = row
    assert render(template, _data(data)) == output


@pytest.mark.parametrize("row", CONDITION_ROWS, ids=[r[0] for r in CONDITION_ROWS])
def test_condition_table(row):
    condition, data, result = row
    assert evaluate(condition, _data(data)) is (result == "true")


def test_tables_were_found():
    assert len(TEMPLATE_ROWS) >= 8 and len(CONDITION_ROWS) >= 8


CONSOLE = [text for name, text in blocks("console") if name == "README.md"]
_VARYING = [
    (re.compile(r"\d{8}T\d{6}-[0-9a-f]{8}"), "RUN"),
    (re.compile(r"\b\d+ ms\b"), "N ms"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "DATE"),  # the example incident opens at set-up
    (re.compile(r"\b\d{4}/\d{2}/\d{2}\b"), "DATE"),  # scenarios/YYYY/MM/DD/
]


def _normal(line: str) -> str:
    for pattern, repl in _VARYING:
        line = pattern.sub(repl, line)
    return line.rstrip()


def _transcript(text: str) -> list[tuple[str, list[str]]]:
    """(command, expected output lines) pairs of a console block."""
    out: list[tuple[str, list[str]]] = []
    for line in text.strip().splitlines():
        if line.startswith("$ "):
            out.append((line[2:], []))
        elif line != "...":
            out[-1][1].append(line)
    return out


def _fresh_copy(dest: Path) -> Path:
    """The repository as a fresh clone has it (tracked files only), after set-up's example
    data (what ``scripts/setup.sh`` leaves)."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for rel in filter(None, tracked):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    subprocess.run(
        [sys.executable, str(dest / "examples" / "create_example_data.py")],
        check=True,
        capture_output=True,
    )
    return dest


@pytest.mark.slow
def test_readme_console_transcripts_in_sequence(tmp_path):
    """Every console block of the README, in order, in one fresh copy, as a user types
    them: ``cd`` moves, state carries over, and each shown line is printed."""
    import glob
    import shlex

    assert CONSOLE, "the README has console transcripts"
    root = _fresh_copy(tmp_path / "gert")
    cwd = root
    for text in CONSOLE:
        for command, expected in _transcript(text):
            argv = shlex.split(command)
            if argv[0] == "cd":
                cwd = (cwd / argv[1]).resolve()
                assert cwd.is_dir(), f"{command}: no such folder {cwd}"
                continue
            assert argv[0].endswith(".venv/bin/gert"), command
            args = [
                a
                for arg in argv[1:]
                for a in (sorted(glob.glob(arg, root_dir=cwd)) if "*" in arg else [arg])
            ]
            r = subprocess.run(
                [sys.executable, "-m", "gert.cli", *args], capture_output=True, text=True, cwd=cwd
            )
            printed = [_normal(ln) for ln in (r.stdout + r.stderr).splitlines()]
            assert "Traceback" not in r.stderr, r.stderr
            for line in expected:
                assert _normal(line) in printed, (
                    f"{line!r} not printed by {command} in {cwd}:\n" + "\n".join(printed)
                )


def test_readme_speaks_of_the_project_alone():
    text = (ROOT / "README.md").read_text()
    for word in ("../shared", "seeds/", "seed 0", "review"):
        assert word not in text, word


def test_readme_python_example():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    code = next(t for name, t in blocks("python") if name == "README.md")
    namespace: dict = {}
    results = []
    for line in code.splitlines():
        if "#" in line and ("render(" in line or "evaluate(" in line):
            stmt, expected = line.split("#", 1)
            results.append((eval(stmt.strip(), namespace), eval(expected.strip())))
        else:
            exec(line, namespace)
    assert results and all(got == want for got, want in results)
    assert "python -m pytest" in text


def test_library_doc_runs(tmp_path, monkeypatch):
    """docs/library.md's examples run with doctest, in order, in a fresh copy of examples/."""
    import doctest
    import shutil

    cwd = tmp_path / "examples"
    shutil.copytree(
        ROOT / "examples", cwd, ignore=shutil.ignore_patterns(".runbook", "data", "20*")
    )
    subprocess.run(
        [sys.executable, str(cwd / "create_example_data.py")], check=True, capture_output=True
    )
    monkeypatch.chdir(cwd)
    result = doctest.testfile(
        str(ROOT / "docs" / "library.md"),
        module_relative=False,
        optionflags=doctest.ELLIPSIS,
        raise_on_error=False,
        verbose=False,
    )
    assert result.attempted >= 30
    assert result.failed == 0
