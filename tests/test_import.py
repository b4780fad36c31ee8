"""gert import: prose guides (the sample incident and CI guides) into runbooks that validate, dry-run and draw."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from gert.diagram import build, to_mermaid
from gert.engine import Engine, Options
from gert.importer import choice_text
from gert.load import load_file
from gert.project import open_project
from gert.validate import load_runbook
from helpers import gert, mermaid_parse

GUIDES = Path(__file__).parent / "fixtures" / "guides"


def imported(project, guide: str, *extra: str):  # type: ignore[no-untyped-def]
    if (GUIDES / guide).exists():
        shutil.copy(GUIDES / guide, project.root / guide)
    r = gert("import", guide, *extra, cwd=project.root)
    folder = project.root / "runbooks" / "imported" / Path(guide).stem
    return r, folder, sorted(folder.glob("*.runbook.yaml"))


@pytest.mark.parametrize("guide", ["incident-guide.md", "ci-signatures.md", "api-error-rate.md"])
def test_sample_guides_import_validate_dry_run_and_draw(project, guide):
    project.config("record: 'off'\n")
    r, folder, runbooks = imported(project, guide)
    assert r.returncode == 0, r.stderr
    assert len(runbooks) >= (4 if guide == "api-error-rate.md" else 10)
    assert f"imported {len(runbooks)} runbook(s)" in r.stdout
    v = gert("validate", str(folder), cwd=project.root)
    assert v.returncode == 0 and "0 errors, 0 warnings" in v.stderr, v.stderr
    engine = Engine(open_project(project.root))
    diagrams = []
    for path in runbooks:
        model = load_runbook(path).model
        variables = {name: "x" for name in model.meta.inputs}
        chain = engine.run(path, Options(mode="dry-run", variables=variables))
        assert chain.final.status == "completed", (path.name, chain.final.error)
        diagrams.append(to_mermaid(build(model, path)))
    assert all(v["ok"] for v in mermaid_parse(diagrams))


def test_import_is_byte_identical_twice(project, tmp_path):
    _, folder, first = imported(project, "incident-guide.md", "--mapping")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    shutil.rmtree(folder)
    _, _, second = imported(project, "incident-guide.md", "--mapping")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert len(first) == len(second)


def test_flowchart_becomes_a_tree_with_choices_loops_and_outcomes(project):
    _, folder, _ = imported(project, "incident-guide.md", "--mapping")
    doc = load_file(folder / "1-first-triage-flow.runbook.yaml").data
    assert doc["meta"]["kind"] == "mitigation"
    assert doc["meta"]["source"]["path"] == "incident-guide.md"
    assert len(doc["meta"]["source"]["sha256"]) == 64 and doc["meta"]["source"]["lines"] == [5, 19]
    decision = next(n for n in doc["tree"] if "branches" in n)
    step = decision["step"]
    assert step["id"] == "validation_passes" and step["source"] == {"lines": [11, 11]}
    assert [o["value"] for o in step["choices"]["options"]] == ["yes", "no"]
    yes, no = decision["branches"]
    assert yes["condition"] == 'decision == "yes"'
    assert yes["steps"][-1]["outcomes"] == [{"state": "resolved", "recommendation": "resolved"}]
    assert no["steps"][-1]["id"] == "repeat_validate_run_id"  # I --> C loops back
    r = gert("import", "incident-guide.md", cwd=project.root)
    assert (
        "incident-guide.md:10: warning: the flowchart loops back to C (validate <run_id>); "
        "imported as a 'go back to step validate_run_id' step" in r.stderr
    )
    mapping = (folder / "incident-guide.mapping.md").read_text()
    assert "- lines 11-11 -> 1-first-triage-flow/validation_passes (decision (2 ways))" in mapping
    assert "not imported" not in mapping and "not accounted" not in mapping


def test_shell_blocks_become_steps_and_unknown_programs_are_shown_not_run(project):
    _, folder, _ = imported(project, "ci-signatures.md")
    doc = load_file(folder / "quick-reference-replay-from-any-failure.runbook.yaml").data
    steps = [n["step"] for n in doc["tree"]]
    first = steps[0]
    # A script the command table does not know is treated as changing state: shown.
    assert first["type"] == "manual"
    assert first["title"] == "1. Replay all failed suites from a previous E2E run"
    assert first["id"] == "replay_all_failed_suites"
    assert (
        "./scripts/e2e/run_all.sh --rerun-from tests/e2e_results/{{.ts}}/summary.json"
        in first["instructions"]
    )
    assert "run_all.sh is not in the table of read-only commands" in first["instructions"]
    debug = next(s for s in steps if s["title"] == "4. Replay with debug output")
    assert "RUST_LOG=debug RUST_BACKTRACE=1 cargo test" in debug["instructions"]
    assert set(doc["meta"]["inputs"]) == {"ts", "suite_name", "test_name"}


def test_a_read_with_an_env_prefix_is_a_cli_step_with_env(project):
    project.write(
        "env.md", "# Env\n\n## Look\n\n```bash\nKUBECONFIG=/etc/kube/admin kubectl get pods\n```\n"
    )
    r = gert("import", "env.md", cwd=project.root)
    assert r.returncode == 0, r.stderr
    [node] = load_file(project.root / "runbooks/imported/env/look.runbook.yaml").data["tree"]
    assert node["step"]["type"] == "cli"
    assert node["step"]["with"] == {
        "argv": ["kubectl", "get", "pods"],
        "env": {"KUBECONFIG": "/etc/kube/admin"},
    }


def test_state_changing_commands_are_shown_not_run(project):
    project.write(
        "ops.md",
        "# Ops\n\n## Clean up\n\n```bash\n# look first\nkubectl get pods\n# then remove\nkubectl delete pod <pod>\n```\n",
    )
    r = gert("import", "ops.md", cwd=project.root)
    assert r.returncode == 0, r.stderr
    doc = load_file(project.root / "runbooks/imported/ops/clean-up.runbook.yaml").data
    look, remove = (n["step"] for n in doc["tree"])
    assert look["type"] == "cli" and look["with"]["argv"] == ["kubectl", "get", "pods"]
    assert remove["type"] == "manual" and "kubectl delete pod {{.pod}}" in remove["instructions"]
    assert remove["source"] == {"lines": [9, 9]}


def test_bad_guides_say_what_and_where_and_keep_what_they_could(project):
    project.write(
        "bad.md",
        "# Bad\n\n## Broken chart\n\n```mermaid\nflowchart TD\n  A[open --> B\n```\n\n"
        "## One exit\n\n```mermaid\nflowchart TD\n  A{really?} --> B\n  B --> C[done]\n```\n\n"
        "## Python\n\n```python\nprint(1)\n```\n",
    )
    r = gert("import", "bad.md", cwd=project.root)
    assert r.returncode == 2
    assert "bad.md:7: error: flowchart: node A: label is not closed" in r.stderr
    assert "bad.md:14: warning: decision A (really?) has one exit" in r.stderr
    assert "bad.md:14: warning: node B is used in an edge but never defined" in r.stderr
    assert (project.root / "runbooks/imported/bad/one-exit.runbook.yaml").exists()
    # Code in another language is shown in the instructions, never run.
    python = load_file(project.root / "runbooks/imported/bad/python.runbook.yaml").data
    assert [n["step"]["type"] for n in python["tree"]] == ["manual"]
    assert "print(1)" in python["tree"][0]["step"]["instructions"]
    project.write("flat.md", "just words\n\n```bash\nuptime\n```\n")
    r = gert("import", "flat.md", cwd=project.root)
    assert r.returncode == 0 and "flat.md:1: warning: no headings" in r.stderr


def test_ci_guide_signatures_route_failure_logs_to_the_imported_runbooks(project, tmp_path):
    from gert.signatures import load, match
    from test_triage import LOGS, cargo_log

    project.config("record: 'off'\n")
    r, folder, _ = imported(project, "ci-signatures.md")
    assert "and a signatures file" in r.stdout
    assert "names no literal text (in `backticks`) to match" in r.stderr  # the flaky-test one
    known = load(folder / "ci-signatures.signatures.yaml")
    assert len(known) == 15  # 11 signature sections (the flaky one left out), 4 triggers
    by_id = {s.id: s for s in known}
    nonmock = by_id["non-mock-compliance-gate-failure"]
    assert nonmock.replay == ["cargo test --test non_mock_compliance_gate -- --nocapture"]
    assert nonmock.artifacts == ["docs/non-mock-rubric.json", "docs/test_double_inventory.json"]
    assert nonmock.remediation[0] == "Check which module fell below its floor threshold."
    cargo_failures = {
        "non-mock-compliance-gate": "non-mock-compliance-gate-failure",
        "extension-conformance-gate": "extension-conformance-gate-failure",
        "cross-platform-matrix": "cross-platform-matrix-failure",
        "evidence-bundle": "evidence-bundle-validation-failure",
        "waiver-lifecycle": "waiver-lifecycle-failure",
        "provider-streaming": "provider-streaming-regression",
        "e2e-tui": "e2e-tui-test-failure",
    }
    for hand_written, imported_id in cargo_failures.items():
        found = match(known, cargo_log(LOGS[hand_written]))
        assert found and found[0].signature.id == imported_id, hand_written
    # The whole way: a CI log to the imported recovery runbook, run in dry-run.
    log = tmp_path / "ci.log"
    log.write_text(cargo_log(LOGS["e2e-tui"]))
    r = gert("triage", "--run", "--mode", "dry-run", "--json", str(log), cwd=project.root)
    assert r.returncode == 0, r.stderr
    chain = json.loads(r.stdout)
    assert chain["runs"][0]["runbook"] == "e2e-tui-test-failure"


def test_incident_guide_classification_flow_becomes_a_router_into_the_recovery_runbooks(project):
    project.config("record: 'off'\n")
    _, folder, _ = imported(project, "incident-guide.md", "--mapping")
    doc = load_file(folder / "2-failure-classification-flow.runbook.yaml").data
    decision = next(n for n in doc["tree"] if "branches" in n)
    assert [o["value"] for o in decision["step"]["choices"]["options"]][:2] == [
        "stage_conflict",
        "validation failures",
    ]
    handoffs = {
        b["condition"]: b["steps"][0]["outcomes"][0]["next_runbook"]["file"]
        for b in decision["branches"]
    }
    assert handoffs == {
        'decision == "stage_conflict"': "a-stage-conflict-on-run.runbook.yaml",
        'decision == "validation failures"': "b-validation-failure.runbook.yaml",
        'decision == "codex structured JSON error"': "c-codex-exec-mode-failed-to-return-valid-structured-json.runbook.yaml",
        'decision == "OPENAI_API_KEY missing"': "d-openai-api-key-is-required-remote-llm.runbook.yaml",
        'decision == "invalid OPENAI_BASE_URL"': "e-invalid-openai-base-url.runbook.yaml",
        'decision == "invalid run metadata"': "f-invalid-run-metadata.runbook.yaml",
    }
    # Chosen on the terminal (here: from answers), the router chains into the recovery runbook.
    engine = Engine(open_project(project.root))
    chain = engine.run(
        folder / "2-failure-classification-flow.runbook.yaml",
        Options(
            # Every step of these two runbooks is manual: a real run executes nothing.
            mode="real",
            post=False,
            answers={"error_signature": {"choice": "invalid OPENAI_BASE_URL"}},
        ),
    )
    assert [r.runbook for r in chain.runs][:2] == [
        "2-failure-classification-flow",
        "e-invalid-openai-base-url",
    ]
    assert (
        "(hand-off to e-invalid-openai-base-url)"
        in (folder / "incident-guide.mapping.md").read_text()
    )


def _paths(graph) -> set[tuple[tuple[str, ...], str]]:  # type: ignore[no-untyped-def]
    """Every way through a drawn runbook: the labels of the choices taken and where it ends."""
    kinds = {n.id: n for n in graph.nodes}
    out: set[tuple[tuple[str, ...], str]] = set()

    def visit(node_id: str, labels: tuple[str, ...], seen: frozenset[str]) -> None:
        node = kinds[node_id]
        if node.kind == "outcome":
            out.add((labels, node.label.split(":")[0]))
            return
        if node.kind == "end":
            out.add((labels, "completed"))
            return
        for source, target, label in graph.edges:
            if source == node_id and target not in seen:
                # Imported choices are plain text (they sit in quoted conditions).
                choice = choice_text(re.sub(r'^decision == "(.*)"$', r"\1", label))
                taken = (choice,) if choice and choice != "otherwise" else ()  # the default way
                visit(target, labels + taken, seen | {target})

    visit(graph.nodes[0].id, (), frozenset())
    return out


def test_round_trip_runbook_to_mermaid_to_import_keeps_the_tree_shape(project):
    """Every example runbook, drawn by gert diagram and imported back, has the same ways
    through it: the same choices in the same order, ending in the same states."""
    examples = Path(__file__).resolve().parent.parent / "examples" / "runbooks"
    checked = 0
    for path in sorted(examples.rglob("*.runbook.yaml")):
        original = build(load_runbook(path).model, path)
        guide = project.root / f"{path.stem}.md"
        guide.write_text(f"# {path.stem}\n\n## Flow\n\n```mermaid\n{to_mermaid(original)}```\n")
        r = gert("import", guide.name, "--out", "back", cwd=project.root)
        assert r.returncode == 0, r.stderr
        back_path = project.root / "back" / "flow.runbook.yaml"
        back = build(load_runbook(back_path).model, back_path)
        assert _paths(back) == _paths(original), path.name
        checked += 1
    assert checked >= 5


def test_a_decision_about_a_known_input_becomes_a_condition(project):
    project.config("record: 'off'\n")
    project.write(
        "deploy.md",
        "# Deploy\n\n## Roll out\n\n```mermaid\nflowchart TD\n"
        "  A[deploy to <env>] --> B{which env?}\n"
        "  B -->|prod| C[page the release manager]\n"
        "  B -->|staging| D[done]\n```\n",
    )
    r = gert("import", "deploy.md", cwd=project.root)
    assert r.returncode == 0, r.stderr
    path = project.root / "runbooks/imported/deploy/roll-out.runbook.yaml"
    doc = load_file(path).data
    assert doc["meta"]["inputs"] == {"env": {"description": "<env> in the guide"}}
    assert doc["tree"][0]["step"]["instructions"] == "deploy to {{.env}}"
    decision = doc["tree"][1]
    assert "choices" not in decision["step"]
    assert [b["condition"] for b in decision["branches"]] == ['env == "prod"', 'env == "staging"']
    engine = Engine(open_project(project.root))
    for env, state in (("staging", "resolved"), ("prod", "escalated")):
        chain = engine.run(path, Options(post=False, variables={"env": env}))
        assert chain.final.state == state, env


def test_a_guide_that_is_not_utf8_is_a_clear_error(tmp_path):
    guide = tmp_path / "latin1.md"
    guide.write_bytes("# Guide\n\nCaf\xe9 r\xe9seau\n".encode("latin-1"))
    ran = gert("import", str(guide), cwd=tmp_path)
    assert "Traceback" not in ran.stderr
    assert ran.returncode == 2
    assert "latin1.md:3: not UTF-8 text" in ran.stderr


DESTRUCTIVE = [
    "dd if=/dev/zero of=/dev/sdb",
    "mkfs.ext4 /dev/sdb1",
    "sed -i 's/a/b/' /etc/app.conf",
    "iptables -F",
    "crontab -r",
    "redis-cli FLUSHALL",
    "git push --force origin main",
    "kubectl cordon node1",
    "kubectl drain node1",
    "systemctl disable app",
    "docker system prune -af",
    "cp /dev/null /var/lib/app/state.db",
    "ln -sf /dev/null /etc/app.conf",
    "userdel bob",
    "tee /etc/app.conf",
    "curl -X DELETE http://127.0.0.1/api/items/1",
    'psql -c "UPDATE accounts SET locked = false"',
    "rm -rf /var/lib/app",
    "env rm -f /tmp/x",
    "timeout 5 rm -f /tmp/x",
    "find /var/log -name '*.gz' -delete",
    "python3 -c 'import os; os.remove(\"x\")'",
]
READS = [
    "kubectl -n prod get pods",
    "systemctl status app",
    "curl -s http://127.0.0.1/health",
    "df -h",
    "git log -5",
]


def test_destructive_commands_import_as_manual_steps(project):
    block = "\n".join(DESTRUCTIVE + READS)
    project.write("danger.md", f"# Danger\n\n## Steps\n\n```bash\n{block}\n```\n")
    r = gert("import", "danger.md", cwd=project.root)
    assert r.returncode == 0, r.stderr
    doc = load_file(project.root / "runbooks/imported/danger/steps.runbook.yaml").data
    steps = [n["step"] for n in doc["tree"]]
    assert len(steps) == len(DESTRUCTIVE) + len(READS)
    kinds = {s["title"]: s["type"] for s in steps}
    ran = [title for title, kind in kinds.items() if kind == "cli"]
    assert len(ran) == len(READS), f"these would run without asking: {ran}"
    for step in steps[: len(DESTRUCTIVE)]:
        assert step["type"] == "manual" and "Run this yourself" in step["instructions"]


# ------------------------------------------------------------------ a guide an on-call wrote


def _steps(tree: list) -> list[dict]:
    """Every step of a tree, branches included, in order."""
    out = []
    for node in tree:
        out.append(node.get("step", node))
        for branch in node.get("branches", []):
            out += _steps(branch["steps"])
    return out


def _runbooks(project, guide: str) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    r, _folder, paths = imported(project, guide, "--mapping")
    assert r.returncode == 0, r.stderr
    return {p.name.removesuffix(".runbook.yaml"): load_file(p).data for p in paths}


def test_a_heredoc_is_one_program_and_none_of_its_lines_is_a_command(project):
    runbooks = _runbooks(project, "api-error-rate.md")
    count = runbooks["count-the-failed-requests"]
    [step] = _steps(count["tree"])
    assert step["type"] == "manual" and step["id"] == "count_failed_requests"
    body = (GUIDES / "api-error-rate.md").read_text().split("```bash\n")[3].split("```")[0]
    assert body.startswith("python3 - <<'PY'\nimport json") and body.rstrip().endswith("PY")
    assert f"```bash\n{body}```" in step["instructions"]  # the whole block, as written
    argv0 = {
        s["with"]["argv"][0]
        for rb in runbooks.values()
        for s in _steps(rb["tree"])
        if s["type"] == "cli"
    }
    assert argv0 == {"kubectl"}  # never import, from, data, print or PY


def test_shell_grammar_keeps_compound_commands_lists_and_continuations_whole(project):
    block = (
        "kubectl get pods \\\n  -n prod\n"
        "for i in 1 2 3; do\n  curl -s http://127.0.0.1/health\ndone\n"
        "kubectl get nodes\n"
    )
    project.write("loops.md", f"# Loops\n\n## Check\n\n```bash\n{block}```\n")
    runbooks = _runbooks(project, "loops.md")
    first, rest = _steps(runbooks["check"]["tree"])
    assert first["type"] == "cli" and first["with"]["argv"] == [
        "kubectl",
        "get",
        "pods",
        "-n",
        "prod",
    ]
    assert first["source"] == {"lines": [6, 7]}  # the continuation is part of it
    # From the loop on, the block is one program: the loop and what follows, as written.
    assert rest["type"] == "manual" and "a for loop" in rest["instructions"]
    assert (
        "for i in 1 2 3; do\n  curl -s http://127.0.0.1/health\ndone\nkubectl get nodes"
        in rest["instructions"]
    )
    project.write(
        "lists.md",
        "# Lists\n\n## Check\n\n```sh\ncurl -sf http://127.0.0.1/health && echo up || echo down\n```\n",
    )
    [step] = _steps(_runbooks(project, "lists.md")["check"]["tree"])
    assert (
        step["type"] == "manual"
        and "curl -sf http://127.0.0.1/health && echo up || echo down" in step["instructions"]
    )


def test_read_only_is_read_only_and_a_read_only_pipeline_says_so(project):
    look = _runbooks(project, "api-error-rate.md")["look-first"]
    rollout, journal, pods = _steps(look["tree"])
    assert rollout["type"] == "cli"
    assert rollout["with"]["argv"] == ["kubectl", "-n", "prod", "rollout", "status", "deploy/api"]
    assert journal["type"] == "manual"
    assert (
        "read-only (journalctl only reads; tail only reads), but a pipeline needs a shell"
        in journal["instructions"]
    )
    assert "changes state" not in journal["instructions"]
    # A transcript: the $ line runs; the table after it is its sample output, not commands.
    assert pods["type"] == "cli" and pods["with"]["argv"] == [
        "kubectl",
        "-n",
        "prod",
        "get",
        "pods",
        "-l",
        "app=api",
    ]
    assert "NAME                  READY   STATUS" in pods["description"]
    restart = _runbooks(project, "api-error-rate.md")["restart-the-worker"]
    assert [s["type"] for s in _steps(restart["tree"])] == ["manual", "manual"]
    assert "changes state: sudo runs other code" in _steps(restart["tree"])[1]["instructions"]


def test_step_ids_say_what_the_step_does(project):
    ids = [s["id"] for s in _steps(_runbooks(project, "api-error-rate.md")["look-first"]["tree"])]
    assert ids == ["check_rollout_status", "read_api_worker_journal", "get_pods"]
    restart = _runbooks(project, "api-error-rate.md")["restart-the-worker"]
    assert [s["id"] for s in _steps(restart["tree"])] == ["restart_worker", "restart_api_worker"]


def test_no_prose_is_dropped(project):
    runbooks = _runbooks(project, "api-error-rate.md")
    text = json.dumps(runbooks)
    assert "Only if the dashboards say the process is wedged." in text
    assert "what you restarted or rolled back, and when" in text  # the checklist, in its node
    incident = _runbooks(project, "incident-guide.md")
    f = incident["f-invalid-run-metadata"]
    for words in (
        "Signature:",
        "error indicates incompatible or invalid `run.json`",
        "Cause:",
        "schema evolution or manual metadata corruption",
        "Recovery:",
        "archive run: `python3.11 scripts/orchestration.py archive <run_id>`",
    ):
        assert words in f["meta"]["description"], words
    archive = next(s for s in _steps(f["tree"]) if s["id"] == "archive_run")
    assert "python3.11 scripts/orchestration.py archive" in archive["instructions"]
    for name in (
        "a-stage-conflict-on-run",
        "b-validation-failure",
        "c-codex-exec-mode-failed-to-return-valid-structured-json",
        "d-openai-api-key-is-required-remote-llm",
        "e-invalid-openai-base-url",
    ):
        assert "Recovery:" in incident[name]["meta"]["description"], name
    escalation = incident["5-escalation-flow"]["meta"]["description"]
    assert (
        "Include in escalation report:" in escalation
        and "- exact typed error message" in escalation
    )


def _mapped(folder: Path, stem: str) -> dict[int, str]:
    """Line -> where it went, from the --mapping file."""
    out = {}
    for line in (folder / f"{stem}.mapping.md").read_text().splitlines():
        m = re.match(r"- lines (\d+)-(\d+) -> (.*)$", line)
        if m:
            for n in range(int(m.group(1)), int(m.group(2)) + 1):
                assert n not in out, f"line {n} mapped twice"
                out[n] = m.group(3)
    return out


FIXTURE_GUIDES = sorted(p for p in GUIDES.rglob("*.md") if p.name != "README.md")


def test_mapping_accounts_for_every_line_of_every_fixture_guide(tmp_path):
    from gert.importer import import_into, slug

    assert len(FIXTURE_GUIDES) > 150
    for guide in FIXTURE_GUIDES:
        out = tmp_path / slug(guide.stem)
        result = import_into(guide, GUIDES, out, mapping=True)
        mapped = _mapped(out, slug(guide.stem))
        total = len(guide.read_text(encoding="utf-8").splitlines())
        assert sorted(mapped) == list(range(1, total + 1)), guide
        lost = [
            n for n, what in mapped.items() if "not imported" in what or "not accounted" in what
        ]
        assert lost == [], (guide, lost)
        assert not result.unaccounted


# ------------------------------------------------------------------ every edge of a flowchart


def test_every_answer_ends_where_the_flowchart_says(project):
    """H{Did the error rate drop?} -->|yes| E[Resolved]: E is also an end of another
    branch; answering yes must still end resolved, not run on into the escalation."""
    project.config("record: 'off'\n")
    _runbooks(project, "api-error-rate.md")
    path = project.root / "runbooks/imported/api-error-rate/decide.runbook.yaml"
    engine = Engine(open_project(project.root))

    def ends(*choices: tuple[str, str]) -> str:
        answers = {sid: {"choice": value} for sid, value in choices}
        chain = engine.run(path, Options(mode="real", post=False, answers=answers))
        return chain.final.state

    dropped = "did_the_error_rate_drop"
    assert ends(("deploy_in_the_last_hour", "yes"), (dropped, "yes")) == "resolved"
    assert ends(("deploy_in_the_last_hour", "yes"), (dropped, "otherwise")) == "escalated"
    still = "is_the_error_rate_still_above_5"
    assert ends(("deploy_in_the_last_hour", "no"), (still, "no")) == "resolved"
    assert (
        ends(("deploy_in_the_last_hour", "no"), (still, "yes"), (f"{dropped}_2", "yes"))
        == "resolved"
    )
    assert (
        ends(("deploy_in_the_last_hour", "no"), (still, "yes"), (f"{dropped}_2", "otherwise"))
        == "escalated"
    )


def _chart_builder(chart_text: str):  # type: ignore[no-untyped-def]
    from gert.importer import Imported
    from gert.importer.build import RunbookBuilder
    from gert.mermaid import parse

    result = Imported()
    builder = RunbookBuilder("flow", "Flow", {"path": "g.md", "sha256": ""}, result, (1, 1))
    builder.from_chart(parse(chart_text, first_line=10))
    return builder, result


DECISION = """flowchart TD
    A[Alert fires] --> B{Deploy in the last hour?}
    B -->|yes| R[Roll back the deploy]
    B -->|no| F[Escalate to the on-call lead]
    R --> H{Did the error rate drop?}
    H -->|yes| E[Resolved]
    H -->|no| F
