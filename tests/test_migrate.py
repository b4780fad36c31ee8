"""gert migrate: kernel/v0 runbooks, tools and scenario tests of gert's Go implementation
converted into gert's formats, replayed by gert test, with a report of every construct."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gert import expr
from gert.load import load_file
from gert.migrate import MigrateError, migrate
from gert.migrate.conditions import NO_VALUE, Unconvertible, convert_condition, go_sprint
from helpers import gert

KERNEL = Path(__file__).parent / "fixtures" / "kernel"


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """A copy of the kernel fixtures (runbooks, tools/, scenarios/) to migrate from."""
    dest = tmp_path / "go"
    shutil.copytree(KERNEL, dest)
    return dest


def line_of(path: Path, text: str) -> int:
    """The 1-based line of the first line of *path* containing *text*."""
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_migrated_runbook_tools_and_tests_pass_gert_test(sources: Path, tmp_path: Path):
    out = tmp_path / "out"
    r = gert("migrate", "triage.yaml", "--out", str(out), cwd=sources)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "migrated 1 runbook(s), 4 tool(s), 5 scenario(s)" in r.stderr
    assert (out / "migration-report.txt").read_text() == r.stdout
    v = gert("validate", ".", cwd=out)
    assert v.returncode == 0, v.stdout + v.stderr
    t = gert("test", cwd=out)
    # every converted test gives what gert's Go implementation's runner gives: 4 pass, and
    # the one whose expectation was wrong there fails here too
    assert "4 passed, 1 failed, 0 skipped" in t.stderr + t.stdout, t.stdout + t.stderr
    assert "expected_code: expected 'not_this_one', got 'healthy'" in t.stdout
    assert t.returncode == 1


def test_converted_runbook_keeps_the_meaning(sources: Path, tmp_path: Path):
    m = migrate([sources / "triage.yaml"], tmp_path / "out")
    rb = load_file_text(m.files["runbooks/triage.runbook.yaml"])
    meta = rb["meta"]
    assert meta["inputs"]["severity"] == {"default": "p3"}
    # optional, never given; its source is gert's source of the same name
    assert meta["inputs"]["ticket"] == {"default": NO_VALUE, "from": "incident.id"}
    assert meta["vars"] == {"health_path": "/healthz", "retries": 2, "hint": NO_VALUE}
    clock, probe = rb["tree"][0], rb["tree"][1]
    assert clock["step"]["tool"] == {"name": "clock", "action": "now"}
    step = probe["step"]
    assert step["tool"]["args"] == {"url": "https://{{ .host }}{{ .health_path }}"}
    assert step["assertions"] == [{"exit_code": 0}]
    # an arm that starts with an end is an outcome of the step the branch follows
    assert step["outcomes"] == [
        {
            "when": 'status_code == "200"',
            "state": "no_action",
            "code": "healthy",
            "meta": {"host": "{{ .host }}", "status": "{{ .status_code }}", "tries": 1},
        }
    ]
    degraded, unknown = probe["branches"]
    assert degraded["condition"] == 'status_code == "503"' and degraded["label"] == "degraded"
    assert unknown["condition"] == "true"
    recheck = degraded["steps"][1]["step"]
    assert recheck["assertions"] == [
        {"exit_code": 0},
        {"equals": "200", "source": "stdout"},
    ]
    assert recheck["outcomes"] == [{"state": "resolved", "code": "restarted"}]
    look, metrics, second = (s["step"] for s in unknown["steps"])
    assert look["approvals"] == {"min": 2}  # manual: critical risk, rule min_approvers 2
    assert "approvals" not in second  # side_effects false: low risk
    assert metrics["when"] == 'severity != "p3"'
    assert second["outcomes"] == [{"state": "escalated", "code": "unknown_status"}]
    http = load_file_text(m.files["tools/http.tool.yaml"])
    assert http["actions"]["get"]["argv"][:2] == ["curl", "-s"]  # the Go binary bug, undone
    assert http["actions"]["json"]["argv"][:2] == ["curl", "-s"]
    assert http["governance"] == {"read_only": True}
    svc = load_file_text(m.files["tools/svc.tool.yaml"])
    assert svc["actions"]["restart"]["governance"] == {
        "requires_approval": True,
        "approval_min": 2,
    }
    clock_tool = load_file_text(m.files["tools/clock.tool.yaml"])
    assert clock_tool["transport"] == {"mode": "mcp"}
    assert clock_tool["actions"]["now"]["governance"]["requires_approval"] is True
    rpc = load_file_text(m.files["tools/rpc.tool.yaml"])
    assert rpc["transport"] == {"mode": "jsonrpc"}
    assert rpc["actions"]["query"]["method"] == "metrics.query"
    assert "requires_approval" not in (rpc["actions"]["query"].get("governance") or {})


def test_scenarios_and_tests_take_every_key(sources: Path, tmp_path: Path):
    m = migrate([sources / "triage.yaml"], tmp_path / "out")
    scenario = load_file_text(m.files["scenarios/triage/degraded/scenario.yaml"])
    assert [r["captures"] for r in scenario["tool_responses"]["http:get"]] == [
        {"status_code": "503"},
        {"status_code": "200"},
    ]
    healthy = load_file_text(m.files["scenarios/triage/healthy/scenario.yaml"])
    assert healthy["tool_responses"]["http:get"][0]["captures"]["status_code"] == "200"
    unknown = load_file_text(m.files["scenarios/triage/unknown/scenario.yaml"])
    assert unknown["evidence"]["look"] == {
        "notes": "disk full",
        "checks": ["logs read", "owner paged"],
    }
    assert unknown["evidence"]["second_look"] == {"confirm": "yes"}  # not only the first prompt
    test = load_file_text(m.files["scenarios/triage/healthy/test.yaml"])
    assert test == {
        "description": "A healthy host needs nothing",
        "expected_outcome": "no_action",
        "expected_code": "healthy",
        "must_reach": ["clock", "probe"],
        "must_not_reach": ["restart"],
        "expected_step_status": {"probe": "passed"},
        "expected_captures": {"status_code": "200", "now": "/^\\d+:\\d+$/"},
    }
    broken = load_file_text(m.files["scenarios/triage/broken/test.yaml"])
    assert broken["expected_outcome"] == "error" and broken["expected_code"] == ""
    degraded = load_file_text(m.files["scenarios/triage/degraded/test.yaml"])
    assert degraded["expected_code"] == "restarted"  # must_reach of an end: its code
    assert degraded["must_reach"] == ["probe", "restart", "recheck", "recheck"]
    report = m.report.text()
    assert "expected_outputs 'host': an input or constant" in report
    assert "tags: ignored" in report


def test_check_replays_without_writing_and_says_when_tests_differ(sources: Path):
    r = gert("migrate", "triage.yaml", "--check", cwd=sources)
    assert r.returncode == 1, r.stdout + r.stderr  # the 'wrong' test fails, as it did
    assert "FAILED  scenarios/triage/wrong" in r.stdout
    assert "PASSED  scenarios/triage/unknown" in r.stdout
    assert "nothing written" in r.stderr
    assert not (sources / "migrated").exists()
    shutil.rmtree(sources / "scenarios" / "triage" / "wrong")
    assert gert("migrate", "triage.yaml", "--check", cwd=sources).returncode == 0


def test_refused_constructs_are_reported_with_their_lines(sources: Path, tmp_path: Path):
    src = sources / "refused.yaml"
    r = gert("migrate", "refused.yaml", "--out", str(tmp_path / "out"), cwd=sources)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    refused = {line for line in r.stdout.splitlines() if ": refused: " in line}

    def has(anchor: str, construct: str, why: str) -> None:
        n = line_of(src, anchor)
        assert any(
            line.startswith(f"refused.yaml:{n}:") and construct in line and why in line
            for line in refused
        ), (anchor, refused)

    has("  - id: first_branch", "branch step 'first_branch'", "needs a step before it")
    has("for_each:", "for_each", "gert has no loops")
    has("repeat:", "repeat", "gert has no loops")
    has("next:", "next", "gert has no jumps")
    has("  - id: both", "parallel step 'both'", "no parallel block")
    has("  - id: ext", "extension step 'ext'", "a stub")
    has("{{ .each.status_code }}", "tool step 'again'", "by its ID")
    has("category: finished", "end step 'done'", "is not one of")
    has("items: [a, b]", "constant 'items'", "a list")
    # a refused runbook is not written, nor are its scenarios
    assert not (tmp_path / "out" / "runbooks" / "refused.runbook.yaml").exists()
    assert not (tmp_path / "out" / "scenarios" / "refused").exists()


def test_migrating_twice_gives_identical_bytes(sources: Path, tmp_path: Path):
    first, second = tmp_path / "a", tmp_path / "b"
    assert gert("migrate", ".", "--out", str(first), cwd=sources).returncode == 2
    assert gert("migrate", ".", "--out", str(second), cwd=sources).returncode == 2
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert len(files) > 20
    for rel in files:
        if rel.as_posix().startswith("runbooks/"):  # they name their source relative to out
            text_a = (first / rel).read_text().replace("../../go/", "")
            assert text_a == (second / rel).read_text().replace("../../go/", "")
        else:
            assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel
    again = gert("migrate", ".", "--out", str(first), cwd=sources)
    assert again.returncode == 2
    assert sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file()) == files


def test_bad_input_is_an_error_with_its_place(tmp_path: Path):
    (tmp_path / "dup.yaml").write_text("apiVersion: kernel/v0\nmeta: {name: a, name: b}\n")
    (tmp_path / "bad.yaml").write_text("apiVersion: kernel/v0\nsteps: [\n")
    (tmp_path / "odd.yaml").write_text(
        "apiVersion: kernel/v0\nmeta: {name: odd, colour: red}\ntools: [nothere]\nsteps:\n"
        "  - {id: a, type: tool, tool: nothere, action: x}\n"
        "  - {id: b, type: end, outcome: {category: resolved, code: ok}}\n"
    )
    r = gert("migrate", "dup.yaml", "bad.yaml", "odd.yaml", "--check", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "dup.yaml:2:" in r.stdout and "duplicate key 'name'" in r.stdout
    assert "bad.yaml:3:1: refused: file: invalid YAML" in r.stdout
    assert "odd.yaml:2:19: refused: meta: unknown field 'colour'" in r.stdout
    assert (
        "odd.yaml:3:9: refused: tool 'nothere': no tool file at tools/nothere.tool.yaml" in r.stdout
    )
    empty = gert("migrate", ".", cwd=tmp_path / "..")
    assert empty.returncode in (0, 2)
    (tmp_path / "none").mkdir()
    nothing = gert("migrate", "none", cwd=tmp_path)
    assert nothing.returncode == 2 and "no kernel/v0 runbook or tool file" in nothing.stderr
    with pytest.raises(MigrateError):
        migrate([tmp_path / "none"])


def test_outcome_code_is_asserted_by_gert_test(project):
    project.write(
        "runbooks/coded.runbook.yaml",
        """
