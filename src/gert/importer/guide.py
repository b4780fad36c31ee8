"""A Markdown guide read into sections and blocks, every block with its lines.

markdown-it-py reads the guide (CommonMark with tables). YAML front matter (``---`` …
``---`` on the first lines) is set aside as metadata. Each heading starts a section; a
section holds its blocks (paragraphs, lists, tables, fenced and indented code, HTML, quotes,
rules) with their line ranges and text as written, and its subsections.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Fence:
    """A fenced code block: its info string, content and the line of its first content line."""

    info: str
    code: str
    first: int  # first content line
    last: int  # last line of the block (the closing fence)


@dataclass
class Item:
    """A list item: its lines, text, code spans and fenced blocks (nested ones included)."""

    first: int
    last: int
    text: str
    spans: list[str] = field(default_factory=list)
    fences: list[Fence] = field(default_factory=list)


@dataclass
class Block:
    """A block of a section: ``kind`` is paragraph, list, table, fence, code, html, quote,
    rule or text (lines markdown left out of its blocks, such as link definitions)."""

    kind: str
    first: int
    last: int
    text: str
    fence: Fence | None = None
    items: list[Item] = field(default_factory=list)


@dataclass
class Section:
    """A heading and what follows it up to the next heading of any level."""

    title: str
    level: int  # 0 for the text before the first heading
    line: int  # the heading's line (0: none)
    last: int = 0  # last line before the next heading
    blocks: list[Block] = field(default_factory=list)
    children: list[Section] = field(default_factory=list)
    parent: Section | None = None

    @property
    def first(self) -> int:
        return self.line or (self.blocks[0].first if self.blocks else 1)

    def walk(self) -> list[Section]:
        """This section and every section under it, in document order."""
        out = [self]
        for c in self.children:
            out += c.walk()
        return out

    def fences(self) -> list[Fence]:
        """Every fenced block of this section alone (in lists too)."""
        out: list[Fence] = []
        for b in self.blocks:
            if b.fence:
                out.append(b.fence)
            for item in b.items:
                out += item.fences
        return out


@dataclass
class Guide:
    """The guide's lines, front matter and sections (``root`` holds the top level)."""

    lines: list[str]
    root: Section
    front_matter: tuple[int, int] | None = None
    meta: dict[str, str] = field(default_factory=dict)

    def sections(self) -> list[Section]:
        return [s for s in self.root.walk() if s is not self.root]


def _front_matter(lines: list[str]) -> tuple[int, int] | None:
    if not lines or lines[0].strip() != "---":
        return None
    for n in range(1, min(len(lines), 200)):
        if lines[n].strip() in ("---", "..."):
            return (1, n + 1)
    return None


def read(text: str) -> Guide:
    """The guide's sections and blocks."""
    from markdown_it import MarkdownIt

    lines = text.splitlines()
    front = _front_matter(lines)
    meta: dict[str, str] = {}
    body = list(lines)
    if front:
        for line in lines[front[0] : front[1] - 1]:
            m = re.match(r"^([A-Za-z_][\w-]*):\s*(.*)$", line)
            if m:
                meta[m.group(1)] = m.group(2).strip().strip("\"'")
        for n in range(front[0] - 1, front[1]):
            body[n] = ""
    tokens = MarkdownIt("commonmark").enable("table").parse("\n".join(body) + "\n")
    root = Section("", 0, 0, len(lines))
    stack: list[Section] = [root]
    preamble: Section | None = None
    current = root
    i = 0
    covered: set[int] = set()
    while i < len(tokens):
        tok = tokens[i]
        if tok.level != 0 or tok.map is None:
            i += 1
            continue
        first, last = tok.map[0] + 1, tok.map[1]
        if tok.type == "heading_open":
            level = int(tok.tag[1])
            while len(stack) > 1 and stack[-1].level >= level:
                stack.pop()
            title = _plain(tokens[i + 1])
            section = Section(title, level, first, parent=stack[-1])
            stack[-1].children.append(section)
            stack.append(section)
            current = section
            covered.update(range(first, last + 1))
            i = _close(tokens, i)
            continue
        if current is root:
            if preamble is None:
                preamble = Section("", 0, 0, parent=root)
                root.children.append(preamble)
            target = preamble
        else:
            target = current
        end = _close(tokens, i)
        block = _block(tokens[i:end], lines, first, last)
        target.blocks.append(block)
        covered.update(range(first, last + 1))
        i = end
    # Lines no block holds (link definitions, stray text) stay with their section as text.
    every = [s for s in root.walk() if s is not root]
    for n, line in enumerate(lines, start=1):
        if n in covered or not line.strip() or (front and front[0] <= n <= front[1]):
            continue
        owner = root
        for s in every:
            if s.first <= n:
                owner = s
        if owner is root:
            if preamble is None:
                preamble = Section("", 0, 0, parent=root)
                root.children.insert(0, preamble)
            owner = preamble
        owner.blocks.append(Block("text", n, n, line))
        owner.blocks.sort(key=lambda b: b.first)
    # Each section ends where the next heading starts.
    ordered = sorted(
        every + ([preamble] if preamble and preamble not in every else []), key=lambda s: s.first
    )
    for a, b in itertools.pairwise(ordered):
        a.last = b.first - 1
    if ordered:
        ordered[-1].last = len(lines)
    return Guide(lines, root, front, meta)


def _close(tokens: list[Any], i: int) -> int:
    """The index after the block that opens at *i*."""
    tok = tokens[i]
    if tok.nesting == 0:
        return i + 1
    depth = 0
    for j in range(i, len(tokens)):
        depth += tokens[j].nesting
        if depth == 0:
            return j + 1
    return len(tokens)


def _plain(inline: Any) -> str:
    """A heading's text without Markdown marks (code spans keep their text)."""
    parts = []
    for child in inline.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
    return "".join(parts).strip() or inline.content.strip("`# ")


def _block(tokens: list[Any], lines: list[str], first: int, last: int) -> Block:
    tok = tokens[0]
    text = "\n".join(lines[first - 1 : last])
    kind = {
        "paragraph_open": "paragraph",
        "bullet_list_open": "list",
        "ordered_list_open": "list",
        "table_open": "table",
        "fence": "fence",
        "code_block": "code",
        "html_block": "html",
        "blockquote_open": "quote",
        "hr": "rule",
    }.get(tok.type, "text")
    block = Block(kind, first, last, text)
    if kind == "fence":
        block.fence = Fence(tok.info.strip(), tok.content, first + 1, last)
    elif kind == "list":
        block.items = _items(tokens, lines)
    return block


def _items(tokens: list[Any], lines: list[str]) -> list[Item]:
    """The top-level items of a list, each with its code spans and fences."""
    items: list[Item] = []
    level = tokens[0].level + 1
    current: Item | None = None
    for tok in tokens[1:]:
        if tok.type == "list_item_open" and tok.level == level and tok.map:
            first, last = tok.map[0] + 1, tok.map[1]
            current = Item(first, last, "\n".join(lines[first - 1 : last]))
            items.append(current)
        elif current is None:
            continue
        elif tok.type == "inline":
            current.spans += [c.content for c in tok.children or [] if c.type == "code_inline"]
        elif tok.type == "fence" and tok.map:
            current.fences.append(Fence(tok.info.strip(), tok.content, tok.map[0] + 2, tok.map[1]))
    # An item ends where the next begins (markdown-it leaves out trailing blank lines).
    return items
