"""Lexer and parser for the Go ``text/template`` subset.

The grammar and the error cases follow Go's ``text/template/parse`` so that the
same template is accepted or refused by both.
"""

from __future__ import annotations

import re

from gert.template.errors import TemplateError

LEFT, RIGHT = "{{", "}}"
_SPACE = " \t\r\n"
_KEYWORDS = {
    "if",
    "else",
    "end",
    "range",
    "with",
    "define",
    "template",
    "block",
    "break",
    "continue",
}
_UNSUPPORTED = {"define", "template", "block"}
_TERMINATORS = set(" \t\r\n.,|:)(")
_IDENT = re.compile(r"[A-Za-z_0-9\u00c0-\U0010ffff]*")


# --------------------------------------------------------------------- tokens


class Tok:
    """A lexical token. ``space`` is true when whitespace precedes it inside an action."""

    __slots__ = ("kind", "pos", "space", "val")

    # kind: text, left, right, ident, field, var, string, char, number, bool, nil,
    #       dot, pipe, lparen, rparen, declare, assign, comma, keyword, eof
    def __init__(self, kind: str, val: str, pos: int, space: bool = False):
        self.kind = kind
        self.val = val
        self.pos = pos
        self.space = space


# How deeply parenthesized pipelines and control blocks may nest (see Parser.nest).
MAX_NESTING = 100


def _lex(text: str) -> list[Tok]:
    """Split *text* into tokens, applying ``{{-`` / ``-}}`` trimming to text tokens."""
    toks: list[Tok] = []
    i, n = 0, len(text)
    trim_next = False
    while i < n:
        j = text.find(LEFT, i)
        chunk = text[i : j if j >= 0 else n]
        if trim_next:
            stripped = chunk.lstrip(_SPACE)
            i += len(chunk) - len(stripped)
            chunk = stripped
            trim_next = False
        if j < 0:
            if chunk:
                toks.append(Tok("text", chunk, i))
            break
        start = j
        k = j + 2
        if text.startswith("-", k) and k + 1 < n and text[k + 1] in _SPACE:
            chunk = chunk.rstrip(_SPACE)
            k += 2
        if chunk:
            toks.append(Tok("text", chunk, i))
        # Comments: "{{/*" ... "*/}}"; Go wants "/*" right after "{{" or "{{- ".
        if text.startswith("/*", k):
            end = text.find("*/", k + 2)
            if end < 0:
                raise TemplateError("unclosed comment", text, start)
            e = end + 2
            if text.startswith(RIGHT, e):
                i = e + 2
            elif e + 1 < n and text[e] in _SPACE and text.startswith("-" + RIGHT, e + 1):
                i = e + 4
                trim_next = True
            else:
                raise TemplateError("comment ends before closing delimiter", text, start)
            continue
        toks.append(Tok("left", LEFT, start))
        i, trim_next = _lex_action(text, k, toks)
    toks.append(Tok("eof", "", n))
    return toks


