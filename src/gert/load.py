"""YAML in and out: reading with positions (and telling which gert format a document
is), and writing the files gert produces.

Every value keeps the file, line and column it came from, so any later error (schema,
domain rule, template, condition) can point at the author's own line.
"""

from __future__ import annotations

import datetime as _dt
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from gert.errors import InvalidError

Path_ = tuple[str | int, ...]

FORMATS = {
    "runbook/v0": "runbook",
    "tool/v0": "tool",
    "signatures/v0": "signatures",
    "scenario/v0": "scenario",
}
SUFFIXES = {
    ".runbook.yaml": "runbook",
    ".runbook.yml": "runbook",
    ".tool.yaml": "tool",
    ".tool.yml": "tool",
    ".signatures.yaml": "signatures",
    ".signatures.yml": "signatures",
}


class LoadError(InvalidError):
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
    # The text of each plain scalar YAML read as a number, boolean or null (`5`, `1.10`,
    # `true`, `~`): where a format wants a string, the author's text is taken instead.
    plain: dict[Path_, str] = field(default_factory=dict)

    @property
    def kind(self) -> str | None:
        """``runbook``, ``tool``, ``signatures``, ``scenario`` or None, from apiVersion,
        else from the file name."""
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


_STYLES = {"|": "|", ">": ">", "'": "'", '"': '"'}
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Builder:
    """Builds plain data from composed YAML nodes, recording every node's position.

    Composing (C parser when ruamel.yaml.clib is installed) and building the data here
    is about ten times faster than ruamel's round-trip loader, and gives exact positions
    for keys, values and duplicate keys.
    """

    def __init__(self, doc: Document, yaml: Any):
        self.doc = doc
        self.yaml = yaml
        self._constructor: Any = None
        self.active: set[int] = set()
        self.values = 0  # built so far, aliases expanded (bounded by MAX_VALUES)
        self.resolve: Any = None  # set when ':' stand-ins are to be put back

    def construct(self, node: Any) -> Any:
        """The value of a scalar node: its text when YAML resolved it to a string (most
        are), else what ruamel's safe constructor makes of it."""
        if node.ctag is _STR_TAG:
            return node.value
        if self._constructor is None:
            from ruamel.yaml.constructor import SafeConstructor

            self._constructor = SafeConstructor(loader=self.yaml)
        return self._constructor.construct_object(node, deep=True)

    def restore(self, node: Any) -> None:
        """Put back the ':' a stand-in replaced (_compose_yaml_1_2), and type the scalar
        as YAML reads its real text."""
        if _COLON in node.value:
            from ruamel.yaml.nodes import ScalarNode

            node.value = node.value.replace(_COLON, ":")
            if not node.style:
                node.ctag = self.resolve(ScalarNode, node.value, (True, False))

    def fail(self, node: Any, message: str, hint: str | None = None) -> LoadError:
        m = node.start_mark
        return LoadError(self.doc.file, m.line + 1, m.column + 1, message, hint)

    def build(self, node: Any, path: Path_) -> Any:
        # The hot loop of every load: node types are compared by identity and the common
        # case (a string scalar) takes the shortest path.
        mapping_node, sequence_node, _ = _node_types()
        mark = node.start_mark
        self.doc.value_pos[path] = (mark.line + 1, mark.column + 1)
        self.values += 1
        if self.values > MAX_VALUES:
            raise self.fail(
                node,
                f"the document holds more than {MAX_VALUES:,} values once its aliases are expanded",
                "an alias (*name) repeats what its anchor holds; nested aliases multiply",
            )
        kind = type(node)
        if kind is mapping_node:
            return self.mapping(node, path)
        if kind is sequence_node:
            if id(node) in self.active:
                raise self.fail(node, "recursive alias: a list contains itself")
            self.active.add(id(node))
            build = self.build
            items = [build(v, (*path, i)) for i, v in enumerate(node.value)]
            self.active.discard(id(node))
            return items
        if self.resolve is not None:
            self.restore(node)
        style = _STYLES.get(node.style) if node.style else None
        if style:
            self.doc.block[path] = style
        if node.ctag is _STR_TAG:
            return node.value
        try:
            value = self.construct(node)
        except Exception as e:  # ConstructorError and friends: unknown tags, bad values
            raise self.fail(
                node, f"cannot read value: {getattr(e, 'problem', None) or e}"
            ) from None
        if not style and node.value and (value is None or isinstance(value, bool | int | float)):
            self.doc.plain[path] = node.value
        if isinstance(value, _dt.datetime | _dt.date):
            return value.isoformat()
        if isinstance(value, bytes):
            raise self.fail(node, "binary values are not supported")
        return value

    def mapping(self, node: Any, path: Path_) -> dict[str, Any]:
        if id(node) in self.active:
            raise self.fail(node, "recursive alias: a mapping contains itself")
        self.active.add(id(node))
        out: dict[str, Any] = {}
        merged: list[tuple[Any, Any]] = []
        key_pos, build, key_of = self.doc.key_pos, self.build, self.key
        for key_node, value_node in node.value:
            if key_node.ctag is not _STR_TAG and key_node.tag == _MERGE_TAG:
                merged.extend(self.merge_sources(value_node))
                continue
            key = key_of(key_node)
            if key in out:
                line, _ = key_pos[(*path, key)]
                raise self.fail(
                    key_node,
                    f"duplicate key {key!r} (first at line {line})",
                    "each key may appear once in a mapping",
                )
            child = (*path, key)
            mark = key_node.start_mark
            key_pos[child] = (mark.line + 1, mark.column + 1)
            out[key] = build(value_node, child)
        for key_node, value_node in merged:  # "<<: *anchor": explicit keys win
            key = key_of(key_node)
            if key not in out:
                child = (*path, key)
                mark = key_node.start_mark
                key_pos[child] = (mark.line + 1, mark.column + 1)
                out[key] = build(value_node, child)
        self.active.discard(id(node))
        return out

    def merge_sources(self, node: Any) -> list[tuple[Any, Any]]:
        from ruamel.yaml.nodes import MappingNode, SequenceNode

        if isinstance(node, MappingNode):
            return list(node.value)
        if isinstance(node, SequenceNode) and all(isinstance(n, MappingNode) for n in node.value):
            return [pair for n in node.value for pair in n.value]
        raise self.fail(node, "a merge key (<<) needs a mapping or a list of mappings")

    def key(self, node: Any) -> str:
        if type(node) is not _node_types()[2]:
            raise self.fail(node, "a mapping key must be a plain value, not a list or mapping")
        if self.resolve is not None:
            self.restore(node)
        if node.ctag is _STR_TAG:
            return node.value
        try:
            value = self.construct(node)
        except Exception as e:  # ConstructorError and friends: unknown tags, bad values
            raise self.fail(node, f"cannot read key: {getattr(e, 'problem', None) or e}") from None
        if isinstance(value, bytes):
            raise self.fail(node, "binary values are not supported")
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)


