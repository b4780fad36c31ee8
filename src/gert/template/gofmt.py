"""Go ``fmt`` formatting of template values: ``%v`` printing and ``printf`` verbs.

Values are Python objects standing for Go values: ``str`` (string), ``bool``,
``int`` (int), ``float`` (float64), ``None`` (nil), ``dict`` (map[string]interface {}),
``list`` ([]interface {}) and :class:`StringSlice` ([]string).
"""

from __future__ import annotations

import math
import re
import struct


class StringSlice(list):
    """A Go ``[]string`` (what ``split`` returns), as opposed to ``[]interface {}``."""

    __slots__ = ()


def type_name(v: object) -> str:
    """The Go type name of a value, as ``%T`` prints it."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, StringSlice):
        return "[]string"
    if isinstance(v, list):
        return "[]interface {}"
    if isinstance(v, dict):
        return "map[string]interface {}"
    return type(v).__name__


# ------------------------------------------------------------------ numbers


def _shortest(f: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of |f| and the decimal point position."""
    r = repr(abs(f))
    mant, _, exp = r.partition("e")
    e = int(exp) if exp else 0
    ip, _, fp = mant.partition(".")
    if fp == "0":
        fp = ""
    digits = (ip + fp).lstrip("0")
    lead_zeros = len(ip + fp) - len((ip + fp).lstrip("0"))
    dp = len(ip) + e - lead_zeros
    digits = digits.rstrip("0") or "0"
    if digits == "0":
        dp = 1
    return digits, dp


def _fmt_e(neg: bool, digits: str, dp: int, prec: int, ech: str) -> str:
    # prec: digits after the point (-1 = all shortest digits)
    first = digits[0]
    rest = digits[1:]
    if prec >= 0:
        rest = (rest + "0" * prec)[:prec]
    exp = dp - 1 if digits != "0" else 0
    s = first + ("." + rest if rest else "")
    sign = "-" if exp < 0 else "+"
    ae = abs(exp)
    return ("-" if neg else "") + s + ech + sign + (f"{ae:02d}")


def _fmt_f(neg: bool, digits: str, dp: int, prec: int) -> str:
    if dp > 0:
        ip = digits[:dp].ljust(dp, "0")
        fp = digits[dp:]
    else:
        ip = "0"
        fp = "0" * (-dp) + digits
    if prec >= 0:
        fp = (fp + "0" * prec)[:prec]
    return ("-" if neg else "") + ip + ("." + fp if fp else "")


