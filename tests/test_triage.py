"""gert triage: failure logs named by the signatures of the CI guide (signatures/v0)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gert.signatures import SignatureError, load, match
from helpers import gert

ROOT = Path(__file__).resolve().parent.parent
CI_SIGNATURES = ROOT / "examples" / "signatures" / "ci.signatures.yaml"

# A failure log as the CI prints it, for every signature of the CI guide that a log can show.
LOGS = {
    "non-mock-compliance-gate": "test gates::non_mock_compliance_gate ... FAILED",
    "extension-conformance-gate": "test conformance_must_pass_gate ... FAILED",
    "cross-platform-matrix": "test cross_platform_matrix ... FAILED",
    "evidence-bundle": "test build_evidence_bundle ... FAILED",
    "certification-backlog": "error: certification readiness: missing tests/full_suite_gate/extension_remediation_backlog.json",
    "suite-classification": "gate suite_classification: fail (tests/new_test.rs not classified)",
    "waiver-lifecycle": "test waiver_lifecycle_audit ... FAILED",
    "provider-streaming": "test provider_streaming::stream_chunks ... FAILED",
    "e2e-tui": "test e2e_tui_resize ... FAILED",
    "perf3x-parameter-sweeps": '{"gate": "parameter_sweeps_integrity", "status": "fail", "detail": "parameter_sweeps.schema drift"}',
    "perf3x-practical-finish": "gate practical_finish_checkpoint failed: technical PERF-3X issue(s) still open",
}


def cargo_log(failing: str) -> str:
    """A cargo test transcript with passing tests around one failure line."""
    return (
        "   Compiling pi v0.9.0\n    Finished test [unoptimized] target(s) in 41.2s\n"
        "     Running tests/ci.rs\n\nrunning 4 tests\ntest unit::parses_config ... ok\n"
        f"{failing}\ntest unit::renders_table ... ok\n\n"
        "test result: FAILED. 3 passed; 1 failed; 0 ignored\n"
    )


def test_every_seed_004_signature_is_in_the_example_map():
    assert {s.id for s in load(CI_SIGNATURES)} == set(LOGS)


@pytest.mark.parametrize("sig_id", sorted(LOGS))
def test_each_signature_names_its_failure_log(sig_id):
    found = match(load(CI_SIGNATURES), cargo_log(LOGS[sig_id]))
    assert found, sig_id
    assert found[0].signature.id == sig_id
    assert found[0].lines == [(7, LOGS[sig_id])]  # the failure's own line, numbered
    assert found[0].signature.replay  # a replay command to run


def test_more_specific_signature_ranks_first(tmp_path):
    f = tmp_path / "s.signatures.yaml"
    f.write_text(
        "apiVersion: signatures/v0\nsignatures:\n"
        "  - {id: any-failure, match: {substring: FAILED}, severity: critical}\n"
        "  - {id: streaming, match: {regex: 'test (?P<test>\\S*provider_streaming\\S*) \\.\\.\\. FAILED'}}\n"
    )
    found = match(load(f), cargo_log("test e2e_provider_streaming ... FAILED"))
    assert [m.signature.id for m in found] == ["streaming", "any-failure"]
    assert found[0].groups == {"test": "e2e_provider_streaming"}
    assert len(found[1].lines) == 2  # the failure line and the summary line


def test_cli_prints_replay_artifacts_and_matched_lines(tmp_path):
    log = tmp_path / "ci.log"
    log.write_text(cargo_log(LOGS["non-mock-compliance-gate"]))
    r = gert("triage", "--signatures", str(CI_SIGNATURES), str(log), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:3] == [
        "1. Non-mock compliance gate failure [non-mock-compliance-gate] severity high",
        "   line 7: test gates::non_mock_compliance_gate ... FAILED",
        "   captured: test=gates::non_mock_compliance_gate",
    ]
    assert "     cargo test --test non_mock_compliance_gate -- --nocapture" in r.stdout
    assert "     docs/non-mock-rubric.json" in r.stdout


def test_cli_reads_stdin_and_prints_json(tmp_path):
    shutil.copy(CI_SIGNATURES, tmp_path / "ci.signatures.yaml")  # found in the project
    (tmp_path / "gert.yaml").write_text("{}\n")
    r = gert("triage", "--json", input=cargo_log(LOGS["e2e-tui"]), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    [hit] = json.loads(r.stdout)
    assert hit["id"] == "e2e-tui" and hit["groups"] == {"test": "e2e_tui_resize"}
    assert hit["lines"] == [{"line": 7, "text": "test e2e_tui_resize ... FAILED"}]
    defined = CI_SIGNATURES.read_text().splitlines().index("  - id: e2e-tui") + 1
    assert hit["source"] == f"{tmp_path / 'ci.signatures.yaml'}:{defined}"


def test_no_match_exits_1(tmp_path):
    log = tmp_path / "ok.log"
    log.write_text("test result: ok. 4 passed\n")
    r = gert("triage", "--signatures", str(CI_SIGNATURES), str(log), cwd=tmp_path)
    assert r.returncode == 1 and "no known signature in" in r.stdout


def test_bad_signatures_file_names_line_and_field(tmp_path):
    f = tmp_path / "bad.signatures.yaml"
    f.write_text(
        "apiVersion: signatures/v0\nsignatures:\n"
        "  - id: broken\n    match: {regex: 'test (unclosed'}\n"
        "  - id: broken\n    match: {substring: x}\n    severity: urgent\n    colour: red\n"
    )
    with pytest.raises(SignatureError) as e:
        load(f)
    lines = str(e.value).splitlines()
    assert (
        lines[0].startswith(f"{f}:4:")
        and "signatures[0].match.regex: not a valid regular expression" in lines[0]
    )
    assert any(ln.startswith(f"{f}:5:") and "duplicate id 'broken'" in ln for ln in lines)
    assert any(ln.startswith(f"{f}:7:") and "severity: 'urgent'" in ln for ln in lines)
    assert any(ln.startswith(f"{f}:8:") and "colour: unknown field" in ln for ln in lines)
    r = gert("triage", "--signatures", str(f), str(f), cwd=tmp_path)
    assert r.returncode == 2 and "not a valid regular expression" in r.stderr


def test_run_starts_the_mapped_runbook_and_history_counts_how_it_ended(project, tmp_path):
    project.config("record: 'off'\n")
    project.write(
        "ci/non-mock.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: non-mock, inputs: {test: {}}}
        steps:
          - id: rerun
            type: cli
            with: {argv: [echo, 'rerunning {{ .test }}']}
            capture: {out: stdout}
            outcomes:
              - {when: 'out contains "gates::"', state: resolved, recommendation: Rerun passed}
              - {state: escalated}
        """,
    )
    project.write(
        "ci/ci.signatures.yaml",
        r"""
        apiVersion: signatures/v0
        signatures:
          - id: non-mock
            match: {regex: 'test (?P<test>\S*non_mock_compliance_gate\S*) \.\.\. FAILED'}
            runbook: non-mock.runbook.yaml
        """,
    )
    log = tmp_path / "ci.log"
    for failing in (
        "gates::non_mock_compliance_gate",
        "gates::non_mock_compliance_gate",
        "non_mock_compliance_gate",
    ):
        log.write_text(cargo_log(f"test {failing} ... FAILED"))
        r = gert("triage", "--run", "--json", str(log), cwd=project.root)
        assert r.returncode == 0, r.stderr
        chain = json.loads(r.stdout)
    run = project.root / chain["runs"][0]["folder"]
    manifest = (run / "run.yaml").read_text()
    assert "signature: non-mock" in manifest and "test: non_mock_compliance_gate" in manifest
    started = json.loads((run / "trace.jsonl").read_text().splitlines()[0])
    assert started["data"]["triggered_by"]["log_lines"] == [7]
    r = gert("triage", str(log), cwd=project.root)
    assert (
        "   earlier runs: resolved by non-mock in 2 of 3; escalated by non-mock in 1 of 3"
        in r.stdout
    )