_STR_TAG: Any = None  # ruamel's Tag for str, set by _c_composer


@lru_cache(maxsize=1)
def _node_types() -> tuple[type, type, type]:
    """ruamel's (MappingNode, SequenceNode, ScalarNode), imported on first use."""
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    return MappingNode, SequenceNode, ScalarNode


@lru_cache(maxsize=1)
def _c_composer() -> tuple[Any, Callable[..., Any]] | None:
    """(a composer class over libyaml's C parser, its resolver), or None without the C
    extension.

    ruamel's own ``compose`` builds a loader class and a versioned resolver for every
    document, and resolves each scalar through several property lookups: most of the
    cost of a small file. This composer is built once and resolves with YAML 1.2's core
    rules (ruamel's own table, so every scalar gets the tag ruamel gives it).
    """
    global _STR_TAG
    try:
        from _ruamel_yaml import CParser
    except ImportError:
        return None
    from ruamel.yaml.nodes import ScalarNode, SequenceNode
    from ruamel.yaml.resolver import BaseResolver, implicit_resolvers
    from ruamel.yaml.tag import Tag

    table: dict[str, list[tuple[Any, Any]]] = {}
    for versions, tag, regexp, first in implicit_resolvers:
        if (1, 2) in versions:
            for ch in first:
                table.setdefault(ch, []).append((Tag(suffix=tag), regexp))
    text, seq, mapping = (
        BaseResolver.DEFAULT_SCALAR_TAG,
        BaseResolver.DEFAULT_SEQUENCE_TAG,
        BaseResolver.DEFAULT_MAPPING_TAG,
    )
    _STR_TAG = text

    def resolve(kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode:
            if implicit[0]:
                for tag, regexp in table.get(value[:1], ()):
                    if regexp.match(value):
                        return tag
            return text
        return seq if kind is SequenceNode else mapping

    class Composer(CParser):  # type: ignore[misc]
        """libyaml's parser composing nodes; no path resolvers (gert defines none)."""

        def descend_resolver(self, current_node: Any, current_index: Any) -> None:
            pass

        def ascend_resolver(self) -> None:
            pass

        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            return resolve(kind, value, implicit)

    return Composer, resolve


def _compose(text: str) -> Any:
    """The root node of *text* (None when empty), composed by the C parser when there is
    one; raises ruamel's MarkedYAMLError."""
    fast = _c_composer()
    if fast is None:
        return _yaml().compose(text)
    parser = fast[0](text)
    try:
        return parser.get_single_node()
    finally:
        parser.dispose()


@lru_cache(maxsize=2)
def _yaml(pure: bool = False) -> Any:
    from ruamel.yaml import YAML

    # typ "safe" uses the C parser when ruamel.yaml.clib is installed, else pure Python.
    return YAML(typ="safe", pure=pure)


def _yaml_1_1_colon(error: Any) -> bool:
    """The C scanner's YAML 1.1 rule: no ':' inside a plain scalar in a flow collection
    (``[curl, http://host/]``). YAML 1.2, Go's yaml.v3 and ruamel's pure-Python scanner
    allow it."""
    return (error.problem or "").strip() == "found unexpected ':'" and (
        error.context or ""
    ).strip() == "while scanning a plain scalar"


# A ':' that YAML 1.2 reads as part of a plain scalar wherever it stands: not after a space
# or a quoted key or flow collection (JSON-like `{"a":1}`), not before a space, the end, or a
# flow indicator.
_INNER_COLON = re.compile(r"(?<=[^\s\"'\]}]):(?=[^\s,\[\]{}])")
_COLON = "\ue000"  # stands in for such a ':' (private use: no author writes it)


def _compose_yaml_1_2(text: str, error: Any) -> tuple[Any, Any, bool]:
    """(yaml, root node, whether ':' stand-ins were used) for a document the C scanner
    refused with *error*: it reads YAML 1.1 in places (':' in a flow collection), and gert
    reads YAML 1.2.

    First each ':' inside a plain scalar is swapped for a one-character stand-in, so the
    C scanner reads the document with every position unchanged; the builder puts the ':'
    back and resolves the scalar's type again. Documents with tags or directives (where
    ':' belongs to a tag), and anything the swap does not cure, go to ruamel's pure-Python
    scanner (YAML 1.2, about eight times slower). When it refuses the document too, its
    error is reported if the C scanner's was about a ':', else the C scanner's.
    """
    from ruamel.yaml.error import MarkedYAMLError

    if _COLON not in text and not re.search(r"^%|!<", text, re.M):
        patched = _INNER_COLON.sub(_COLON, text)
        if patched != text:
            try:
                return _yaml(), _compose(patched), True
            except MarkedYAMLError:
                pass
    yaml = _yaml(pure=True)
    try:
        with warnings.catch_warnings():  # an anchor defined twice: YAML 1.2 allows it
            warnings.simplefilter("ignore")
            return yaml, yaml.compose(text), False
    except MarkedYAMLError:
        if _yaml_1_1_colon(error):
            raise
        raise error from None


# Limits on a YAML document (input is bounded). No runbook comes near them; past
# them the composer's stack overflows (deep nesting) or aliases expand without end.
MAX_FLOW_DEPTH = 100  # [ and { open at once
MAX_INDENT = 200  # columns of indentation and "- " before a line's content
MAX_VALUES = 200_000  # values in the built document, aliases expanded
_BRACKETS = re.compile(r"[\[\]{}]")
_LEAD = re.compile(r"^[ \t-]+", re.M)


def _check_nesting(text: str, file: str) -> None:
    """Refuse nesting the composer could not survive, before composing (fast: C regex)."""
    depth = 0
    for m in _BRACKETS.finditer(text):
        depth = depth + 1 if m.group() in "[{" else max(0, depth - 1)
        if depth > MAX_FLOW_DEPTH:
            line = text.count("\n", 0, m.start()) + 1
            col = m.start() - text.rfind("\n", 0, m.start())
            raise LoadError(
                file, line, col, f"nested more than {MAX_FLOW_DEPTH} levels deep ([ and {{)"
            )
    for m in _LEAD.finditer(text):
        if m.end() - m.start() > MAX_INDENT:
            line = text.count("\n", 0, m.start()) + 1
            raise LoadError(
                file, line, 1, f"nested too deeply (more than {MAX_INDENT} columns of indentation)"
            )


def parse_text(text: str, file: str = "<string>") -> Document:
    """Parse YAML text into a :class:`Document`; raises :class:`LoadError`."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    doc = Document(file=file, text=text, data=None)
    _check_nesting(text, file)
    yaml, colons = _yaml(), False
    try:
        try:
            node = _compose(text)
        except MarkedYAMLError as e:
            yaml, node, colons = _compose_yaml_1_2(text, e)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = (e.problem or "invalid YAML").strip()
        context = f" ({e.context.strip()})" if e.context else ""
        raise LoadError(file, line, col, f"invalid YAML: {problem}{context}") from None
    except YAMLError as e:
        raise LoadError(file, 1, 1, f"invalid YAML: {e}") from None
    doc.value_pos[()] = (1, 1)
    if node is None:
        return doc
    builder = _Builder(doc, yaml)
    if colons:
        fast = _c_composer()
        builder.resolve = fast[1] if fast else yaml.resolver.resolve
    doc.data = builder.build(node, ())
    doc.value_pos[()] = (1, 1)
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


_API_VERSION = re.compile(r"""^["']?apiVersion["']?[ \t]*:[ \t]*["']?([^\s"'#,}]+)""", re.M)


def api_version(path: str | Path) -> str | None:
    """The ``apiVersion`` a YAML file declares at its top level, read without parsing the
    file (None when it declares none or cannot be read): how gert tells its files apart
    from other YAML in a folder, whatever their names."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    m = _API_VERSION.search(text)
    if m is None and "apiVersion" in text:  # a flow mapping, or a key written otherwise
        try:
            data = parse_text(text, str(path)).data
        except LoadError:
            return None
        api = data.get("apiVersion") if isinstance(data, dict) else None
        return api if isinstance(api, str) else None
    return m.group(1) if m else None


def load_mapping(
    path: str | Path, expected: str, fits: Callable[[dict[str, Any]], bool] = lambda _: True
) -> dict[str, Any]:
    """The mapping a YAML file holds (an empty file holds ``{}``), such as an answers file.

    Raises :class:`LoadError` when the file cannot be read and :class:`InvalidError`
    ``"<path>: <expected>"`` when it holds something else or a mapping *fits* refuses.
    """
    data = load_file(path).data or {}
    if not isinstance(data, dict) or not fits(data):
        raise InvalidError(f"{path}: {expected}")
    return data


# Plain when it starts with a letter, "_" or "/" (".": ruamel reads "." and ".5" as floats)
_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9 _./@+:,=()-]*\Z")  # \Z: "$" allows a final newline
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~", ".inf", ".nan"}
_NUMBERISH = re.compile(r"^[-+]?(\.?[0-9]|0[xob])")


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        import json

        return json.dumps(value)
    text = str(value)
    plain = (
        _PLAIN.match(text) is not None
        and text.lower() not in _RESERVED
        and not _NUMBERISH.match(text)
        and ": " not in text
        and not text.endswith((" ", ":"))
    )
    return text if plain else _quote(text)


# Characters YAML does not allow raw in a stream (JSON leaves them raw): escape them.
_NOT_YAML = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")


def _quote(text: str) -> str:
    """A double-quoted scalar: a JSON string (valid YAML) with YAML's unprintables escaped."""
    import json  # here, not at module level: validation never dumps, and start-up counts

    return _NOT_YAML.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(text, ensure_ascii=False))


def _emit(value: Any, indent: int, out: list[str]) -> None:
    pad = " " * indent
    if isinstance(value, dict):
        for k, v in value.items():
            key = _scalar(str(k))
            if isinstance(v, dict) and v:
                out.append(f"{pad}{key}:\n")
                _emit(v, indent + 2, out)
            elif isinstance(v, list) and v:
                out.append(f"{pad}{key}:\n")
                _emit(v, indent, out)
            else:
                out.append(f"{pad}{key}: {_inline(v)}\n")
    else:  # a non-empty list
        for v in value:
            if isinstance(v, dict) and v:
                first, *rest = _lines(v, indent + 2)
                out.append(f"{pad}- {first.lstrip()}")
                out.extend(rest)
            elif isinstance(v, list) and v:
                out.append(f"{pad}-\n")
                _emit(v, indent + 2, out)
            else:
                out.append(f"{pad}- {_inline(v)}\n")


def _lines(value: Any, indent: int) -> list[str]:
    out: list[str] = []
    _emit(value, indent, out)
    return out


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _scalar(value)


def dump_yaml(data: Any) -> str:
    """YAML text for plain data (dicts, lists, strings, numbers, booleans, None).

    Block style with keys in the order given; a string is written plain only when it
    cannot be read back as anything else, otherwise double-quoted (a JSON string, which
    is valid YAML). Written by gert because ruamel's representer costs a millisecond per
    manifest, and manifests are rewritten after every step.
    """
    if not isinstance(data, dict | list) or not data:
        return _inline(data) + "\n"
    return "".join(_lines(data, 0))
