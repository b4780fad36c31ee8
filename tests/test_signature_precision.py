"""Signatures with precision: for every signature imported from the CI guide and every one
in examples/signatures/, a passing log gives no match and a failing log gives exactly that
signature. JSON artifacts are matched by key, not as lines of text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gert.importer import import_guide
from gert.signatures import load, match

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "tests" / "fixtures" / "guides" / "ci-signatures.md"
EXAMPLE = ROOT / "examples" / "signatures" / "ci.signatures.yaml"

# A CI run where everything passed, mentioning every gate, test and artifact by name.
PASSING = """\
   Compiling pi v0.9.0
    Finished test [unoptimized] target(s) in 41.2s
     Running tests/ci.rs
running 13 tests
test gates::non_mock_compliance_gate ... ok
test conformance_must_pass_gate ... ok
test cross_platform_matrix ... ok
test build_evidence_bundle ... ok
test qa_certification_dossier::certification_dossier ... ok
wrote tests/full_suite_gate/extension_remediation_backlog.json (0 entries)
checked tests/suite_classification.toml: 212 files classified, 0 failures
gate suite_classification: pass
test waiver_lifecycle_audit ... ok
gate waiver_lifecycle: pass (0 expired waivers)
test provider_streaming::stream_chunks ... ok
test e2e_provider_streaming ... ok
test e2e_tui_resize ... ok
gate practical_finish_checkpoint: pass (0 technical PERF-3X issues open)
{"gate": "parameter_sweeps_integrity", "status": "pass", "detail": "parameter_sweeps.v1 ok"}
PARITY GATE PASS
suite_classification: 42 passed, 0 failed
schema check: no missing keys in docs/extension_remediation_backlog.json
waiver_lifecycle gate failover drill: ok
practical_finish_checkpoint: 0 technical PERF-3X issue(s) still open
test result: ok. 9 passed; 0 failed; 0 ignored
test result: ok. 13 passed; 0 failed; 0 ignored
"""


def failing(line: str, replaces: str) -> str:
    """The passing log with one of its lines replaced by a failure."""
    assert replaces in PASSING, replaces
    return PASSING.replace(replaces, line)


TEXT_FAILURES = {
    "non-mock": failing(
        "test gates::non_mock_compliance_gate ... FAILED",
        "test gates::non_mock_compliance_gate ... ok",
    ),
    "conformance": failing(
        "test conformance_must_pass_gate ... FAILED", "test conformance_must_pass_gate ... ok"
    ),
    "cross-platform": failing(
        "test cross_platform_matrix ... FAILED", "test cross_platform_matrix ... ok"
    ),
    "evidence-bundle": failing(
        "test build_evidence_bundle ... FAILED", "test build_evidence_bundle ... ok"
    ),
    "backlog": failing(
        "error: certification readiness: missing tests/full_suite_gate/extension_remediation_backlog.json",
        "wrote tests/full_suite_gate/extension_remediation_backlog.json (0 entries)",
    ),
    "suite-classification": failing(
        "gate suite_classification: fail (tests/new_test.rs not classified)",
        "gate suite_classification: pass",
    ),
    "waiver": failing(
        "test waiver_lifecycle_audit ... FAILED", "test waiver_lifecycle_audit ... ok"
    ),
    "streaming": failing(
        "test provider_streaming::stream_chunks ... FAILED",
        "test provider_streaming::stream_chunks ... ok",
    ),
    "tui": failing("test e2e_tui_resize ... FAILED", "test e2e_tui_resize ... ok"),
    "practical-finish": failing(
        "gate practical_finish_checkpoint failed: technical PERF-3X issue(s) still open",
        "gate practical_finish_checkpoint: pass (0 technical PERF-3X issues open)",
    ),
    "sweeps-line": failing(
        '{"gate": "parameter_sweeps_integrity", "status": "fail", "detail": "parameter_sweeps.schema drift"}',
        '{"gate": "parameter_sweeps_integrity", "status": "pass", "detail": "parameter_sweeps.v1 ok"}',
    ),
    "parity-gate": failing("PARITY GATE FAIL: 3 suites regressed", "PARITY GATE PASS"),
}

GATES = [
    "e2e_log_contract",
    "suite_classification",
    "evidence_bundle",
    "parameter_sweeps_integrity",
]


def verdict(failed: str | None) -> str:
    """full_suite_verdict.json with every gate passing but *failed*."""
    gates = [
        {"id": g, "status": "fail" if g == failed else "pass", "reproduce_command": f"replay {g}"}
        for g in GATES
    ]
    return json.dumps({"schema": "pi.full_suite_verdict.v1", "gates": gates}, indent=2)


# The JSON artifacts: (passing document, failing document).
JSON_ARTIFACTS = {
    "sweeps-verdict": (verdict(None), verdict("parameter_sweeps_integrity")),
    "blocking-gate": (verdict(None), verdict("e2e_log_contract")),
    "triage-diff": (
        json.dumps({"status": "stable", "summary": {"regression_count": 0}}, indent=2),
        json.dumps({"status": "stable", "summary": {"regression_count": 2}}, indent=2),
    ),
    "dropin-verdict": (
        json.dumps({"overall_verdict": "CERTIFIED", "checks": 12}, indent=2),
        json.dumps({"overall_verdict": "NOT_CERTIFIED", "checks": 12}, indent=2),
    ),
}

# Signature id -> the failure it names.
IMPORTED = {
    "non-mock-compliance-gate-failure": "non-mock",
    "extension-conformance-gate-failure": "conformance",
    "cross-platform-matrix-failure": "cross-platform",
    "evidence-bundle-validation-failure": "evidence-bundle",
    "certification-remediation-backlog-missing-or-stale": "backlog",
    "suite-classification-guard-failure": "suite-classification",
    "waiver-lifecycle-failure": "waiver",
    "provider-streaming-regression": "streaming",
    "e2e-tui-test-failure": "tui",
    "perf-3x-signature-parameter-sweeps-integrity-gate-failure": "sweeps-verdict",
    "perf-3x-signature-practical-finish-checkpoint-readiness-drif": "practical-finish",
    "incident-triggers-1": "triage-diff",
    "incident-triggers-2": "blocking-gate",
    "incident-triggers-3": "dropin-verdict",
    "incident-triggers-4": "parity-gate",
}
HAND_WRITTEN = {
    "non-mock-compliance-gate": "non-mock",
    "extension-conformance-gate": "conformance",
    "cross-platform-matrix": "cross-platform",
    "evidence-bundle": "evidence-bundle",
    "certification-backlog": "backlog",
    "suite-classification": "suite-classification",
    "waiver-lifecycle": "waiver",
    "provider-streaming": "streaming",
    "e2e-tui": "tui",
    "perf3x-parameter-sweeps": "sweeps-line",
    "perf3x-practical-finish": "practical-finish",
}


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> list:
    folder = tmp_path_factory.mktemp("ci")
    result = import_guide(GUIDE, "ci-signatures.md")
    path = folder / "ci-signatures.signatures.yaml"
    path.write_text(result.files["ci-signatures.signatures.yaml"])
    return load(path)


def _logs(failure: str) -> tuple[str, str]:
    if failure in JSON_ARTIFACTS:
        return JSON_ARTIFACTS[failure]
    return PASSING, TEXT_FAILURES[failure]


def test_every_signature_has_its_logs(imported):
    assert {s.id for s in imported} == set(IMPORTED)
    assert {s.id for s in load(EXAMPLE)} == set(HAND_WRITTEN)


@pytest.mark.parametrize("sig_id", sorted(IMPORTED))
def test_imported_signature_is_precise(imported, sig_id):
    passing, failed = _logs(IMPORTED[sig_id])
    assert [m.signature.id for m in match(imported, passing)] == [], sig_id
    for other in {f for f in IMPORTED.values() if f in JSON_ARTIFACTS}:
        assert match(imported, JSON_ARTIFACTS[other][0]) == [], other
    assert [m.signature.id for m in match(imported, failed)] == [sig_id]


@pytest.mark.parametrize("sig_id", sorted(HAND_WRITTEN))
def test_hand_written_signature_is_precise(sig_id):
    known = load(EXAMPLE)
    passing, failed = _logs(HAND_WRITTEN[sig_id])
    assert [m.signature.id for m in match(known, passing)] == [], sig_id
    assert [m.signature.id for m in match(known, failed)] == [sig_id]


def test_the_guides_severity_table_and_triggers_are_imported(imported):
    by_id = {s.id: s for s in imported}
    # Signatures under the parity section take its most severe level (SEV-1).
    sweeps = by_id["perf-3x-signature-parameter-sweeps-integrity-gate-failure"]
    assert sweeps.severity == "critical"
    assert sweeps.scale == {
        "label": "SEV-1",
        "level": "critical",
        "criteria": "Blocking parity regression on `main` or release cut path",
        "response": "Assign owner + post incident context within 30 minutes",
    }
    assert by_id["e2e-tui-test-failure"].severity == "medium"  # no level in the guide
    assert by_id["incident-triggers-4"].severity == "critical"
    # A JSON artifact is matched by key: the gate's id and status, not a line of text.
    assert sweeps.json == [[("id", "eq", "parameter_sweeps_integrity"), ("status", "eq", "fail")]]
    [hit] = match(imported, JSON_ARTIFACTS["sweeps-verdict"][1])
    assert hit.groups == {}  # nothing to pass to the runbook as inputs
    assert hit.lines[0][1].strip() == '"id": "parameter_sweeps_integrity",'
    # A JSON line that only mentions the gate's name in its text does not match.
    mention = '{"note": "id parameter_sweeps_integrity and status fail are checked"}'
    assert match(imported, mention) == []


def test_triage_reads_a_json_artifact_and_runs_its_runbook(project):
    import shutil

    from helpers import gert

    project.config("record: 'off'\n")
    shutil.copy(GUIDE, project.root / "ci-signatures.md")
    assert gert("import", "ci-signatures.md", cwd=project.root).returncode == 0
    artifact = project.root / "full_suite_verdict.json"
    artifact.write_text(JSON_ARTIFACTS["sweeps-verdict"][1])
    r = gert("triage", str(artifact), cwd=project.root)
    assert r.returncode == 0, r.stderr
    first, respond, line = r.stdout.splitlines()[:3]
    assert first.startswith(
        "1. PERF-3X signature: parameter_sweeps_integrity gate failure "
        "[perf-3x-signature-parameter-sweeps-integrity-gate-failure] severity critical (SEV-1)"
    )
    assert respond == "   respond: Assign owner + post incident context within 30 minutes"
    assert line == '   line 20: "id": "parameter_sweeps_integrity",'  # the failing gate
    ran = gert("triage", "--run", "--mode", "dry-run", str(artifact), cwd=project.root)
    assert ran.returncode == 0, ran.stderr
    assert "final state: completed" in ran.stdout
    artifact.write_text(JSON_ARTIFACTS["sweeps-verdict"][0])
    assert gert("triage", str(artifact), cwd=project.root).returncode == 1


def test_hostile_json_is_not_a_traceback(imported):
    deep = "[" * 200_000 + "]" * 200_000
    assert match(imported, deep) == []
    assert match(imported, '{"a": ' * 50_000 + "1" + "}" * 50_000) == []


def test_a_zero_count_or_a_negation_is_not_a_failure():
    import re2

    from gert.importer.signature_sections import text_match

    pattern = re2.compile(text_match("`suite_classification` gate fails")["regex"])
    for line in (
        "suite_classification: 42 passed, 0 failed",
        "suite_classification: 0 failures",
        "suite_classification: 0 errors, no missing keys, nothing failed without errors",
        "suite_classification: No errors",
        "suite_classification: never failed, not failing, zero failures",
        "suite_classification failover drill: ok",
    ):
        assert pattern.search(line) is None, line
    for line in (
        "suite_classification: 3 passed, 1 failed, 0 errors",
        "suite_classification: 10 failures",
        "error: suite_classification not classified",
        "Error in suite_classification",
        "[FAIL] suite_classification",
        "suite_classification ... FAILED",
        "suite_classification: fail (tests/new_test.rs)",
        "suite_classification: nothing else failed",
        "suite_classification: missing tests/new_test.rs",
    ):
        assert pattern.search(line) is not None, line
    described = "gate `x` fails with detail like `issues still open`"
    sequence = re2.compile(text_match(described)["regex"])
    assert sequence.search("gate x failed: issues still open")
    assert sequence.search("gate x: 2 issues still open")
    assert sequence.search("gate x: 0 issues still open") is None
    assert sequence.search("gate x: no issues still open") is None
