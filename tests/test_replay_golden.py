"""Replays give the same results, byte for byte, whatever is done to make them faster.

The golden file holds what replaying the example's scenarios and a synthetic corpus (the
shapes ``bench/gert_test_corpus.py`` times) produced: each chain as ``gert exec --json``
prints it (run IDs and folders aside), each step's record and captures, and the test
verdict. Regenerate it only for a change of behaviour, on purpose::

    GERT_WRITE_GOLDEN=1 .venv/bin/python -m pytest tests/test_replay_golden.py
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from gert.project import open_project
from gert.testing import Runner, discover

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "fixtures" / "replay_golden.json"
sys.path.insert(0, str(ROOT / "bench"))


def _normalised(result: Any) -> dict[str, Any]:
    chain = result.observed.get("runs", [])
    return {
        "status": result.status,
        "failures": result.failures,
        "final_state": result.final_state,
        "steps": result.steps,
        "runs": [
            {
                **{k: v for k, v in run.to_dict().items() if k not in ("run_id", "folder")},
                "outcome_index": list(run.outcome_index) if run.outcome_index else None,
                "records": [
                    {
                        "step_id": s.step_id,
                        "status": s.status,
                        "captures": s.captures,
                        "error": s.error,
                        "reason": s.reason,
                        "step_file": s.step_file,
                    }
                    for s in run.steps
                ],
            }
            for run in chain
        ],
    }


def replay_all(root: Path) -> dict[str, Any]:
    """Every scenario under the project at *root*, replayed as ``gert test`` does."""
    project = open_project(root)
    runner = Runner(project)
    try:
        return {
            str(case.folder.relative_to(root)): _normalised(runner.run(case))
            for case in discover([], project)
        }
    finally:
        runner.close()


def make_awkward(root: Path) -> None:
    """Scenarios whose files YAML reads in surprising ways, or not at all."""
    (root / "gert.yaml").write_text("record: 'off'\n")
    (root / "echo.runbook.yaml").write_text(
        "apiVersion: runbook/v0\n"
        "meta: {name: echo, kind: composable, inputs: {a: {from: prompt}, b: {from: prompt}, c: {from: prompt}}}\n"
        "steps:\n"
        "  - id: say\n"
        "    type: cli\n"
        '    with: {argv: [echo, "{{ .a }}|{{ .b }}|{{ .c }}"]}\n'
        "    capture: {out: stdout}\n"
    )
    cases = {
        "typed": ("a: yes\nb: 1.10\nc: 0o17\n", "yes|1.10|0o17"),
        "nulls": ("a: ~\nb: null\nc: 2026-11-30\n", "~|null|2026-11-30"),
        "flow": ("{a: http://x:80/y, b: 'q: r', c: \"t\\u00e9\"}\n", "http://x:80/y|q: r|t\u00e9"),
        "anchors": ("a: &v [1]\nb: *v\nc: {<<: {k: 1}}\n", "x|x|x"),
        "aliases": ("a: &v hello\nb: *v\nc: plain\n", "hello|hello|plain"),
        "bad-yaml": ("a: [1,\nb: 2\n", "x|x|x"),
        "dup-key": ("a: 1\na: 2\nb: 1\nc: 1\n", "x|x|x"),
    }
    for name, (inputs, out) in cases.items():
        d = root / "scenarios" / "echo" / name
        d.mkdir(parents=True)
        (d / "inputs.yaml").write_text(inputs)
        (d / "scenario.yaml").write_text(
            "commands:\n  - argv: [echo, "
            + json.dumps(out)
            + "]\n    stdout: "
            + json.dumps(out)
            + "\n"
        )
        (d / "test.yaml").write_text("expected_captures: {out: " + json.dumps(out) + "}\n")
    d = root / "scenarios" / "echo" / "bad-test"
    shutil.copytree(root / "scenarios" / "echo" / "typed", d)
    (d / "test.yaml").write_text(
        "expected_outcome: resolved\nexpect_captures: {}\nmust_reach: say\n"
    )


def test_replays_are_byte_identical_to_the_golden_results(tmp_path: Path) -> None:
    from gert_test_corpus import make

    example = tmp_path / "example"
    shutil.copytree(ROOT / "examples", example, ignore=shutil.ignore_patterns(".runbook"))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    make(corpus, 12)
    awkward = tmp_path / "awkward"
    awkward.mkdir()
    make_awkward(awkward)
    results = {
        "example": replay_all(example),
        "corpus": replay_all(corpus),
        "awkward": replay_all(awkward),
    }
    text = json.dumps(results, indent=1, sort_keys=True, default=str) + "\n"
    text = text.replace(str(tmp_path), "<tmp>")
    if os.environ.get("GERT_WRITE_GOLDEN"):
        GOLDEN.write_text(text)
    assert len(results["example"]) == 3 and len(results["corpus"]) == 12
    assert len(results["awkward"]) == 8
    assert text == GOLDEN.read_text()