"""


def test_an_edge_the_tree_lost_is_an_error_at_its_line():
    builder, result = _chart_builder(DECISION)
    builder.check_edges()
    assert not result.failed, result.problems
    # Take the yes branch of "Did the error rate drop?" away: the check names the edge.
    decision = next(n for n in builder.body if "branches" in n)
    inner = next(n for n in decision["branches"][0]["steps"] if "branches" in n)
    inner["branches"] = [b for b in inner["branches"] if "yes" not in b["condition"]]
    builder.check_edges()
    assert result.failed
    assert (
        "g.md:15: error: flowchart edge H -->|yes| E is not imported: answering 'yes' at "
        "step did_the_error_rate_drop the runbook goes to end:completed, not to resolved"
        in result.problems
    )


def test_an_import_that_loses_an_edge_fails(project, monkeypatch):
    from gert.importer import build

    project.write("flow.md", f"# Flow\n\n## Decide\n\n```mermaid\n{DECISION}```\n")
    assert gert("import", "flow.md", cwd=project.root).returncode == 0
    # An importer that drops branches is caught: the import fails (gert import exits 2)
    # and names the line.
    monkeypatch.setattr(build.RunbookBuilder, "routes", lambda self, outs: {})
    original = build.RunbookBuilder.walk

    def lossy(self, start, stops, path, depth=0):  # type: ignore[no-untyped-def]
        seq = original(self, start, stops, path, depth)
        for node in seq:
            node.get("branches", [{}])[-1:] = []
        return seq

    monkeypatch.setattr(build.RunbookBuilder, "walk", lossy)
    from gert.importer import import_into

    result = import_into(project.root / "flow.md", project.root)
    assert result.failed
    assert any(p.startswith("flow.md:") and "is not imported" in p for p in result.problems)


@pytest.mark.parametrize("seed", range(3))
def test_random_flowcharts_import_with_every_edge(seed):
    """Charts with shared ends, joins, loops, fall-through edges and several starts: the
    check finds every edge in the imported tree."""
    import random

    rng = random.Random(seed)
    for _ in range(150):
        n = rng.randint(3, 8)
        lines = []
        for i in range(n - 1):
            pool = list(range(i + 1, n)) + (
                [rng.randrange(0, i + 1)] if rng.random() < 0.25 else []
            )
            targets = rng.sample(pool, min(rng.choice([1, 1, 2, 2, 3]), len(pool)))
            for j, t in enumerate(targets):
                label = (
                    ""
                    if len(targets) == 1 or (j == len(targets) - 1 and rng.random() < 0.2)
                    else f"|{('yes', 'no', 'maybe')[j]}|"
                )
                lines.append(f"    N{i} -->{label} N{t}")
        text = (
            "flowchart TD\n"
            + "\n".join(f"    N{i}[Step {i}]" for i in range(n))
            + "\n"
            + "\n".join(lines)
            + "\n"
        )
        builder, result = _chart_builder(text)
        builder.check_edges()
        assert not result.failed, text + "\n".join(result.problems)


def test_the_command_table_in_the_docs_is_the_one_gert_uses():
    from gert.importer import commands

    doc = (Path(__file__).resolve().parent.parent / "docs" / "import.md").read_text()
    lines = doc.splitlines()
    start = lines.index(
        "| program | subcommands that only read: `cli` steps | other subcommands named as changing state |"
    )
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        name, reads, writes = (c.strip() for c in line.strip("|").split("|"))
        rows.append(
            (
                name.strip("`"),
                "" if reads == "(see below)" else reads,
                "" if writes == "(see below)" else writes,
            )
        )
    assert rows == commands.table_rows()

    def listed(label: str) -> set[str]:
        para = doc.split(label, 1)[1].split("\n\n", 1)[0]
        return set(re.findall(r"`([^`]+)`", para))

    assert listed("**Programs that only read**") == set(commands.READERS)
    assert listed("**Programs that change state**") == set(commands.WRITERS)
    assert listed("**Programs that run other code or a session**") == set(commands.RUNS_OTHERS)
    assert listed("**Shell words that change the shell**") == set(commands.SHELL_CONTEXT)


def test_decisions_nested_too_deep_are_a_clear_error(project):
    lines = ["flowchart TD"]
    for i in range(600):
        lines += [f"    D{i}{{Q{i}?}} -->|yes| D{i + 1}", f"    D{i} -->|no| E{i}[Escalate {i}]"]
    project.write("deep.md", "# Deep\n\n## Flow\n\n```mermaid\n" + "\n".join(lines) + "\n```\n")
    r = gert("import", "deep.md", cwd=project.root)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert (
        "deep.md:57: error: flowchart: decisions nest more than 25 deep at D26 (Q26?)" in r.stderr
    )


def test_a_flowchart_under_the_title_is_one_runbook_described_by_the_introduction(tmp_path):
    from gert.importer import import_guide

    chart = (
        "```mermaid\nflowchart TD\n  A[Check disk usage] --> B{Over 90%?}\n"
        "  B -->|yes| C[Clean logs]\n  B -->|no| D[Done]\n```\n"
    )
    path = tmp_path / "disk-full.md"
    path.write_text(f"# Disk full\n\nWhen the disk fills up, follow this chart.\n\n{chart}")
    result = import_guide(path, "disk-full.md")
    assert sorted(result.files) == ["disk-full.runbook.yaml"]
    runbook = load_file_text(result.files["disk-full.runbook.yaml"])
    assert runbook["meta"]["description"] == (
        "Imported from disk-full.md: Disk full\n\nWhen the disk fills up, follow this chart."
    )
    assert [s["id"] for s in _steps(runbook["tree"])] == [
        "check_disk_usage",
        "over_90",
        "clean_logs",
        "done",
    ]
    lines = dict(result.lines)
    assert lines[3] == "the description of every runbook (the guide's introduction)"
    assert lines[5] == lines[10] == "disk-full: flowchart (edges become the tree)"
    assert lines[8] == "disk-full/clean_logs (outcome needs_rca)"


def test_the_introduction_of_a_guide_of_phases_is_its_description_not_a_step(tmp_path):
    from gert.importer import import_guide

    path = tmp_path / "phases.md"
    path.write_text(
        "# Checkout latency\n\nThis guide covers latency on the checkout service.\n\n"
        "## Diagnosis\n\n```bash\nkubectl get pods -n checkout\n```\n\n"
        "## Mitigation\n\nRoll the deployment back.\n"
    )
    result = import_guide(path, "phases.md")
    [text] = result.files.values()
    runbook = load_file_text(text)
    assert runbook["meta"]["description"] == (
        "Imported from phases.md: Checkout latency\n\n"
        "This guide covers latency on the checkout service."
    )
    steps = _steps(runbook["tree"])
    assert [s["type"] for s in steps] == ["cli", "manual"]
    assert all("covers latency" not in str(s) for s in steps)
    assert result.lines[3] == "the description of every runbook (the guide's introduction)"


def load_file_text(text: str) -> dict:
    from gert.load import parse_text

    return parse_text(text).data


def test_a_variable_set_in_prose_is_an_input_with_that_default(tmp_path):
    from gert.importer import import_guide

    command = "```bash\nkubectl get pods -n $NAMESPACE\n```\n"
    path = tmp_path / "vars.md"
    path.write_text(
        f"# Pods\n\n## Check\n\nNAMESPACE=checkout\n\n{command}\n"
        f"## Check again\n\n```bash\nNAMESPACE=checkout\n{command[8:]}\n"
        f"## Check in prose\n\n`NAMESPACE=payments`\n\n{command}"
    )
    result = import_guide(path, "vars.md")
    for name, namespace in (
        ("check", "checkout"),
        ("check-again", "checkout"),
        ("check-in-prose", "payments"),
    ):
        runbook = load_file_text(result.files[f"{name}.runbook.yaml"])
        assert runbook["meta"]["inputs"] == {
            "NAMESPACE": {"description": "NAMESPACE in the guide", "default": namespace}
        }, name
        assert [s["type"] for s in _steps(runbook["tree"])] == ["cli"], name
    assert result.lines[5] == "check: sets input NAMESPACE for the commands after it"
    # A sentence that only mentions an assignment stays prose.
    path.write_text(f"# Pods\n\n## Check\n\nSet NAMESPACE=checkout first.\n\n{command}")
    runbook = load_file_text(import_guide(path, "vars.md").files["check.runbook.yaml"])
    assert [s["type"] for s in _steps(runbook["tree"])] == ["manual", "cli"]
