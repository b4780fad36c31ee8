"""Templates in PromQL and LogQL: property tests of the escaping and of the checker that
decides where a template may stand. The oracles are independent of gert's own lexer:
Python's string literals read Go's escapes the same way, RE2 itself checks the regular
expression escaping, and a small tokenizer here compares query skeletons."""

from __future__ import annotations

import ast

import pytest
import re2
from hypothesis import example, given
from hypothesis import strategies as st

from gert.template import TemplateError
from gert.validate.querytext import (
    LOGQL,
    PROMQL,
    escape_regex,
    escape_string,
    misplaced,
    render,
)

HOSTILE = st.text(alphabet="\"'`\\{}#\n\t|=~!()[], abx.*+?^$\x00\x7f\u2028é", max_size=30)


@given(HOSTILE, st.sampled_from(['"', "'"]))
@example('"} or vector(1) #', '"')
def test_an_escaped_value_reads_back_as_itself(value, quote):
    text = escape_string(value, quote)
    assert ast.literal_eval(quote + text + quote) == value  # Go's escapes, read by Python


@given(st.text(max_size=30))
@example(".*")
@example("a|b")
@example("[a-z]")
def test_an_escaped_regex_matches_exactly_the_value(value):
    assert re2.fullmatch(escape_regex(value), value)
    if value != ".*":
        assert not re2.fullmatch(escape_regex(value), value + "x")


def skeleton(query: str) -> str:
    """The query with every string's content and every comment replaced: its structure."""
    out, i = [], 0
    while i < len(query):
        c = query[i]
        if c in "\"'":
            j = i + 1
            while j < len(query) and query[j] != c:
                j += 2 if query[j] == "\\" else 1
            out.append("S")
            i = j + 1
        elif c == "`":
            j = query.find("`", i + 1)
            out.append("S")
            i = len(query) if j < 0 else j + 1
        elif c == "#":
            j = query.find("\n", i)
            out.append("#")
            i = len(query) if j < 0 else j
        else:
            out.append(c)
            i += 1
    return "".join(out)


PIECES = [
    "up", "sum(", ")", "{", "}", "job", "=", "!=", "=~", "!~", '"', "'", "`", ",", " ",
    "#", "\n", "|=", "|~", "|", "json", "line_format", "label_format", "[5m]", "or",
    "\\", "a", "{{ .v }}", '"{{ .v }}"', '{job="{{ .v }}"}', '|= "{{ .v }}"',
]  # fmt: skip


@given(
    st.lists(st.sampled_from(PIECES), max_size=14).map("".join),
    st.sampled_from([PROMQL, LOGQL]),
    HOSTILE,
)
@example('up{job="{{ .v }}"}', PROMQL, '"} or vector(1) #')
@example('{app="a"} |= "{{ .v }}"', LOGQL, '" |~ ".*')
def test_an_accepted_template_cannot_change_the_query(query, lang, value):
    """Whatever the value, a query the checker accepts keeps its structure."""
    if misplaced(query, lang):
        with pytest.raises(TemplateError):
            render(query, {"v": value}, lang)
        return
    benign = render(query, {"v": "x"}, lang)
    assert skeleton(render(query, {"v": value}, lang)) == skeleton(benign)


@pytest.mark.parametrize(
    ("query", "lang", "offset", "fragment"),
    [
        ("rate(x[{{ .w }}])", PROMQL, 7, "outside a quoted value"),
        ('label_replace(up, "{{ .x }}", "$1", "a", "(.*)")', PROMQL, 19, "not a value"),
        ('{"{{ .name }}"}', PROMQL, 2, "not a value"),
        ('up{job="\\{{ .j }}"}', PROMQL, 9, "after a backslash"),
        ("up{job=`{{ .j }}`}", PROMQL, 8, "raw string"),
        ("up # {{ .j }}", PROMQL, 5, "outside a quoted value"),
        ("{{ if .x }}up{{ end }}", PROMQL, 0, "`if` blocks"),
        ('{app="x"} | line_format "{{ .x }}"', LOGQL, 25, "not a value"),
        ('{app="x"} | label_format a="{{ .x }}"', LOGQL, 28, "not a value"),
        ('count_over_time({app="x"}[{{ .w }}])', LOGQL, 26, "outside a quoted value"),
    ],
)
def test_where_a_template_may_not_stand(query, lang, offset, fragment):
    problem = misplaced(query, lang)[0]
    assert problem.offset == offset and fragment in problem.message and problem.hint


@pytest.mark.parametrize(
    ("query", "lang"),
    [
        ('sum(rate(x{a="{{ .a }}", b!~"{{ .b }}"}[5m])) or vector(0)', PROMQL),
        ("up{job='{{ .j }}'}", PROMQL),
        ('{app="{{ .a }}"} |= "{{ .t }}" | json | level="{{ .l }}" != "{{ .m }}"', LOGQL),
        ('{app="a"} | line_format "{{ "{{.msg}}" }}"', LOGQL),  # a constant: no outside value
    ],
)
def test_where_a_template_may_stand(query, lang):
    assert misplaced(query, lang) == []


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
SHAPED = st.fixed_dictionaries(
    {"status": st.sampled_from(["success", "error"]), "data": st.fixed_dictionaries(
        {"resultType": st.sampled_from(["vector", "matrix", "scalar", "string", "streams"]), "result": JSON}
    )}
) | st.fixed_dictionaries({"hits": st.fixed_dictionaries({"hits": JSON, "total": JSON}), "_shards": JSON})  # fmt: skip


@given(JSON | SHAPED)
def test_a_hostile_answer_is_a_failure_or_an_envelope_never_an_exception(body):
    from gert.executors import elasticsearch, loki, promql

    for result in (
        promql.envelope_of(body, 0.0, 10, "prometheus", first=["__name__"]),
        promql.envelope_of(body, 0.0, 10, "loki", first=[], rows_of=loki.rows_of(True)),
        elasticsearch.envelope_of(body, 0.0, 10, "elasticsearch"),
    ):
        assert set(result) >= {"success", "rowCount", "columns", "data", "metadata"}
        assert result["rowCount"] == len(result["data"]) <= 10
