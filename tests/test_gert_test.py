"""`gert test`: replaying scenarios and checking test.yaml."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from gert.testing import capture_matches
from helpers import gert, gert_process

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def examples(tmp_path):
    dest = tmp_path / "examples"
    shutil.copytree(
        ROOT / "examples", dest, ignore=shutil.ignore_patterns(".runbook", "data", "20*")
    )
    return dest


def test_the_example_scenarios_pass(examples):
    r = gert("test", cwd=examples)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1] == "3 passed, 0 failed, 0 skipped"
    assert (
        "PASS    scenarios/login-success-rate-below-target/replica-build-running  (resolved, 3 steps,"
        in r.stdout
    )


def test_a_runbook_argument_selects_its_scenarios(examples):
    r = gert(
        "test", "runbooks/login-success-rate-below-target.runbook.yaml", "--json", cwd=examples
    )
    data = json.loads(r.stdout)
    assert r.returncode == 0 and data["passed"] == 3
    assert {s["final_state"] for s in data["scenarios"]} == {"resolved", "escalated", "no_action"}


def test_failures_show_expected_and_actual(examples):
    test = examples / "scenarios/login-success-rate-below-target/no-failures/test.yaml"
    test.write_text(
        "expected_outcome: resolved\nexpected_chain: [login-success-rate-below-target, Unknown]\n"
        "expected_captures: {failure_count: '>5', top_error: /^4/}\nmust_reach: [wait_for_build]\n"
        "expected_step_status: {check_login_failures: failed}\n"
    )
    r = gert("test", cwd=examples)
    assert r.returncode == 1
    out = r.stdout
    assert "FAIL    scenarios/login-success-rate-below-target/no-failures" in out
    for line in (
        "expected_outcome: expected resolved, got no_action",
        "expected_chain: expected ['login-success-rate-below-target', 'Unknown'], got ['login-success-rate-below-target']",
        "expected_captures.failure_count: expected '>5', got '0'",
        "expected_captures.top_error: expected '/^4/', got ''",
        "must_reach: step 'wait_for_build' was not reached",
        "expected_step_status.check_login_failures: expected failed, got passed",
    ):
        assert f"        {line}" in out, line
    assert out.splitlines()[-1] == "2 passed, 1 failed, 0 skipped"


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        (lambda d: (d / "inputs.yaml").unlink(), "inputs.yaml: missing"),
        (
            lambda d: (d / "steps/check_login_failures.json").write_text('{"data": {"succ'),
            "not valid JSON",
        ),
        (
            lambda d: (d / "steps/check_login_failures.json").write_text("[1, 2]"),
            "must be a JSON object",
        ),
        (
            lambda d: (d / "test.yaml").write_text(
                "expected_outcome: resolved\nexpect_chain: []\n"
            ),
            "unknown field 'expect_chain'",
        ),
        (
            lambda d: (d / "test.yaml").write_text("expected_captures: {x: '/[unclosed/'}\n"),
            "bad regex",
        ),
        (lambda d: (d / "scenario.yaml").write_text("comands: []\n"), "unknown field 'comands'"),
    ],
)
def test_a_broken_scenario_is_an_error_and_the_others_still_run(examples, damage, fragment):
    damage(examples / "scenarios/login-success-rate-below-target/no-failures")
    r = gert("test", cwd=examples)
    assert r.returncode == 1
    assert "ERROR   scenarios/login-success-rate-below-target/no-failures" in r.stdout
    assert fragment in r.stdout
    assert r.stdout.splitlines()[-1] == "2 passed, 1 failed, 0 skipped"


def test_a_scenario_without_test_yaml_is_skipped_and_update_writes_one(project):
    project.config("record: auto\n")
    project.write(
        "a.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: a, inputs: {who: {from: prompt}}}
        steps:
          - {id: hello, type: cli, with: {argv: [echo, "hi {{ .who }}"]}, capture: {said: stdout}}
          - {id: done, type: cli, with: {argv: [echo]}, outcomes: [{when: 'said contains "bo"', state: resolved}]}
        """,
    )
    chain = project.run("a.runbook.yaml", variables={"who": "bo"})
    assert chain.scenario
    r = gert("test", cwd=project.root)
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == "0 passed, 0 failed, 1 skipped"
    assert "SKIP    " + chain.scenario in r.stdout
    r = gert("test", "--update", cwd=project.root)
    assert r.returncode == 0, r.stdout
    written = (project.root / chain.scenario / "test.yaml").read_text()
    assert "expected_outcome: resolved" in written and "said: hi bo" in written
    r = gert("test", cwd=project.root)
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == "1 passed, 0 failed, 0 skipped"


