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
