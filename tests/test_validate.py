"""Validation: fixtures for every rule, the CLI contract, and the exported JSON Schema."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import pytest

from gert.load import load_file
from gert.validate import validate_paths
from helpers import Ran
from helpers import gert as run_gert

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures" / "validate"
ROOT = HERE.parent
GOLDEN = FIXTURES / "expected.txt"


def _line(p, base: Path) -> str:
    rel = Path(p.file).resolve().relative_to(base.resolve())
    return f"{rel}:{p.line}:{p.col}: {p.severity}: {p.field}: {p.message}"


def current_invalid_report() -> list[str]:
    report = validate_paths([FIXTURES / "invalid"])
    return sorted(_line(p, FIXTURES / "invalid") for p in report.problems)


def test_valid_fixtures_have_no_problems():
    report = validate_paths([FIXTURES / "valid"])
    assert len(report.files) >= 8
    assert [p.format() for p in report.problems] == []


def test_examples_are_valid():
    report = validate_paths([ROOT / "examples"])
    assert len(report.files) >= 6
    assert [p.format() for p in report.problems] == []


def test_invalid_fixtures_match_reviewed_golden_output():
    expected = GOLDEN.read_text(encoding="utf-8").splitlines()
    assert current_invalid_report() == expected


def test_every_invalid_fixture_has_an_error():
    report = validate_paths([FIXTURES / "invalid"])
    files_with_errors = {Path(p.file).resolve() for p in report.errors}
    for f in report.files:
        if f.endswith(
            (
                "cycle-a.runbook.yaml",
                "cycle-b.runbook.yaml",
                "shaky.tool.yaml",
                "warnings.runbook.yaml",
            )
        ):
            continue  # helpers of other fixtures, and the warnings-only fixture
        assert Path(f).resolve() in files_with_errors, f


RULES = {
    "structure",
    "schema",
    "unique-id",
    "variables",
    "template",
    "condition",
    "regex",
    "governance-overlap",
    "next-runbook",
    "imports",
    "manual",
    "tools",
    "outcome",
    "capture",
    "jsonpath",
    "assertion",
    "unreachable",
    "unused-input",
    "outcomes",
    "body",
    "tool",
    "sql",
}


def test_every_rule_is_exercised_by_a_fixture():
    report = validate_paths([FIXTURES / "invalid"])
    assert {p.rule for p in report.problems} >= RULES


def test_problems_are_collected_not_stopped_at_first():
    report = validate_paths([FIXTURES / "invalid" / "variables.runbook.yaml"])
    assert len(report.errors) == 7


# ------------------------------------------------------------------ CLI


def gert(*args: str, cwd: Path = ROOT) -> Ran:
    return run_gert(*args, cwd=cwd)


def test_cli_valid_exits_zero():
    r = gert("validate", "examples")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 errors" in r.stderr


def test_cli_invalid_exits_two_with_file_line_col():
    r = gert("validate", str(FIXTURES / "invalid" / "variables.runbook.yaml"))
    assert r.returncode == 2
    first = r.stdout.splitlines()[0]
    assert first.startswith(
        str(FIXTURES / "invalid" / "variables.runbook.yaml") + ":11:48: error: "
    )
    assert "unknown variable 'count'" in first
    assert "Traceback" not in r.stdout + r.stderr


def test_cli_json_output():
    r = gert("validate", "--json", str(FIXTURES / "invalid" / "warnings.runbook.yaml"))
    data = json.loads(r.stdout)
    assert r.returncode == 0  # warnings alone do not fail
    assert data["valid"] is True and data["errors"] == []
    assert {w["rule"] for w in data["warnings"]} == {"outcomes", "unreachable"}
    assert all({"file", "line", "col", "field", "message"} <= set(w) for w in data["warnings"])


def test_cli_strict_fails_on_warnings():
    r = gert("validate", "--strict", str(FIXTURES / "invalid" / "warnings.runbook.yaml"))
    assert r.returncode == 2


@pytest.mark.parametrize("content", [b"\xff\xfe\x00binary", b"key: [unterminated", b"\t- tab"])
def test_cli_never_tracebacks_on_garbage(tmp_path, content):
    f = tmp_path / "junk.runbook.yaml"
    f.write_bytes(content)
    r = gert("validate", str(f))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stdout.startswith(f"{f}:")


def test_cli_missing_file(tmp_path):
    r = gert("validate", str(tmp_path / "nope.runbook.yaml"))
    assert r.returncode == 2
    assert "file not found" in r.stdout


# ------------------------------------------------------------------ schema


def test_exported_schemas_match_models():
    sys.path.insert(0, str(ROOT / "scripts"))
    from export_schemas import render  # type: ignore[import-not-found]

    from gert.model import runbook_json_schema, tool_json_schema

    for name, schema in (("runbook", runbook_json_schema()), ("tool", tool_json_schema())):
        stored = (ROOT / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8")
        assert stored == render(schema), (
            f"schemas/{name}.schema.json drifted: run scripts/export_schemas.py"
        )


def test_cli_schema_prints_the_exported_schema():
    r = gert("schema", "runbook")
    assert r.returncode == 0
    assert json.loads(r.stdout) == json.loads(
        (ROOT / "schemas" / "runbook.schema.json").read_text()
    )


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((ROOT / "schemas" / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_accepts_every_valid_runbook_and_tool():
    runbooks, tools = _validator("runbook"), _validator("tool")
    files = [
        f
        for folder in (FIXTURES / "valid", ROOT / "examples")
        for pattern in ("*.runbook.yaml", "*.tool.yaml")
        for f in folder.rglob(pattern)
    ]
    checked = 0
    for f in files:
        v = tools if f.name.endswith(".tool.yaml") else runbooks
        errors = [e.message for e in v.iter_errors(load_file(f).data)]
        assert errors == [], f"{f}: {errors}"
        checked += 1
    assert checked >= 12


@pytest.mark.parametrize(
    "name",
    ["schema-types.runbook.yaml", "schema-shapes.runbook.yaml", "unknown-apiversion.runbook.yaml"],
)
def test_schema_rejects_schema_invalid_runbooks(name):
    data = load_file(FIXTURES / "invalid" / name).data
    assert list(_validator("runbook").iter_errors(data))


def test_schema_encodes_cross_field_rules():
    v = _validator("runbook")
    base = {"apiVersion": "runbook/v0", "meta": {"name": "x"}}

    def step(**kw):
        return {**base, "steps": [{"id": "s", "type": "cli", "with": {"argv": ["echo"]}, **kw}]}

    assert not list(v.iter_errors(step(assertions=[{"contains": "a"}])))
    assert list(v.iter_errors(step(assertions=[{"contains": "a", "equals": "b"}])))
    assert list(v.iter_errors(step(assertions=[{"source": "stdout"}])))
    http = {
        **base,
        "steps": [{"id": "h", "type": "http", "http": {"url": "u", "json": {}, "body": "b"}}],
    }
    assert list(v.iter_errors(http))
    manual = {
        **base,
        "steps": [
            {"id": "m", "type": "manual", "required_evidence": [{"kind": "checklist", "name": "c"}]}
        ],
    }
    assert list(v.iter_errors(manual))
    tools = _validator("tool")
    tool = {
        "apiVersion": "tool/v0",
        "meta": {"name": "t"},
        "actions": {"a": {"argv": ["x"], "method": "m"}},
    }
    assert list(tools.iter_errors(tool))


def test_project_config_is_validated():
    report = validate_paths([FIXTURES / "config-bad", FIXTURES / "config-regex"])
    got = sorted((Path(p.file).parent.name, p.line, p.col, p.field) for p in report.errors)
    assert got == [
        ("config-bad", 1, 9, "record"),
        ("config-bad", 2, 18, "max_chain_depth"),
        ("config-bad", 6, 1, "bogus"),
        ("config-regex", 3, 20, "governance.denied_commands"),
        ("config-regex", 5, 14, "redact[0].pattern"),
    ]


@pytest.mark.slow
def test_simple_jsonpath_fast_path_agrees_with_the_library():
    import jsonpath
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from gert.validate import SIMPLE_JSONPATH

    @settings(max_examples=300)
    @given(st.from_regex(SIMPLE_JSONPATH, fullmatch=True))
    def check(query):
        jsonpath.compile(query)  # raises if the fast path accepted an invalid query

    check()
