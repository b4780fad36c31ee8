"""Validating 1,000 runbooks in one call (target <= 1.0 s wall on the 2-core machine).

Generates a corpus of varied, valid runbooks (both body spellings, every step kind,
templates, conditions, captures, branches, chained outcomes) in a temporary folder.
Run: .venv/bin/python bench/validate_many.py [COUNT]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _util import GERT, measure_calls, measure_command, report

TREE = """apiVersion: runbook/v0
meta:
  name: generated-{i}
  description: Generated runbook {i}
  inputs:
    server: {{from: incident.custom_fields.ServerName}}
    cause: {{from: incident.title, pattern: 'Cause:\\s*(\\w+)', default: Unknown}}
    window: {{from: prompt, default: 4h}}
  vars: {{team: team-{i}, db_url: "sqlite:///data.db"}}
  governance:
    allowed_commands: [echo, kubectl]
    redact: [{{pattern: 'token=\\S+'}}]
tree:
  - step:
      id: count_{i}
      type: tool
      tool:
        name: sql
        action: query
        args: {{url: "{{{{ .db_url }}}}", query: "SELECT * FROM t WHERE s = :s", params: {{s: "{{{{ .server }}}}"}}}}
      capture: {{n: row_count, top: "$.data[0].error"}}
      outcomes:
        - when: n == 0
          state: no_action
          recommendation: Nothing on {{{{ .server }}}} in {{{{ .window }}}}.
    branches:
      - condition: top == "40613" || top startsWith "49"
        label: unavailable
        steps:
          - step:
              id: probe_{i}
              type: http
              http: {{url: "https://{{{{ .server }}}}/health", headers: {{X-Team: "{{{{ .team }}}}"}}}}
              capture: {{status: status_code, health: $.status}}
              assertions: [{{status_code: 200}}]
          - step:
              id: restart_{i}
              type: manual
              instructions: |
                Restart {{{{ .server }}}} if {{{{ .health }}}} is not ok.
              choices:
                variable: restart
                options: [{{value: "yes"}}, {{value: "no"}}]
              outcomes:
                - when: restart == "yes"
                  state: resolved
                  recommendation: Restarted {{{{ .server }}}}.
                - state: escalated
  - step:
      id: logs_{i}
      type: cli
      with: {{argv: [kubectl, logs, "deploy/{{{{ .server | lower }}}}", "--since={{{{ .window }}}}"]}}
      capture: {{errors: {{from: stdout, pattern: 'errors=(\\d+)'}}}}
      outcomes:
        - when: errors > 10
          state: needs_rca
          next_runbook:
            file: "causes/{{{{ .cause }}}}"
            inputs: {{server: "{{{{ .server }}}}"}}
        - state: escalated
"""

STEPS = """apiVersion: runbook/v0
meta:
  name: flat-{i}
  kind: composable
  inputs: {{target: {{from: parent, default: x}}}}
steps:
  - id: a_{i}
    type: cli
    with: {{argv: [echo, "{{{{ .target }}}}"]}}
    capture: {{out: stdout}}
    branches:
      - condition: out contains "x"
        steps:
          - {{id: b_{i}, type: cli, with: {{argv: [echo, "{{{{ .out }}}}"]}}}}
  - id: c_{i}
    type: manual
    instructions: Check {{{{ .out }}}}.
"""


def make_corpus(folder: Path, count: int) -> None:
    (folder / "causes").mkdir(parents=True)
    for i in range(count):
        text = (TREE if i % 2 == 0 else STEPS).format(i=i)
        (folder / f"rb-{i:04d}.runbook.yaml").write_text(text, encoding="utf-8")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "runbooks"
        make_corpus(folder, count)
        # the chained runbooks name causes/<cause>; templated files are checked at run time
        from gert.validate import validate_paths

        found = validate_paths([folder])
        assert found.ok, [p.format() for p in found.errors[:5]]
        print(f"{count} runbooks, {len(found.warnings)} warnings")
        inside = measure_calls(lambda: validate_paths([folder], jobs=1), runs=3)
        report(
            "in one process (no workers), per runbook",
            {k: {s: v / count for s, v in f.items()} for k, f in inside.items()},
        )
        whole = measure_command([*GERT, "validate", str(folder)], runs=5)
        report(f"gert validate <{count} runbooks> (one call)", whole, 1000)


if __name__ == "__main__":
    main()