def test_fail_fast_and_invalid_runbooks(examples):
    (examples / "scenarios/login-success-rate-below-target/no-failures/test.yaml").write_text(
        "expected_outcome: escalated\n"
    )
    r = gert("test", "--fail-fast", cwd=examples)
    assert r.returncode == 1 and r.stdout.splitlines()[-1] == "0 passed, 1 failed, 0 skipped"
    rb = examples / "runbooks/login-success-rate-below-target.runbook.yaml"
    rb.write_text(rb.read_text().replace("type: tool", "type: toolz"))
    r = gert("test", cwd=examples)
    assert r.returncode == 2 and "INVALID" in r.stdout and "unknown step type 'toolz'" in r.stdout


def test_any_runbook_file_selects_its_scenarios(examples):
    rb = examples / "runbooks/login-success-rate-below-target.runbook.yaml"
    renamed = rb.with_name("login-triage.yaml")
    rb.rename(renamed)
    r = gert("test", "runbooks/login-triage.yaml", cwd=examples)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1] == "3 passed, 0 failed, 0 skipped"
    r = gert("test", "gert.yaml", cwd=examples)
    assert r.returncode == 2
    assert "gert.yaml: not a runbook (a runbook starts with apiVersion: runbook/v0)" in r.stderr


def test_every_problem_of_a_test_file_on_its_own_line(examples):
    folder = examples / "scenarios/login-success-rate-below-target/no-failures"
    (folder / "test.yaml").write_text("expect_outcome: resolved\nmust_reach: check\n")
    r = gert("test", cwd=examples)
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    at = lines.index("ERROR   scenarios/login-success-rate-below-target/no-failures")
    test_yaml = "scenarios/login-success-rate-below-target/no-failures/test.yaml"  # from here
    assert lines[at + 1 : at + 4] == [
        f"        {test_yaml}:1:1: error: expect_outcome: unknown field 'expect_outcome'",
        "            hint: did you mean 'expected_outcome'?",
        f"        {test_yaml}:2:13: error: must_reach: expected a list, got a string",
    ]


@pytest.mark.parametrize(
    ("want", "got", "ok"),
    [
        ("42", "42", True),
        ("42", "42\n", False),
        (">0", "3", True),
        (">0", "0", False),
        ("<=5", "5", True),
        (">0", "many", False),
        ("/^ab+c$/", "abbbc", True),
        ("/x/", "y", False),
        ("!=0", "1", True),
    ],
)
def test_capture_expectations(want, got, ok):
    assert capture_matches(want, got) is ok


@pytest.mark.slow
def test_parallel_and_sequential_runs_agree(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "gert_test_corpus", ROOT / "bench" / "gert_test_corpus.py"
    )
    corpus = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(ROOT / "bench"))
    spec.loader.exec_module(corpus)  # the benchmark's corpus generator
    make = corpus.make

    make(tmp_path, 210)  # above PARALLEL_FROM, so -j 2 uses worker processes
    one = gert("test", "-j", "1", cwd=tmp_path)
    two = gert_process("test", "-j", "2", cwd=tmp_path)  # worker processes: a real process
    strip = lambda out: [re.sub(r", \d+ ms\)", ")", line) for line in out.splitlines()]  # noqa: E731
    assert one.returncode == two.returncode == 0
    assert strip(one.stdout) == strip(two.stdout)
    assert one.stdout.splitlines()[-1] == "210 passed, 0 failed, 0 skipped"


def test_coverage_of_the_examples(examples):
    r = gert("coverage", "--json", cwd=examples)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    rows = {row["runbook"]: row for row in data["runbooks"]}
    cause = rows["IsReplicaInBuild"]
    assert cause["steps"] == {"covered": 3, "total": 4}
    assert cause["branches"] == {"covered": 2, "total": 2}
    assert cause["outcomes"] == {"covered": 2, "total": 4}
    assert set(cause["uncovered"]) == {
        "step no_build_found",
        "outcome wait_for_build[1] escalated",
        "outcome no_build_found[0] needs_rca",
    }
    assert rows["login-success-rate-below-target"]["branches"] == {"covered": 2, "total": 2}
    assert data["total"] == {"steps": 80.0, "branches": 100.0, "outcomes": 66.7}


