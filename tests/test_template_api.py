"""The public API of gert.template beyond the differential corpus."""

from __future__ import annotations

import pytest

from gert.template import MissingVariableError, TemplateError, parse, referenced_variables, render


def test_render_plain_text_is_identity():
    assert render("kubectl get pods", {}) == "kubectl get pods"


def test_missing_variable_error_names_it():
    with pytest.raises(MissingVariableError) as info:
        render("--server={{ .server_name }}", {})
    assert info.value.name == "server_name"
    assert (info.value.line, info.value.col) == (1, 13)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{{ define "x" }}y{{ end }}', "{{define}} is not supported"),
        ('{{ template "x" }}', "{{template}} is not supported"),
        ('{{ block "x" . }}y{{ end }}', "{{block}} is not supported"),
        ("{{ 3i }}", "complex numbers are not supported"),
        ("{{ .a ", "unclosed action"),
        ("{{ if .a }}x", "unexpected EOF"),
        ("{{ nosuch 1 }}", 'function "nosuch" not defined'),
    ],
)
def test_unsupported_and_malformed_templates(text, fragment):
    with pytest.raises(TemplateError) as info:
        parse(text)
    assert fragment in info.value.message


def test_error_position_is_line_and_column():
    with pytest.raises(TemplateError) as info:
        parse("line one\n  {{ .a | nosuch }}")
    assert (info.value.line, info.value.col) == (2, 11)


def test_referenced_variables_only_root_scope():
    text = "{{ .a }}{{ with .b }}{{ .inner }}{{ $.c }}{{ end }}{{ range .d }}{{ .x }}{{ end }}{{ if .e }}{{ .f }}{{ end }}"
    assert [n for n, _ in referenced_variables(text)] == ["a", "b", "c", "d", "e", "f"]


def test_parse_is_cached():
    assert parse("{{ .a }}") is parse("{{ .a }}")


def test_data_is_not_mutated():
    data = {"l": ["b", "a"], "m": {"k": "v"}}
    render("{{ range .l }}{{ . }}{{ end }}{{ $x := .m }}{{ $x.k }}", data)
    assert data == {"l": ["b", "a"], "m": {"k": "v"}}