def format_float(f: float, verb: str, prec: int) -> str:
    """strconv.FormatFloat(f, verb, prec, 64) for verbs e E f F g G."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    neg = math.copysign(1.0, f) < 0
    v = verb.lower()
    if prec < 0:
        digits, dp = _shortest(f)
        if v == "e":
            return _fmt_e(neg, digits, dp, -1, verb if verb in "eE" else "e")
        if v == "f":
            return _fmt_f(neg, digits, dp, max(len(digits) - dp, 0))
        # strconv: shortest %g switches to exponent form at exp < -4 or exp >= 6.
        exp = dp - 1
        if exp < -4 or exp >= 6:
            return _fmt_e(neg, digits, dp, len(digits) - 1, "e" if verb == "g" else "E")
        return _fmt_f(neg, digits, dp, max(len(digits) - dp, 0))
    if v == "e":
        s = f"{abs(f):.{prec}e}"
        s = s if verb == "e" else s.upper()
        return ("-" if neg else "") + s
    if v == "f":
        return ("-" if neg else "") + f"{abs(f):.{prec}f}"
    # %g with explicit precision: Go counts significant digits like C but never pads zeros.
    p = prec if prec > 0 else 1
    s = f"{abs(f):.{p - 1}e}"
    mant, _, e = s.partition("e")
    digits = mant.replace(".", "").rstrip("0") or "0"
    dp = int(e) + 1
    if digits == "0":
        dp = 1
    exp = dp - 1
    eprec = p
    if eprec > len(digits) and len(digits) >= dp:
        eprec = len(digits)
    if exp < -4 or exp >= eprec:
        return _fmt_e(neg, digits, dp, len(digits) - 1, "e" if verb == "g" else "E")
    return _fmt_f(neg, digits, dp, max(len(digits) - dp, 0))


# ------------------------------------------------------------------ strings


def _go_isprint(c: str) -> bool:
    return c == " " or c.isprintable()


def quote(s: str, quote_char: str = '"', ascii_only: bool = False) -> str:
    """strconv.Quote / QuoteToASCII / QuoteRune."""
    out = [quote_char]
    for c in s:
        o = ord(c)
        if c == quote_char or c == "\\":
            out.append("\\" + c)
        elif (o < 0x80 or not ascii_only) and _go_isprint(c):
            out.append(c)
        elif c in "\a\b\f\n\r\t\v":
            out.append(
                {
                    "\a": r"\a",
                    "\b": r"\b",
                    "\f": r"\f",
                    "\n": r"\n",
                    "\r": r"\r",
                    "\t": r"\t",
                    "\v": r"\v",
                }[c]
            )
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif 0xD800 <= o < 0xE000:
            out.append("\\ufffd")
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append(quote_char)
    return "".join(out)


def _can_backquote(s: str) -> bool:
    for c in s:
        if c == "`" or c == "\ufeff":
            return False
        if (ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F:
            return False
    return True


# ------------------------------------------------------------------ %v


def sprint_value(v: object) -> str:
    """fmt.Sprint of a single value (the ``%v`` form)."""
    if isinstance(v, str):
        return v
    if v is None:
        return "<nil>"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return format_float(v, "g", -1)
    if isinstance(v, list):
        return "[" + " ".join(sprint_value(e) for e in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{sprint_value(v[k])}" for k in sorted(v)) + "]"
    return str(v)


def sprint(args: list[object]) -> str:
    """fmt.Sprint: spaces between operands when neither side is a string."""
    out: list[str] = []
    prev_string = False
    for i, a in enumerate(args):
        is_string = isinstance(a, str)
        if i > 0 and not is_string and not prev_string:
            out.append(" ")
        out.append(sprint_value(a))
        prev_string = is_string
    return "".join(out)


def sprintln(args: list[object]) -> str:
    """fmt.Sprintln: always spaces between operands, newline at the end."""
    return " ".join(sprint_value(a) for a in args) + "\n"


# ------------------------------------------------------------------ printf


class _Spec:
    __slots__ = ("minus", "plus", "prec", "sharp", "sharp_v", "space", "width", "zero")

    def __init__(self, flags: str):
        self.minus = "-" in flags
        self.plus = "+" in flags
        self.sharp = "#" in flags
        self.space = " " in flags
        self.zero = "0" in flags and not self.minus
        self.sharp_v = False
        self.width: int | None = None
        self.prec: int | None = None

    def pad(self, s: str) -> str:
        w = self.width
        if w is None or len(s) >= w:
            return s
        fill = w - len(s)
        if self.minus:
            return s + " " * fill
        return ("0" if self.zero else " ") * fill + s


def _bad_verb(spec: _Spec, verb: str, v: object) -> str:
    # Go prints the offending value with %v under the same flags, width and precision.
    if v is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({type_name(v)}={format_value(spec, v, 'v')})"


def _fmt_int(spec: _Spec, v: int, verb: str) -> str:
    if verb == "c":
        return spec.pad(_rune(v))
    if verb == "q":
        r = _rune(v)
        q = quote(r, "'", spec.plus)
        if spec.sharp and _can_backquote(r) and r.isprintable() and r != "`":
            q = "`" + r + "`"
        return spec.pad(q)
    if verb == "U":
        s = f"U+{v:04X}" if v >= 0 else f"U+{v & 0xFFFFFFFFFFFFFFFF:04X}"
        if spec.sharp and 0 <= v <= 0x10FFFF and _rune(v).isprintable():
            s += " '" + _rune(v) + "'"
        return spec.pad(s)
    base = {"d": 10, "v": 10, "b": 2, "o": 8, "O": 8, "x": 16, "X": 16}[verb]
    neg = v < 0
    a = -v if neg else v
    if base == 10:
        digits = str(a)
    elif base == 2:
        digits = format(a, "b")
    elif base == 8:
        digits = format(a, "o")
    else:
        digits = format(a, "x" if verb == "x" else "X")
    prec = spec.prec
    zero = spec.zero
    if prec is not None:
        if prec == 0 and a == 0:
            digits = ""
        digits = digits.rjust(prec, "0")
        zero = False
    elif zero and spec.width is not None and not spec.minus:
        sign_len = 1 if (neg or spec.plus or spec.space) else 0
        prefix_len = 0
        if (spec.sharp and base in (2, 16)) or verb == "O":
            prefix_len = 2
        digits = digits.rjust(spec.width - sign_len - prefix_len, "0")
        zero = False
    prefix = ""
    if spec.sharp:
        if base == 2:
            prefix = "0b"
        elif base == 8 and not digits.startswith("0"):
            prefix = "0"
        elif base == 16:
            prefix = "0x" if verb == "x" else "0X"
    if verb == "O":
        prefix = "0o"
    sign = "-" if neg else ("+" if spec.plus else (" " if spec.space else ""))
    s = sign + prefix + digits
    old_zero = spec.zero
    spec.zero = zero
    out = spec.pad(s)
    spec.zero = old_zero
    return out


def _rune(v: int) -> str:
    if 0 <= v <= 0x10FFFF and not 0xD800 <= v < 0xE000:
        return chr(v)
    return "\ufffd"


def _fmt_float(spec: _Spec, v: float, verb: str) -> str:
    if verb == "v":
        verb, prec = "g", -1
    elif verb in "gGxX":
        prec = -1
    elif verb in "eEfF":
        prec = 6
    elif verb == "b":
        return spec.pad(_float_b(v))
    else:
        return _bad_verb(spec, verb, v)
    if spec.prec is not None:
        prec = spec.prec
    if verb in "xX":
        num = _float_x(v, verb, prec)
    else:
        num = format_float(v, "f" if verb == "F" else verb, prec)
    if num[0] not in "+-":
        num = "+" + num
    if spec.space and num[0] == "+" and not spec.plus:
        num = " " + num[1:]
    if num[1] in "IN":
        if num[1] == "N" and not spec.space and not spec.plus:
            num = num[1:]
        saved = spec.zero
        spec.zero = False
        out = spec.pad(num)
        spec.zero = saved
        return out
    if spec.sharp:
        digits = prec if verb in "gGxX" else 0
        if verb in "gGxX" and digits == -1:
            digits = 6
        body, tail = num, ""
        m = re.search(r"[pP]" if verb in "xX" else r"[eEpP]", body)
        if m:
            body, tail = body[: m.start()], body[m.start() :]
        has_point = "." in body
        saw_nonzero = False
        for ch in body[1:]:  # like Go, the "x" of "0x" counts as a digit here
            if ch == ".":
                continue
            if ch != "0":
                saw_nonzero = True
            if saw_nonzero:
                digits -= 1
        if not has_point:
            if len(body) == 2 and body[1] == "0":
                digits -= 1
            body += "."
        if verb in "gGxX":
            body += "0" * max(digits, 0)
        num = body + tail
    if spec.plus or num[0] != "+":
        w = spec.width
        if spec.zero and not spec.minus and w is not None and w > len(num):
            return num[0] + "0" * (w - len(num)) + num[1:]
        return spec.pad(num)
    return spec.pad(num[1:])


def _fmt_string(spec: _Spec, s: str, verb: str) -> str:
    if verb in "sv":
        if spec.prec is not None:
            s = s[: spec.prec]
        return spec.pad(s)
    if verb == "q":
        if spec.prec is not None:
            s = s[: spec.prec]
        if spec.sharp and _can_backquote(s):
            return spec.pad("`" + s + "`")
        return spec.pad(quote(s, '"', spec.plus))
    if verb in "xX":
        data = s.encode("utf-8")
        if spec.prec is not None:
            data = data[: spec.prec]
        return spec.pad(_hex_bytes(spec, data, verb))
    return _bad_verb(spec, verb, s)


def _hex_bytes(spec: _Spec, data: bytes, verb: str) -> str:
    digits = "0123456789abcdef" if verb == "x" else "0123456789ABCDEF"
    parts = []
    for i, b in enumerate(data):
        chunk = digits[b >> 4] + digits[b & 15]
        if spec.sharp and (spec.space or i == 0):
            chunk = ("0x" if verb == "x" else "0X") + chunk
        if spec.space and i > 0:
            chunk = " " + chunk
        parts.append(chunk)
    return "".join(parts)


def format_value(spec: _Spec, v: object, verb: str) -> str:
    """Format one argument under one verb, as fmt's printArg does."""
    if verb == "T":
        return spec.pad(type_name(v))
    if v is None:
        if verb == "v":
            return spec.pad("<nil>")
        return _bad_verb(spec, verb, v)
    if verb == "v" and spec.sharp_v:
        return spec.pad(_go_syntax(v))
    if isinstance(v, bool):
        if verb in "tv":
            return spec.pad("true" if v else "false")
        return _bad_verb(spec, verb, v)
    if isinstance(v, int):
        if verb in "bcdoOqxXUv":
            return _fmt_int(spec, v, verb)
        if verb in "eEfFgG":
            return _bad_verb(spec, verb, v)
        return _bad_verb(spec, verb, v)
    if isinstance(v, float):
        return _fmt_float(spec, v, verb)
    if isinstance(v, str):
        return _fmt_string(spec, v, verb)
    if isinstance(v, list):
        inner = " ".join(_elem(spec, e, verb) for e in v)
        return "[" + inner + "]"
    if isinstance(v, dict):
        inner = " ".join(f"{_elem(spec, k, verb)}:{_elem(spec, v[k], verb)}" for k in sorted(v))
        return "map[" + inner + "]"
    return _bad_verb(spec, verb, v)


