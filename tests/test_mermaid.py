"""The Mermaid flowchart parser: every shape and edge form, agreeing with real Mermaid."""

from __future__ import annotations

from pathlib import Path

import pytest

from gert.diagram import build, to_mermaid
from gert.mermaid import MermaidError, parse
from gert.validate import load_runbook
from helpers import mermaid_parse
from test_diagram import RUNBOOKS

SHAPES = {
    "A[rect]": "rect",
    "A(round)": "round",
    "A([stadium])": "stadium",
    "A[[subroutine]]": "subroutine",
    "A[(cylinder)]": "cylinder",
    "A((circle))": "circle",
    "A(((double)))": "double_circle",
    "A{rhombus}": "rhombus",
    "A{{hexagon}}": "hexagon",
    "A[/para/]": "parallelogram",
    "A[\\alt\\]": "parallelogram_alt",
    "A[/trap\\]": "parallelogram",
    "A>asym]": "asymmetric",
    'A["quoted [with] (brackets) and #quot;quotes#quot;"]': "rect",
}

EDGES = {
    "A --> B": ("", "arrow"),
    "A ---> B": ("", "arrow"),
    "A --- B": ("", "arrow"),
    "A -.-> B": ("", "dotted"),
    "A -..-> B": ("", "dotted"),
    "A -.- B": ("", "dotted"),
    "A ==> B": ("", "thick"),
    "A === B": ("", "thick"),
    "A ~~~ B": ("", "invisible"),
    "A --o B": ("", "arrow"),
    "A --x B": ("", "arrow"),
    "A <--> B": ("", "arrow"),
    "A -->|yes| B": ("yes", "arrow"),
    'A -->|"quoted | label"| B': ("quoted | label", "arrow"),
    "A -- yes --> B": ("yes", "arrow"),
    "A -- two words --- B": ("two words", "arrow"),
    "A == big ==> B": ("big", "thick"),
    "A -. maybe .-> B": ("maybe", "dotted"),
    "A-->B": ("", "arrow"),
    "A-->|x|B": ("x", "arrow"),
}


def test_each_fixture_also_parses_in_real_mermaid():
    texts = [f"flowchart TD\n  {s}\n" for s in SHAPES] + [f"flowchart LR\n  {e}\n" for e in EDGES]
    assert all(r["ok"] for r in mermaid_parse(texts)), mermaid_parse(texts)


@pytest.mark.parametrize(("source", "shape"), SHAPES.items())
def test_shapes(source, shape):
    node = parse(f"flowchart TD\n  {source}\n").nodes["A"]
    assert node.shape == shape and node.labelled
    if "quoted" in source:
        assert node.label == 'quoted [with] (brackets) and "quotes"'


@pytest.mark.parametrize(("source", "expected"), EDGES.items())
def test_edges(source, expected):
    [edge] = parse(f"flowchart LR\n  {source}\n").edges
    assert (edge.source, edge.target, edge.label, edge.kind) == ("A", "B", *expected)


def test_chains_fan_out_subgraphs_semicolons_comments_and_styling():
    chart = parse(
        "graph LR\n"
        "  %% a comment\n"
        "  A[start] --> B{ok?} -->|yes| C([done])\n"
        "  A & B --> D & E; D --> F\n"
        "  subgraph recovery [Recovery path]\n"
        "    direction TB\n"
        "    G[fix] --> H[rerun]\n"
        "  end\n"
        "  style A fill:#f9f\n"
        "  classDef warn fill:#ff0\n"
        "  C:::warn --> G\n",
        first_line=10,
    )
    assert chart.direction == "LR"
    pairs = [(e.source, e.target, e.label) for e in chart.edges]
    assert pairs[:2] == [("A", "B", ""), ("B", "C", "yes")]
    assert set(pairs[2:6]) == {("A", "D", ""), ("A", "E", ""), ("B", "D", ""), ("B", "E", "")}
    assert ("D", "F", "") in pairs and ("C", "G", "") in pairs
    assert chart.subgraphs == {"recovery": "Recovery path"}
    assert chart.nodes["G"].subgraph == "recovery" and chart.nodes["A"].subgraph == ""
    assert [w[0] for w in chart.warnings] == [18, 19]  # document lines of the styling
    assert chart.nodes["C"].label == "done" and chart.edges[-1].line == 20


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("graph XX\n  A --> B\n", 5, "unknown direction XX"),
        ("sequenceDiagram\n  A->>B: hi\n", 5, "expected `flowchart TD`"),
        ("flowchart TD\n  A[open --> B\n", 6, "label is not closed"),
        ("flowchart TD\n  A --> \n", 6, "an edge needs a node"),
        ('flowchart TD\n  A["unterminated] --> B\n', 6, "unterminated quoted label"),
        ("flowchart TD\n  subgraph S\n  A --> B\n", 7, "subgraph S has no `end`"),
        ("flowchart TD\n  end\n", 6, "`end` without a subgraph"),
        ("flowchart TD\n  A --> B\n  A ?? B\n", 7, "expected an edge"),
    ],
)
def test_errors_name_the_document_line(text, line, message):
    with pytest.raises(MermaidError) as e:
        parse(text, first_line=5)
    assert e.value.line == line and message in e.value.message
    # Real Mermaid rejects these too (a sequence diagram is fine, but not a flowchart).
    verdict = mermaid_parse([text])[0]
    assert verdict["ok"] is False or verdict["type"] != "flowchart-v2"


def test_every_diagram_gert_draws_reads_back_as_the_same_graph():
    for path in RUNBOOKS:
        graph = build(load_runbook(path).model, Path(path), chain=True, project_root=path.parent)
        chart = parse(to_mermaid(graph))
        labels = {n.id: n.label for n in graph.nodes}
        assert {n: chart.nodes[n].label for n in labels} == labels, path
        assert [(e.source, e.target, e.label) for e in chart.edges] == graph.edges, path


INCIDENT_GUIDE = Path(__file__).parent / "fixtures" / "guides" / "incident-guide.md"


def mermaid_blocks(path: Path) -> list[tuple[int, str]]:
    """(document line of the first chart line, chart text) of each ```mermaid block."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, start = [], None
    for n, line in enumerate(lines, start=1):
        if line.strip() == "```mermaid":
            start = n + 1
        elif line.strip() == "```" and start is not None:
            blocks.append((start, "\n".join(lines[start - 1 : n - 1]) + "\n"))
            start = None
    return blocks


def test_incident_guide_flowcharts_parse_here_and_in_real_mermaid():
    blocks = mermaid_blocks(INCIDENT_GUIDE)
    assert len(blocks) >= 6
    assert all(r["ok"] for r in mermaid_parse([text for _, text in blocks]))
    charts = [parse(text, first_line=start) for start, text in blocks]
    first = charts[0]
    assert first.nodes["D"].shape == "rhombus" and first.nodes["D"].label == "validation passes"
    assert [(e.label, e.target) for e in first.outgoing("D")] == [("yes", "E"), ("no", "H")]
    assert first.nodes["A"].line == 9  # the guide's own line number
    routing = charts[1]
    assert [e.label for e in routing.outgoing("B")][:2] == ["stage_conflict", "validation failures"]


def test_a_long_unfinished_edge_label_parses_fast():
    # "B --" then spaces: a backtracking label pattern took 27 s on this 1.5 KB line.
    import contextlib
    import time

    started = time.monotonic()
    with contextlib.suppress(MermaidError):  # an error is fine; taking seconds is not
        parse("flowchart TD\n  A --> B\n  B --" + " " * 1500 + "x\n")
    assert time.monotonic() - started < 1
