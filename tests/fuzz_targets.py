"""Fuzz targets: every parser gert has, fed hostile text. Each target returns normally or
raises a :class:`gert.errors.GertError`; anything else (a traceback, a hang, a blow-up) is
a finding. ``tests/test_fuzz.py`` runs them with a small fixed budget in CI;
``bench/fuzz.py`` runs them for minutes.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import strategies as st

# Pieces each language is made of, so generated inputs reach past the first character.
TEMPLATE_PIECES = [
    "{{",
    "}}",
    "{{-",
    "-}}",
    ".",
    ".x",
    "$",
    "$v",
    ":=",
    "=",
    "|",
    "(",
    ")",
    " ",
    "if",
    "else",
    "end",
    "range",
    "with",
    "printf",
    '"%d"',
    '"%s"',
    '"%999999999d"',
    "%",
    "1",
    "-1",
    "1e9",
    "nil",
    "true",
    "len",
    "index",
    "slice",
    "upper",
    "default",
    "toJson",
    "fromJson",
    '"x"',
    "`raw`",
    "'c'",
    "\\",
    "\n",
    "break",
    "continue",
    "define",
    "template",
    "and",
    "or",
    "not",
]
CONDITION_PIECES = [
    "(",
    ")",
    "[",
    "]",
    ",",
    "==",
    "!=",
    "<",
    ">=",
    "&&",
    "||",
    "!",
    "not",
    "and",
    "or",
    "contains",
    "startsWith",
    "matches",
    "in",
    "len(",
    "x",
    "y",
    '"a"',
    "'b'",
    "1",
    "-2.5",
    "true",
    "false",
    "null",
    " ",
    "{{",
    "}}",
    ".x",
    '"(a+)+$"',
]
YAML_PIECES = [
    "a",
    ": ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&x ",
    "*x",
    "<<: ",
    "!!str ",
    "!!binary ",
    "|",
    ">",
    "'",
    '"',
    "#",
    "\n",
    "  ",
    "\t",
    "? ",
    "---",
    "...",
    "1",
    "true",
    "null",
    "~",
    "%YAML",
    "apiVersion: runbook/v0\n",
    "meta: {name: f}\n",
    "steps:\n",
]
MERMAID_PIECES = [
    "flowchart TD\n",
    "graph LR\n",
    "A",
    "B",
    "C",
    "-->",
    "---",
    "-.->",
    "==>",
    "-- x -->",
    "|label|",
    "[",
    "]",
    "(",
    ")",
    "{",
    "}",
    "((",
    "))",
    ">",
    "&",
    ";",
    "\n",
    " ",
    "subgraph ",
    "end",
    "style A fill:#f00",
    "classDef c",
    "%%",
    '"',
    ":::",
    "click A",
]
GUIDE_PIECES = [
    "# ",
    "## ",
    "Title\n",
    "```bash\n",
    "```mermaid\n",
    "```\n",
    "kubectl get pods\n",
    "rm -rf <dir>\n",
    "A --> B\n",
    "flowchart TD\n",
    "- item\n",
    "1. step\n",
    "<name>",
    "\n",
    "Signature: `x`\n",
    "> quote\n",
    "| a | b |\n",
    "\\",
    "$(x)",
    "| x",
    "\x00",
    "\ufffd",
]


def pieces(words: list[str], max_size: int = 40) -> st.SearchStrategy[str]:
    """Text assembled from a language's pieces and arbitrary characters."""
    part = st.one_of(st.sampled_from(words), st.text(max_size=4))
    return st.lists(part, max_size=max_size).map("".join)


def _template(text: str) -> None:
    from gert.template import render

    render(text, {"x": "1", "v": ["a", "b"], "m": {"k": "v"}})


def _condition(text: str) -> None:
    from gert.expr import evaluate

    evaluate(text, {"x": "1", "y": "abc"}, [])


def _yaml(text: str) -> None:
    from gert.load import parse_text

    parse_text(text, "fuzz.yaml")


def _runbook(text: str) -> None:
    from gert.validate import Validator

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fuzz.runbook.yaml"
        path.write_text(text, encoding="utf-8")
        Validator().check(path)


def _mermaid(text: str) -> None:
    from gert.mermaid import parse

    parse(text)


def _guide(text: str) -> None:
    from gert.importer import import_guide

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "guide.md"
        path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
        import_guide(path)


def _signatures(text: str) -> None:
    from gert.signatures import load, match

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "f.signatures.yaml"
        path.write_text(text, encoding="utf-8")
        match(load(path), "test e2e_tui ... FAILED\nerror: x\n")


def _scenario(text: str) -> None:
    from gert.testing import load_any_scenario

    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        (folder / "inputs.yaml").write_text(text, encoding="utf-8")
        (folder / "scenario.yaml").write_text(text, encoding="utf-8")
        (folder / "steps").mkdir()
        (folder / "steps" / "001-a.json").write_text(text, encoding="utf-8")
        load_any_scenario(folder)


SIGNATURE_PIECES = [
    "apiVersion: signatures/v0\n",
    "signatures:\n",
    "  - ",
    "id: a\n",
    "    ",
    "title: t\n",
    "match: {regex: '",
    "(a+)+",
    "(?P<g>x)",
    "\\1",
    "'}\n",
    "match: {substring: x}\n",
    "severity: high\n",
    "runbook: ../x\n",
    "[",
    "{",
    "\n",
]

# name -> (strategy, target)
TARGETS: dict[str, tuple[st.SearchStrategy[str], Callable[[str], None]]] = {
    "template": (pieces(TEMPLATE_PIECES), _template),
    "condition": (pieces(CONDITION_PIECES), _condition),
    "yaml": (pieces(YAML_PIECES), _yaml),
    "runbook": (pieces([*YAML_PIECES, "type: cli\n", "with: {argv: [", "id: s\n"]), _runbook),
    "mermaid": (pieces(MERMAID_PIECES), _mermaid),
    "guide": (pieces(GUIDE_PIECES, 30), _guide),
    "signatures": (pieces(SIGNATURE_PIECES, 30), _signatures),
    "scenario": (pieces([*YAML_PIECES, '{"step_id": "a", "attempts": []}'], 20), _scenario),
}


def run_one(target: Callable[[str], None], text: str) -> None:
    """Run a target; only gert's own errors may come out of it."""
    from gert.errors import GertError

    with contextlib.suppress(GertError):
        target(text)
