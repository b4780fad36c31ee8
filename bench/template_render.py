"""Template rendering after parsing (parsed templates are cached).

Target: render of a typical argv element <= 20 us.
Run: .venv/bin/python bench/template_render.py
"""

from __future__ import annotations

import statistics
import timeit

from gert import expr
from gert.template import parse, render

DATA = {
    "server_name": "sobeys-sql01",
    "database_name": "AlarmDB",
    "window": "4h",
    "n": "3",
    "cause": "IsReplicaInBuild",
    "nodes": "a\nb\nc",
}
TEMPLATES = {
    "typical argv element: --server={{ .server_name }}": "--server={{ .server_name }}",
    "bare variable": "{{ .server_name }}",
    "next_runbook path": "causes/{{ .cause }}.runbook.yaml",
    "pipeline: upper | printf": '{{ .server_name | upper | printf "%s-x" }}',
    "if/else": '{{ if ne .n "0" }}{{ .n }} failures{{ else }}none{{ end }}',
    "range over split": '{{ range split .nodes "\\n" }}[{{ . }}]{{ end }}',
}
CONDITIONS = {
    'failure_count == "0"': 'n == "0"',
    "compound with len()": 'cause startsWith "Is" && len(nodes) > 2',
}


def per_call_us(fn, number: int = 20000, repeat: int = 5) -> dict[str, float]:
    samples = [t / number * 1e6 for t in timeit.repeat(fn, number=number, repeat=repeat)]
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples)}


def main() -> None:
    from _util import row

    for name, text in TEMPLATES.items():
        parse(text)
        row(
            f"render {name}"[:44],
            per_call_us(lambda t=text: render(t, DATA)),
            target=20 if name.startswith("typical") else None,
            unit="us",
        )
    parse.cache_clear()
    row(
        "parse (uncached) of the typical element",
        per_call_us(
            lambda: (parse.cache_clear(), parse("--server={{ .server_name }}")), number=2000
        ),
        unit="us",
    )
    for name, text in CONDITIONS.items():
        expr.parse(text)
        row(f"condition {name}"[:44], per_call_us(lambda t=text: expr.evaluate(t, DATA)), unit="us")


if __name__ == "__main__":
    main()
