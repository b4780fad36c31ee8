"""Prose troubleshooting guides imported into runbooks (``gert import``).

Deterministic: no network, no model; the same guide gives byte-identical files. The guide
is read with markdown-it-py into sections (``gert.importer.guide``), and the sections are
grouped into runbooks:

- a section with a Mermaid flowchart is a runbook whose tree follows the chart, every edge
  checked (``gert.importer.build``);
- a section written as a failure signature (``**Signature:**``) is a runbook, and an entry
  of the guide's signatures file (``gert.importer.signature_sections``);
- the rest of the guide is one runbook when its sections are the phases of one procedure
  (Meaning, Impact, Diagnosis, Mitigation, …), else one runbook per top-level section.

In a runbook, prose becomes manual steps (or, for sections that describe the situation,
the description), and shell code becomes steps read with a real shell grammar
(``gert.importer.shell``): only a simple command that the command table
(``gert.importer.commands``) says only reads becomes a ``cli`` step. Every line of the
guide is accounted for (``Imported.lines``; ``--mapping`` writes them out).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from gert.errors import InvalidError
from gert.importer.build import (
    CONTEXT_NAMES,
    ChartTooDeep,
    Prose,
    RunbookBuilder,
    choice_text,
    has_commands,
    literal,
    words_of,
)
from gert.importer.commands import classify
from gert.importer.guide import Fence, Guide, Section, read
from gert.mermaid import MermaidError
from gert.mermaid import parse as parse_mermaid
from gert.util import slug as _slug
from gert.util import write_atomic

__all__ = [
    "Imported",
    "changes_state",
    "choice_text",
    "import_guide",
    "import_into",
    "literal",
    "slug",
]

# Section names of a procedure's phases: a guide whose top-level sections are these is
# one procedure, imported as one runbook.
PHASE_NAMES = CONTEXT_NAMES | {
    "diagnosis",
    "diagnostics",
    "investigation",
    "triage",
    "troubleshooting",
    "mitigation",
    "mitigations",
    "remediation",
    "resolution",
    "recovery",
    "verification",
    "validation",
    "escalation",
    "procedure",
    "steps",
    "fix",
    "workaround",
    "prevention",
    "next steps",
    "references",
    "see also",
    "related",
    "notes",
    "severity",
    "debugging",
    "how to fix",
}


@dataclass
class Imported:
    """What an import produced: files by relative name, where every guide line went, and
    problems."""

    files: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    lines: dict[int, str] = field(default_factory=dict)  # guide line -> where it went
    total: int = 0  # the guide's lines
    source: str = ""  # the guide, as meta.source names it (set by import_into)
    folder: Path | None = None  # where the files were written (set by import_into)

    def account(self, first: int, last: int, what: str) -> None:
        for n in range(first, last + 1):
            self.lines[n] = what

    @property
    def mapping(self) -> list[str]:
        """Where each range of guide lines went, one line per range."""
        out: list[str] = []
        n = 1
        while n <= self.total:
            what = self.lines.get(n, "not accounted for")
            end = n
            while end + 1 <= self.total and self.lines.get(end + 1, "not accounted for") == what:
                end += 1
            out.append(f"- lines {n}-{end} -> {what}")
            n = end + 1
        return out

    @property
    def unaccounted(self) -> list[int]:
        """Guide lines the import did not account for (none, when it works as it should)."""
        return [n for n in range(1, self.total + 1) if n not in self.lines]

    @property
    def runbooks(self) -> int:
        """How many runbooks the import produced."""
        return sum(name.endswith(".runbook.yaml") for name in self.files)

    @property
    def failed(self) -> bool:
        """True when a part of the guide could not be imported (an error, not a warning)."""
        return any(": error:" in p for p in self.problems)


def slug(text: str) -> str:
    """A runbook-name slug of a heading."""
    return _slug(text, 60, "section")


def changes_state(argv: list[str]) -> str | None:
    """Why a command from a guide is not run by an imported runbook, or None when the
    command table says it only reads (``gert.importer.commands.classify``)."""
    verdict = classify(argv)
    return None if verdict.reads else verdict.reason


@dataclass
class Unit:
    """A part of the guide that becomes one runbook."""

    title: str
    sections: list[Section]  # the sections whose blocks it builds, its own first
    chart: Fence | None = None
    signature: bool = False
    context: list[Section] = field(default_factory=list)  # their text describes it
    name: str = ""

    @property
    def first(self) -> int:
        return self.sections[0].first

    @property
    def last(self) -> int:
        return max(s.last for s in self.sections)


def _norm(title: str) -> str:
    return re.sub(r"^[\s\d.)A-Z]{0,4}[.)]\s+|[^a-z ]", "", title.lower()).strip()


def _is_signature(sec: Section) -> bool:
    return any(
        b.kind == "paragraph" and re.match(r"^\*\*Signature:\*\*", b.text) for b in sec.blocks
    )


def _charts(sec: Section) -> list[Fence]:
    return [f for f in sec.fences() if f.info.split()[:1] == ["mermaid"]]


def plan(guide: Guide, stem: str) -> list[Unit]:
    """The runbooks a guide is split into."""
    tops = [c for c in guide.root.children if c.level > 0]
    preamble = [c for c in guide.root.children if c.level == 0]
    title: Section | None = tops[0] if len(tops) == 1 else None
    top_sections = title.children if title else tops
    intro = preamble + ([title] if title else [])

    def own(sec: Section) -> bool:
        return bool(_charts(sec)) or _is_signature(sec)

    units: list[Unit] = []

    def group(sec: Section, members: list[Section]) -> None:
        """*sec* and what is under it, self-contained sections left to their own units."""
        members.append(sec)
        for c in sec.children:
            if own(c):
                continue
            group(c, members)

    phases = sum(_norm(s.title) in PHASE_NAMES for s in top_sections)
    whole = not top_sections or phases >= 2
    grouped: list[tuple[Section | None, list[Section]]] = []
    if whole:
        members: list[Section] = list(preamble)
        if title and not own(title):
            group(title, members)
        else:
            for t in tops:
                if not own(t):
                    group(t, members)
        grouped.append((title, members))
    else:
        for t in top_sections:
            if not own(t):
                members = []
                group(t, members)
                grouped.append((t, members))
    for head, members in grouped:
        if not any(m.blocks for m in members):
            continue
        only_intro = not any(m.blocks for m in members if m not in intro)
        if whole and only_intro and any(own(s) for s in guide.sections()):
            continue  # only the introduction, which describes the other runbooks
        name_from = head.title if head else (guide.meta.get("title") or stem)
        units.append(Unit(name_from, members, context=intro))
    for sec in guide.sections():
        if not own(sec):
            continue
        members = []
        group(sec, members)
        charts = _charts(sec)
        if charts:
            for n, chart in enumerate(charts):
                units.append(
                    Unit(sec.title, members if n == 0 else [sec], chart=chart, context=intro)
                )
        else:
            units.append(Unit(sec.title, members, signature=True, context=intro))
    units.sort(key=lambda u: (u.first, u.chart.first if u.chart else 0))
    names: set[str] = set()
    for u in units:
        name = slug(u.title or stem)
        while name in names:
            name += "-2"
        names.add(name)
        u.name = name
    return units


def import_guide(path: Path, display: str | None = None) -> Imported:
    """Import one guide; *display* is the path written into ``meta.source``."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise InvalidError(
            f"{display or path.as_posix()}:{line}: not UTF-8 text ({e.reason} at byte {e.start}); "
            "save the guide as UTF-8"
        ) from None
    source = {"path": display or path.as_posix(), "sha256": hashlib.sha256(raw).hexdigest()}
    result = Imported()
    guide = read(text)
    result.total = len(guide.lines)
    for n, line in enumerate(guide.lines, start=1):
        if not line.strip():
            result.lines[n] = "skipped: blank"
    if guide.front_matter:
        result.account(*guide.front_matter, "skipped: front matter (the page's metadata)")
    if not guide.sections() or all(s.level == 0 for s in guide.sections()):
        result.problems.append(
            f"{source['path']}:1: warning: no headings: the whole guide is one section"
        )
    units = plan(guide, path.stem)
    attachments = _attach_to_nodes(units)
    targets = [(u.name, words_of(u.title)) for u in units]
    for sec in guide.sections():
        if sec.line:
            result.account(
                sec.line, sec.line, "skipped: a heading with nothing of its own under it"
            )
    intro_lines: list[Prose] = []
    from gert.importer.signature_sections import SignatureFile

    signatures = SignatureFile(guide, source["path"], result)
    for unit in units:
        builder = RunbookBuilder(unit.name, unit.title, source, result, (unit.first, unit.last))
        builder.targets = [t for t in targets if t[0] != unit.name]
        for sec in unit.context:
            if sec.line:
                result.account(sec.line, sec.line, "skipped: the guide's title")
            for block in sec.blocks:
                if block.kind == "rule":
                    result.account(block.first, block.last, "skipped: a rule between parts")
                    continue
                if block.fence and block.fence.info.split()[:1] == ["mermaid"]:
                    continue  # a flowchart under the title is its own runbook's tree
                builder.description.append(Prose(block.first, block.last, block.text))
                intro_lines.append(Prose(block.first, block.last, block.text))
        for sec in unit.sections:
            if sec.line:
                result.account(sec.line, sec.line, f"{unit.name}: heading")
        if unit.chart is not None and not _build_chart(
            builder, unit, result, source["path"], attachments.get(unit.name, [])
        ):
            continue
        if unit.chart is None:
            for sec in unit.sections:
                if sec in unit.context:
                    continue  # the introduction: already the description
                context = _norm(sec.title) in CONTEXT_NAMES
                builder.from_section(sec, context)
        if not builder.body:
            # Only context: the runbook asks the engineer to read it.
            builder.body.append(
                {
                    "id": "read_the_guide",
                    "type": "manual",
                    "title": unit.title,
                    "instructions": literal(
                        "\n\n".join(p.text for p in builder.description)
                        or f"Read {source['path']}: {unit.title}"
                    ),
                    "source": builder.src(unit.first, unit.last),
                }
            )
        result.files[f"{unit.name}.runbook.yaml"] = builder.dump()
        if unit.signature:
            signatures.add(unit, builder)
    for p in intro_lines:
        result.account(
            p.first, p.last, "the description of every runbook (the guide's introduction)"
        )
    for sec in guide.sections():
        signatures.scan(sec)
    signatures.write(path.stem)
    for n in range(1, result.total + 1):
        if n not in result.lines:
            result.problems.append(f"{source['path']}:{n}: warning: line not imported")
            result.lines[n] = "not imported (no block holds it)"
    return result