apiVersion: runbook/v0
meta: {name: coded}
steps:
  - id: look
    type: cli
    with: {argv: [echo, hi]}
    outcomes:
      - {state: resolved, code: said_hi, meta: {said: "{{ .look_out }}", n: 2}}
    capture: {look_out: stdout}
""",
    )
    folder = project.root / "scenarios" / "coded" / "hi"
    folder.mkdir(parents=True)
    (folder / "inputs.yaml").write_text("{}\n")
    (folder / "scenario.yaml").write_text('commands:\n  - {argv: [echo, hi], stdout: "hi\\n"}\n')
    (folder / "test.yaml").write_text("expected_outcome: resolved\nexpected_code: said_hi\n")
    assert gert("test", cwd=project.root).returncode == 0
    (folder / "test.yaml").write_text("expected_code: other\n")
    r = gert("test", cwd=project.root)
    assert r.returncode == 1 and "expected_code: expected 'other', got 'said_hi'" in r.stdout


def test_tool_responses_are_taken_in_call_order_and_run_out(sources: Path, tmp_path: Path):
    out = tmp_path / "out"
    assert gert("migrate", "triage.yaml", "--out", str(out), cwd=sources).returncode == 0
    degraded = out / "scenarios" / "triage" / "degraded" / "scenario.yaml"
    text = degraded.read_text()
    # one response for two calls of http:get: the second call finds none
    cut = text.index('  - exit_code: 0\n    stdout: "200"')
    end = text.index("  svc:restart:")
    degraded.write_text(text[:cut] + text[end:])
    r = gert("test", "scenarios/triage/degraded", cwd=out)
    assert r.returncode == 1
    assert "calls http:get a 2. time" in r.stdout and "has 1 response(s)" in r.stdout


# ------------------------------------------------------------------ conditions


def kernel_truth(text: str, values: dict[str, str]) -> bool:
    """How gert's Go implementation evaluates the subset the rewriter rewrites: eq/ne of
    fmt.Sprint text, and/or/not, a name on its own (true unless "", "false" or missing)."""
    from gert.template import _parse as tp
    from gert.template.funcs import FUNC_NAMES

    def value(node) -> str:  # type: ignore[no-untyped-def]
        if isinstance(node, tp.Field):
            return values.get(node.names[0], "<nil>")
        return str(node.value)

    def truth(node) -> bool:  # type: ignore[no-untyped-def]
        if isinstance(node, tp.Pipeline):
            return truth(node.cmds[0])
        if isinstance(node, tp.Field):
            v = values.get(node.names[0])
            return v is not None and v not in ("", "false")
        head, args = node.args[0], node.args[1:]
        if isinstance(head, tp.Field):
            return truth(head)
        if head.name == "eq":
            return value(args[0]) == value(args[1])
        if head.name == "ne":
            return value(args[0]) != value(args[1])
        if head.name == "not":
            return not truth(args[0])
        if head.name == "and":
            return all(truth(a) for a in args)
        return any(truth(a) for a in args)

    root = tp.Parser(text, FUNC_NAMES).parse()
    action = next(n for n in root.nodes if isinstance(n, tp.Action))
    return truth(action.pipe)


names = st.sampled_from(["a", "b", "status"])
literals = st.sampled_from(['"200"', '"0"', '""', '"false"', '"x y"', '"a\\"b"'])
atoms = st.one_of(
    st.builds(lambda f, n, v: f"({f} .{n} {v})", st.sampled_from(["eq", "ne"]), names, literals),
    st.builds(lambda f, n, m: f"({f} .{n} .{m})", st.sampled_from(["eq", "ne"]), names, names),
    names.map(lambda n: f".{n}"),
)
conditions = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.builds(lambda a: f"(not {a})", inner),
        st.builds(
            lambda f, xs: f"({f} {' '.join(xs)})",
            st.sampled_from(["and", "or"]),
            st.lists(inner, min_size=1, max_size=3),
        ),
    ),
    max_leaves=6,
)
values = st.dictionaries(
    names, st.sampled_from(["200", "0", "", "false", "x y", 'a"b', "true"]), max_size=3
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conditions, values)
def test_rewritten_conditions_mean_what_they_meant(cond: str, data: dict[str, str]):
    text = (
        "{{ " + cond.removeprefix("(").removesuffix(")") + " }}"
        if cond.startswith("(")
        else "{{ " + cond + " }}"
    )
    converted = convert_condition(text)
    assert not converted.template, text
    # a name nothing sets is declared as <no value>, as migrated runbooks do
    scope = {n: data.get(n, NO_VALUE) for n in ("a", "b", "status")}
    kernel = {k: v for k, v in data.items()}
    assert expr.evaluate(converted.text, scope) == kernel_truth(text, kernel), (
        text,
        converted.text,
    )


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_condition_rewriter_never_raises_on_arbitrary_text(text: str):
    with contextlib.suppress(Unconvertible):
        convert_condition(text)


yaml_ish = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "type",
                    "steps",
                    "branches",
                    "condition",
                    "outcome",
                    "tool",
                    "action",
                    "inputs",
                    "when",
                    "meta",
                    "name",
                    "assert",
                    "value",
                    "category",
                    "code",
                    "for_each",
                    "required_evidence",
                    "kind",
                    "constants",
                    "governance",
                    "rules",
                ]
            ),
            inner,
            max_size=5,
        ),
    ),
    max_leaves=25,
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(yaml_ish, st.sampled_from(["branch", "end", "tool", "manual", "assert", "x"]))
def test_reader_never_raises_on_arbitrary_documents(tmp_path: Path, body, kind: str):  # type: ignore[no-untyped-def]
    import json

    doc = {
        "apiVersion": "kernel/v0",
        "meta": {"name": "fz"},
        "steps": [{"id": "s", "type": kind}, body],
    }
    path = tmp_path / "fz.yaml"
    path.write_text(json.dumps(doc))
    m = migrate([path], tmp_path / "out")
    assert m.report.text()


def test_go_sprint_matches_go():
    assert [go_sprint(v) for v in (None, True, 5, 5.0, 1.5, 1e21, [1, "a"], {"b": 1, "a": 2})] == [
        "<nil>",
        "true",
        "5",
        "5",
        "1.5",
        "1e+21",
        "[1 a]",
        "map[a:2 b:1]",
    ]


def load_file_text(text: str):  # type: ignore[no-untyped-def]
    from gert.load import parse_text

    return parse_text(text).data


def test_load_file_is_used():  # the converted files read back with gert's own loader
    assert load_file is not None


def test_a_name_nothing_declares_is_refused_with_its_place(sources: Path, tmp_path: Path):
    """A typo in a template ({{ .prot }} for port) is not converted to '<no value>': gert's
    Go implementation refuses the runbook too."""
    text = (sources / "triage.yaml").read_text()
    typo = text.replace("{{ .hint }}", "{{ .hnit }}")
    assert typo != text
    (sources / "triage.yaml").write_text(typo)
    r = gert("migrate", "triage.yaml", "--out", str(tmp_path / "out"), cwd=sources)
    assert r.returncode == 2
    line = line_of(sources / "triage.yaml", "{{ .hnit }}")
    assert (
        f"triage.yaml:{line}:" in r.stdout
        and "refused: name 'hnit': nothing declares it" in r.stdout
    )
    assert "1 file(s) with refused constructs not written" in r.stderr


def test_a_runbook_refused_now_leaves_no_earlier_output_behind(sources: Path, tmp_path: Path):
    """Migrating again into the same folder after a runbook became refused removes what
    the earlier migration wrote for it, unless a person edited it since."""
    out = tmp_path / "out"
    assert gert("migrate", "triage.yaml", "--out", str(out), cwd=sources).returncode == 0
    runbook = out / "runbooks" / "triage.runbook.yaml"
    scenarios = sorted((out / "scenarios").rglob("test.yaml"))
    assert runbook.is_file() and scenarios
    edited = scenarios[0]
    edited.write_text(edited.read_text() + "# kept by a person\n")
    text = (sources / "triage.yaml").read_text()
    (sources / "triage.yaml").write_text(text.replace("{{ .hint }}", "{{ .hnit }}"))
    r = gert("migrate", "triage.yaml", "--out", str(out), cwd=sources)
    assert r.returncode == 2
    assert not runbook.exists()
    assert "removed runbooks/triage.runbook.yaml" in r.stderr
    assert edited.is_file() and "edited since" in r.stderr
    left = sorted(p for p in (out / "scenarios").rglob("*.yaml"))
    assert left == [edited]


def test_a_large_project_migrates_in_linear_time(tmp_path: Path):
    """200 runbooks migrate in seconds (the report once scanned every entry per entry)."""
    import time

    src = tmp_path / "go"
    shutil.copytree(KERNEL / "tools", src / "tools")
    runbook = (KERNEL / "triage.yaml").read_text()
    for n in range(200):
        (src / f"triage{n}.yaml").write_text(runbook.replace("name: triage", f"name: triage{n}"))
    start = time.perf_counter()
    m = migrate([src], tmp_path / "out")
    took = time.perf_counter() - start
    assert m.runbooks == 200
    assert took < 20, f"{took:.1f} s"


def test_validate_points_a_kernel_runbook_to_migrate(sources: Path):
    r = gert("validate", "triage.yaml", cwd=sources)
    assert r.returncode == 2
    assert "apiVersion 'kernel/v0' is the format of gert's Go implementation" in r.stdout
    assert "hint: convert it with gert migrate FILE --out DIR" in r.stdout


def write_runbook(folder: Path, name: str, body: str) -> Path:
    """A kernel runbook *name*.yaml in *folder*, beside the fixture tools."""
    if not (folder / "tools").exists():
        shutil.copytree(KERNEL / "tools", folder / "tools")
    path = folder / f"{name}.yaml"
    path.write_text(f"apiVersion: kernel/v0\nmeta:\n  name: {name}\n{body}")
    return path


def refusals(report: str) -> list[str]:
    return [line for line in report.splitlines() if ": refused: " in line]


def test_an_assert_on_a_pattern_capture_says_why_and_where(tmp_path: Path):
    """The capture a pattern takes is no source gert's assertions can check: the refusal
    says so, naming the extract's line, instead of asking for a capture from stdout
    (which it is)."""
    write_runbook(
        tmp_path,
        "pat",
        "tools: [http]\nsteps:\n"
        "  - {id: probe, type: tool, tool: http, action: json, inputs: {url: x}}\n"
        "  - id: check\n    type: assert\n    assert:\n"
        '      - {type: equals, value: "{{ .first_digit }}", expected: "2"}\n'
        "  - {id: done, type: end, outcome: {category: resolved, code: ok}}\n",
    )
    m = migrate([tmp_path / "pat.yaml"], tmp_path / "out")
    lines = refusals(m.report.text())
    extract = line_of(tmp_path / "tools" / "http.tool.yaml", "first_digit:")
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"pat.yaml:{line_of(tmp_path / 'pat.yaml', 'first_digit')}:")
    assert "'first_digit' is captured with the pattern (\\d) from stdout" in lines[0]
    assert f"the extract at tools/http.tool.yaml:{extract}:" in lines[0]
    assert "captures NAME from stdout" not in lines[0]


def test_steps_after_a_refused_step_say_once_that_they_depend_on_it(tmp_path: Path):
    write_runbook(
        tmp_path,
        "cascade",
        "tools: [http]\nsteps:\n"
        "  - {id: probe, type: tool, tool: http, action: nosuch}\n"
        "  - id: check\n    type: assert\n    assert:\n"
        '      - {type: equals, value: "{{ .status_code }}", expected: "200"}\n'
        "  - id: route\n    type: branch\n    branches:\n"
        "      - condition: '{{ eq .status_code \"200\" }}'\n"
        "        steps: [{id: ok, type: end, outcome: {category: resolved, code: ok}}]\n"
        "      - condition: default\n"
        "        steps: [{id: bad, type: end, outcome: {category: escalated, code: bad}}]\n"
        "  - {id: done, type: end, outcome: {category: resolved, code: done}}\n",
    )
    m = migrate([tmp_path / "cascade.yaml"], tmp_path / "out")
    lines = refusals(m.report.text())
    root = line_of(tmp_path / "cascade.yaml", "id: probe")
    assert any("has no action 'nosuch'" in x for x in lines), lines
    depends = [x for x in lines if f"depends on refused step 'probe' (line {root})" in x]
    assert [x.split(": refused: ")[1].split(":")[0] for x in depends] == [
        "assert step 'check'",
        "branch step 'route'",
    ]
    assert len(lines) == 3, lines  # nothing else: no 'needs a step before it', no 'name'
    assert "runbooks/cascade.runbook.yaml" not in m.files


def test_an_unknown_field_is_reported_with_the_field_it_likely_means(tmp_path: Path):
    top = write_runbook(tmp_path, "top", "stpes:\n  - {id: a, type: end}\n")
    step = write_runbook(
        tmp_path,
        "step",
        "steps:\n  - id: a\n    tpye: manual\n    instructions: look\n"
        "  - {id: b, type: end, outcome: {category: resolved, code: ok}}\n",
    )
    meta = write_runbook(
        tmp_path,
        "meta",
        "  descripton: a typo, and only that\nsteps:\n"
        "  - {id: a, type: manual, instructions: look}\n"
        "  - {id: b, type: end, outcome: {category: resolved, code: ok}}\n",
    )
    m = migrate([meta], tmp_path / "out")
    assert refusals(m.report.text()) == [
        f"meta.yaml:{line_of(meta, 'descripton')}:3: refused: meta: unknown field "
        "'descripton' (did you mean 'description'?): not a field of meta in the kernel/v0 "
        "format (its decoder rejects it)"
    ]
    assert "runbooks/meta.runbook.yaml" not in m.files  # a refused construct: not written
    m = migrate([top, step], tmp_path / "out")
    lines = refusals(m.report.text())
    assert lines == [
        f"step.yaml:{line_of(step, 'tpye')}:5: refused: step: unknown field 'tpye' (did you "
        "mean 'type'?): not a field of step in the kernel/v0 format (its decoder rejects it)",
        f"step.yaml:{line_of(step, 'id: b')}:5: refused: end step 'b': depends on refused "
        f"step 'a' (line {line_of(step, 'id: a')}); it converts once that step does",
        f"top.yaml:{line_of(top, 'stpes')}:1: refused: runbook: unknown field 'stpes' (did "
        "you mean 'steps'?): not a field of runbook in the kernel/v0 format (its decoder "
        "rejects it)",
    ]


def test_every_converted_file_names_its_source(sources: Path, tmp_path: Path):
    m = migrate([sources / "triage.yaml"], tmp_path / "out")
    for rel, text in m.files.items():
        if rel.endswith(".yaml"):
            assert text.startswith("# Migrated by gert migrate from "), rel
    test = m.files["scenarios/triage/healthy/test.yaml"]
    inputs = m.files["scenarios/triage/healthy/inputs.yaml"]
    assert test.splitlines()[0].endswith(" scenarios/triage/healthy/test.yaml (kernel/v0).")
    assert inputs.splitlines()[0].endswith(" scenarios/triage/healthy/scenario.yaml (kernel/v0).")
    assert load_file_text(inputs) == {"host": "web1"}


def test_the_report_is_the_same_from_any_folder(sources: Path, tmp_path: Path):
    """Paths are relative to the folder of the PATHs named, not to the current folder."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    runs = [
        gert("migrate", str(sources / "triage.yaml"), "--check", cwd=cwd)
        for cwd in (sources, elsewhere, sources / "tools")
    ]
    assert runs[0].stdout == runs[1].stdout == runs[2].stdout
    assert "\ntriage.yaml:" in runs[0].stdout and "\ntools/http.tool.yaml:" in runs[0].stdout
    assert f"{sources}" not in runs[0].stdout
    both = gert("migrate", str(sources), "--check", cwd=elsewhere)
    assert both.stdout == gert("migrate", ".", "--check", cwd=sources).stdout
    assert (
        "\nrefused.yaml:" in both.stdout and "\nscenarios/triage/broken/test.yaml:" in both.stdout
    )
    outs = [tmp_path / "a", tmp_path / "b"]
    for out, cwd in zip(outs, (sources, elsewhere), strict=True):
        gert("migrate", str(sources / "triage.yaml"), "--out", str(out), cwd=cwd)
    for p in sorted(outs[0].rglob("*")):
        if p.is_file():
            assert p.read_bytes() == (outs[1] / p.relative_to(outs[0])).read_bytes(), p