def _lex_action(text: str, i: int, toks: list[Tok]) -> tuple[int, bool]:
    """Lex one action's inside from *i*; return the index after ``}}`` and the trim flag."""
    n = len(text)
    space = True
    paren = 0
    while True:
        if i >= n:
            raise TemplateError("unclosed action", text, i)
        c = text[i]
        if c in _SPACE:
            s = i
            while i < n and text[i] in _SPACE:
                i += 1
            if text.startswith("-" + RIGHT, i):
                if paren:
                    raise TemplateError("unclosed left paren", text, i)
                toks.append(Tok("right", RIGHT, i))
                return i + 3, True
            space = True
            if i >= n:
                raise TemplateError("unclosed action", text, s)
            continue
        if text.startswith(RIGHT, i):
            if paren:
                raise TemplateError("unclosed left paren", text, i)
            toks.append(Tok("right", RIGHT, i))
            return i + 2, False
        start = i
        if c == '"':
            i += 1
            while True:
                if i >= n or text[i] == "\n":
                    raise TemplateError("unterminated quoted string", text, start)
                if text[i] == "\\":
                    i += 2
                    continue
                if text[i] == '"':
                    break
                i += 1
            i += 1
            tok = Tok("string", _unquote(text[start:i], text, start), start)
        elif c == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise TemplateError("unterminated raw quoted string", text, start)
            i = end + 1
            tok = Tok("string", text[start + 1 : end].replace("\r", ""), start)
        elif c == "'":
            i += 1
            while True:
                if i >= n or text[i] == "\n":
                    raise TemplateError("unterminated character constant", text, start)
                if text[i] == "\\":
                    i += 2
                    continue
                if text[i] == "'":
                    break
                i += 1
            i += 1
            tok = Tok("char", text[start:i], start)
        elif c in "+-" or c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            i = _scan_number(text, i)
            tok = Tok("number", text[start:i], start)
        elif c == ".":
            i += 1
            m = _IDENT.match(text, i)
            i = m.end()
            if i == start + 1:
                tok = Tok("dot", ".", start)
            else:
                tok = Tok("field", text[start + 1 : i], start)
            _check_terminator(text, i)
        elif c == "$":
            m = _IDENT.match(text, i + 1)
            i = m.end()
            tok = Tok("var", text[start:i], start)
            _check_terminator(text, i)
        elif c.isalpha() or c == "_":
            m = _IDENT.match(text, i)
            i = m.end()
            word = text[start:i]
            _check_terminator(text, i)
            if word in _KEYWORDS:
                tok = Tok("keyword", word, start)
            elif word in ("true", "false"):
                tok = Tok("bool", word, start)
            elif word == "nil":
                tok = Tok("nil", word, start)
            else:
                tok = Tok("ident", word, start)
        elif c == ":":
            if not text.startswith(":=", i):
                raise TemplateError("expected :=", text, i)
            i += 2
            tok = Tok("declare", ":=", start)
        elif c == "=":
            i += 1
            tok = Tok("assign", "=", start)
        elif c == "|":
            i += 1
            tok = Tok("pipe", "|", start)
        elif c == ",":
            i += 1
            tok = Tok("comma", ",", start)
        elif c == "(":
            i += 1
            paren += 1
            tok = Tok("lparen", "(", start)
        elif c == ")":
            i += 1
            paren -= 1
            if paren < 0:
                raise TemplateError("unexpected right paren", text, start)
            tok = Tok("rparen", ")", start)
        else:
            raise TemplateError(f"unrecognized character in action: {_quote_rune(c)}", text, i)
        tok.space = space
        space = False
        toks.append(tok)


def _check_terminator(text: str, i: int) -> None:
    if i < len(text) and text[i] not in _TERMINATORS and not text.startswith(RIGHT, i):
        raise TemplateError(f"bad character {_quote_rune(text[i])}", text, i)


def _quote_rune(c: str) -> str:
    return f"U+{ord(c):04X} '{c}'" if c.isprintable() else f"U+{ord(c):04X}"


def _scan_number(text: str, i: int) -> int:
    n = len(text)

    def run(chars: str) -> None:
        nonlocal i
        while i < n and text[i] in chars:
            i += 1

    def accept(chars: str) -> bool:
        nonlocal i
        if i < n and text[i] in chars:
            i += 1
            return True
        return False

    start = i
    accept("+-")
    digits = "0123456789_"
    if accept("0"):
        if accept("xX"):
            digits = "0123456789abcdefABCDEF_"
        elif accept("oO"):
            digits = "01234567_"
        elif accept("bB"):
            digits = "01_"
    run(digits)
    if accept("."):
        run(digits)
    if len(digits) == 11 and accept("eE"):
        accept("+-")
        run("0123456789_")
    if len(digits) == 23 and accept("pP"):
        accept("+-")
        run("0123456789_")
    accept("i")
    if i < n and (text[i].isalnum() or text[i] == "_"):
        raise TemplateError(f"bad number syntax: {text[start : i + 1]!r}", text, start)
    return i