def test_run_refuses_a_runbook_outside_the_project(project, tmp_path):
    project.write(
        "x.signatures.yaml",
        "apiVersion: signatures/v0\nsignatures:\n  - {id: out, match: {substring: boom}, runbook: ../../etc/passwd}\n",
    )
    log = tmp_path / "l.log"
    log.write_text("boom\n")
    r = gert("triage", "--run", str(log), cwd=project.root)
    assert r.returncode == 2 and "is outside the project" in r.stderr


def test_postmortem_relates_incidents_started_from_the_same_signature(project, tmp_path):
    from gert.incident.local import LocalProvider

    project.config("record: 'off'\n")
    project.write(
        "fix.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: fix, inputs: {test: {}}}
        steps:
          - {id: rerun, type: cli, with: {argv: [echo, '{{ .test }}']}, outcomes: [{state: resolved}]}
        """,
    )
    project.write(
        "ci.signatures.yaml",
        "apiVersion: signatures/v0\nsignatures:\n"
        "  - {id: gate, match: {regex: 'test (?P<test>\\S+) \\.\\.\\. FAILED'}, runbook: fix.runbook.yaml}\n",
    )
    incidents = LocalProvider(project.root / ".runbook" / "incidents")
    log = tmp_path / "ci.log"
    log.write_text(cargo_log("test gate_a ... FAILED"))
    for number in ("11", "12"):
        incidents.create(number, f"CI gate failed {number}")
        r = gert("triage", "--run", "--incident", number, str(log), cwd=project.root)
        assert r.returncode == 0, r.stderr
    r = gert("postmortem", "12", "--no-input", cwd=project.root)
    assert r.returncode == 0, r.stderr
    text = next((project.root / "postmortems").glob("*.md")).read_text()
    assert (
        "- [11] - reached the same cause (fix: resolved); started from the same failure signature (gate); also ran fix"
        in text
    )


def test_a_regex_cannot_make_triage_slow(tmp_path):
    # The shipped backlog signature is quadratic for a backtracking engine on a long line
    # of "missing "; every signature runs in linear time (RE2).
    import time

    log = tmp_path / "long.log"
    log.write_text("missing " * 20_000 + "\n")
    started = time.monotonic()
    ran = gert("triage", "--signatures", str(CI_SIGNATURES), str(log), cwd=tmp_path)
    assert time.monotonic() - started < 3
    assert ran.returncode == 1 and "no known signature" in ran.stdout


def test_a_pattern_the_linear_engine_cannot_run_is_a_clear_error(tmp_path):
    sigs = tmp_path / "bad.signatures.yaml"
    sigs.write_text(
        "apiVersion: signatures/v0\nsignatures:\n"
        "  - {id: back, title: Backreference, match: {regex: '(a+)\\1'}}\n"
    )
    ran = gert("triage", "--signatures", str(sigs), "-", cwd=tmp_path, input="aa\n")
    assert "Traceback" not in ran.stderr
    assert ran.returncode == 2
    assert "bad.signatures.yaml:3" in ran.stderr and "RE2" in ran.stderr


@pytest.mark.slow
def test_triage_streams_large_logs(tmp_path):
    import subprocess
    import sys

    log = tmp_path / "big.log"
    line = ("x" * 10_000 + "\n").encode()
    with open(log, "wb") as f:
        for _ in range(6_000):  # 60 MB
            f.write(line)
        f.write(b"test e2e_tui_resize ... FAILED\n")
    # Peak memory of this process image: VmHWM (ru_maxrss would carry the parent's peak
    # across fork and exec).
    code = (
        "import sys\n"
        "from gert.cli import main\n"
        "try:\n"
        f"    main(['triage', '--signatures', {str(CI_SIGNATURES)!r}, {str(log)!r}, '--json'])\n"
        "except SystemExit as e:\n"
        "    print('exit', e.code, file=sys.stderr)\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print('maxrss_kb', hwm, file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert "exit 0" in out.stderr, out.stderr
    assert '"e2e-tui"' in out.stdout
    rss_mb = int(out.stderr.split("maxrss_kb ")[1].split()[0]) / 1024
    assert rss_mb < 110, f"{rss_mb:.0f} MB for a 60 MB log"


def test_the_example_signatures_do_not_match_a_passing_log(tmp_path):
    """Lines a green build prints that name a gate, a count of 0 or a word like "failover"
    are not failures."""
    from pathlib import Path

    log = tmp_path / "pass.log"
    log.write_text(
        "test result: ok. 9 passed; 0 failed; 0 ignored\n"
        "suite_classification: 42 passed, 0 failed\n"
        "checked tests/suite_classification.toml: 212 files classified, 0 failures\n"
        "schema check: no missing keys in docs/extension_remediation_backlog.json\n"
        "waiver_lifecycle gate failover drill: ok\n"
        "practical_finish_checkpoint: 0 technical PERF-3X issue(s) still open\n"
    )
    examples = Path(__file__).resolve().parent.parent / "examples"
    r = gert(
        "triage",
        "--signatures",
        str(examples / "signatures" / "ci.signatures.yaml"),
        str(log),
        cwd=tmp_path,
    )
    assert r.returncode == 1 and "no known signature" in r.stdout, r.stdout