def _attach_to_nodes(units: list[Unit]) -> dict[str, list[tuple[str, Section]]]:
    """Sections of prose named like a flowchart node ("## Page the database on-call" for
    ``C[Page the database on-call]``) go into that node's step instead of a runbook of
    their own: by chart runbook, the (node, section) pairs. They are taken out of *units*."""
    nodes: dict[frozenset[str], list[tuple[str, str]]] = {}
    for u in units:
        if u.chart is None:
            continue
        try:
            chart = parse_mermaid(u.chart.code, first_line=u.chart.first)
        except MermaidError:
            continue
        for node in chart.nodes.values():
            nodes.setdefault(frozenset(words_of(node.label)), []).append((u.name, node.id))
    out: dict[str, list[tuple[str, Section]]] = {}
    for u in list(units):
        if u.chart is not None or u.signature or len(u.sections) != 1 or u.context == []:
            continue
        if has_commands(u.sections):
            continue
        hits = nodes.get(frozenset(words_of(u.title)), [])
        if words_of(u.title) and len(hits) == 1:
            name, node = hits[0]
            out.setdefault(name, []).append((node, u.sections[0]))
            units.remove(u)
    return out


def _build_chart(
    builder: RunbookBuilder,
    unit: Unit,
    result: Imported,
    where: str,
    attachments: list[tuple[str, Section]],
) -> bool:
    """A flowchart unit: the chart as the tree, the section's text as its description
    (a list item naming a node goes into that node's step, and so does a section of prose
    named like a node)."""
    fence = unit.chart
    assert fence is not None
    for node, sec in attachments:
        text = "\n\n".join(b.text for b in sec.blocks if b.kind != "rule")
        builder.attached[node] = builder.attached.get(node, "") + "\n\n" + literal(text)
    try:
        chart = parse_mermaid(fence.code, first_line=fence.first)
    except MermaidError as e:
        result.problems.append(f"{where}:{e.line}: error: flowchart: {e.message}")
        result.account(fence.first - 1, fence.last, "not imported: the flowchart does not parse")
        return False
    for line, warning in chart.warnings:
        result.problems.append(f"{where}:{line}: warning: {warning}")
    result.account(
        fence.first - 1, fence.last, f"{builder.name}: flowchart (edges become the tree)"
    )
    nodes = {n.id: words_of(n.label) for n in chart.nodes.values()}
    for sec in unit.sections:
        for block in [] if sec in unit.context else sec.blocks:
            if block.fence is fence or (
                block.fence and block.fence.info.split()[:1] == ["mermaid"]
            ):
                continue
            if block.kind == "rule":
                result.account(
                    block.first, block.last, "skipped: a rule between parts of the guide"
                )
                continue
            for item in block.items:
                # "archive run: `python3 …`" goes with the node "archive run".
                said = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", item.text).split(": ", 1)[0]
                match = [node for node, label in nodes.items() if label and label == words_of(said)]
                if len(match) == 1:
                    text = builder.attached.get(match[0], "")
                    builder.attached[match[0]] = (
                        f"{text}\n\nFrom the guide: {literal(item.text.strip())}"
                    )
            builder.describe(Prose(block.first, block.last, block.text, block.kind))
    try:
        builder.from_chart(chart)
    except ChartTooDeep as e:
        result.problems.append(f"{where}:{e.line}: error: flowchart: {e.message}")
        result.account(fence.first - 1, fence.last, "not imported: the flowchart nests too deep")
        return False
    for node, sec in attachments:
        sid = ", ".join(builder.placed.get(node, []))
        result.account(sec.line, sec.line, f"{builder.name}/{sid} (heading of its instructions)")
        for block in sec.blocks:
            what = (
                "skipped: a rule"
                if block.kind == "rule"
                else f"{builder.name}/{sid} (instructions)"
            )
            result.account(block.first, block.last, what)
    for node, text in builder.attached.items():
        sid = ", ".join(builder.placed.get(node, []))
        for block in unit.sections[0].blocks if sid else []:
            for item in block.items:
                if literal(item.text.strip()) in text:
                    builder.map(item.first, item.last, sid, "instructions; also in the description")
    builder.check_edges()
    return True


def import_into(
    guide: Path, project_root: Path, out_dir: Path | None = None, mapping: bool = False
) -> Imported:
    """Import a guide and write its files (``gert import``): into *out_dir*, else
    ``runbooks/imported/<guide>/`` of the project; with *mapping* also
    ``<guide>.mapping.md``, which says where every line of the guide went. The guide is
    named relative to the project when it lies inside it."""
    path = guide.resolve()
    root = project_root.resolve()
    display = str(path.relative_to(root)) if path.is_relative_to(root) else path.name
    result = import_guide(path, display)
    target = out_dir or root / "runbooks" / "imported" / slug(path.stem)
    target.mkdir(parents=True, exist_ok=True)
    for name, text in sorted(result.files.items()):
        write_atomic(target / name, text)
    if mapping:
        write_atomic(
            target / f"{slug(path.stem)}.mapping.md",
            f"# How {display} was imported\n\nEvery line of the guide, and where it went.\n\n"
            + "\n".join(result.mapping)
            + "\n",
        )
    result.source, result.folder = display, target
    return result
