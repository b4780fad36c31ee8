"""Conditions and templates of the kernel/v0 format, read as gert's Go implementation
evaluates them, rewritten into gert's condition language where the meaning is certain.

In the kernel format every condition is a Go template: ``eq``/``ne`` compare
``fmt.Sprint`` text, ``gt``/``lt`` compare text (``gt "10" "9"`` is false), a missing key
renders ``<no value>``, and a condition is true unless it renders ``""``, ``false`` or
``<no value>`` (so ``"0"`` is true). A rewrite is made only for forms whose meaning is
the same in both: ``eq``/``ne`` of names and text, ``and``/``or``/``not`` of those, and a
name on its own. Everything else stays a template, and each surprise is noted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from gert.template import TemplateError
from gert.template import _parse as tp
from gert.template.funcs import FUNC_NAMES

# The text Go's text/template renders for a missing key, and what migrated runbooks
# declare a name as when gert's Go implementation would find it missing.
NO_VALUE = "<no value>"

# Names the condition language reads as operators or constants, never as variables.
_RESERVED = {"and", "or", "not", "in", "contains", "startsWith", "endsWith", "matches"}
_RESERVED |= {"true", "false", "null", "nil"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Functions whose result is a boolean: a template made of one of them renders true/false.
_BOOLEAN = {"eq", "ne", "lt", "le", "gt", "ge", "and", "or", "not", "contains"}
_BOOLEAN |= {"hasPrefix", "hasSuffix", "has"}
# Template functions of gert's Go implementation (its own and the Go builtins it keeps).
KERNEL_FUNCS = {"eq", "ne", "gt", "lt", "le", "ge", "contains", "hasPrefix", "hasSuffix"}
KERNEL_FUNCS |= {"default", "index", "and", "or", "not", "len", "print", "printf", "println"}
KERNEL_FUNCS |= {"html", "js", "urlquery", "slice", "call"}
MAX_TEXT = 64 * 1024  # a condition or template longer than this is refused, not parsed


class Unconvertible(Exception):
    """A template that cannot be carried over; the message says why."""


@dataclass
class Condition:
    """A condition as gert writes it: ``text`` is an expression, or a template when
    ``template`` is true; ``notes`` are the surprises found (each a sentence)."""

    text: str
    template: bool = False
    rewritten: bool = False
    notes: list[str] = field(default_factory=list)
    pipeline: str = ""  # the Go pipeline (inside {{ }}) when it is one action, for composing


def go_sprint(value: Any) -> str:
    """*value* as Go's ``fmt.Sprint`` writes it (what kernel ``eq`` and outputs compare)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "+Inf" if value > 0 else "-Inf"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, list):
        return "[" + " ".join(go_sprint(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted((str(k), go_sprint(v)) for k, v in value.items())
        return "map[" + " ".join(f"{k}:{v}" for k, v in items) + "]"
    return str(value)


def parse_kernel(text: str) -> tp.ListNode:
    """The template's tree; Unconvertible when it does not parse or uses what gert lacks."""
    if len(text) > MAX_TEXT:
        raise Unconvertible(f"longer than {MAX_TEXT} characters")
    try:
        root = tp.Parser(text, FUNC_NAMES | KERNEL_FUNCS).parse()
    except TemplateError as e:
        raise Unconvertible(f"does not parse as a Go template: {e}") from None
    except RecursionError:
        raise Unconvertible("nested too deeply") from None
    for node in walk(root):
        if isinstance(node, tp.Identifier) and node.name == "call":
            raise Unconvertible("uses call, which gert's templates do not have")
    return root


def walk(node: Any) -> list[Any]:
    """Every node of a template tree (depth first)."""
    out: list[Any] = []
    stack = [node]
    while stack:
        n = stack.pop()
        out.append(n)
        if isinstance(n, tp.ListNode):
            stack.extend(reversed(n.nodes))
        elif isinstance(n, tp.Action):
            stack.append(n.pipe)
        elif isinstance(n, tp.Pipeline):
            for c in reversed(n.cmds):
                stack.append(c)
        elif isinstance(n, tp.Command):
            stack.extend(reversed(n.args))
        elif isinstance(n, tp.Branch):
            stack.append(n.pipe)
            stack.append(n.body)
            if n.else_body is not None:
                stack.append(n.else_body)
        elif isinstance(n, tp.Chain):
            stack.append(n.node)
    return out


def references(text: str) -> list[tuple[str, ...]]:
    """Field paths a template reads from the root (``.a.b`` → ``("a", "b")``)."""
    if "{{" not in text:
        return []
    root = parse_kernel(text)
    found: list[tuple[str, ...]] = []
    for node in walk(root):
        if isinstance(node, tp.Field):
            found.append(node.names)
        elif isinstance(node, tp.Variable) and node.names[0] == "$" and len(node.names) > 1:
            found.append(tuple(node.names[1:]))
    return found


def surprises(text: str) -> list[str]:
    """Where a kept template behaves differently in gert's Go implementation."""
    notes = []
    for node in walk(parse_kernel(text)):
        if not isinstance(node, tp.Command) or not node.args:
            continue
        head = node.args[0]
        if not isinstance(head, tp.Identifier):
            continue
        if head.name in ("gt", "lt"):
            notes.append(
                f'{head.name} compares text (gt "10" "9" is false): kept as a template, '
                "which compares text the same way; write n > 9 to compare numbers"
            )
        elif head.name in ("eq", "ne") and any(
            isinstance(a, tp.Literal) and a.kind in ("number", "bool") for a in node.args[1:]
        ):
            notes.append(
                f"{head.name} with a number or boolean: gert's Go implementation compares "
                'fmt.Sprint text (eq .n 5 holds for "5"); gert\'s eq compares values of one '
                'kind (a captured "5" against 5 is an error)'
            )
        elif head.name == "eq" and len(node.args) > 3:
            notes.append("eq with more than two arguments is an error in gert's Go implementation")
        elif head.name == "default":
            notes.append(
                'default treats only a missing value or "" as empty in gert\'s Go '
                "implementation; gert's also treats 0 and false as empty"
            )
    return notes


def _quote(text: str) -> str:
    """*text* as a string literal of the condition language."""
    return json.dumps(text, ensure_ascii=False).replace("\\u0000", "\\0")


def _operand(node: Any, numeric: set[str]) -> str | None:
    """A name or a text literal as an operand of == / != (None: not rewritable)."""
    if isinstance(node, tp.Field) and len(node.names) == 1:
        name = node.names[0]
        if _NAME.match(name) and name not in _RESERVED and name not in numeric:
            return name
        return None
    if isinstance(node, tp.Literal) and node.kind == "string":
        text = str(node.value)
        if "\n" in text or "\r" in text:
            return None
        return _quote(text)
    return None


def _expr(cmd: Any, numeric: set[str]) -> str | None:
    """The condition-language form of one command, or None."""
    if not isinstance(cmd, tp.Command) or not cmd.args:
        return None
    head, args = cmd.args[0], cmd.args[1:]
    if isinstance(head, tp.Field) and not args:
        name = _operand(head, numeric)
        if name is None or not _NAME.match(name):
            return None
        # true unless "", "false" or missing ("<no value>"); "0" stays true
        return f'({name} != "" && {name} != "false" && {name} != {_quote(NO_VALUE)})'
    if not isinstance(head, tp.Identifier):
        return None
    if head.name in ("eq", "ne") and len(args) == 2:
        left, right = (_operand(a, numeric) for a in args)
        if left is None or right is None or (left.startswith('"') and right.startswith('"')):
            return None
        return f"{left} {'==' if head.name == 'eq' else '!='} {right}"
    if head.name in ("and", "or") and args:
        parts = [_arg_expr(a, numeric) for a in args]
        if any(p is None for p in parts):
            return None
        return "(" + (" && " if head.name == "and" else " || ").join(parts) + ")"  # type: ignore[arg-type]
    if head.name == "not" and len(args) == 1:
        inner = _arg_expr(args[0], numeric)
        return None if inner is None else f"!({inner})"
    return None


def _arg_expr(node: Any, numeric: set[str]) -> str | None:
    """A boolean argument: a parenthesised pipeline of one command, or a bare name."""
    if isinstance(node, tp.Pipeline) and len(node.cmds) == 1 and not node.decl:
        return _expr(node.cmds[0], numeric)
    if isinstance(node, tp.Field):
        return _expr(tp.Command(node.pos, [node]), numeric)
    return None


def _single_action(root: Any) -> Any | None:
    """The one action of a template that is ``{{ … }}`` with only spaces around it."""
    actions = [n for n in root.nodes if not (isinstance(n, tp.Text) and not n.text.strip())]
    if len(actions) == 1 and isinstance(actions[0], tp.Action):
        return actions[0]
    return None


def convert_condition(text: Any, numeric: set[str] | frozenset[str] = frozenset()) -> Condition:
    """A kernel ``when``, branch ``condition`` or ``until`` in gert's terms; *numeric*:
    names whose value may be a number or a boolean (their text compares differently).
    Unconvertible when the template cannot be carried over."""
    if text is None:
        return Condition("true", rewritten=True)
    if not isinstance(text, str):
        raise Unconvertible(f"a condition is text, not {type(text).__name__}")
    stripped = text.strip()
    if stripped in ("", "default"):
        return Condition("true", rewritten=True)
    if "{{" not in text:
        if stripped == "false":
            return Condition("false", rewritten=True)
        note = (
            f"'{stripped}' is not a template, so gert's Go implementation takes it as text, "
            "which is always true"
        )
        return Condition("true", rewritten=True, notes=[] if stripped == "true" else [note])
    root = parse_kernel(text)
    action = _single_action(root)
    pipeline = text.strip()[2:-2].strip(" -") if action is not None else ""
    if action is not None and len(action.pipe.cmds) == 1 and not action.pipe.decl:
        rewritten = _expr(action.pipe.cmds[0], set(numeric))
        if rewritten is not None:
            if rewritten.startswith("(") and rewritten.endswith(")") and _balanced(rewritten[1:-1]):
                rewritten = rewritten[1:-1]
            return Condition(rewritten, rewritten=True, pipeline=pipeline)
    notes = surprises(text)
    head = _head(action)
    if head not in _BOOLEAN:
        notes.append(
            'kept as a template: one that renders "0" is true in gert\'s Go implementation '
            "and false in gert"
        )
    notes.append(
        "kept as a template: a missing name renders <no value> (false) in gert's Go "
        "implementation and is an error in gert"
    )
    return Condition(text, template=True, notes=notes, pipeline=pipeline)


def _head(action: Any) -> str | None:
    """The function a one-action template ends its pipeline with."""
    if action is None or not action.pipe.cmds:
        return None
    first = action.pipe.cmds[-1].args[0] if action.pipe.cmds[-1].args else None
    return first.name if isinstance(first, tp.Identifier) else None


def _balanced(text: str) -> bool:
    """Parentheses in *text* (outside string literals) pair up without closing below zero."""
    depth, quote, escape = 0, "", False
    for c in text:
        if quote:
            if escape:
                escape = False
            elif c == "\\":
                escape = True
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def combine(parts: list[tuple[Condition, bool]]) -> Condition:
    """The conjunction of conditions, each negated when its flag is true; an expression
    when every part is one, else a template composed from the Go pipelines."""
    kept = [(c, neg) for c, neg in parts if not (c.text == "true" and not c.template and not neg)]
    if any(c.text == "true" and not c.template and neg for c, neg in kept):
        return Condition("false", rewritten=True)
    if not kept:
        return Condition("true", rewritten=True)
    notes = [n for c, _ in kept for n in c.notes]
    if all(not c.template for c, _ in kept):
        texts = [f"!({c.text})" if neg else _paren(c.text) for c, neg in kept]
        text = kept[0][0].text if len(texts) == 1 and not kept[0][1] else " && ".join(texts)
        return Condition(text, rewritten=True, notes=notes)
    pipes = []
    for c, neg in kept:
        if not c.pipeline:
            raise Unconvertible(
                "a condition made of several template actions cannot be combined with another"
            )
        pipes.append(f"(not ({c.pipeline}))" if neg else f"({c.pipeline})")
    text = "{{ " + (pipes[0][1:-1] if len(pipes) == 1 else "and " + " ".join(pipes)) + " }}"
    return Condition(text, template=True, notes=notes, pipeline=text[3:-3])


def _paren(text: str) -> str:
    """*text* in parentheses when it holds a top-level operator."""
    return text if _NAME.match(text) or text in ("true", "false") else f"({text})"
