"""The condition language: documented examples plus hypothesis properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gert.expr import ExprError, evaluate, names, parse

DATA = {
    "failure_count": "0",
    "cause": "LoginErrors_Throttled",
    "nodes": "node-a\nnode-b\nnode-c",
    "x": "B",
    "n": "10",
    "empty": "",
    "flag": "true",
    "zero": "0",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('failure_count == "0"', True),
        ("failure_count == 0", True),
        ("failure_count != 0", False),
        ('cause startsWith "LoginErrors"', True),
        ('cause endsWith "Throttled"', True),
        ('cause contains "Errors"', True),
        ('cause matches "^Login[A-Z]\\\\w+$"', True),
        ('x in ["A", "B"]', True),
        ('x in ["A", "C"]', False),
        ('x not in ["A", "C"]', True),
        ('x ! in ["A", "C"]', True),
        ("len(nodes) > 2", True),
        ("len(nodes) == 3", True),
        ("len(empty) == 0", True),
        ('"node-b" in nodes', True),
        ('nodes contains "node-c"', True),
        ("n > 9", True),
        ('n > "9"', True),  # both numeric strings: numeric order
        ('"abc" < "abd"', True),
        ("n >= 10.0", True),
        ("n == 10.0", True),
        ("!(n < 5) && cause contains 'Login'", True),
        ("not (x == 'B') or n == 10", True),
        ("x == 'A' and n == 10", False),
        ("flag", True),
        ("zero", False),
        ("empty", False),
        ("!empty", True),
        ("true && !false", True),
        ("lower(cause) startsWith 'login'", True),
        ("upper(x) == 'B'", True),
        ("trim('  a ') == 'a'", True),
        ("number(n) > 2", True),
        ("[1, 2] == [1, '2']", True),
        ('{{ ne .failure_count "" }}', True),
        ('{{ eq .failure_count "1" }}', False),
        ("{{ .empty }}", False),
        ("{{ .zero }}", False),
    ],
)
def test_examples(text, expected):
    assert evaluate(text, DATA) is expected


@pytest.mark.parametrize(
    ("text", "col", "fragment"),
    [
        ("x = 1", 3, "use '=='"),
        ("x ==", 5, "expected a value"),
        ("(x == 1", 8, "expected ')'"),
        ("x == 1 == 2", 8, "do not chain"),
        ("foo(x)", 1, "unknown function 'foo'"),
        ("x & y", 3, "use '&&'"),
        ('"abc', 1, "unterminated string"),
        ('x matches "("', 11, "bad regular expression"),
        ("", 1, "empty condition"),
        ("x y", 3, "unexpected 'y'"),
        ("contains x", 1, "needs a value on its left"),
        ("x == 1 )", 8, "unexpected ')'"),
    ],
)
def test_parse_errors_point_at_the_column(text, col, fragment):
    with pytest.raises(ExprError) as info:
        parse(text)
    assert info.value.col == col
    assert fragment in info.value.message


def test_undefined_name_makes_condition_false_with_warning():
    warnings: list[str] = []
    assert evaluate("missing == 1", DATA, warnings) is False
    assert warnings and "'missing' is not defined" in warnings[0]
    warnings.clear()
    assert evaluate("!missing", DATA, warnings) is False  # not "true by negation"
    assert warnings
    warnings.clear()
    assert evaluate("{{ .missing }}", DATA, warnings) is False
    assert "'missing'" in warnings[0]


def test_type_errors_are_reported_with_column():
    with pytest.raises(ExprError) as info:
        evaluate("cause < 5", DATA)
    assert info.value.col == 7
    assert "cannot compare" in info.value.message


def test_names_lists_variables_with_columns():
    assert names("a == 1 && b.c > 2") == [("a", 1), ("b", 11)]
    assert names('{{ if eq .x "1" }}y{{ end }}') == [("x", 10)]


# ------------------------------------------------------------------ properties

ints = st.integers(min_value=-(10**12), max_value=10**12)
floats = st.floats(allow_nan=False, allow_infinity=False, width=64)
ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
PY = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


@given(a=ints, b=ints, op=ops)
def test_numeric_string_compares_numerically_with_number(a, b, op):
    assert evaluate(f"x {op} {b}", {"x": str(a)}) is PY[op](a, b)


@given(a=floats, b=floats, op=st.sampled_from(["<", "<=", ">", ">="]))
def test_two_numeric_strings_order_numerically(a, b, op):
    assert evaluate(f"x {op} y", {"x": repr(a), "y": repr(b)}) is PY[op](a, b)


@given(a=floats, b=floats)
def test_two_strings_are_equal_only_as_text(a, b):
    # "040613" must not equal "40613": strings compare numerically only against a number.
    env = {"x": repr(a), "y": repr(b)}
    assert evaluate("x == y", env) is (repr(a) == repr(b))
    assert evaluate(f"x == {b!r}", env) is (a == b)


words = st.text(alphabet=st.characters(codec="ascii", categories=["L"]), min_size=1, max_size=8)


@given(a=words, b=words, op=ops)
def test_non_numeric_strings_compare_lexicographically(a, b, op):
    assert evaluate(f"x {op} y", {"x": a, "y": b}) is PY[op](a, b)


@given(a=st.booleans(), b=st.booleans(), c=st.booleans())
def test_boolean_algebra_and_precedence(a, b, c):
    env = {"a": str(a).lower(), "b": str(b).lower(), "c": str(c).lower()}
    assert evaluate("a || b && c", env) is (a or (b and c))
    assert evaluate("!a && b || c", env) is ((not a and b) or c)
    assert evaluate("not (a or b) and c", env) is ((not (a or b)) and c)


# Random well-formed expressions: printed, parsed back, evaluated like Python does.
leaf = st.one_of(
    ints.map(lambda i: (str(i), i)),
    st.sampled_from([("true", True), ("false", False)]),
)


def _combine(children):
    def cmp(pair, op):
        (ta, va), (tb, vb) = pair
        return (f"({ta} {op} {tb})", PY[op](va, vb))

    nums = st.tuples(ints, ints).map(lambda p: ((str(p[0]), p[0]), (str(p[1]), p[1])))
    return st.one_of(
        st.tuples(nums, ops).map(lambda t: cmp(*t)),
        st.tuples(children, children).map(
            lambda t: (f"({t[0][0]} && {t[1][0]})", bool(t[0][1]) and bool(t[1][1]))
        ),
        st.tuples(children, children).map(
            lambda t: (f"({t[0][0]} || {t[1][0]})", bool(t[0][1]) or bool(t[1][1]))
        ),
        children.map(lambda t: (f"!{t[0]}", not t[1])),
    )


expressions = st.recursive(leaf, _combine, max_leaves=12)


@given(expressions)
def test_generated_expressions_parse_and_evaluate(expr):
    text, expected = expr
    assert evaluate(text, {}) is bool(expected)


@given(st.text(max_size=40))
def test_arbitrary_text_parses_or_raises_expr_error(text):
    try:
        parse(text)
    except ExprError as e:
        assert 1 <= e.col <= len(text) + 1
