"""gert.template against real Go: expected.json holds Go 1.2x's output for every case."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gert.template import TemplateError, render

EXPECTED = json.loads(
    (Path(__file__).parent / "template_oracle" / "expected.json").read_text("utf-8")
)
CASES = EXPECTED["cases"]


def test_corpus_is_large_enough():
    assert len(CASES) >= 300
    assert sum(1 for c in CASES if c["error"]) >= 50


@pytest.mark.parametrize("case", CASES, ids=[f"{c['group']}-{i}" for i, c in enumerate(CASES)])
def test_matches_go(case):
    data = json.loads(json.dumps(EXPECTED["data"]))  # fresh copy; templates must not mutate it
    if case["error"]:
        with pytest.raises(TemplateError):
            render(case["template"], data)
    else:
        assert render(case["template"], data) == case["output"]
