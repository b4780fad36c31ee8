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
    "query",
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


# ------------------------------------------------------------------ diagnostics that never mislead


MISPLACED = [
    (
        "r.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: r, kind: composable}
        steps:
          - id: s
            with:
              argv: [echo]
              type: cli
        """,
        [
            ("4:5", "steps[0]", "missing field 'type'", "'type' is inside 'with' (line 7)"),
            (
                "7:7",
                "steps[0].with.type",
                "unknown field 'type'",
                "'type' belongs to the step (steps[0]), not inside 'with' (indent it one level less)",
            ),
        ],
    ),
    (
        "r.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: r, kind: composable}
        inputs: {x: {from: prompt}}
        steps:
          - id: s
            type: cli
            with: {argv: [echo], timeout: 5s}
          - id: t
            type: tool
            tool: {name: sql}
            action: query
            outcomes: [{state: resolved, next_runbook: {file: x}, inputs: {a: b}}]
        """,
        [
            (
                "3:1",
                "inputs",
                "unknown field 'inputs'",
                "'inputs' belongs under 'meta:' (indent it one level more)",
            ),
            (
                "7:26",
                "steps[0].with.timeout",
                "unknown field 'timeout'",
                "'timeout' belongs to the step (steps[0]), not inside 'with' (indent it one level less)",
            ),
            ("10:11", "steps[1].tool.action", "missing required field 'action'", None),
            (
                "11:5",
                "steps[1].action",
                "unknown field 'action'",
                "'action' belongs under 'tool:' (indent it one level more)",
            ),
            (
                "12:59",
                "steps[1].outcomes[0].inputs",
                "unknown field 'inputs'",
                "'inputs' belongs under 'next_runbook:' (indent it one level more)",
            ),
        ],
    ),
    (
        "r.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: r, kind: composable}
        tree:
          - id: s
            type: cli
        """,
        [
            ("4:5", "tree[0].step", "missing required field 'step'", None),
            *(
                (
                    f"{line}:5",
                    f"tree[0].{key}",
                    f"unknown field '{key}'",
                    f"'{key}' belongs under 'step:', which is missing here (write 'step:' and "
                    "indent the fields under it)",
                )
                for line, key in ((4, "id"), (5, "type"))
            ),
        ],
    ),
    (
        "t.tool.yaml",
        """
        apiVersion: tool/v0
        meta:
          name: t
          transport: {mode: stdio}
        actions:
          get:
            argv: [x]
            args: {name: {type: string}}
            required: true
        """,
        [
            (
                "4:3",
                "meta.transport",
                "unknown field 'transport'",
                "'transport' belongs to the top level, not inside 'meta' (indent it one level less)",
            ),
            (
                "9:5",
                "actions.get.required",
                "unknown field 'required'",
                "'required' belongs to each entry of 'args:' (under 'name:', indented two levels more)",
            ),
        ],
    ),
]


@pytest.mark.parametrize(("name", "text", "expected"), MISPLACED)
def test_a_field_under_the_wrong_parent_says_where_it_belongs(project, name, text, expected):
    project.write(name, text)
    r = run_gert("validate", "--json", name, cwd=project.root)
    errors = json.loads(r.stdout)["errors"]
    got = [(f"{e['line']}:{e['col']}", e["field"], e["message"], e["hint"]) for e in errors]
    assert sorted(got) == sorted(expected)
    for e in errors:  # never "unknown field 'x'" with "did you mean 'x'?"
        assert f"did you mean '{e['field'].rsplit('.', 1)[-1]}'" not in (e["hint"] or "")


def test_a_misspelt_type_is_named_beside_the_missing_one(project):
    project.write(
        "r.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: r, kind: composable}
        steps:
          - {id: s, typ: cli, with: {argv: [echo]}}
          - {id: t, type: clii, with: {argv: [echo]}}
        """,
    )
    r = run_gert("validate", "r.runbook.yaml", cwd=project.root)
    assert r.returncode == 2
    assert r.stdout.splitlines() == [
        "r.runbook.yaml:4:5: error: steps[0]: missing field 'type'",
        "    hint: a step needs type: cli, http, tool, manual or invoke",
        "r.runbook.yaml:4:13: error: steps[0].typ: unknown field 'typ'",
        "    hint: did you mean 'type'?",
        "r.runbook.yaml:5:19: error: steps[1].type: unknown step type 'clii'; expected one of "
        "cli, http, tool, manual, invoke",
        "    hint: did you mean 'cli'?",
    ]


def test_gert_yaml_hints_come_from_its_own_fields(project):
    project.config("governance: {denied_command: [rm]}\nrecord: of\n")
    r = run_gert("validate", "gert.yaml", cwd=project.root)
    assert r.stdout.splitlines() == [
        "gert.yaml:1:14: error: governance.denied_command: unknown field 'denied_command'",
        "    hint: did you mean 'denied_commands'?",
        "gert.yaml:2:9: error: record: must be one of 'auto' or 'off'; got 'of'",
        "    hint: did you mean 'off'?",
    ]


def test_validate_finds_gert_files_in_a_folder_by_their_api_version(project):
    project.write(
        "runbooks/ok.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: ok, kind: composable}
        steps: [{id: s, type: cli, with: {argv: [echo]}}]
        """,
    )
    project.write("runbooks/bad.yml", "apiVersion: runbook/v0\nmeta: {name: bad}\nsteps: []\n")
    project.write("runbooks/later.yaml", "apiVersion: runbook/v1\nmeta: {name: later}\n")
    project.write("deploy/app.yaml", "apiVersion: apps/v1\nkind: Deployment\n")  # not gert's
    project.write("ci/test.yaml", "jobs: {}\n")  # a test.yaml outside a scenario
    project.write("failures.yaml", "apiVersion: signatures/v0\nsignatures: [{id: x}]\n")
    folder = "scenarios/ok/one"
    project.write(f"{folder}/inputs.yaml", "{}\n")
    project.write(f"{folder}/test.yaml", "expected_outcom: completed\n")
    r = run_gert("validate", "--json", ".", cwd=project.root)
    data = json.loads(r.stdout)
    assert r.returncode == 2
    assert data["files"] == [
        "failures.yaml",
        "gert.yaml",
        "runbooks/bad.yml",
        "runbooks/later.yaml",
        "runbooks/ok.yaml",
        f"{folder}/test.yaml",
    ]
    got = sorted((e["file"], e["line"], e["field"]) for e in data["errors"])
    assert got == [
        ("failures.yaml", 2, "signatures[0].match"),
        ("runbooks/bad.yml", 1, ""),
        ("runbooks/later.yaml", 1, "apiVersion"),
        (f"{folder}/test.yaml", 1, "expected_outcom"),
    ]


@pytest.mark.parametrize("content", [None, "apiVersion: apps/v1\n"])
def test_validate_a_folder_without_gert_files_is_an_error(tmp_path, content):
    if content:
        (tmp_path / "app.yaml").write_text(content)
    r = run_gert("validate", ".", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.startswith(
        "error: no runbooks, tool files, signatures, scenarios or gert.yaml in ."
    )
    assert ("1 YAML file there, none of them gert's" in r.stderr) == bool(content)
    assert "0 files" not in r.stderr


def test_validate_a_signatures_file(project):
    r = run_gert("validate", str(ROOT / "examples/signatures/ci.signatures.yaml"), cwd=ROOT)
    assert r.returncode == 0, r.stdout
    project.write(
        "ci.signatures.yaml",
        """
        apiVersion: signatures/v0
        signatures:
          - {id: a, match: {regex: '('}, severity: hgh}
          - {id: b, match: {substring: x}, replay: [make, 5]}
        """,
    )
    r = run_gert("validate", "ci.signatures.yaml", cwd=project.root)
    assert r.returncode == 2
    assert r.stdout.splitlines()[:3] == [
        "ci.signatures.yaml:3:28: error: signatures[0].match.regex: not a valid regular "
        "expression for the linear-time engine (RE2): missing ): (",
        "ci.signatures.yaml:3:44: error: signatures[0].severity: 'hgh' is not one of critical, "
        "high, medium, low",
        "    hint: did you mean 'high'?",
    ]


def test_many_files_validated_by_workers_report_what_one_process_does(tmp_path):
    """From 200 files on, worker processes share them out; the report is the same, in
    the same order, with each project's gert.yaml problems once."""
    from gert.validate.validator import PARALLEL_FROM

    for project in ("a", "b"):
        root = tmp_path / project
        root.mkdir()
        # project b's gert.yaml has an error: reported once, after its first file
        (root / "gert.yaml").write_text("record: auto\n" if project == "a" else "recrod: on\n")
        for i in range(PARALLEL_FROM // 2 + 10):
            body = (
                f"apiVersion: runbook/v0\nmeta: {{name: r{i}, kind: composable}}\n"
                f"steps:\n  - {{id: s, type: cli, with: {{argv: [echo, '{{{{ .x{i} }}}}']}}}}\n"
            )
            if i % 37 == 0:
                body = body.replace("type: cli", "type: clli")  # an error
            (root / f"r{i:03d}.runbook.yaml").write_text(body)
    shared = validate_paths([tmp_path], jobs=2)
    alone = validate_paths([tmp_path], jobs=1)
    assert len(shared.files) > PARALLEL_FROM
    assert shared.files == alone.files
    assert [p.format() for p in shared.problems] == [p.format() for p in alone.problems]
    assert sum(1 for p in shared.problems if p.file.endswith("gert.yaml")) == 1
    assert sum(1 for p in shared.errors if "clli" in p.format()) == 6  # i = 0, 37, 74 of each
