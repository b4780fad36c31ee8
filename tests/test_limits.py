"""Limits on what reads input: nesting in conditions and templates ends in a clear error,
never a RecursionError, whatever the depth."""

from __future__ import annotations

import pytest

from gert.expr import MAX_NESTING as EXPR_NESTING
from gert.expr import ExprError, evaluate
from gert.template import TemplateError, render
from gert.template._parse import MAX_NESTING as TEMPLATE_NESTING
from helpers import gert


@pytest.mark.parametrize("depth", [EXPR_NESTING + 1, 400, 5000, 50000])
@pytest.mark.parametrize(
    "shape",
    [
        lambda n: "(" * n + "1 == 1" + ")" * n,
        lambda n: "!" * n + "true",
        lambda n: "not " * n + "true",
        lambda n: "[" * n + "]" * n + " == 1",
        lambda n: "len(" * n + "x" + ")" * n,
    ],
)
def test_deep_conditions_are_clear_errors(shape, depth):
    with pytest.raises(ExprError, match=f"nested more than {EXPR_NESTING} levels deep"):
        evaluate(shape(depth), {"x": "a"})


def test_conditions_as_deep_as_allowed_still_work():
    n = EXPR_NESTING
    assert evaluate("(" * n + "1 == 1" + ")" * n, {}) is True
    assert evaluate("!" * (n - 1) + "!true", {}) is (n % 2 == 0)


@pytest.mark.parametrize("depth", [TEMPLATE_NESTING + 1, 400, 5000])
def test_deep_templates_are_clear_errors(depth):
    with pytest.raises(TemplateError, match="nested more than"):
        render("{{" + "(" * depth + "1" + ")" * depth + "}}", {})
    with pytest.raises(TemplateError, match="nested more than"):
        render("{{if 1}}" * depth + "x" + "{{end}}" * depth, {})


def test_templates_as_deep_as_allowed_still_work():
    n = TEMPLATE_NESTING
    assert render("{{" + "(" * n + "1" + ")" * n + "}}", {}) == "1"
    assert render("{{if 1}}" * n + "x" + "{{end}}" * n, {}) == "x"


def test_validate_reports_deep_nesting_with_its_line(tmp_path):
    deep_template = "{{" + "(" * 400 + ".x" + ")" * 400 + "}}"
    deep_condition = "not " * 400 + "true"
    (tmp_path / "deep.runbook.yaml").write_text(
        "apiVersion: runbook/v0\n"
        "meta: {name: deep, inputs: {x: {default: a}}}\n"
        "steps:\n"
        f"  - id: a\n    type: cli\n    with: {{argv: [echo, '{deep_template}']}}\n"
        f"    outcomes: [{{when: '{deep_condition}', state: resolved}}]\n"
    )
    ran = gert("validate", "deep.runbook.yaml", cwd=tmp_path)
    assert "Traceback" not in ran.stderr
    assert ran.returncode == 2
    assert "nested more than" in ran.stdout + ran.stderr
    assert "deep.runbook.yaml:6:" in ran.stdout + ran.stderr


@pytest.mark.parametrize("depth", [250, 500, 5000, 50000])
def test_deeply_nested_yaml_is_a_clear_error_never_a_crash(depth):
    from gert.load import LoadError, parse_text

    flow = "x: " + "[" * depth + "1" + "]" * depth + "\n"
    lines = min(depth, 1000)  # indentation grows with each line: keep the text small
    block = "".join(" " * i + "a:\n" for i in range(lines)) + " " * lines + "b: 1\n"
    dashes = "- " * depth + "x\n"
    for text in (flow, block, dashes):
        with pytest.raises(LoadError, match="nested"):
            parse_text(text, "deep.yaml")


def test_one_bracket_too_many_is_refused():
    from gert.load import MAX_FLOW_DEPTH, LoadError, parse_text

    with pytest.raises(LoadError, match=f"nested more than {MAX_FLOW_DEPTH} levels"):
        parse_text("x: " + "[" * (MAX_FLOW_DEPTH + 1) + "]" * (MAX_FLOW_DEPTH + 1), "f.yaml")


def test_yaml_as_deep_as_allowed_still_loads():
    from gert.load import MAX_FLOW_DEPTH, MAX_INDENT, parse_text

    flow = "x: " + "[" * MAX_FLOW_DEPTH + "1" + "]" * MAX_FLOW_DEPTH + "\n"
    assert parse_text(flow, "f.yaml").data["x"] is not None
    block = "".join(" " * i + "a:\n" for i in range(MAX_INDENT)) + " " * MAX_INDENT + "b: 1\n"
    assert parse_text(block, "b.yaml").data["a"] is not None


def test_an_alias_bomb_stops_early_with_a_clear_error(tmp_path):
    import time

    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    (tmp_path / "bomb.runbook.yaml").write_text("\n".join(lines) + "\n")  # 612 bytes of YAML
    started = time.monotonic()
    ran = gert("validate", "bomb.runbook.yaml", cwd=tmp_path)
    assert time.monotonic() - started < 10
    assert "Traceback" not in ran.stderr
    assert ran.returncode == 2
    assert "aliases are expanded" in ran.stdout + ran.stderr


@pytest.mark.parametrize(
    "template",
    [
        '{{ printf "%999999999d" 1 }}',
        '{{ printf "%92233720368547758075d" 1 }}',
        '{{ printf "%9223372036854775807e" 1.0 }}',
        '{{ printf "%.99999999f" 1.0 }}',
    ],
)
def test_printf_widths_past_go_limits_print_noverb_as_go_does(template):
    # Go's fmt gives up on a width or precision that passes 1e6 mid-number.
    assert render(template, {}).startswith("%!(NOVERB)%!(EXTRA ")


def test_template_output_is_bounded():
    with pytest.raises(TemplateError, match="larger than the 16 MiB"):
        render('{{ printf "%9999999d" 1 }}{{ printf "%9999999d" 2 }}', {})
    with pytest.raises(TemplateError, match="larger than the 16 MiB"):
        render('{{ range $i := 100000 }}{{ printf "%999d" 1 }}{{ end }}', {})