def _elem(spec: _Spec, v: object, verb: str) -> str:
    # Inside a list or map a nil interface always prints as "<nil>".
    if v is None and verb != "T":
        return "<nil>"
    return format_value(spec, v, verb)


def _go_syntax(v: object, top: bool = True) -> str:
    """The ``%#v`` (Go-syntax) representation."""
    if v is None:
        return "<nil>" if top else "interface {}(nil)"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        s = format_float(v, "g", -1)
        if not any(c in s for c in ".eIN"):
            s += ".0"
        return s
    if isinstance(v, str):
        return quote(v)
    if isinstance(v, StringSlice):
        return "[]string{" + ", ".join(quote(e) for e in v) + "}"
    if isinstance(v, list):
        return "[]interface {}{" + ", ".join(_go_syntax(e, False) for e in v) + "}"
    if isinstance(v, dict):
        inner = ", ".join(f"{quote(k)}:{_go_syntax(v[k], False)}" for k in sorted(v))
        return "map[string]interface {}{" + inner + "}"
    return str(v)


def _star(args: list[object], argi: int) -> tuple[int | None, int]:
    """The int argument a '*' width or precision consumes (None when it is not an int)."""
    if argi >= len(args):
        return None, argi
    v = args[argi]
    return (v if isinstance(v, int) and not isinstance(v, bool) else None), argi + 1


