"""Templates in PromQL and LogQL text: where they may stand, and how their values are
escaped.

Neither language has bound parameters, so a value reaches a query only by being written
into its text. A template (``{{ .server }}``) may therefore stand only inside a quoted
value: a label matcher's value (``{server="{{ .server }}"}``), and in LogQL also a line
filter's (``|= "{{ .request_id }}"``) or a label filter's (``| level="{{ .level }}"``).
Its output is escaped for that string (``\\`` and the quote), and in a regular
expression matcher (``=~``, ``!~``, ``|~``) also for RE2, so it matches itself literally:
whatever a captured value holds, it stays one string and cannot close the quote or the
selector, add ``or vector(1)``, or widen a match. A template anywhere else is refused,
by ``gert validate`` and again when the step runs, with its position.

A template that uses no variable (``{{ "{{.status}}" }}``, to write LogQL's own
``line_format`` template) carries no outside value and may stand anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gert import template as _template

PROMQL, LOGQL = "promql", "logql"

# LogQL pipeline stages whose strings are not values: parsers, formatters, and the
# stages that name labels. A template there is refused.
_NOT_VALUE_STAGES = {
    "line_format",
    "label_format",
    "pattern",
    "regexp",
    "json",
    "logfmt",
    "unpack",
    "drop",
    "keep",
    "decolorize",
    "unwrap",
}
_REGEX_OPS = {"=~", "!~", "|~"}
_VALUE_OPS = {"=", "==", "!=", "=~", "!~", "|=", "|~"}
_RE2_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")  # ASCII punctuation: RE2 takes each escaped
_STAGE = re.compile(r"\|\s*([A-Za-z_][A-Za-z0-9_]*)")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_HINT = {
    PROMQL: 'PromQL has no bound parameters: put the value inside a quoted label value, as in {server="{{ .server }}"}',
    LOGQL: 'LogQL has no bound parameters: put the value inside a quoted label value or filter, as in {app="{{ .app }}"} |= "{{ .request_id }}"',
}


@dataclass(frozen=True)
class Slot:
    """One template action in a query and the string it stands in (if any)."""

    start: int  # offset of '{{'
    end: int  # offset after '}}'
    quote: str  # the string's quote, or '' outside any string
    regex: bool  # the string is a regular expression (=~, !~, |~)
    value: bool  # the string is a value (a matcher's or a filter's)
    # Right after a backslash of the string, which would escape the output's first character.
    after_backslash: bool = False


@dataclass(frozen=True)
class Misplaced:
    """Why a template may not stand where it is."""

    offset: int
    message: str
    hint: str


def actions(text: str) -> Iterator[tuple[int, int]]:
    """The spans of the template actions in *text* (``{{`` to its ``}}``), found as the
    template lexer finds them: a ``}}`` inside a quoted string of the action does not end it."""
    i = 0
    while True:
        start = text.find("{{", i)
        if start < 0:
            return
        j = start + 2
        if text.startswith("/*", j) or text.startswith("- /*", j):
            close = text.find("*/", j)
            end = text.find("}}", close + 2 if close >= 0 else j)
            if end < 0:
                yield start, len(text)
                return
            yield start, end + 2
            i = end + 2
            continue
        while j < len(text):
            c = text[j]
            if c in "\"'`":
                k = j + 1
                while k < len(text) and text[k] != c:
                    k += 2 if c != "`" and text[k] == "\\" else 1
                j = k + 1
                continue
            if text.startswith("}}", j):
                break
            j += 1
        end = min(j + 2, len(text))
        yield start, end
        i = end


def slots(text: str, lang: str) -> list[Slot]:
    """Every template action of a PromQL or LogQL query with the string it stands in."""
    spans = list(actions(text))
    out: list[Slot] = []
    i, n = 0, len(text)
    braces = 0
    last_op = ""  # the operator written just before, if nothing else came after it
    stage = ""  # LogQL: the pipeline stage the text is in
    quote = ""
    regex = value = False
    span_at = {s: e for s, e in spans}
    while i < n:
        if i in span_at:
            end = span_at[i]
            out.append(Slot(i, end, quote, regex and bool(quote), value and bool(quote)))
            i = end
            if not quote:
                last_op = ""
            continue
        c = text[i]
        if quote:
            if c == "\\" and quote != "`":
                if i + 1 in span_at:
                    end = span_at[i + 1]
                    out.append(Slot(i + 1, end, quote, regex, value, after_backslash=True))
                    i = end
                    continue
                i += 2
                continue
            if c == quote:
                quote = ""
                last_op = ""
            i += 1
            continue
        if c in "\"'`":
            quote = c
            if braces:
                value = last_op in ("=", "!=", "=~", "!~")
            elif lang == LOGQL:
                value = last_op in _VALUE_OPS and stage not in _NOT_VALUE_STAGES
            else:
                value = False
            regex = last_op in _REGEX_OPS
            i += 1
            continue
        if c == "#":  # a comment runs to the end of the line
            nl = text.find("\n", i)
            stop = n if nl < 0 else nl
            for s, e in spans:
                if i <= s < stop:
                    out.append(Slot(s, e, "", False, False))
            i = stop
            continue
        if c == "{":
            braces += 1
        elif c == "}":
            braces = max(0, braces - 1)
        two = text[i : i + 2]
        if two in ("=~", "!~", "|~", "|=", "!=", "=="):
            last_op = two
            if lang == LOGQL and not braces and two in ("|=", "|~"):
                stage = "filter"
            i += 2
            continue
        if c == "=":
            last_op = "="
        elif c == "|" and lang == LOGQL and not braces:
            m = _STAGE.match(text, i)
            stage = m.group(1) if m else ""
            last_op = ""
        elif not c.isspace():
            last_op = ""
            if lang == LOGQL and (c.isalnum() or c == "_"):
                m = _WORD.match(text, i)
                if m:
                    i = m.end()
                    continue
        i += 1
    return out


def misplaced(text: str, lang: str) -> list[Misplaced]:
    """Every template of a PromQL or LogQL query that stands where it may not."""
    out = []
    for s in slots(text, lang):
        action = text[s.start : s.end]
        if not _template.reads_data(action):
            continue
        body = action[2:-2].strip().lstrip("-").strip()
        keyword = body.split(None, 1)[0] if body else ""
        if keyword in ("if", "else", "end", "range", "with", "define", "template", "block"):
            out.append(
                Misplaced(
                    s.start,
                    f"a query may hold values, not `{keyword}` blocks",
                    "choose between whole queries with a branch or a `when` instead",
                )
            )
        elif s.after_backslash:
            out.append(
                Misplaced(
                    s.start,
                    "a template right after a backslash: the backslash would escape its value",
                    "remove the backslash, or put the character it escapes in the value",
                )
            )
        elif s.quote == "`":
            out.append(
                Misplaced(
                    s.start,
                    "a template inside a `raw string` cannot be escaped",
                    'use a double-quoted string: {label="{{ .value }}"}',
                )
            )
        elif not s.value:
            where = "inside a string that is not a value" if s.quote else "outside a quoted value"
            out.append(
                Misplaced(s.start, f"a template {where} could change the query", _HINT[lang])
            )
    return out


def escape_string(value: str, quote: str) -> str:
    """*value* as the body of a PromQL/LogQL string in *quote* (Go string escapes)."""
    out = []
    for ch in value:
        if ch == "\\" or ch == quote:
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def escape_regex(value: str) -> str:
    """*value* as an RE2 pattern that matches exactly it."""
    return _RE2_SPECIAL.sub(r"\\\1", value)


def render(text: str, values: Any, lang: str) -> str:
    """The query with each template's output escaped for the string it stands in;
    :class:`gert.template.TemplateError` for a template in the wrong place."""
    if "{{" not in text:
        return text
    wrong = misplaced(text, lang)
    if wrong:
        first = wrong[0]
        raise _template.TemplateError(f"{first.message} ({first.hint})", text, first.offset)
    out: list[str] = []
    i = 0
    for s in slots(text, lang):
        out.append(text[i : s.start])
        action = text[s.start : s.end]
        rendered = _template.render(action, values)
        if action.startswith("{{-"):
            out[-1] = out[-1].rstrip()
        if s.value:
            if s.regex:
                rendered = escape_regex(rendered)
            rendered = escape_string(rendered, s.quote)
        out.append(rendered)
        i = s.end
        if action.endswith("-}}"):
            while i < len(text) and text[i].isspace():
                i += 1
    out.append(text[i:])
    return "".join(out)
