"""What steps, inputs and incidents say is shown as text: never Rich markup, never raw
terminal control sequences, and a display that breaks never changes a run's result."""

from __future__ import annotations

from helpers import gert

MARKUP = """
apiVersion: runbook/v0
meta:
  name: markup
  inputs: {title: {default: "[/]"}}
steps:
  - {id: s, type: cli, with: {argv: [echo, "GET [/api/login] 500"]}, capture: {line: stdout}}
  - {id: fake, type: cli, with: {argv: [echo, "[green]✓ all checks passed[/green]"]}, capture: {fake: stdout}}
  - id: esc
    type: cli
    with: {argv: [printf, "\\x1b]0;pwned\\x07\\x1b[2J{{ .title }}"]}
    capture: {shown: stdout}
  - {id: t, type: cli, with: {argv: [echo, next]}, outcomes: [{state: resolved, recommendation: "saw {{ .line }}"}]}
"""


def test_markup_and_escapes_in_output_are_shown_as_text(project):
    project.write("markup.runbook.yaml", MARKUP)
    ran = gert("exec", "markup.runbook.yaml", "--no-record", cwd=project.root)
    assert ran.returncode == 0, ran.stderr
    assert "Traceback" not in ran.stderr
    out = ran.stdout
    assert "line=GET [/api/login] 500" in out  # the capture, as printed by the step
    assert "final state: resolved" in out and "4 steps" in out
    assert "[green]✓ all checks passed[/green]" in out  # markup printed as written
    assert "\x1b" not in out and "\x07" not in out  # no escape sequence reaches the terminal
    assert "\\x1b]0;pwned\\x07\\x1b[2J[/]" in out  # made visible instead
    assert "saw GET [/api/login] 500" in out


def test_a_chained_file_name_with_markup_is_text(project):
    project.write(
        "p.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: p, inputs: {cause: {default: "[/]x"}}}
        steps:
          - id: a
            type: cli
            with: {argv: [echo, hi]}
            outcomes: [{state: needs_rca, next_runbook: {file: "causes/{{ .cause }}"}}]
        """,
    )
    ran = gert("exec", "p.runbook.yaml", "--no-record", cwd=project.root)
    assert "Traceback" not in ran.stderr
    assert ran.returncode == 3
    assert "chaining to causes/[/]x" in ran.stdout
    assert "chain error" in ran.stdout


def test_an_observer_that_breaks_does_not_change_the_run(project):
    from gert.engine import Options

    project.write(
        "o.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: o}
        steps:
          - {id: a, type: cli, with: {argv: [echo, one]}}
          - {id: b, type: cli, with: {argv: [echo, two]}, outcomes: [{state: resolved}]}
        """,
    )
    calls = []

    def broken(event, data):
        calls.append(event)
        raise RuntimeError("the display broke")

    with project.engine() as engine:
        chain = engine.run(project.root / "o.runbook.yaml", Options(observer=broken))
    assert chain.final_state == "resolved"
    assert [s.status for s in chain.runs[0].steps] == ["passed", "passed"]
    assert calls == ["run_started"]  # stopped showing after it broke


def test_the_outcome_prompt_offers_each_recommendation_redacted(project):
    from gert.engine import Options

    project.write(
        "pick.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: pick, inputs: {token: {default: "s3cr3t-value-42", secret: true}}}
        steps:
          - id: decide
            type: manual
            title: Decide
            instructions: Look.
            outcomes:
              - {state: resolved, recommendation: "Fixed with {{ .token }}."}
              - {state: escalated, recommendation: "Call the owner."}
              - {state: no_action}
        """,
    )

    offered = []

    class Asked:
        def show(self, title, markdown):
            pass

        def ask_choice(self, prompt, options):
            offered.extend(options)
            return "escalated"

    with project.engine() as engine:
        chain = engine.run(project.root / "pick.runbook.yaml", Options(prompter=Asked()))
    assert chain.final_state == "escalated"
    assert offered == [
        ("resolved", "resolved: Fixed with ***."),  # the secret never reaches the screen
        ("escalated", "escalated: Call the owner."),
        ("no_action", "no_action"),
    ]