def sprintf(fmt: str, args: list[object]) -> str:
    """fmt.Sprintf with Go's verbs, flags, widths, precisions and error forms."""
    out: list[str] = []
    argi = 0
    reordered = False
    i = 0
    n = len(fmt)
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        if i >= n:
            out.append("%!(NOVERB)")
            break
        # flags
        fs = i
        while i < n and fmt[i] in "-+# 0":
            i += 1
        spec = _Spec(fmt[fs:i])

        # argument index before width
        def arg_index(i: int, argi: int) -> tuple[int, int, bool, bool]:
            # returns new i, new argi, ok, found
            if i < n and fmt[i] == "[":
                k = fmt.find("]", i)
                if k < 0:
                    return i + 1, argi, False, True
                try:
                    idx = int(fmt[i + 1 : k])
                except ValueError:
                    return k + 1, argi, False, True
                if idx < 1 or idx > len(args):
                    return k + 1, argi, False, True
                return k + 1, idx - 1, True, True
            return i, argi, True, False

        good_arg = True
        i, argi, ok, found = arg_index(i, argi)
        if found:
            reordered = True
            good_arg = ok
        # width
        if i < n and fmt[i] == "*":
            i += 1
            w, argi = _star(args, argi)
            if w is None or abs(w) > 1_000_000:
                out.append("%!(BADWIDTH)")
            elif w < 0:  # a negative '*' width means left-justify
                spec.minus, spec.zero, spec.width = True, False, -w
            else:
                spec.width = w
        else:
            width, present, i = _parsenum(fmt, i, n)
            if present:
                spec.width = width
                if found:
                    good_arg = False  # Go: "%[3]2d" is a bad index
        # precision
        if i < n and fmt[i] == ".":
            i += 1
            i, argi, ok, found2 = arg_index(i, argi)
            if found2:
                reordered = True
                good_arg = good_arg and ok
            if i < n and fmt[i] == "*":
                i += 1
                p, argi = _star(args, argi)
                if p is None:
                    out.append("%!(BADPREC)")
                else:
                    spec.prec = p if p >= 0 else None  # a negative '*' precision means none
            else:
                prec, present, i = _parsenum(fmt, i, n)
                spec.prec = prec if present else 0
        i, argi, ok, found3 = arg_index(i, argi)
        if found3:
            reordered = True
            good_arg = good_arg and ok
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if not good_arg:
            out.append(f"%!{verb}(BADINDEX)")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argi]
        argi += 1
        if verb == "v":
            # As fmt does: '#' turns into Go-syntax mode, '+' only matters for structs.
            spec.sharp_v, spec.sharp = spec.sharp, False
            spec.plus = False
        out.append(format_value(spec, arg, verb))
    if not reordered and argi < len(args):
        extra = ", ".join(
            "<nil>" if a is None else f"{type_name(a)}={sprint_value(a)}" for a in args[argi:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


# What one template may produce (gert.template._exec stops past it). Go's width and
# precision limit (parsenum) keeps a single verb's text near 10 MB, below this.
MAX_OUTPUT = 16 * 1024 * 1024


def _parsenum(fmt: str, i: int, n: int) -> tuple[int, bool, int]:
    """Go's fmt.parsenum: (number, present, next index). A number past 1e6 before its last
    digit is an overflow: Go then treats the rest of the format as consumed (%!(NOVERB))."""
    num, present = 0, False
    while i < n and fmt[i].isdigit():
        if num > 1_000_000:
            return 0, False, n
        num = num * 10 + int(fmt[i])
        present = True
        i += 1
    return num, present, i


def _float_bits(f: float) -> tuple[bool, int, int]:
    """Sign, mantissa (with the implicit bit) and binary exponent of a float64."""
    bits = struct.unpack(">Q", struct.pack(">d", f))[0]
    neg = bool(bits >> 63)
    exp = (bits >> 52) & 0x7FF
    mant = bits & ((1 << 52) - 1)
    if exp == 0:
        exp += 1
    else:
        mant |= 1 << 52
    return neg, mant, exp - 1023


def _float_b(f: float) -> str:
    """strconv 'b' format: decimal mantissa times a power of two."""
    neg, mant, exp = _float_bits(f)
    e = exp - 52
    return ("-" if neg else "") + f"{mant}p{'+' if e >= 0 else '-'}{abs(e)}"


def _float_x(f: float, verb: str, prec: int) -> str:
    """strconv 'x' format (hexadecimal mantissa, binary exponent), ported from Go's fmtX."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    neg, mant, exp = _float_bits(f)
    if mant == 0:
        exp = 0
    mask = (1 << 64) - 1
    mant = (mant << (60 - 52)) & mask
    while mant != 0 and mant & (1 << 60) == 0:
        mant = (mant << 1) & mask
        exp -= 1
    if 0 <= prec < 15:
        shift = prec * 4
        extra = (mant << shift) & ((1 << 60) - 1)
        mant >>= 60 - shift
        if extra | (mant & 1) > 1 << 59:
            mant += 1
        mant = (mant << (60 - shift)) & mask
        if mant & (1 << 61):
            mant >>= 1
            exp += 1
    hexdigits = "0123456789abcdef" if verb == "x" else "0123456789ABCDEF"
    out = ["-" if neg else "", "0", verb, str((mant >> 60) & 1)]
    mant = (mant << 4) & mask
    if prec < 0 and mant != 0:
        out.append(".")
        while mant != 0:
            out.append(hexdigits[(mant >> 60) & 15])
            mant = (mant << 4) & mask
    elif prec > 0:
        out.append(".")
        for _ in range(prec):
            out.append(hexdigits[(mant >> 60) & 15])
            mant = (mant << 4) & mask
    out.append("p" if verb == "x" else "P")
    out.append("-" if exp < 0 else "+")
    out.append(f"{abs(exp):02d}")
    return "".join(out)
