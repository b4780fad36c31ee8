"""Loading YAML with positions (gert.load)."""

from __future__ import annotations

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from ruamel.yaml.error import MarkedYAMLError

from gert.load import LoadError, _yaml, dump_yaml, load_file, parse_text


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


def _pure(text: str):
    """The document as ruamel's pure-Python scanner (YAML 1.2 in flow collections) reads it."""
    import gert.load as load

    real = load._yaml
    load._yaml = lambda pure=False: real(pure=True)
    try:
        return parse_text(text)
    finally:
        load._yaml = real


def test_colons_inside_plain_scalars_of_flow_collections_load_as_yaml_1_2():
    text = (
        "argv: [curl, -s, http://127.0.0.1:8080/x, {url: 'http://x:80/a', b: http://y/}]\n"
        'more: {a: a:b, t: 12:30, d: 2026-02-14 10:00:00, q: "q:x", n: 1.10}\n'
    )
    doc = parse_text(text)
    assert doc.data == {
        "argv": [
            "curl",
            "-s",
            "http://127.0.0.1:8080/x",
            {"url": "http://x:80/a", "b": "http://y/"},
        ],
        "more": {"a": "a:b", "t": "12:30", "d": "2026-02-14T10:00:00", "q": "q:x", "n": 1.1},
    }
    assert doc.value_pos[("argv", 3, "b")] == (1, 69)
    assert doc.key_pos[("more", "q")] == (2, 50)
    ref = _pure(text)
    assert (doc.data, doc.value_pos, doc.key_pos, doc.block, doc.plain) == (
        ref.data,
        ref.value_pos,
        ref.key_pos,
        ref.block,
        ref.plain,
    )


@pytest.mark.parametrize(
    "text",
    [
        "a: [x, y:z, !!str 1:2]\n",  # a tag: the pure scanner reads it
        "%YAML 1.2\n---\na: [http://x]\n",  # a directive: likewise
        "a: [b:c, \ue000]\n",  # the stand-in itself in the text: likewise
        "a: [b:c, {x: y: z}]\n",  # still invalid after the swap: the error is YAML 1.2's
    ],
)
def test_yaml_1_2_colons_fall_back_to_the_pure_scanner(text):
    try:
        got = parse_text(text, "f.yaml")
    except LoadError as e:
        with pytest.raises(LoadError) as ref:
            _pure(text)
        assert (e.line, e.col, e.message) == (ref.value.line, ref.value.col, ref.value.message)
        return
    ref = _pure(text)
    assert (got.data, got.value_pos) == (ref.data, ref.value_pos)


_PLAIN = (
    st.lists(
        st.sampled_from(["a", "b", "1", ":", "/", "//", ".", "-", " ", "#", "x:", ":y"]),
        min_size=1,
        max_size=6,
    )
    .map("".join)
    .filter(str.strip)  # an empty value's position differs between the two scanners anyway
)
_PIECES = st.one_of(_PLAIN, _PLAIN.map(lambda t: f"'{t}'"), _PLAIN.map(lambda t: f'"{t}"'))


@settings(max_examples=300)
@given(st.lists(_PIECES, min_size=1, max_size=5), st.booleans())
def test_yaml_1_2_colons_agree_with_the_pure_scanner(items, mapping):
    """Whatever a flow collection the C scanner refuses holds, gert reads it as the pure
    (YAML 1.2) scanner does, positions included, or refuses it as that scanner does."""
    body = ", ".join(f"k{i}: {v}" for i, v in enumerate(items)) if mapping else ", ".join(items)
    text = f"top:\n  x: {'{' if mapping else '['}{body}{'}' if mapping else ']'}\n  y: c:d\n"
    try:
        _yaml().compose(text)
        assume(False)  # the C scanner reads it: not the path under test
    except MarkedYAMLError:
        pass
    try:
        ref = _pure(text)
    except LoadError:
        with pytest.raises(LoadError):
            parse_text(text)
        return
    got = parse_text(text)
    assert (got.data, _written(got), got.key_pos, got.plain) == (
        ref.data,
        _written(ref),
        ref.key_pos,
        ref.plain,
    )


def _written(doc):
    """Positions of the values written (the scanners place an empty value differently)."""

    def at(path):
        node = doc.data
        for el in path:
            node = node[el]
        return node

    return {p: pos for p, pos in doc.value_pos.items() if at(p) is not None or p in doc.plain}


def test_plain_scalars_keep_the_text_the_author_wrote():
    doc = parse_text("a: [sleep, 5, 1.10, true, ~, null, 0x1F, '7', x]\nb:\n")
    assert doc.data == {"a": ["sleep", 5, 1.1, True, None, None, 31, "7", "x"], "b": None}
    assert doc.plain == {
        ("a", 1): "5",
        ("a", 2): "1.10",
        ("a", 3): "true",
        ("a", 4): "~",
        ("a", 5): "null",
        ("a", 6): "0x1F",
    }


def test_format_detection():
    assert parse_text("apiVersion: runbook/v0\n").kind == "runbook"
    assert parse_text("apiVersion: tool/v0\n").kind == "tool"
    assert parse_text("apiVersion: other/v1\n", "x.runbook.yaml").kind is None
    assert parse_text("meta: {}\n", "x.tool.yaml").kind == "tool"


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


def test_the_pure_scanner_prints_no_warnings(recwarn):
    """A document only the pure scanner reads may reuse an anchor: YAML 1.2 allows it, and
    gert prints nothing about it."""
    doc = parse_text("a: [&x http://a, &x b:c, *x]\n")
    assert doc.data == {"a": ["http://a", "b:c", "b:c"]}
    with pytest.raises(LoadError):
        parse_text("a: [&x [&x \n")
    assert [str(w.message) for w in recwarn] == []
