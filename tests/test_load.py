"""Loading YAML with positions (gert.load)."""

from __future__ import annotations

import pytest

from gert.load import LoadError, load_file, parse_text


def test_positions_of_keys_values_and_items():
    doc = parse_text("a: 1\nb:\n  c: [x, 'y']\n  d: |\n    line one\n    line {{ two\n")
    assert doc.data == {"a": 1, "b": {"c": ["x", "y"], "d": "line one\nline {{ two\n"}}
    assert doc.key_pos[("b", "c")] == (3, 3)
    assert doc.value_pos[("b", "c", 1)] == (3, 10)
    assert doc.block[("b", "c", 1)] == "'"
    assert doc.block[("b", "d")] == "|"
    # line 2, column 6 of the block scalar's text is the "{" on file line 6
    assert doc.position_in_value(("b", "d"), 2, 6) == (6, 10)


def test_position_falls_back_to_nearest_ancestor():
    doc = parse_text("meta:\n  name: x\n")
    assert doc.position(("meta", "inputs", "server")) == (2, 3)


def test_duplicate_key_names_both_lines():
    with pytest.raises(LoadError) as info:
        parse_text("a: 1\nb: 2\na: 3\n", "f.yaml")
    e = info.value
    assert (e.file, e.line, e.col) == ("f.yaml", 3, 1)
    assert "duplicate key 'a' (first at line 1)" in e.message


def test_merge_keys_and_anchors():
    doc = parse_text("base: &b {x: 1, y: 2}\nthing:\n  <<: *b\n  y: 3\n")
    assert doc.data["thing"] == {"x": 1, "y": 3}


def test_recursive_alias_is_an_error_not_a_hang():
    with pytest.raises(LoadError, match="recursive alias"):
        parse_text("a: &a\n  - *a\n")


def test_yaml_1_2_scalars():
    doc = parse_text("a: yes\nb: off\nc: 0o17\nd: 1_000\ne: 2026-02-14\nf: ~\ng: 1e3\n")
    assert doc.data == {
        "a": "yes",
        "b": "off",
        "c": 15,
        "d": 1000,
        "e": "2026-02-14",
        "f": None,
        "g": 1000.0,
    }


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("a: [1, 2\nb: 3\n", 2, "invalid YAML"),
        ("a: !custom 1\n", 1, "cannot read value"),
        ("? [a, b]\n: 1\n", 1, "mapping key must be a plain value"),
        ("a:\n\tb: 1\n", 2, "invalid YAML"),
    ],
)
def test_bad_yaml_is_located(text, line, fragment):
    with pytest.raises(LoadError) as info:
        parse_text(text, "bad.yaml")
    assert info.value.line == line
    assert fragment in info.value.message
    assert str(info.value).startswith(f"bad.yaml:{line}:")


def test_load_file_errors(tmp_path):
    with pytest.raises(LoadError, match="file not found"):
        load_file(tmp_path / "missing.yaml")
    with pytest.raises(LoadError, match="is a directory"):
        load_file(tmp_path)
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"a: \xe9\n")
    with pytest.raises(LoadError, match="not UTF-8"):
        load_file(bad)


def test_format_detection():
    assert parse_text("apiVersion: runbook/v0\n").kind == "runbook"
    assert parse_text("apiVersion: tool/v0\n").kind == "tool"
    assert parse_text("apiVersion: other/v1\n", "x.runbook.yaml").kind is None
    assert parse_text("meta: {}\n", "x.tool.yaml").kind == "tool"


from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from gert.load import dump_yaml  # noqa: E402

# Text that YAML reads as something else, or not at all, unless quoted: reserved words,
# numbers, dates, indicators, separators, line breaks and unprintables. Random text seldom
# hits these; strings built from them do, so a few hundred examples reach what a thousand
# random ones mostly missed (the generator, not gert, costs the time).
_FRAGMENTS = [
    *("yes", "No", "ON", "off", "y", "null", "Null", "~", "true", "FALSE"),
    *(".inf", "-.Inf", ".NaN", "-1", "+2", "0x1f", "0o17", "0b1", "1e3", "1_000", ".5"),
    *("2026-02-14", "12:30:00", " ", ":", ": ", "#", " #", "- ", "-", "?", "!", "&a", "*a"),
    *("@", "`", "%", "|", ">", "'", '"', "\\", "\n", "\t", "\r", "é", "\u2028", "\x85"),
    *("\ufeff", "{", "}", "[", "]", ",", "=", "<<", "a", "b", "_", "/", "."),
]
_yamlish = st.lists(st.sampled_from(_FRAGMENTS), max_size=4).map("".join)
_text = st.one_of(st.text(max_size=30), _yamlish)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    _text,
)
_keys = st.one_of(st.text(min_size=1, max_size=12), _yamlish.filter(bool))
_data = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=20,
)


@pytest.mark.slow
@settings(max_examples=200)
@given(st.dictionaries(_keys, _data, max_size=6))
@example({"a:": ["b:", "x ", " y", "a: b", "c #d", "abc\n", "null", "~", "True", "1e3"]})
@example({"k": {"": [[], {}, None, "", "\u2028", "\x85", "\ufeff", 1.5, -0.0, 10**12]}})
def test_dump_yaml_round_trips(data):
    assert parse_text(dump_yaml(data)).data == data


def test_dump_yaml_is_plain_where_it_can_be():
    text = dump_yaml(
        {"runbook": "runbooks/a.runbook.yaml", "state": "needs_rca", "yes": "on", "n": "42"}
    )
    assert text == 'runbook: runbooks/a.runbook.yaml\nstate: needs_rca\n"yes": "on"\n"n": "42"\n'


@pytest.mark.parametrize(
    "text",
    [
        ".inf",
        ".NaN",
        "@x",
        "`x",
        "-1",
        "0x1f",
        "1e3",
        "yes",
        "~",
        "a: b",
        "a #b",
        "x\n",
        " x",
        "x ",
        "é",
    ],
)
def test_dump_yaml_quotes_what_would_read_back_differently(text):
    dumped = dump_yaml({"k": text})
    assert dumped.startswith('k: "')
    assert parse_text(dumped).data == {"k": text}
