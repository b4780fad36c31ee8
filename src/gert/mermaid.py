"""A parser for the Mermaid flowchart subset that troubleshooting guides use.

Covered: the ``flowchart``/``graph`` header with its direction; node shapes (rectangle,
round, stadium, subroutine, cylinder, circle, double circle, rhombus, hexagon,
parallelograms, trapezoids, asymmetric) with plain or quoted labels; every edge form
(``-->``, ``---``, ``-.->``, ``==>``, ``~~~``, longer ones, ``--o``, ``--x``, ``<-->``) with
labels written ``-->|text|`` or ``-- text -->``; chains (``A --> B --> C``); ``&`` fan-out
(``A & B --> C & D``); ``subgraph`` … ``end``; ``;`` between statements; ``%%`` comments.
Styling (``style``, ``classDef``, ``class``, ``linkStyle``, ``click``) is ignored with a
warning. Errors carry the line number in the document the chart came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gert.errors import InvalidError

DIRECTIONS = ("TD", "TB", "BT", "RL", "LR")
# (opening, closings, shape), longest openings first so "([" wins over "(".
SHAPES: list[tuple[str, tuple[str, ...], str]] = [
    ("(((", (")))",), "double_circle"),
    ("([", ("])",), "stadium"),
    ("[[", ("]]",), "subroutine"),
    ("[(", (")]",), "cylinder"),
    ("((", ("))",), "circle"),
    ("{{", ("}}",), "hexagon"),
    ("[/", ("/]", "\\]"), "parallelogram"),
    ("[\\", ("\\]", "/]"), "parallelogram_alt"),
    ("[", ("]",), "rect"),
    ("(", (")",), "round"),
    ("{", ("}",), "rhombus"),
    (">", ("]",), "asymmetric"),
]
_ID = re.compile(r"[A-Za-z0-9_]+(?:[.-][A-Za-z0-9_]+)*")
_STYLING = re.compile(r"(style|classDef|class|linkStyle|click)\b")
# An arrow with its label inside: "-- text -->", "== text ==>", "-. text .->".
_LABELLED = re.compile(
    r"(?P<open><)?(?P<start>--|==|-\.)\s+(?P<text>\S(?:.*?\S)?)\s*(?P<end>-{2,}[>ox]?|={2,}[>ox]?|\.-+[>ox]?)(?=\s|[A-Za-z0-9_]|$)"
)
# A plain arrow, optionally followed by "|text|".
_ARROW = re.compile(
    r"(?P<open><|o|x)?(?P<body>-{2,}|={2,}|-\.+-|~{3,})(?P<head>>|o(?=\s)|x(?=\s))?"
    r'(?:\s*\|(?P<text>"[^"]*"|[^|]*)\|)?'
)


class MermaidError(InvalidError):
    """A flowchart that cannot be read; ``line`` is in the document it came from."""

    def __init__(self, line: int, message: str):
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}")


@dataclass
class FlowNode:
    """A node: its id, label (the id when none is given), shape and where it was defined."""

    id: str
    label: str
    shape: str
    line: int
    subgraph: str = ""
    labelled: bool = False  # given a label somewhere, not only named in an edge


@dataclass
class FlowEdge:
    """An edge: its ends, label, kind (arrow, open, dotted, thick, invisible) and line."""

    source: str
    target: str
    label: str
    kind: str
    line: int


@dataclass
class Flowchart:
    """A parsed flowchart."""

    direction: str
    nodes: dict[str, FlowNode] = field(default_factory=dict)
    edges: list[FlowEdge] = field(default_factory=list)
    subgraphs: dict[str, str] = field(default_factory=dict)  # id -> title
    warnings: list[tuple[int, str]] = field(default_factory=list)

    def outgoing(self, node_id: str) -> list[FlowEdge]:
        """Edges leaving a node, in the order they were written."""
        return [e for e in self.edges if e.source == node_id]

    def incoming(self, node_id: str) -> list[FlowEdge]:
        """Edges entering a node, in the order they were written."""
        return [e for e in self.edges if e.target == node_id]


def parse(text: str, first_line: int = 1) -> Flowchart:
    """Parse flowchart text; *first_line* is the document line of its first line."""
    chart: Flowchart | None = None
    stack: list[str] = []
    for offset, raw in enumerate(text.splitlines()):
        line_no = first_line + offset
        line = raw.split("%%", 1)[0].strip()
        if not line:
            continue
        if chart is None:
            m = re.fullmatch(r"(flowchart|graph)(?:\s+(\w+))?\s*;?", line)
            if not m:
                raise MermaidError(line_no, "expected `flowchart TD` (or graph, with a direction)")
            direction = m.group(2) or "TD"
            if direction not in DIRECTIONS:
                raise MermaidError(
                    line_no, f"unknown direction {direction}: one of {', '.join(DIRECTIONS)}"
                )
            chart = Flowchart("TB" if direction == "TD" else direction)
            continue
        for statement in _statements(line):
            _statement(chart, statement, line_no, stack)
    if chart is None:
        raise MermaidError(first_line, "empty diagram: expected `flowchart TD`")
    if stack:
        raise MermaidError(
            first_line + len(text.splitlines()) - 1, f"subgraph {stack[-1]} has no `end`"
        )
    return chart


def _statements(line: str) -> list[str]:
    """Split on semicolons outside quotes and brackets."""
    parts, depth, quoted, current = [], 0, False, []
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "[({":
            depth += 1
        elif not quoted and ch in "])}":
            depth = max(0, depth - 1)
        if ch == ";" and not quoted and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def _statement(chart: Flowchart, text: str, line: int, stack: list[str]) -> None:
    if text == "end":
        if not stack:
            raise MermaidError(line, "`end` without a subgraph")
        stack.pop()
        return
    if text.startswith("subgraph"):
        m = re.fullmatch(r'subgraph\s+(?:([\w.-]+)\s*\[\s*"?(.*?)"?\s*\]|"(.*?)"|(.+))', text)
        if not m:
            raise MermaidError(line, "expected `subgraph ID[title]` or `subgraph title`")
        sub_id = m.group(1) or re.sub(r"\W+", "_", (m.group(3) or m.group(4)).strip())
        chart.subgraphs[sub_id] = (m.group(2) or m.group(3) or m.group(4) or sub_id).strip()
        stack.append(sub_id)
        return
    if re.match(r"direction\s+\w+$", text):
        return  # a subgraph's own direction: drawing only
    if _STYLING.match(text):
        chart.warnings.append((line, f"styling ignored: {text}"))
        return
    pos = 0
    groups: list[list[str]] = []
    links: list[tuple[str, str]] = []
    while True:
        group, pos = _node_group(chart, text, pos, line, stack)
        groups.append(group)
        pos = _skip(text, pos)
        if pos >= len(text):
            break
        label, kind, pos = _edge(text, pos, line)
        links.append((label, kind))
        pos = _skip(text, pos)
        if pos >= len(text):
            raise MermaidError(line, "an edge needs a node after it")
    for (label, kind), sources, targets in zip(links, groups, groups[1:], strict=False):
        for source in sources:
            for target in targets:
                chart.edges.append(FlowEdge(source, target, label, kind, line))


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _node_group(
    chart: Flowchart, text: str, pos: int, line: int, stack: list[str]
) -> tuple[list[str], int]:
    ids = []
    while True:
        pos = _skip(text, pos)
        node_id, pos = _node(chart, text, pos, line, stack)
        ids.append(node_id)
        after = _skip(text, pos)
        if after < len(text) and text[after] == "&":
            pos = after + 1
            continue
        return ids, pos


def _node(chart: Flowchart, text: str, pos: int, line: int, stack: list[str]) -> tuple[str, int]:
    m = _ID.match(text, pos)
    if not m:
        got = text[pos : pos + 12] or "the end of the line"
        raise MermaidError(line, f"expected a node id at column {pos + 1}, got {got!r}")
    node_id, pos = m.group(), m.end()
    label, shape = None, "rect"
    for opening, closings, name in SHAPES:
        if text.startswith(opening, pos):
            label, pos = _label(text, pos + len(opening), closings, line, node_id)
            shape = name
            break
    if text.startswith(":::", pos):  # a class name: styling only
        m = re.compile(r":::[\w-]+").match(text, pos)
        pos = m.end() if m else pos + 3
    node = chart.nodes.get(node_id)
    if node is None:
        node = chart.nodes[node_id] = FlowNode(
            node_id, node_id, shape, line, stack[-1] if stack else ""
        )
    if label is not None:
        node.label, node.shape, node.labelled = label, shape, True
        if not node.subgraph and stack:
            node.subgraph = stack[-1]
    return node_id, pos


def _label(
    text: str, pos: int, closings: tuple[str, ...], line: int, node_id: str
) -> tuple[str, int]:
    if text.startswith('"', pos):
        end = text.find('"', pos + 1)
        if end < 0:
            raise MermaidError(line, f"node {node_id}: unterminated quoted label")
        label, after = text[pos + 1 : end], end + 1
        for closing in closings:
            if text.startswith(closing, after):
                return _unescape(label), after + len(closing)
        raise MermaidError(line, f"node {node_id}: expected {closings[0]!r} after the label")
    found = [(text.find(c, pos), c) for c in closings if text.find(c, pos) >= 0]
    if not found:
        raise MermaidError(line, f"node {node_id}: label is not closed with {closings[0]!r}")
    end, closing = min(found)
    return _unescape(text[pos:end].strip()), end + len(closing)


def _unescape(label: str) -> str:
    for code, ch in (("#quot;", '"'), ("#lt;", "<"), ("#gt;", ">"), ("#124;", "|"), ("#amp;", "&")):
        label = label.replace(code, ch)
    return label.replace("<br>", " ").replace("<br/>", " ")


def _edge(text: str, pos: int, line: int) -> tuple[str, str, int]:
    m = _LABELLED.match(text, pos)
    if m and not m.group("text").startswith((">", "-", "=")):
        return _strip_quotes(m.group("text")), _kind(m.group("start") + m.group("end")), m.end()
    m = _ARROW.match(text, pos)
    if not m:
        raise MermaidError(line, f"expected an edge (-->, ---, -.->, ==>, ...) at column {pos + 1}")
    return _strip_quotes((m.group("text") or "").strip()), _kind(m.group("body")), m.end()


def _strip_quotes(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return _unescape(text)


def _kind(body: str) -> str:
    if "~" in body:
        return "invisible"
    if "." in body:
        return "dotted"
    if "=" in body:
        return "thick"
    return "arrow"
