"""Reading YAML with positions, and telling which gert format a document is.

Every value keeps the file, line and column it came from, so any later error (schema,
domain rule, template, condition) can point at the author's own line.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Path_ = tuple[str | int, ...]

FORMATS = {"runbook/v0": "runbook", "tool/v0": "tool"}
SUFFIXES = {
    ".runbook.yaml": "runbook",
    ".runbook.yml": "runbook",
    ".tool.yaml": "tool",
    ".tool.yml": "tool",
}


class LoadError(Exception):
    """A file that cannot be read as YAML; carries file, line and column (1-based)."""

    def __init__(self, file: str, line: int, col: int, message: str, hint: str | None = None):
        self.file = file
        self.line = line
        self.col = col
        self.message = message
        self.hint = hint
        super().__init__(f"{file}:{line}:{col}: {message}")


@dataclass
class Document:
    """A parsed YAML file: plain Python data plus the position of every node."""

    file: str
    text: str
    data: Any
    value_pos: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    key_pos: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    block: dict[Path_, str] = field(default_factory=dict)  # scalar style: "|", ">", "'", '"'

    @property
    def kind(self) -> str | None:
        """``runbook``, ``tool`` or None, from apiVersion, else from the file name."""
        if isinstance(self.data, dict):
            api = self.data.get("apiVersion")
            if isinstance(api, str) and api in FORMATS:
                return FORMATS[api]
            if api is not None:
                return None
        name = self.file.lower()
        return next((k for s, k in SUFFIXES.items() if name.endswith(s)), None)

    def position(self, path: Path_, key: bool = False) -> tuple[int, int]:
        """(line, col) of the node at *path*, or of its nearest existing ancestor."""
        path = tuple(path)
        while path:
            if key and path in self.key_pos:
                return self.key_pos[path]
            if path in self.value_pos:
                return self.value_pos[path]
            if path in self.key_pos:
                return self.key_pos[path]
            path = path[:-1]
        return self.value_pos.get((), (1, 1))

    def position_in_value(self, path: Path_, line: int, col: int) -> tuple[int, int]:
        """Map (line, col) inside a string value (1-based, in the value's text) to the file."""
        vline, vcol = self.position(path)
        style = self.block.get(tuple(path))
        if style in ("|", ">"):
            # Content starts on the line after the indicator, at the block's indentation.
            lines = self.text.splitlines()
            first = vline  # 0-based index of the first content line
            indent = 0
            if first < len(lines):
                content = lines[first]
                indent = len(content) - len(content.lstrip(" "))
            return vline + line, indent + col
        if line == 1:
            return vline, vcol + col - 1 + (1 if style in ("'", '"') else 0)
        return vline + line - 1, col


def _plain(node: Any, path: Path_, doc: Document) -> Any:
    """Convert ruamel's round-trip objects to plain data, recording positions."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import (
        DoubleQuotedScalarString,
        FoldedScalarString,
        LiteralScalarString,
        SingleQuotedScalarString,
    )

    if isinstance(node, CommentedMap):
        out: dict[str, Any] = {}
        for k, v in node.items():
            key = str(k) if not isinstance(k, str) else k
            child = (*path, key)
            try:
                kl, kc = node.lc.key(k)
                doc.key_pos[child] = (kl + 1, kc + 1)
                vl, vc = node.lc.value(k)
                doc.value_pos[child] = (vl + 1, vc + 1)
            except (KeyError, TypeError, AttributeError):  # merged keys have no own position
                pass
            out[key] = _plain(v, child, doc)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for i, v in enumerate(node):
            child = (*path, i)
            try:
                il, ic = node.lc.item(i)
                doc.value_pos[child] = (il + 1, ic + 1)
            except (KeyError, TypeError, AttributeError):
                pass
            items.append(_plain(v, child, doc))
        return items
    if isinstance(node, str):
        if isinstance(node, LiteralScalarString):
            doc.block[path] = "|"
        elif isinstance(node, FoldedScalarString):
            doc.block[path] = ">"
        elif isinstance(node, SingleQuotedScalarString):
            doc.block[path] = "'"
        elif isinstance(node, DoubleQuotedScalarString):
            doc.block[path] = '"'
        return str(node)
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, _dt.datetime | _dt.date):
        return node.isoformat()
    return node


def _yaml() -> Any:
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.allow_duplicate_keys = False
    return y


def parse_text(text: str, file: str = "<string>") -> Document:
    """Parse YAML text into a :class:`Document`; raises :class:`LoadError`."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    doc = Document(file=file, text=text, data=None)
    try:
        raw = _yaml().load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = (e.problem or "invalid YAML").strip()
        if "duplicate key" in problem or type(e).__name__ == "DuplicateKeyError":
            key = problem.split('"')[1] if '"' in problem else ""
            msg = f"duplicate key {key!r}" if key else "duplicate key"
            raise LoadError(file, line, col, msg, "each key may appear once in a mapping") from None
        context = f" ({e.context.strip()})" if e.context else ""
        raise LoadError(file, line, col, f"invalid YAML: {problem}{context}") from None
    except YAMLError as e:
        raise LoadError(file, 1, 1, f"invalid YAML: {e}") from None
    doc.value_pos[()] = (1, 1)
    doc.data = _plain(raw, (), doc)
    return doc


def load_file(path: str | Path) -> Document:
    """Read and parse one YAML file; raises :class:`LoadError` naming the file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LoadError(str(path), 1, 1, "file not found") from None
    except IsADirectoryError:
        raise LoadError(str(path), 1, 1, "is a directory, not a file") from None
    except UnicodeDecodeError as e:
        raise LoadError(str(path), 1, 1, f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise LoadError(str(path), 1, 1, f"cannot read: {e.strerror}") from None
    return parse_text(text, str(path))
