"""The condition language of ``when:`` and ``condition:``.

>>> evaluate('failure_count == "0"', {"failure_count": "0"})
True
>>> evaluate('cause startsWith "Login" && len(nodes) > 2', {"cause": "LoginErrors", "nodes": "a\\nb\\nc"})
True

Rules, chosen for values that are mostly captured strings:

* ``==`` / ``!=`` compare numerically when one side is a number and the other is a
  number or a string that parses as one (``"1.0" == 1``); otherwise by value.
* ``<  <=  >  >=`` compare numerically when both sides are numbers or numeric strings,
  lexicographically when both are other strings, and are an error otherwise.
* A multi-valued capture is a newline-joined string: ``len(x)`` counts its non-empty
  lines (items of a list), and ``x in y`` / ``y contains x`` look for a whole line.
* A name that is not defined makes the whole condition false; the caller gets a warning.
* A condition containing ``{{`` is a template instead: true unless it renders to
  ``""``, ``false``, ``0`` or ``<no value>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from gert.errors import InvalidError

__all__ = ["ExprError", "Expression", "evaluate", "names", "parse"]


class ExprError(InvalidError):
    """A condition that cannot be parsed or evaluated; ``col`` is 1-based."""

    def __init__(self, message: str, text: str = "", col: int = 1):
        self.message = message
        self.text = text
        self.col = col
        super().__init__(f"col {col}: {message}")


class _Undefined(Exception):
    def __init__(self, name: str):
        self.name = name


# ----------------------------------------------------------------- tokenizer

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?(?![A-Za-z_]))
  | (?P<str>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')
  | (?P<op>==|!=|<=|>=|&&|\|\||[<>!()\[\],])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<bad>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_WORD_OPS = {"and": "&&", "or": "||", "not": "!"}
_INFIX = {"in", "contains", "startsWith", "endsWith", "matches"}
_CONSTS = {"true": True, "false": False, "null": None, "nil": None}
_STR_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}


@dataclass(slots=True)
class _Tok:
    kind: str  # num, str, op, name, eof
    val: str
    col: int


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        val = m.group()
        col = m.start() + 1
        if kind == "ws":
            continue
        if kind == "bad":
            if val in "\"'":
                raise ExprError("unterminated string", text, col)
            if val == "=":
                raise ExprError("'=' is not an operator; use '=='", text, col)
            if val in "&|":
                raise ExprError(f"'{val}' is not an operator; use '{val * 2}'", text, col)
            raise ExprError(f"unexpected character {val!r}", text, col)
        if kind == "name" and val in _WORD_OPS:
            kind, val = "op", _WORD_OPS[val]
        toks.append(_Tok(kind, val, col))
    toks.append(_Tok("eof", "", len(text) + 1))
    return toks


def _unquote(lit: str) -> str:
    out, i, body = [], 0, lit[1:-1]
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            out.append(_STR_ESCAPES.get(body[i + 1], "\\" + body[i + 1]))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


# --------------------------------------------------------------------- AST

Env = dict[str, object]
Fn = Callable[[Env], object]


@dataclass(slots=True)
class Expression:
    """A parsed condition: evaluate it with :meth:`truth` against a dict of variables."""

    text: str
    fn: Fn
    names: tuple[tuple[str, int], ...]  # referenced variable names with 1-based columns

    def value(self, env: Env) -> object:
        """The value of the expression (raises _Undefined for an undefined name)."""
        return self.fn(env)

    def truth(self, env: Env) -> bool:
        """The value of the expression as a condition."""
        return _truthy(self.fn(env))


_FUNCS: dict[str, Callable[[object], object]] = {}


def _fn(name: str) -> Callable[[Callable[[object], object]], Callable[[object], object]]:
    def register(f: Callable[[object], object]) -> Callable[[object], object]:
        _FUNCS[name] = f
        return f

    return register


def _items(v: object) -> list[object]:
    """The items of a list, or the non-empty lines of a (multi-valued) string."""
    if isinstance(v, list | tuple):
        return list(v)
    if v is None:
        return []
    return [line for line in str(v).split("\n") if line != ""]


@_fn("len")
def _len(v: object) -> object:
    return len(_items(v))


@_fn("lower")
def _lower(v: object) -> object:
    return _text(v).lower()


@_fn("upper")
def _upper(v: object) -> object:
    return _text(v).upper()


@_fn("trim")
def _trim(v: object) -> object:
    return _text(v).strip()


@_fn("number")
def _number_fn(v: object) -> object:
    n = _as_number(v)
    if n is None:
        raise ValueError(f"{v!r} is not a number")
    return n


def _text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _as_number(v: object) -> int | float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return v
    if isinstance(v, str):
        s = v.strip()
        if not s:
            return None
        try:
            return int(s)
        except ValueError:
            pass
        try:
            f = float(s)
        except ValueError:
            return None
        return f if f == f and f not in (float("inf"), float("-inf")) else None
    return None


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _equal(a: object, b: object) -> bool:
    if _is_number(a) or _is_number(b):
        na, nb = _as_number(a), _as_number(b)
        if na is not None and nb is not None:
            return na == nb
    if isinstance(a, bool) or isinstance(b, bool):
        return _text(a) == _text(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if a is None or b is None:
        return a is b or _text(a) == _text(b)
    if isinstance(a, list) or isinstance(b, list):
        return False
    return _text(a) == _text(b)


def _order(a: object, b: object, op: str) -> int:
    na, nb = _as_number(a), _as_number(b)
    if na is not None and nb is not None:
        return (na > nb) - (na < nb)
    if isinstance(a, str) and isinstance(b, str):
        return (a > b) - (a < b)
    raise TypeError(f"cannot compare {_describe(a)} {op} {_describe(b)}")


def _describe(v: object) -> str:
    if isinstance(v, str):
        return f"string {v!r}"
    if isinstance(v, bool):
        return f"bool {_text(v)}"
    if v is None:
        return "null"
    if isinstance(v, list):
        return "a list"
    return f"number {v}"


def _truthy(v: object) -> bool:
    if isinstance(v, str):
        return v.strip() not in ("", "false", "0", "<no value>")
    if isinstance(v, list):
        return bool(v)
    return bool(v)


def _contains(hay: object, needle: object) -> bool:
    if isinstance(hay, list):
        return any(_equal(x, needle) for x in hay)
    return _text(needle) in _text(hay)


def _member(item: object, container: object) -> bool:
    return any(_equal(x, item) for x in _items(container))


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_COMPARE: dict[str, Callable[[object, object], bool]] = {
    "==": _equal,
    "!=": lambda a, b: not _equal(a, b),
    "<": lambda a, b: _order(a, b, "<") < 0,
    "<=": lambda a, b: _order(a, b, "<=") <= 0,
    ">": lambda a, b: _order(a, b, ">") > 0,
    ">=": lambda a, b: _order(a, b, ">=") >= 0,
    "in": _member,
    "not in": lambda a, b: not _member(a, b),
    "contains": _contains,
    "startsWith": lambda a, b: _text(a).startswith(_text(b)),
    "endsWith": lambda a, b: _text(a).endswith(_text(b)),
    "matches": lambda a, b: _regex(_text(b)).search(_text(a)) is not None,
}


# ------------------------------------------------------------------ parser


# How deeply parentheses, lists, calls and negations may nest: far beyond any real
# condition, and well inside Python's recursion limit.
MAX_NESTING = 64


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0
        self.names: list[tuple[str, int]] = []
        self.depth = 0

    def nest(self, tok: _Tok) -> None:
        """One level deeper; a clear error past MAX_NESTING."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.fail(f"nested more than {MAX_NESTING} levels deep", tok)

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def next(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def fail(self, msg: str, tok: _Tok) -> ExprError:
        return ExprError(msg, self.text, tok.col)

    def at(self, kind: str, val: str | None = None) -> bool:
        t = self.peek()
        return t.kind == kind and (val is None or t.val == val)

    def expect(self, val: str, what: str) -> _Tok:
        t = self.next()
        if t.val != val or t.kind not in ("op",):
            raise self.fail(f"expected {what}, found {_shown(t)}", t)
        return t

    def parse(self) -> Fn:
        if self.at("eof"):
            raise self.fail("empty condition", self.peek())
        fn = self.or_()
        if not self.at("eof"):
            t = self.peek()
            raise self.fail(f"unexpected {_shown(t)}; expected an operator or the end", t)
        return fn

    def or_(self) -> Fn:
        left = self.and_()
        while self.at("op", "||"):
            self.next()
            right = self.and_()
            left = _or(left, right)
        return left

    def and_(self) -> Fn:
        left = self.not_()
        while self.at("op", "&&"):
            self.next()
            right = self.not_()
            left = _and(left, right)
        return left

    def not_(self) -> Fn:
        if self.at("op", "!"):
            self.nest(self.next())
            inner = self.not_()
            self.depth -= 1
            return lambda env: not _truthy(inner(env))
        return self.compare()

    def compare(self) -> Fn:
        left = self.value()
        t = self.peek()
        op = None
        if (t.kind == "op" and t.val in ("==", "!=", "<", "<=", ">", ">=")) or (
            t.kind == "name" and t.val in _INFIX
        ):
            op = t.val
            self.next()
        elif t.kind == "op" and t.val == "!" and self.toks[self.i + 1].val == "in":
            self.i += 2
            op = "not in"
        if op is None:
            return left
        right = self.value()
        if op == "matches":
            # A literal pattern is compiled now so a bad regex is a parse error.
            probe = self.toks[self.i - 1]
            if probe.kind == "str":
                try:
                    _regex(_unquote(probe.val))
                except re.error as e:
                    raise self.fail(f"bad regular expression: {e}", probe) from None
        cmp = _COMPARE[op]
        col = t.col

        def compare(env: Env) -> object:
            a, b = left(env), right(env)
            try:
                return cmp(a, b)
            except TypeError as e:
                raise ExprError(str(e), self.text, col) from None
            except re.error as e:
                raise ExprError(f"bad regular expression: {e}", self.text, col) from None

        nxt = self.peek()
        if (nxt.kind == "op" and nxt.val in ("==", "!=", "<", "<=", ">", ">=")) or (
            nxt.kind == "name" and nxt.val in _INFIX
        ):
            raise self.fail(f"comparisons do not chain; add parentheses before {_shown(nxt)}", nxt)
        return compare

    def value(self) -> Fn:
        t = self.next()
        if t.kind == "num":
            n = float(t.val) if any(c in t.val for c in ".eE") else int(t.val)
            return lambda env: n
        if t.kind == "str":
            s = _unquote(t.val)
            return lambda env: s
        if t.kind == "op" and t.val == "(":
            self.nest(t)
            inner = self.or_()
            self.expect(")", "')'")
            self.depth -= 1
            return inner
        if t.kind == "op" and t.val == "[":
            self.nest(t)
            items: list[Fn] = []
            if not self.at("op", "]"):
                while True:
                    items.append(self.value())
                    if self.at("op", ","):
                        self.next()
                        continue
                    break
            self.expect("]", "']' or ','")
            self.depth -= 1
            return lambda env: [f(env) for f in items]
        if t.kind == "name":
            if t.val in _CONSTS:
                c = _CONSTS[t.val]
                return lambda env: c
            if self.at("op", "("):
                return self.call(t)
            if t.val in _INFIX:
                raise self.fail(f"'{t.val}' needs a value on its left", t)
            return self.name(t)
        if t.kind == "eof":
            raise self.fail("unexpected end of condition; expected a value", t)
        raise self.fail(f"unexpected {_shown(t)}; expected a value", t)

    def call(self, t: _Tok) -> Fn:
        fn = _FUNCS.get(t.val)
        if fn is None:
            known = ", ".join(sorted(_FUNCS))
            raise self.fail(f"unknown function {t.val!r} (known: {known})", t)
        self.nest(self.next())  # (
        arg = self.or_()
        self.expect(")", f"')' closing {t.val}(")
        self.depth -= 1
        col = t.col
        name = t.val

        def call(env: Env) -> object:
            try:
                return fn(arg(env))
            except ValueError as e:
                raise ExprError(f"{name}(): {e}", self.text, col) from None

        return call

    def name(self, t: _Tok) -> Fn:
        parts = t.val.split(".")
        self.names.append((parts[0], t.col))
        key = parts[0]
        rest = parts[1:]

        def lookup(env: Env) -> object:
            try:
                v = env[key]
            except KeyError:
                raise _Undefined(t.val) from None
            for p in rest:
                if isinstance(v, dict) and p in v:
                    v = v[p]
                else:
                    raise _Undefined(t.val)
            return v

        return lookup


def _shown(t: _Tok) -> str:
    return "end of condition" if t.kind == "eof" else repr(t.val)


def _or(a: Fn, b: Fn) -> Fn:
    return lambda env: _truthy(a(env)) or _truthy(b(env))


def _and(a: Fn, b: Fn) -> Fn:
    return lambda env: _truthy(a(env)) and _truthy(b(env))


# --------------------------------------------------------------- public API


@lru_cache(maxsize=4096)
def parse(text: str) -> Expression:
    """Parse a condition (not a template one); raises :class:`ExprError` with the column."""
    p = _Parser(text)
    fn = p.parse()
    return Expression(text, fn, tuple(p.names))


def names(text: str) -> list[tuple[str, int]]:
    """Variable names a condition references, with 1-based columns (templates included)."""
    if "{{" in text:
        from gert.template import referenced_variables

        return [(n, pos + 1) for n, pos in referenced_variables(text)]
    return list(parse(text).names)


def evaluate(text: str, data: dict[str, object], warnings: list[str] | None = None) -> bool:
    """Evaluate a condition against *data*; undefined names make it false (and warn)."""
    if "{{" in text:
        from gert.template import MissingVariableError, render

        try:
            out = render(text, data)
        except MissingVariableError as e:
            if warnings is not None:
                warnings.append(f"condition {text!r}: {e.name!r} is not defined; treated as false")
            return False
        return out.strip() not in ("", "false", "0", "<no value>")
    expr = parse(text)
    try:
        return expr.truth(data)
    except _Undefined as u:
        if warnings is not None:
            warnings.append(f"condition {text!r}: {u.name!r} is not defined; treated as false")
        return False