def test_min_branch_fails_when_a_condition_is_never_true(examples):
    shutil.rmtree(examples / "scenarios/login-success-rate-below-target/no-failures")
    r = gert("coverage", "--min-branch", "90", cwd=examples)
    assert r.returncode == 1
    assert (
        "uncovered: branch check_login_failures.outcomes[0] when (failure_count == 0)" in r.stdout
    )
    assert "branch coverage 75.0% is below --min-branch 90%" in r.stderr
    assert gert("coverage", "--min-branch", "70", cwd=examples).returncode == 0


def _one_step_project(root: Path) -> Path:
    """A project with a runbook of one captured cli step and a scenario for it."""
    (root / "gert.yaml").write_text("record: 'off'\n")
    (root / "v.runbook.yaml").write_text(
        "apiVersion: runbook/v0\n"
        "meta: {name: v, kind: composable, inputs: {service: {from: prompt}}}\n"
        "steps:\n"
        "  - id: version\n"
        "    type: cli\n"
        '    with: {argv: [echo, "{{ .service }} v1.4.2"]}\n'
        "    capture: {ver: {from: stdout, pattern: 'v(\\S+)'}}\n"
        "    outcomes: [{state: needs_rca}]\n"
    )
    folder = root / "scenarios" / "v" / "old"
    folder.mkdir(parents=True)
    (folder / "inputs.yaml").write_text("service: billing\n")
    (folder / "scenario.yaml").write_text(
        'commands:\n  - {argv: [echo, billing v1.4.2], stdout: "billing v1.4.2\\n"}\n'
    )
    (folder / "test.yaml").write_text("expected_outcome: needs_rca\n")
    return folder


def test_a_step_name_no_runbook_has_is_a_failure_with_a_suggestion(tmp_path):
    """`must_not_reach: [verison]` would pass for ever: the typo is reported."""
    folder = _one_step_project(tmp_path)
    (folder / "test.yaml").write_text(
        "expected_outcome: needs_rca\nmust_not_reach: [verison]\nmust_reach: [version]\n"
        "expected_step_status: {versoin: passed}\nexpected_captures: {vre: '1.4.2'}\n"
    )
    r = gert("test", cwd=tmp_path)
    assert r.returncode == 1
    assert (
        "must_not_reach: no step 'verison' in the project's runbooks (did you mean 'version'?)"
        in r.stdout
    )
    assert "expected_step_status: no step 'versoin'" in r.stdout
    assert "must_reach" not in r.stdout  # a step that exists and ran
    assert "got nothing (never captured; captured: 'ver')" in r.stdout


def test_why_a_step_failed_is_shown_with_the_failed_test(tmp_path):
    folder = _one_step_project(tmp_path)
    (folder / "scenario.yaml").write_text(
        'commands:\n  - {argv: [echo, billing v9], stdout: "billing v9\\n"}\n'
    )
    r = gert("test", cwd=tmp_path)
    assert r.returncode == 1
    assert (
        "step 'version' failed: scenarios/v/old: no command in scenario.yaml matches argv "
        "['echo', 'billing v1.4.2']" in r.stdout
    )
    assert str(tmp_path) not in r.stdout  # paths as the user can use them from here


def test_a_missing_input_points_at_inputs_yaml_and_its_misspelling(tmp_path):
    folder = _one_step_project(tmp_path)
    (folder / "inputs.yaml").write_text("servcie: billing\n")
    r = gert("test", cwd=tmp_path)
    assert r.returncode == 1
    assert "service: not in inputs.yaml (it has 'servcie': misspelled?)" in r.stdout
    assert "hint: add each to scenarios/v/old/inputs.yaml as NAME: VALUE" in r.stdout
    assert "--var" not in r.stdout  # gert test has no --var


def test_exec_replays_a_hand_written_scenario_as_gert_test_does(tmp_path):
    folder = _one_step_project(tmp_path)
    r = gert(
        "exec",
        "v.runbook.yaml",
        "--mode",
        "replay",
        "--scenario",
        str(folder),
        "--json",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["final_state"] == "needs_rca" and out["runs"][0]["captures"] == {"ver": "1.4.2"}
    r = gert("exec", "v.runbook.yaml", "--mode", "replay", "--scenario", "nope", cwd=tmp_path)
    assert r.returncode == 2 and "nope: no such scenario folder" in r.stderr
