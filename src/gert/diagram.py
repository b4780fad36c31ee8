"""Runbooks drawn as flowcharts (``gert diagram``).

``build`` turns a runbook into a small graph that follows the engine's walk: steps in order,
a step's outcomes (checked first; an unconditional one ends the run there), then its
branches (the first whose condition holds; the walk goes on after it), a `next_runbook`
hand-off as a node of its own, and the end of the list as ``completed``. ``--chain`` adds
the runbooks that hand-offs name statically, each drawn once. The graph is written as
Mermaid (``to_mermaid``) or as plain text (``to_ascii``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gert.model import Node, Runbook, as_node
from gert.util import shorten


@dataclass
class GraphNode:
    """One box: what it is (start, step, decision, outcome, handoff, end) and its text."""

    id: str
    kind: str
    label: str
    group: str = ""  # the runbook it belongs to (a subgraph with --chain)


@dataclass
class Graph:
    """Boxes and labelled arrows, in drawing order."""

    nodes: list[GraphNode] = field(default_factory=list)
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # (from, to, label)
    groups: dict[str, str] = field(default_factory=dict)  # group id -> runbook name

    def add(self, kind: str, label: str, group: str) -> str:
        """Add a box and return its id."""
        node_id = f"n{len(self.nodes)}"
        self.nodes.append(GraphNode(node_id, kind, label, group))
        return node_id


def _short(text: str, limit: int = 60) -> str:
    return shorten(str(text), limit, one_line=True)


def outcome_label(outcome: Any) -> str:
    """An outcome's box: its state and the start of its recommendation."""
    label = f"{outcome.state}"
    if outcome.recommendation:
        label += f": {_short(outcome.recommendation, 50)}"
    return label


def _step_label(step: Any) -> str:
    kind = step.type
    if kind == "tool":
        kind = f"tool {step.tool.name}.{step.tool.action}"
    label = f"{step.id} ({kind})"
    if step.title:
        label += f": {step.title}"
    if step.when:
        label += f" [when {step.when}]"
    label = _short(label, 80)
    choices = getattr(step, "choices", None)
    if choices:  # what the engineer chooses among: the values the conditions test
        values = ", ".join(o.value for o in choices.options)
        label += f" · choice {choices.variable}: {_short(values, 60)}"
    return label


class _Builder:
    def __init__(self, graph: Graph, chain: bool, resolve: Any):
        self.graph = graph
        self.chain = chain
        self.resolve = resolve  # (runbook path, next_runbook file) -> Path | None
        self.drawn: dict[Path, str] = {}  # runbook -> its start node (each drawn once)

    def runbook(self, rb: Runbook, path: Path) -> str:
        group = f"g{len(self.graph.groups)}"
        self.graph.groups[group] = rb.meta.name
        start = self.graph.add("start", rb.meta.name, group)
        self.drawn[path.resolve()] = start
        exits = self.walk(rb.body(), [(start, "")], rb, path, group)
        if exits:
            end = self.graph.add("end", "completed", group)
            self.link(exits, end)
        return start

    def link(self, exits: list[tuple[str, str]], to: str) -> None:
        for source, label in exits:
            self.graph.edges.append((source, to, label))

    def walk(
        self,
        nodes: list[Node],
        exits: list[tuple[str, str]],
        rb: Runbook,
        path: Path,
        group: str,
    ) -> list[tuple[str, str]]:
        for node in nodes:
            exits = self.node(node, exits, rb, path, group)
        return exits

    def node(
        self,
        node: Node,
        exits: list[tuple[str, str]],
        rb: Runbook,
        path: Path,
        group: str,
    ) -> list[tuple[str, str]]:
        step = node.step
        manual = step.type == "manual"
        # A manual step with several unconditional outcomes: the engineer picks one of them.
        picks = manual and sum(not o.when for o in step.outcomes) > 1
        decides = bool(node.branches) or picks or any(o.when for o in step.outcomes)
        box = self.graph.add("decision" if decides else "step", _step_label(step), group)
        self.link(exits, box)
        out: list[tuple[str, str]] = []
        ends_here = False
        for outcome in step.outcomes:
            target = self.graph.add("outcome", outcome_label(outcome), group)
            if outcome.when:
                when = _short(outcome.when, 40)
            elif picks:
                when = f"picks {outcome.state}"  # distinct: each is an answer
            else:  # the one left when no condition held
                when = "otherwise" if any(o.when for o in step.outcomes) else ""
            self.graph.edges.append((box, target, when))
            if outcome.next_runbook is not None:
                self.handoff(target, outcome.next_runbook, path, group)
            if not outcome.when:
                ends_here = True  # an unconditional outcome always ends the run here
                if not manual:
                    break  # the engine takes the first; later ones are never checked
        if ends_here:
            return []
        otherwise = "otherwise" if decides else ""
        for branch in node.branches:
            first = len(self.graph.nodes)
            branch_exits = self.walk([as_node(s) for s in branch.steps], [], rb, path, group)
            if first < len(self.graph.nodes):
                self.graph.edges.append(
                    (box, self.graph.nodes[first].id, _short(branch.label or branch.condition, 40))
                )
            out += branch_exits
        if _every_choice_branches(step, node.branches):
            return out  # one branch always runs: nothing falls through
        return [*out, (box, otherwise)]

    def handoff(self, outcome: str, nxt: Any, path: Path, group: str) -> None:
        box = self.graph.add("handoff", f"next runbook: {nxt.file}", group)
        self.graph.edges.append((outcome, box, ""))
        if not self.chain:
            return
        child = self.resolve(path, nxt.file)
        if child is None:
            return
        start = self.drawn.get(child.resolve())
        if start is None:
            from gert.validate import load_runbook

            start = self.runbook(load_runbook(child).model, child)  # type: ignore[arg-type]
        self.graph.edges.append((box, start, ""))


