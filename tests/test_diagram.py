"""gert diagram: runbooks drawn as flowcharts that real Mermaid parses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gert.diagram import build, to_mermaid
from gert.validate import load_runbook
from helpers import gert, mermaid_parse

ROOT = Path(__file__).resolve().parent.parent
RUNBOOKS = sorted(
    [
        *(ROOT / "examples").rglob("*.runbook.yaml"),
        *(ROOT / "tests/fixtures/validate/valid").rglob("*.runbook.yaml"),
    ]
)


def test_the_checker_rejects_a_broken_diagram():
    good, bad = mermaid_parse(['flowchart TD\n  a["x"] --> b\n', "flowchart TD\n  a[x -->\n"])
    assert good == {"ok": True, "type": "flowchart-v2"}
    assert bad["ok"] is False and "Parse error" in bad["error"]


def test_every_runbook_we_have_draws_as_mermaid_that_parses():
    assert len(RUNBOOKS) >= 5
    texts = []
    for path in RUNBOOKS:
        model = load_runbook(path).model
        texts += [
            to_mermaid(build(model, path)),
            to_mermaid(build(model, path, chain=True, project_root=path.parent)),
        ]
    results = mermaid_parse(texts)
    failures = [
        (str(p), r)
        for p, r in zip([p for p in RUNBOOKS for _ in (0, 1)], results, strict=True)
        if not r["ok"]
    ]
    assert failures == []


BRANCHY = """
apiVersion: runbook/v0
meta: {name: branchy, inputs: {env: {default: prod}}}
tree:
  - step:
      id: probe
      type: cli
      title: 'Probe "the" <api> | & {{ .env }}'
      with: {argv: [echo, '42']}
      capture: {code: stdout}
      outcomes:
        - {when: code == 0, state: no_action, recommendation: 'All "good" | <ok>'}
    branches:
      - condition: code > 40
        label: high
        steps:
          - step: {id: dig, type: cli, with: {argv: [echo, dig]}}
      - condition: code <= 40
        steps:
          - step: {id: watch, type: manual, instructions: Watch it.}
  - step:
      id: decide
      type: cli
      with: {argv: [echo, x]}
      outcomes:
        - {state: needs_rca, next_runbook: {file: child.runbook.yaml}}
"""
CHILD = """
apiVersion: runbook/v0
meta: {name: child, vars: {x: "y"}}
steps:
  - {id: fix, type: cli, with: {argv: [echo, fixed]}, outcomes: [{when: 'x == "y"', state: resolved}, {state: escalated, next_runbook: {file: branchy.runbook.yaml}}]}
