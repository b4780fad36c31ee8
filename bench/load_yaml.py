"""Reading YAML with positions (gert.load.parse_text), per document.

The example runbooks; a 46-step runbook with a URL quoted; the same with the URL plain in
a flow list (`[curl, -s, http://...]`: the C scanner refuses it under YAML 1.1, gert reads
it as YAML 1.2 by swapping the ':' for a stand-in); and that runbook through ruamel's
pure-Python scanner alone, for comparison.
Run: .venv/bin/python bench/load_yaml.py
"""

from __future__ import annotations

import time
from collections.abc import Callable

from _util import ROOT

import gert.load as load

URL = "http://127.0.0.1:8080/health"
STEPS = "".join(f"  - {{id: s{i}, type: cli, with: {{argv: [echo, '{i}']}}}}\n" for i in range(45))
PLAIN = (
    "apiVersion: runbook/v0\nmeta: {name: u, kind: composable}\nsteps:\n"
    f"  - {{id: s, type: cli, with: {{argv: [curl, -s, {URL}]}}}}\n{STEPS}"
)
QUOTED = PLAIN.replace(URL, f"'{URL}'")


def per_call(parse: Callable[[], object], n: int) -> float:
    """Milliseconds per call, after a warm-up."""
    for _ in range(20):
        parse()
    start = time.perf_counter()
    for _ in range(n):
        parse()
    return (time.perf_counter() - start) / n * 1000


def main() -> None:
    texts = [p.read_text() for p in sorted((ROOT / "examples").rglob("*.runbook.yaml"))]
    ms = per_call(lambda: [load.parse_text(t) for t in texts], 100) / len(texts)
    print(f"{'example runbooks (per runbook)':44s} {ms:6.2f} ms")
    print(f"{'46 steps, URL quoted':44s} {per_call(lambda: load.parse_text(QUOTED), 300):6.2f} ms")
    print(
        f"{'46 steps, URL plain in a flow list':44s} {per_call(lambda: load.parse_text(PLAIN), 300):6.2f} ms"
    )
    real = load._yaml
    load._yaml = lambda pure=False: real(pure=True)  # type: ignore[assignment]
    try:
        ms = per_call(lambda: load.parse_text(PLAIN), 100)
    finally:
        load._yaml = real
    print(f"{'46 steps, URL plain, pure-Python scanner only':44s} {ms:6.2f} ms")


if __name__ == "__main__":
    main()
