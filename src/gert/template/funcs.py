"""The template function table: Go's builtins plus gert's helpers.

The helpers' semantics are defined by the Go oracle in ``tests/template_oracle``;
this module must behave the same.
"""

from __future__ import annotations

import json
import math
from urllib.parse import quote_plus

from gert.template._exec import NO_VALUE, CallError, Func, truth
from gert.template.gofmt import (
    StringSlice,
    format_float,
    sprint,
    sprint_value,
    sprintf,
    sprintln,
    type_name,
)

# ----------------------------------------------------------------- comparisons

_BASIC = {bool: "bool", int: "int", float: "float", str: "string"}


def _kind(v: object) -> str:
    """Go's basicKind: nil, lists and maps all share the "invalid" kind."""
    return _BASIC.get(type(v), "invalid")


def _is_nil(v: object) -> bool:
    return v is None or v is NO_VALUE


def _eq(arg1: object, *args: object) -> bool:
    if not args:
        raise CallError("missing argument for comparison")
    k1 = _kind(arg1)
    for arg in args:
        k2 = _kind(arg)
        if k1 != k2:
            if not _is_nil(arg1) and not _is_nil(arg):
                raise CallError(
                    f"incompatible types for comparison: {type_name(arg1)} and {type_name(arg)}"
                )
            truth_ = False
        elif k1 == "invalid":
            if not (_is_nil(arg1) or _is_nil(arg)):
                raise CallError(f"non-comparable type {sprint_value(arg)}: {type_name(arg)}")
            truth_ = _is_nil(arg1) == _is_nil(arg)
        else:
            truth_ = arg1 == arg
        if truth_:
            return True
    return False


def _ne(a: object, b: object) -> bool:
    return not _eq(a, b)


def _lt(a: object, b: object) -> bool:
    k1, k2 = _kind(a), _kind(b)
    if k1 in ("bool", "invalid") or k2 in ("bool", "invalid"):
        raise CallError("invalid type for comparison")
    if k1 != k2:
        raise CallError("incompatible types for comparison")
    return a < b  # type: ignore[operator]


def _le(a: object, b: object) -> bool:
    return _lt(a, b) or _eq(a, b)


def _gt(a: object, b: object) -> bool:
    return not _le(a, b)


def _ge(a: object, b: object) -> bool:
    return not _lt(a, b)


# ------------------------------------------------------------------ builtins


def _not(v: object) -> bool:
    return not truth(v)


def _len(v: object) -> int:
    if isinstance(v, str):
        return len(v.encode("utf-8"))
    if isinstance(v, (list, dict)):
        return len(v)
    if v is None or v is NO_VALUE:
        raise CallError("len of nil pointer")
    raise CallError(f"len of type {type_name(v)}")


