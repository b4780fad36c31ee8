"""gert import on alert runbooks written by others (tests/fixtures/guides/public/: the
openshift/runbooks and prometheus-operator/runbooks collections, Apache-2.0): every guide
yields runbooks that validate; no cli step runs something that is not a command or that
changes state; YAML, JSON and output are shown, never run; shell variables and
placeholders become inputs; template braces in the guide's text stay text."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gert.importer import import_guide
from gert.load import parse_text
from gert.template import render

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = ROOT / "tests" / "fixtures" / "guides" / "public"
sys.path.insert(0, str(ROOT / "bench"))


def test_the_figures_on_the_public_guides():
    from import_guides import measure

    figures = measure([PUBLIC])
    assert figures["guides"] == 199
    assert figures["guides with runbooks"] == figures["guides"]
    assert figures["runbooks that validate"] == figures["runbooks"] >= figures["guides"]
    assert figures["cli steps"] > 100
    assert figures["cli argv[0] not a command"] == 0
    assert figures["state-changing cli steps"] == 0
    assert figures["kubectl/oc write verbs as cli steps"] == 0
    assert figures["lines not accounted for"] == 0


def _runbook(rel: str) -> dict:
    path = PUBLIC / rel
    result = import_guide(path, path.name)
    [name] = [n for n in result.files if n.endswith(".runbook.yaml")]
    return parse_text(result.files[name]).data


def _steps(tree: list) -> list[dict]:
    out = []
    for node in tree:
        out.append(node.get("step", node))
        for branch in node.get("branches", []):
            out += _steps(branch["steps"])
    return out


def test_an_alert_guide_is_one_runbook_meaning_and_impact_describe_it():
    doc = _runbook(
        "prometheus-operator-runbooks/content/runbooks/kubernetes/KubePodCrashLooping.md"
    )
    assert doc["meta"]["name"] == "kubepodcrashlooping"
    assert "Pod is in CrashLoop" in doc["meta"]["description"]  # Meaning
    assert "Service degradation or unavailability." in doc["meta"]["description"]  # Impact
    steps = _steps(doc["tree"])
    # Commands in inline code inside list items are steps; $VARS are inputs.
    assert [s["id"] for s in steps[:3]] == ["check_template", "check_pod_events", "check_pod_logs"]
    assert steps[0]["with"]["argv"] == ["kubectl", "-n", "{{.NAMESPACE}}", "get", "pod", "{{.POD}}"]
    assert set(doc["meta"]["inputs"]) == {"NAMESPACE", "POD", "CONTAINER"}
    assert steps[-1]["id"] == "mitigation" and steps[-1]["type"] == "manual"


def test_assignments_and_placeholders_become_inputs_and_a_session_keeps_its_block():
    doc = _runbook(
        "openshift-runbooks/alerts/cluster-monitoring-operator/KubePersistentVolumeFillingUp.md"
    )
    assert doc["meta"]["inputs"] == {
        "PVC_NAME": {
            "description": "PVC_NAME: <persistentvolumeclaim label from alert> in the guide"
        },
        "NAMESPACE": {"description": "NAMESPACE: <namespace label from alert> in the guide"},
    }
    steps = _steps(doc["tree"])
    describe = next(s for s in steps if s["type"] == "cli")
    assert describe["with"]["argv"] == [
        "oc",
        "-n",
        "{{.NAMESPACE}}",
        "describe",
        "pvc",
        "{{.PVC_NAME}}",
    ]
    # `oc rsh` opens a shell in the pod: the `df -h` after it runs there, so the rest of the
    # block is one manual step, never a cli step on this machine.
    rsh = next(s for s in steps if "oc -n $NAMESPACE rsh $POD_NAME" in s.get("instructions", ""))
    assert rsh["type"] == "manual" and "$ df -h" in rsh["instructions"]
    assert not any(s["type"] == "cli" and s["with"]["argv"][0] == "df" for s in steps)


def test_yaml_manifests_and_heredocs_are_shown_never_run():
    doc = _runbook(
        "openshift-runbooks/alerts/openshift-virtualization-operator/HCOInstallationIncomplete.md"
    )
    steps = _steps(doc["tree"])
    assert all(s["type"] == "manual" for s in steps)
    create = next(s for s in steps if "cat <<EOF | oc apply -f -" in s["instructions"])
    assert (
        "kind: HyperConverged" in create["instructions"] and "a heredoc" in create["instructions"]
    )


@pytest.mark.parametrize(
    "guide",
    sorted(str(p.relative_to(PUBLIC)) for p in PUBLIC.rglob("*.md") if p.name != "README.md"),
)
def test_no_public_guide_runs_what_it_should_not(guide):
    from import_guides import is_command, kube_write

    from gert.importer.commands import classify

    result = import_guide(PUBLIC / guide, Path(guide).name)
    assert result.runbooks, result.problems
    for name, text in result.files.items():
        for step in _steps(parse_text(text).data.get("tree", [])):
            if step["type"] != "cli":
                continue
            argv = step["with"]["argv"]
            assert is_command(argv[0]) and not argv[0].endswith(":"), (name, argv)
            assert classify(argv).reads and not kube_write(argv), (name, argv)


def test_oc_edit_patch_adm_and_create_are_never_cli_steps():
    seen = set()
    for path in sorted(PUBLIC.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        for verb in ("edit", "patch", "adm", "create"):
            if f"oc {verb}" in text:
                seen.add(verb)
        result = import_guide(path, path.name)
        for _name, body in result.files.items():
            for step in _steps(parse_text(body).data.get("tree", [])):
                if step["type"] == "cli" and step["with"]["argv"][0] == "oc":
                    assert step["with"]["argv"][1:2] != ["adm"] or step["with"]["argv"][2] == "top"
                    assert not {"edit", "patch", "create"} & set(step["with"]["argv"])
    assert seen == {"edit", "patch", "adm", "create"}


def test_go_templates_in_a_guide_stay_text():
    doc = _runbook("prometheus-operator-runbooks/content/runbooks/etcd/etcdMembersDown.md")
    step = next(
        s
        for s in _steps(doc["tree"])
        if s["type"] == "cli" and "--template" in " ".join(s["with"]["argv"])
    )
    template = step["with"]["argv"][-1]
    assert render(template, {}) == (
        '--template={{range .items}}{{"===> node:> "}}{{.metadata.name}}{{"\\n"}}'
        '{{range $k, $v := .metadata.annotations}}{{println $k ":" $v}}{{end}}{{"\\n"}}{{end}}'
    )