def test_a_dry_run_shows_a_tool_step_as_text_and_the_outcome_its_code(
    sources: Path, tmp_path: Path
):
    out = tmp_path / "out"
    assert gert("migrate", "triage.yaml", "--out", str(out), cwd=sources).returncode == 0
    dry = gert(
        "exec", "runbooks/triage.runbook.yaml", "--mode", "dry-run", "--var", "host=web1", cwd=out
    )
    shown = dry.stdout + dry.stderr
    assert "would run: http.get url: https://web1/healthz" in shown, shown
    assert "{'" not in shown and "args=" not in shown
    assert "→ outcome escalated code unknown_status" in shown
    replay = gert(
        "exec",
        "runbooks/triage.runbook.yaml",
        "--mode",
        "replay",
        "--scenario",
        "scenarios/triage/healthy",
        cwd=out,
    )
    shown = replay.stdout + replay.stderr
    assert "→ outcome no_action code healthy (host: web1, status: 200, tries: 1)" in shown, shown


def test_an_input_from_an_incident_field_keeps_its_source(tmp_path: Path):
    path = write_runbook(
        tmp_path,
        "sourced",
        "  inputs:\n"
        "    region: {from: incident.custom_fields.Region, default: eu}\n"
        "    server: {from: svc.fields.ServerName, required: true}\n"
        "steps:\n  - {id: a, type: manual, instructions: '{{ .region }} {{ .server }}'}\n"
        "  - {id: b, type: end, outcome: {category: resolved, code: ok}}\n",
    )
    m = migrate([path], tmp_path / "out")
    assert not m.refused, m.report.text()
    inputs = load_file_text(m.files["runbooks/sourced.runbook.yaml"])["meta"]["inputs"]
    assert inputs == {
        "region": {"default": "eu", "from": "incident.custom_fields.Region"},
        "server": {},
    }
    report = m.report.text()
    assert (
        "differs: input 'region' from: from incident.custom_fields.Region: gert takes the value from the incident given with --incident"
        in report
    )
    assert (
        "dropped: input 'server' from: 'svc.fields.ServerName' names a source of gert's Go implementation's input resolver"
        in report
    )
    assert "or a gert source (incident" not in report