def _index_of(v: object, cap: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        if v is None or v is NO_VALUE:
            raise CallError("cannot index slice/array with nil")
        raise CallError(f"cannot index slice/array with type {type_name(v)}")
    if v < 0 or v >= cap:
        raise CallError(f"index out of range: {v}")
    return v


def _index(item: object, *indexes: object) -> object:
    if item is NO_VALUE or item is None:
        raise CallError("index of untyped nil")
    for ix in indexes:
        if item is None:
            raise CallError("index of nil pointer")
        if isinstance(item, str):
            b = item.encode("utf-8")
            item = b[_index_of(ix, len(b))]
        elif isinstance(item, list):
            item = item[_index_of(ix, len(item))]
        elif isinstance(item, dict):
            if ix is None or ix is NO_VALUE:
                raise CallError("value is nil; should be of type string")
            if not isinstance(ix, str):
                raise CallError(f"value has type {type_name(ix)}; should be string")
            item = item.get(ix, NO_VALUE)
            if item is NO_VALUE:
                return NO_VALUE if isinstance(item, str) else None
        else:
            raise CallError(f"can't index item of type {type_name(item)}")
    return item


def _slice(item: object, *indexes: object) -> object:
    if item is NO_VALUE or item is None:
        raise CallError("slice of untyped nil")
    if len(indexes) > 3:
        raise CallError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise CallError("cannot 3-index slice a string")
        seq: object = item.encode("utf-8")
        cap = len(seq)  # type: ignore[arg-type]
    elif isinstance(item, list):
        seq = item
        cap = len(item)
    else:
        raise CallError(f"can't slice item of type {type_name(item)}")
    idx = [0, len(seq)]  # type: ignore[arg-type]
    for i, ix in enumerate(indexes):
        idx_i = _index_of(ix, cap + 1)
        if i < 2:
            idx[i] = idx_i
        else:
            idx.append(idx_i)
    if idx[0] > idx[1]:
        raise CallError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(idx) == 3 and idx[1] > idx[2]:
        raise CallError(f"invalid slice index: {idx[1]} > {idx[2]}")
    out = seq[idx[0] : idx[1]]  # type: ignore[index]
    if isinstance(out, bytes):
        return out.decode("utf-8", errors="replace")
    return StringSlice(out) if isinstance(item, StringSlice) else list(out)


def _eval_args(args: tuple[object, ...]) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint([None if a is NO_VALUE else a for a in args])


def _html(*args: object) -> str:
    s = _eval_args(args)
    out = []
    for c in s:
        if c == "&":
            out.append("&amp;")
        elif c == "<":
            out.append("&lt;")
        elif c == ">":
            out.append("&gt;")
        elif c == '"':
            out.append("&#34;")
        elif c == "'":
            out.append("&#39;")
        elif c == "\0":
            out.append("\ufffd")
        else:
            out.append(c)
    return "".join(out)


def _js(*args: object) -> str:
    s = _eval_args(args)
    out = []
    for c in s:
        o = ord(c)
        if c == "\\":
            out.append("\\\\")
        elif c == "'":
            out.append("\\'")
        elif c == '"':
            out.append('\\"')
        elif c == "<":
            out.append("\\u003C")
        elif c == ">":
            out.append("\\u003E")
        elif c == "&":
            out.append("\\u0026")
        elif c == "=":
            out.append("\\u003D")
        elif o < 0x20:
            out.append(f"\\u{o:04X}")
        elif o < 0x80 or c.isprintable():
            out.append(c)
        else:
            out.append(f"\\u{o:04X}" if o < 0x10000 else c)
    return "".join(out)


def _urlquery(*args: object) -> str:
    return quote_plus(_eval_args(args), safe="-_.~")


def _print(*args: object) -> str:
    return sprint([None if a is NO_VALUE else a for a in args])


def _printf(fmt: str, *args: object) -> str:
    return sprintf(fmt, [None if a is NO_VALUE else a for a in args])


def _println(*args: object) -> str:
    return sprintln([None if a is NO_VALUE else a for a in args])


# ------------------------------------------------------------------- helpers


def _iterate(v: object) -> list[object]:
    if isinstance(v, list):
        return v
    raise CallError(f"expected a list, got {type_name(v)}")


def _join(items: object, sep: str) -> str:
    return sep.join(sprint_value(e) for e in _iterate(items))


def _same(a: object, b: object) -> bool:
    return type_name(a) == type_name(b) and a == b


def _has(item: object, items: object) -> bool:
    return any(_same(e, item) for e in _iterate(items))


def _is_empty(v: object) -> bool:
    if v is None or v is NO_VALUE:
        return True
    if isinstance(v, (str, list, dict, bool, int, float)):
        return not v
    return False


def _default(default: object, value: object) -> object:
    return default if _is_empty(value) else value


def _json_float(f: float) -> str:
    # encoding/json: shortest 'f' form, or 'e' outside [1e-6, 1e21), with "e-07" -> "e-7".
    if math.isnan(f) or math.isinf(f):
        raise CallError(f"json: unsupported value: {sprint_value(f)}")
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        s = format_float(f, "e", -1)
        if len(s) >= 4 and s[-4] == "e" and s[-3] == "-" and s[-2] == "0":
            s = s[:-2] + s[-1]
        return s
    return format_float(f, "f", -1)


def _json_str(s: str) -> str:
    out = ['"']
    for c in s:
        o = ord(c)
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif c == "\b":
            out.append("\\b")
        elif c == "\f":
            out.append("\\f")
        elif o < 0x20 or c in "<>&" or o in (0x2028, 0x2029):
            out.append(f"\\u{o:04x}")
        elif 0xD800 <= o < 0xE000:
            out.append("\ufffd")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def to_json(v: object) -> str:
    """encoding/json.Marshal of a template value (HTML-safe escaping, sorted keys)."""
    if v is None or v is NO_VALUE:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _json_float(v)
    if isinstance(v, str):
        return _json_str(v)
    if isinstance(v, list):
        return "[" + ",".join(to_json(e) for e in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(f"{_json_str(k)}:{to_json(v[k])}" for k in sorted(v)) + "}"
    raise CallError(f"json: unsupported type: {type_name(v)}")


def _to_json(v: object) -> str:
    return to_json(v)


def _from_json(s: str) -> object:
    try:
        return json.loads(s, parse_int=float, parse_constant=_bad_constant)
    except (ValueError, RecursionError) as e:
        raise CallError(f"invalid JSON: {e}") from None


def _bad_constant(name: str) -> object:
    raise ValueError(f"invalid character {name[0]!r} looking for beginning of value")


def _split(s: str, sep: str) -> StringSlice:
    if sep == "":
        return StringSlice(list(s))
    return StringSlice(s.split(sep))


def _trim_prefix(s: str, prefix: str) -> str:
    return s[len(prefix) :] if prefix and s.startswith(prefix) else s


def _trim_suffix(s: str, suffix: str) -> str:
    return s[: -len(suffix)] if suffix and s.endswith(suffix) else s


def _go_trim_space(s: str) -> str:
    return s.strip(
        " \t\n\v\f\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
    )


def _upper(s: str) -> str:
    # Go maps rune by rune (simple case mapping): "ß" has no single-rune upper case.
    return "".join(u if len(u := c.upper()) == 1 else c for c in s)


def _lower(s: str) -> str:
    return "".join(lo if len(lo := c.lower()) == 1 else lo[0] for c in s)


def _list(*items: object) -> list[object]:
    return [None if i is NO_VALUE else i for i in items]


S, A, V = "string", "any", "value"

FUNCS: dict[str, Func] = {
    f.name: f
    for f in [
        Func("and", lambda *a: a[-1], (V, V), variadic=True),
        Func("or", lambda *a: a[-1], (V, V), variadic=True),
        Func("not", _not, (V,)),
        Func("eq", _eq, (V, V), variadic=True),
        Func("ne", _ne, (V, V)),
        Func("lt", _lt, (V, V)),
        Func("le", _le, (V, V)),
        Func("gt", _gt, (V, V)),
        Func("ge", _ge, (V, V)),
        Func("len", _len, (V,)),
        Func("index", _index, (V, V), variadic=True),
        Func("slice", _slice, (V, V), variadic=True),
        Func("print", _print, (A,), variadic=True),
        Func("printf", _printf, (S, A), variadic=True),
        Func("println", _println, (A,), variadic=True),
        Func("html", _html, (A,), variadic=True),
        Func("js", _js, (A,), variadic=True),
        Func("urlquery", _urlquery, (A,), variadic=True),
        # gert's helpers
        Func("contains", lambda s, sub: sub in s, (S, S)),
        Func("hasPrefix", lambda s, pre: s.startswith(pre), (S, S)),
        Func("hasSuffix", lambda s, suf: s.endswith(suf), (S, S)),
        Func("lower", _lower, (S,)),
        Func("upper", _upper, (S,)),
        Func("trim", _go_trim_space, (S,)),
        Func("split", _split, (S, S)),
        Func("join", _join, (A, S)),
        Func(
            "replace",
            lambda s, old, new: s.replace(old, new) if old else _replace_empty(s, new),
            (S, S, S),
        ),
        Func("trimPrefix", _trim_prefix, (S, S)),
        Func("trimSuffix", _trim_suffix, (S, S)),
        Func("list", _list, (A,), variadic=True),
        Func("has", _has, (A, A)),
        Func("default", _default, (A, A)),
        Func("toJson", _to_json, (A,)),
        Func("fromJson", _from_json, (S,)),
    ]
}


def _replace_empty(s: str, new: str) -> str:
    # strings.ReplaceAll with an empty old string inserts new around every rune.
    return new + new.join(s) + new if s else new


FUNC_NAMES = frozenset(FUNCS)