"""


@pytest.fixture
def branchy(tmp_path):
    (tmp_path / "branchy.runbook.yaml").write_text(BRANCHY)
    (tmp_path / "child.runbook.yaml").write_text(CHILD)
    return tmp_path / "branchy.runbook.yaml"


def edges(text: str) -> list[tuple[str, str, str]]:
    labels = dict(re.findall(r'^\s+(n\d+)\S*?"(.*?)"', text, re.M))
    out = []
    for a, label, b in re.findall(r'^\s+(n\d+) -->(?:\|"(.*?)"\|)? (n\d+)$', text, re.M):
        out.append((labels[a], label, labels[b]))
    return out


def test_steps_branches_outcomes_and_handoffs_follow_the_walk(branchy):
    text = to_mermaid(build(load_runbook(branchy).model, branchy))
    e = edges(text)
    probe = "probe (cli): Probe #quot;the#quot; #lt;api#gt; #124; #amp; {{ .env }}"
    assert ("branchy", "", probe) in e
    assert (probe, "code == 0", "no_action: All #quot;good#quot; #124; #lt;ok#gt;") in e
    assert (probe, "high", "dig (cli)") in e  # the branch's label
    assert (probe, "code #lt;= 40", "watch (manual)") in e  # no label: the condition
    assert (probe, "otherwise", "decide (cli)") in e  # no branch taken: the walk goes on
    assert ("dig (cli)", "", "decide (cli)") in e and ("watch (manual)", "", "decide (cli)") in e
    assert ("decide (cli)", "", "needs_rca") in e
    assert ("needs_rca", "", "next runbook: child.runbook.yaml") in e
    # An unconditional outcome ends the run: nothing leads from decide to "completed".
    assert "completed" not in text
    assert f'n1{{"{probe}"}}' in text  # a decision is a diamond
    assert mermaid_parse([text])[0]["ok"]


def test_chain_draws_each_runbook_once_even_in_a_loop(branchy):
    text = to_mermaid(
        build(load_runbook(branchy).model, branchy, chain=True, project_root=branchy.parent)
    )
    assert re.findall(r'subgraph g\d+\["(.+?)"\]', text) == ["branchy", "child"]
    e = edges(text)
    assert ("next runbook: child.runbook.yaml", "", "child") in e
    assert ("next runbook: branchy.runbook.yaml", "", "branchy") in e  # back to the start: a loop
    assert mermaid_parse([text])[0]["ok"]


def test_cli_ascii_and_invalid_runbook(branchy):
    r = gert("diagram", str(branchy), "--format", "ascii", "--chain", cwd=branchy.parent)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "== branchy ==" and "== child ==" in lines
    assert "    └─ [high] → □ dig (cli)" in lines
    assert "    └─ [otherwise] → □ decide (cli)" in lines
    assert "⇢ next runbook: child.runbook.yaml" in lines
    bad = branchy.parent / "bad.runbook.yaml"
    bad.write_text("apiVersion: runbook/v0\nmeta: {name: bad}\nsteps:\n  - {id: x, type: nope}\n")
    r = gert("diagram", str(bad), cwd=branchy.parent)
    assert r.returncode == 2 and "bad.runbook.yaml:4" in r.stderr


EXAMPLE_RUNBOOKS = sorted((ROOT / "examples").rglob("*.runbook.yaml"))


def _outcome_labels(path: Path) -> list[str]:
    """The start of the label of every outcome box the runbook's steps should draw: its
    state, and the beginning of its recommendation."""
    from gert.validate import walk_steps

    model = load_runbook(path).model
    return [
        f"{o.state}: {o.recommendation.strip()[:20]}" if o.recommendation else o.state
        for info in walk_steps(model)
        for o in info.step.outcomes
    ]


def test_every_outcome_of_every_example_is_drawn_in_both_formats():
    from gert.diagram import _mermaid_text, to_ascii

    assert len(EXAMPLE_RUNBOOKS) >= 4
    missing = []
    for path in EXAMPLE_RUNBOOKS:
        graph = build(load_runbook(path).model, path)
        boxes = [ln[2:] for ln in to_ascii(graph).splitlines() if ln.startswith("● ")]
        mermaid = re.findall(r'^\s+n\d+\{\{"(.*)"\}\}$', to_mermaid(graph), re.M)
        labels = _outcome_labels(path)
        assert labels or path.name == "collect-diagnostics.runbook.yaml", path
        for label in labels:
            if not any(box.startswith(label) for box in boxes):
                missing.append(f"{path.name}: ascii: {label}")
            if not any(box.startswith(_mermaid_text(label)) for box in mermaid):
                missing.append(f"{path.name}: mermaid: {label}")
        # as many outcome boxes as outcomes: none drawn twice, none left out
        assert (len(boxes), len(mermaid)) == (len(labels), len(labels)), path
    assert missing == []


def test_a_manual_step_draws_every_outcome_the_engineer_can_pick(tmp_path):
    path = tmp_path / "pick.runbook.yaml"
    path.write_text(
        """
apiVersion: runbook/v0
meta: {name: pick}
steps:
  - id: look
    type: manual
    instructions: Look.
    choices: {variable: cause, options: [{value: disk, label: Disk full}, {value: net}]}
    outcomes:
      - {when: cause == "net", state: escalated, recommendation: Call the network team.}
      - {state: resolved, recommendation: Fixed.}
      - {state: needs_rca, recommendation: Dig deeper.}
"""
    )
    graph = build(load_runbook(path).model, path)
    text = to_mermaid(graph)
    e = edges(text)
    look = "look (manual) · choice cause: disk, net"
    assert (look, "cause == #quot;net#quot;", "escalated: Call the network team.") in e
    assert (look, "picks resolved", "resolved: Fixed.") in e
    assert (look, "picks needs_rca", "needs_rca: Dig deeper.") in e
    assert "completed" not in text  # every way out is an outcome
    assert f'{{"{look}"}}' in text  # the engineer decides: a diamond
    assert mermaid_parse([text])[0]["ok"]
    r = gert("diagram", str(path), "--format", "ascii", cwd=tmp_path)
    assert "    └─ [picks needs_rca] → ● needs_rca: Dig deeper." in r.stdout.splitlines()