def test_the_for_each_variable_is_declared_inside_the_loop(tmp_path: Path):
    path = write_runbook(
        tmp_path,
        "loop",
        "tools: [http]\nsteps:\n"
        "  - id: probe\n    type: tool\n    tool: http\n    action: get\n"
        '    inputs: {url: "https://{{ .item }}"}\n'
        '    for_each: {as: item, over: "a,b"}\n'
        "  - {id: done, type: end, outcome: {category: resolved, code: done}}\n",
    )
    lines = refusals(migrate([path], tmp_path / "out").report.text())
    assert len(lines) == 1 and "for_each: gert has no loops" in lines[0], lines
    # outside the loop the name is declared by nothing
    path.write_text(
        path.read_text().replace("code: done}", "code: done, meta: {i: '{{ .item }}'}}")
    )
    lines = refusals(migrate([path], tmp_path / "out").report.text())
    assert any("name 'item': nothing declares it" in x for x in lines), lines


def test_a_tools_entry_given_as_a_path_says_what_to_write(tmp_path: Path):
    path = write_runbook(
        tmp_path,
        "paths",
        "tools: [tools/http.tool.yaml]\nsteps:\n"
        "  - {id: probe, type: tool, tool: http, action: get, inputs: {url: x}}\n"
        "  - {id: done, type: end, outcome: {category: resolved, code: done}}\n",
    )
    lines = refusals(migrate([path], tmp_path / "out").report.text())
    assert len(lines) == 2 and "depends on refused step 'probe'" in lines[1], lines
    assert "which names the file tools/http.tool.yaml by its path" in lines[0]
    assert (
        "write tools: [http]" in lines[0]
        and "or tool: tools/http.tool.yaml in the step" in lines[0]
    )
    path.write_text(path.read_text().replace("tool: http,", "tool: tools/http.tool.yaml,"))
    m = migrate([path], tmp_path / "out")
    assert not m.refused, m.report.text()
    assert load_file_text(m.files["runbooks/paths.runbook.yaml"])["tools"] == {
        "http": "../tools/http.tool.yaml"
    }
