"""Go ``text/template`` subset used for interpolation in runbooks.

>>> render("{{ .server }}:{{ printf \\"%04d\\" .port }}", {"server": "db1", "port": 42})
'db1:0042'

Output matches Go's ``text/template`` (with ``missingkey=error`` and gert's helper
functions) byte for byte; ``tests/template_oracle`` holds the Go program that proves it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from gert.template import _parse as _p
from gert.template._exec import State
from gert.template.errors import MissingVariableError, TemplateError
from gert.template.funcs import FUNC_NAMES, FUNCS

__all__ = [
    "MissingVariableError",
    "Template",
    "TemplateError",
    "derived_values",
    "is_template",
    "parse",
    "reads_data",
    "referenced_variables",
    "render",
    "render_tree",
]


class Template:
    """A parsed template, ready to render many times."""

    __slots__ = ("_root", "_static", "text")

    def __init__(self, text: str):
        self.text = text
        self._root = _p.Parser(text, FUNC_NAMES).parse()
        nodes = self._root.nodes
        self._static = nodes[0].text if len(nodes) == 1 and type(nodes[0]) is _p.Text else None
        if not nodes:
            self._static = ""

    def render(self, data: object) -> str:
        """Execute against *data* (usually a dict of variables) and return the output."""
        if self._static is not None:
            return self._static
        state = State(self.text, FUNCS, data)
        state.walk(data, self._root)
        return "".join(state.out)

    def variables(self) -> list[tuple[str, int]]:
        """Root variables referenced (``.name`` at top scope, ``$.name`` anywhere), with offsets."""
        found: list[tuple[str, int]] = []
        _collect(self._root, True, found)
        return found


@lru_cache(maxsize=4096)
def parse(text: str) -> Template:
    """Parse (and cache) a template; raises :class:`TemplateError` with its position."""
    return Template(text)


def render(text: str, data: object) -> str:
    """Render a template string against *data*."""
    if "{{" not in text:
        return text
    return parse(text).render(data)


def render_tree(value: Any, data: object) -> Any:
    """Render every string inside *value* (nested dicts and lists); other values unchanged."""
    if isinstance(value, str):
        return render(value, data)
    if isinstance(value, dict):
        return {k: render_tree(v, data) for k, v in value.items()}
    if isinstance(value, list):
        return [render_tree(v, data) for v in value]
    return value


def derived_values(text: str, data: object, names: set[str]) -> list[str]:
    """What the parts of *text* that use one of *names* put in the output.

    For values derived from secrets (``{{ printf "%.6s" .token }}``): the template is
    rendered once, and the output of each top-level part that reads one of *names*, or a
    ``$variable`` (which may hold one), is returned on its own.
    """
    if "{{" not in text or not names:
        return []
    template = parse(text)
    if not {n for n, _ in template.variables()} & names:
        return []
    state = State(text, FUNCS, data)
    out = []
    for node in template._root.nodes:
        first = len(state.out)
        state.walk(data, node)
        if type(node) is _p.Text:
            continue
        found: list[tuple[str, int]] = []
        _collect(node, True, found)
        if any(n in names for n, _ in found) or _uses_variable(node):
            out.append("".join(state.out[first:]))
    return out


def _uses_variable(node: object) -> bool:
    """True when *node* reads a ``$variable`` other than ``$`` itself."""
    t = type(node)
    if t is _p.Variable:
        return node.names[0] != "$"
    if t is _p.ListNode:
        return any(_uses_variable(n) for n in node.nodes)
    if t is _p.Action:
        return _uses_variable(node.pipe)
    if t is _p.Branch:
        return any(
            _uses_variable(n) for n in (node.pipe, node.body, node.else_body) if n is not None
        )
    if t is _p.Pipeline:
        return any(_uses_variable(a) for c in node.cmds for a in c.args)
    if t is _p.Chain:
        return _uses_variable(node.node)
    return False


def reads_data(text: str) -> bool:
    """True when *text* may put a value from its data in the output: it reads a field,
    dot or a variable anywhere (a template that does not parse counts as reading)."""
    if "{{" not in text:
        return False
    try:
        root = parse(text)._root
    except TemplateError:
        return True
    stack: list[object] = [root]
    while stack:
        node = stack.pop()
        t = type(node)
        if t is _p.Dot or t is _p.Field or t is _p.Variable:
            return True
        if t is _p.ListNode:
            stack += node.nodes  # type: ignore[attr-defined]
        elif t is _p.Action or t is _p.Chain:
            stack.append(node.pipe if t is _p.Action else node.node)  # type: ignore[attr-defined]
        elif t is _p.Pipeline:
            stack += [a for c in node.cmds for a in c.args]  # type: ignore[attr-defined]
        elif t is _p.Branch:
            stack += [n for n in (node.pipe, node.body, node.else_body) if n is not None]  # type: ignore[attr-defined]
        elif t is _p.Command:
            stack += node.args  # type: ignore[attr-defined]
    return False


def is_template(text: str) -> bool:
    """True when *text* contains a template action."""
    return "{{" in text


def referenced_variables(text: str) -> list[tuple[str, int]]:
    """Names of the root variables a template uses, with their offsets in *text*."""
    if "{{" not in text:
        return []
    return parse(text).variables()


def _collect(node: object, root_dot: bool, out: list[tuple[str, int]]) -> None:
    t = type(node)
    if t is _p.ListNode:
        for n in node.nodes:
            _collect(n, root_dot, out)
    elif t is _p.Action:
        _collect(node.pipe, root_dot, out)
    elif t is _p.Pipeline:
        for c in node.cmds:
            for a in c.args:
                _collect(a, root_dot, out)
    elif t is _p.Branch:
        _collect(node.pipe, root_dot, out)
        # with/range rebind dot inside their body; their else keeps the outer dot.
        _collect(node.body, root_dot and node.kind == "if", out)
        if node.else_body is not None:
            _collect(node.else_body, root_dot, out)
    elif t is _p.Field:
        if root_dot:
            out.append((node.names[0], node.pos))
    elif t is _p.Variable:
        if node.names[0] == "$" and len(node.names) > 1:
            out.append((node.names[1], node.pos))
    elif t is _p.Chain:
        _collect(node.node, root_dot, out)