def _every_choice_branches(step: Any, branches: list[Any]) -> bool:
    """A manual choice with a branch for each of its options (``var == "value"``)."""
    choices = getattr(step, "choices", None)
    if not choices or not branches:
        return False
    pattern = re.compile(rf'^\s*{re.escape(choices.variable)}\s*==\s*"(.*)"\s*$')
    covered = {m.group(1) for b in branches if (m := pattern.match(b.condition or ""))}
    return {o.value for o in choices.options} <= covered


def build(rb: Runbook, path: Path, chain: bool = False, project_root: Path | None = None) -> Graph:
    """The runbook's flowchart; with *chain*, the static hand-off targets drawn too."""
    root = (project_root or path.parent).resolve()

    def resolve(base: Path, file: str) -> Path | None:
        if "{{" in file:
            return None  # chosen at run time: the hand-off node says so
        for candidate in (base.parent / file, root / file):
            for name in (candidate, Path(f"{candidate}.runbook.yaml")):
                if name.is_file() and name.resolve().is_relative_to(root):
                    return name
        return None

    graph = Graph()
    _Builder(graph, chain, resolve).runbook(rb, path)
    return graph


# ------------------------------------------------------------------ writers

_SHAPES = {
    "start": ('(["', '"])'),
    "end": ('(["', '"])'),
    "step": ('["', '"]'),
    "decision": ('{"', '"}'),
    "outcome": ('{{"', '"}}'),
    "handoff": ('[["', '"]]'),
}


def _mermaid_text(text: str) -> str:
    # Inside quotes Mermaid reads entity codes; these characters would end the label or
    # be read as markup.
    return (
        text.replace("&", "#amp;")
        .replace('"', "#quot;")
        .replace("<", "#lt;")
        .replace(">", "#gt;")
        .replace("|", "#124;")
    )


def to_mermaid(graph: Graph) -> str:
    """Mermaid flowchart text; with more than one runbook, one subgraph each."""
    lines = ["flowchart TD"]
    several = len(graph.groups) > 1
    for group, name in graph.groups.items():
        indent = "    " if several else "  "
        if several:
            lines.append(f'  subgraph {group}["{_mermaid_text(name)}"]')
        for node in graph.nodes:
            if node.group == group:
                left, right = _SHAPES[node.kind]
                lines.append(f"{indent}{node.id}{left}{_mermaid_text(node.label)}{right}")
        if several:
            lines.append("  end")
    for source, target, label in graph.edges:
        arrow = f'-->|"{_mermaid_text(label)}"|' if label else "-->"
        lines.append(f"  {source} {arrow} {target}")
    lines += [
        "  classDef outcome fill:#eef2f7,stroke:#4a6785",
        "  classDef handoff fill:#fff4e5,stroke:#d9822b",
    ]
    for kind in ("outcome", "handoff"):
        ids = [n.id for n in graph.nodes if n.kind == kind]
        if ids:
            lines.append(f"  class {','.join(ids)} {kind}")
    return "\n".join(lines) + "\n"


_ASCII_MARK = {
    "start": "▶",
    "end": "■",
    "step": "□",
    "decision": "◇",
    "outcome": "●",
    "handoff": "⇢",
}


def to_ascii(graph: Graph) -> str:
    """The flowchart as text: every box in drawing order with the arrows leaving it."""
    by_id = {n.id: n for n in graph.nodes}
    out: list[str] = []
    for group, name in graph.groups.items():
        if len(graph.groups) > 1:
            out.append(f"== {name} ==")
        for node in (n for n in graph.nodes if n.group == group):
            out.append(f"{_ASCII_MARK[node.kind]} {node.label}")
            for source, target, label in graph.edges:
                if source == node.id:
                    dest = by_id[target]
                    when = f"[{label}] " if label else ""
                    out.append(f"    └─ {when}→ {_ASCII_MARK[dest.kind]} {dest.label}")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