_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def _unquote(lit: str, text: str, pos: int) -> str:
    """Decode a Go interpreted string or rune literal body (quotes included)."""
    quote = lit[0]
    body = lit[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        i += 1
        e = body[i] if i < len(body) else ""
        i += 1
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
        elif e == quote:
            out.append(e)
        elif e in "xuU":
            size = {"x": 2, "u": 4, "U": 8}[e]
            digits = body[i : i + size]
            if len(digits) != size or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise TemplateError(f"invalid syntax in {quote}-quoted literal", text, pos)
            code = int(digits, 16)
            if e != "x" and (code > 0x10FFFF or 0xD800 <= code < 0xE000):
                raise TemplateError(f"invalid syntax in {quote}-quoted literal", text, pos)
            # \x escapes are bytes in Go; keep ASCII exact and map others to code points.
            out.append(chr(code))
            i += size
        elif e in "01234567":
            digits = body[i - 1 : i + 2]
            if len(digits) != 3 or not all(d in "01234567" for d in digits) or int(digits, 8) > 255:
                raise TemplateError(f"invalid syntax in {quote}-quoted literal", text, pos)
            out.append(chr(int(digits, 8)))
            i += 2
        else:
            raise TemplateError(f"invalid syntax in {quote}-quoted literal", text, pos)
    return "".join(out)


# ---------------------------------------------------------------------- nodes
# Plain slotted classes: cheaper to define than dataclasses, which matters at start-up.


class Node:
    __slots__ = ("pos",)

    def __init__(self, pos: int):
        self.pos = pos


class Text(Node):
    __slots__ = ("text",)

    def __init__(self, pos: int, text: str):
        self.pos, self.text = pos, text


class Literal(Node):
    """A constant: string, bool, int, float, or nil (value None)."""

    __slots__ = ("kind", "value")

    def __init__(self, pos: int, value: object, kind: str):
        self.pos, self.value, self.kind = pos, value, kind  # kind: string, bool, number, nil


class Dot(Node):
    __slots__ = ()


class Field(Node):
    __slots__ = ("names",)

    def __init__(self, pos: int, names: tuple[str, ...]):
        self.pos, self.names = pos, names


class Variable(Node):
    __slots__ = ("names",)

    def __init__(self, pos: int, names: tuple[str, ...]):
        self.pos, self.names = pos, names  # names[0] is "$x"; the rest are field accesses


class Identifier(Node):
    __slots__ = ("name",)

    def __init__(self, pos: int, name: str):
        self.pos, self.name = pos, name


class Chain(Node):
    __slots__ = ("fields", "node")

    def __init__(self, pos: int, node: Node, fields: tuple[str, ...]):
        self.pos, self.node, self.fields = pos, node, fields


class Command(Node):
    __slots__ = ("args",)

    def __init__(self, pos: int, args: list[Node]):
        self.pos, self.args = pos, args


class Pipeline(Node):
    __slots__ = ("cmds", "decl", "is_assign")

    def __init__(self, pos: int, decl: list[str], is_assign: bool, cmds: list[Command]):
        self.pos, self.decl, self.is_assign, self.cmds = pos, decl, is_assign, cmds


class Action(Node):
    __slots__ = ("pipe",)

    def __init__(self, pos: int, pipe: Pipeline):
        self.pos, self.pipe = pos, pipe


class ListNode(Node):
    __slots__ = ("nodes",)

    def __init__(self, pos: int, nodes: list[Node] | None = None):
        self.pos, self.nodes = pos, nodes if nodes is not None else []


class Branch(Node):
    __slots__ = ("body", "else_body", "kind", "pipe")

    def __init__(
        self, pos: int, kind: str, pipe: Pipeline, body: ListNode, else_body: ListNode | None
    ):
        self.pos, self.kind, self.pipe, self.body, self.else_body = pos, kind, pipe, body, else_body


class Break(Node):
    __slots__ = ()


class Continue(Node):
    __slots__ = ()


# --------------------------------------------------------------------- parser


class Parser:
    """Recursive-descent parser mirroring Go's ``parse.Tree``."""

    def __init__(self, text: str, funcs: frozenset[str]):
        self.text = text
        self.funcs = funcs
        self.toks = _lex(text)
        self.i = 0
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.depth = 0  # parenthesized pipelines and control blocks open around here

    def nest(self, pos: int) -> None:
        """One level deeper; a clear error past MAX_NESTING (Go allows more, but no real
        template comes near this, and Python's stack must not overflow)."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(f"nested more than {MAX_NESTING} levels deep", pos)

    # token helpers
    def peek(self) -> Tok:
        return self.toks[self.i]

    def next(self) -> Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def error(self, msg: str, pos: int) -> TemplateError:
        return TemplateError(msg, self.text, pos)

    def expect(self, kind: str, context: str) -> Tok:
        t = self.next()
        if t.kind != kind:
            raise self.unexpected(t, context)
        return t

    def unexpected(self, t: Tok, context: str) -> TemplateError:
        if t.kind == "eof":
            return self.error(f"unexpected EOF in {context}", t.pos)
        shown = "}}" if t.kind == "right" else t.val
        return self.error(f"unexpected {shown!s} in {context}", t.pos)

    # grammar
    def parse(self) -> ListNode:
        body, _ = self.item_list(top=True)
        return body

    def item_list(self, top: bool = False) -> tuple[ListNode, str]:
        """Parse items until ``{{end}}``/``{{else}}`` (returned) or EOF at top level."""
        lst = ListNode(self.peek().pos)
        while True:
            t = self.peek()
            if t.kind == "eof":
                if top:
                    return lst, "eof"
                raise self.error("unexpected EOF", t.pos)
            if t.kind == "text":
                self.next()
                lst.nodes.append(Text(t.pos, t.val))
                continue
            self.expect("left", "template")
            kw = self.peek()
            if kw.kind == "keyword":
                if kw.val in ("end", "else"):
                    if top:
                        raise self.error(f"unexpected {{{{{kw.val}}}}}", kw.pos)
                    self.next()
                    return lst, kw.val
                lst.nodes.append(self.control(kw))
            else:
                lst.nodes.append(Action(kw.pos, self.pipeline("command", "right")))

    def control(self, kw: Tok) -> Node:
        self.next()
        word = kw.val
        if word in _UNSUPPORTED:
            raise self.error(f"{{{{{word}}}}} is not supported in gert templates", kw.pos)
        if word in ("break", "continue"):
            if self.range_depth == 0:
                raise self.error(f"{{{{{word}}}}} outside {{{{range}}}}", kw.pos)
            t = self.next()
            if t.kind != "right":
                raise self.unexpected(t, f"{{{{{word}}}}}")
            return Break(kw.pos) if word == "break" else Continue(kw.pos)
        return self.branch(word, kw.pos)

    def branch(self, word: str, pos: int) -> Branch:
        self.nest(pos)
        mark = len(self.vars)
        pipe = self.pipeline(word, "right")
        if word == "range":
            self.range_depth += 1
        body, end = self.item_list()
        if word == "range":
            self.range_depth -= 1
        else_body = None
        if end == "else":
            nxt = self.peek()
            if word in ("if", "with") and nxt.kind == "keyword" and nxt.val == word:
                # "{{else if ...}}" is "{{else}}{{if ...}}...{{end}}" sharing our {{end}}.
                self.next()
                inner = self.branch(word, nxt.pos)
                else_body = ListNode(nxt.pos, [inner])
            else:
                self.expect("right", "else")
                else_body, end2 = self.item_list()
                if end2 != "end":
                    raise self.error("expected end; found {{else}}", self.peek().pos)
                self.expect("right", "end")
        else:
            self.expect("right", "end")
        del self.vars[mark:]
        self.depth -= 1
        return Branch(pos, word, pipe, body, else_body)

    def pipeline(self, context: str, end: str) -> Pipeline:
        start = self.peek()
        decl: list[str] = []
        is_assign = False
        # Declarations: "$x :=", "$x =", or in range "$i, $e :=".
        save = self.i
        t = self.peek()
        if t.kind == "var" and len(t.val) and "." not in t.val:
            self.next()
            nxt = self.peek()
            if nxt.kind in ("declare", "assign"):
                self.next()
                is_assign = nxt.kind == "assign"
                decl.append(t.val)
            elif nxt.kind == "comma" and context == "range":
                self.next()
                t2 = self.expect("var", "range")
                nxt2 = self.next()
                if nxt2.kind not in ("declare", "assign"):
                    raise self.unexpected(nxt2, "range")
                is_assign = nxt2.kind == "assign"
                decl = [t.val, t2.val]
            elif nxt.kind == "comma":
                raise self.error("too many declarations in " + context, nxt.pos)
            else:
                self.i = save
        for name in decl:
            if is_assign:
                if name not in self.vars:
                    raise self.error(f"undefined variable {name!r}".replace("'", '"'), start.pos)
            else:
                self.vars.append(name)
        cmds: list[Command] = []
        while True:
            t = self.peek()
            if t.kind == end:
                self.next()
                break
            if t.kind == "eof":
                raise self.error("unclosed action", t.pos)
            cmds.append(self.command(end))
            if self.peek().kind == "pipe":
                self.next()  # Go accepts a trailing pipe: "{{ .x | }}"
        if not cmds:
            raise self.error(f"missing value for {context}", start.pos)
        for idx, cmd in enumerate(cmds[1:], start=2):
            first = cmd.args[0]
            if isinstance(first, (Literal, Dot)):
                raise self.error(f"non executable command in pipeline stage {idx}", first.pos)
        return Pipeline(start.pos, decl, is_assign, cmds)

    def command(self, end: str) -> Command:
        args: list[Node] = []
        first = self.peek()
        while True:
            args.append(self.operand())
            t = self.peek()
            if t.kind in (end, "pipe"):
                break
            if t.kind == "eof":
                raise self.error("unclosed action", t.pos)
            if not t.space:
                raise self.unexpected(t, "operand")
        return Command(first.pos, args)

    def operand(self) -> Node:
        node = self.term()
        fields: list[str] = []
        while self.peek().kind == "field" and not self.peek().space:
            fields.append(self.next().val)
        if not fields:
            return node
        if isinstance(node, Field):
            return Field(node.pos, node.names + tuple(fields))
        if isinstance(node, Variable):
            return Variable(node.pos, node.names + tuple(fields))
        if isinstance(node, Literal) and node.kind in ("bool", "string", "number", "nil"):
            raise self.error(
                f"unexpected . after term {self.text[node.pos : self.peek().pos]!r}", node.pos
            )
        if isinstance(node, Dot):
            raise self.error('unexpected . after term "."', node.pos)
        return Chain(node.pos, node, tuple(fields))

    def term(self) -> Node:
        t = self.next()
        k = t.kind
        if k == "ident":
            if t.val not in self.funcs:
                raise self.error(f'function "{t.val}" not defined', t.pos)
            return Identifier(t.pos, t.val)
        if k == "dot":
            return Dot(t.pos)
        if k == "nil":
            return Literal(t.pos, None, "nil")
        if k == "var":
            if t.val not in self.vars:
                raise self.error(f'undefined variable "{t.val}"', t.pos)
            return Variable(t.pos, (t.val,))
        if k == "field":
            return Field(t.pos, (t.val,))
        if k == "bool":
            return Literal(t.pos, t.val == "true", "bool")
        if k == "string":
            return Literal(t.pos, t.val, "string")
        if k in ("number", "char"):
            return Literal(t.pos, _number(t, self), "number")
        if k == "lparen":
            self.nest(t.pos)
            pipe = self.pipeline("parenthesized pipeline", "rparen")
            self.depth -= 1
            return pipe
        raise self.unexpected(t, "operand")


def _number(t: Tok, p: Parser) -> int | float:
    """Go's ideal-constant rule: a literal with . e E p P is float64, otherwise int."""
    text = t.val
    if t.kind == "char":
        body = _unquote(text, p.text, t.pos)
        if len(body) != 1:
            raise p.error(f"malformed character constant: {text}", t.pos)
        return ord(body)
    if text.endswith("i"):
        raise p.error("complex numbers are not supported", t.pos)
    is_hex = text.lstrip("+-")[:2].lower() == "0x"
    if any(c in text for c in ".pP") or (not is_hex and any(c in text for c in "eE")):
        try:
            if is_hex:
                val = float.fromhex(text.replace("_", ""))
            else:
                _check_underscores(text, p, t)
                val = float(text.replace("_", ""))
        except ValueError:
            raise p.error(f"illegal number syntax: {text!r}", t.pos) from None
        return val
    body = text.lstrip("+-")
    sign = -1 if text.startswith("-") else 1
    try:
        if len(body) > 1 and body[0] == "0" and body[1] in "0123456789_":
            _check_underscores(body, p, t)
            val = int(body.replace("_", ""), 8)
        else:
            val = int(body, 0)
    except ValueError:
        if body.replace("_", "").isdigit():
            raise p.error(f"integer overflow: {text!r}", t.pos) from None
        raise p.error(f"illegal number syntax: {text!r}", t.pos) from None
    val *= sign
    if not -(2**63) <= val < 2**63:
        raise p.error(f"{text} overflows int", t.pos)
    return val


def _check_underscores(text: str, p: Parser, t: Tok) -> None:
    if "__" in text or text.startswith("_") or text.endswith("_") or "_." in text or "._" in text:
        raise p.error(f"illegal number syntax: {text!r}", t.pos)
