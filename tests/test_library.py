"""The public Python API: lazy loading, engines that never change their inputs, errors that
carry the CLI's exit codes, stores and traces reachable by plain paths."""

from __future__ import annotations

import subprocess
import sys

import pytest

import gert
from gert.errors import EXIT_INVALID, InvalidError
from helpers import output


def test_import_gert_loads_nothing_heavy():
    code = (
        "import sys, gert; print(sorted(m for m in sys.modules if m.startswith('gert')));"
        "print(any(m in sys.modules for m in ('pydantic', 'rich', 'ruamel.yaml', 'httpx2')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["['gert', 'gert.version']", "False"]


def test_every_public_name_resolves():
    for name in gert.__all__:
        assert getattr(gert, name) is not None, name
    assert gert.Engine.__module__ == "gert.engine.chain"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        gert.nope  # noqa: B018


RUNBOOK = """
apiVersion: runbook/v0
meta:
  name: s
  inputs: {host: {default: db1}}
steps:
  - id: a
    type: cli
    with: {argv: [echo, "{{ .host }}"]}
    capture: {out: stdout}
    outcomes: [{state: resolved}]
"""


def test_the_engine_never_changes_the_options_it_is_given(project):
    from gert.engine import Options

    project.write("s.runbook.yaml", RUNBOOK)
    options = Options(variables={"host": "db2"})
    before = repr(options)
    with project.engine() as engine:
        chain = engine.run(project.root / "s.runbook.yaml", options)
    assert chain.runs[0].captures == {"out": "db2"}
    assert repr(options) == before


def test_executors_given_replace_only_their_kind(project, fake_cli):
    project.write("s.runbook.yaml", RUNBOOK)
    fake_cli.on("a", output("scripted\n"))
    with project.engine(executors={"cli": fake_cli}) as engine:
        assert type(engine.executors["http"]).__name__ == "HttpExecutor"  # still real
        from gert.engine import Options

        chain = engine.run(project.root / "s.runbook.yaml", Options())
    assert chain.runs[0].captures == {"out": "scripted"}
    with pytest.raises(InvalidError, match="no step kind shell"):
        project.engine(executors={"shell": fake_cli})


def test_bad_options_are_invalid_errors_not_value_errors(project):
    from gert.engine import Options

    project.write("s.runbook.yaml", RUNBOOK)
    with project.engine() as engine:
        with pytest.raises(InvalidError, match="mode must be one of"):
            engine.run(project.root / "s.runbook.yaml", Options(mode="sideways"))
        with pytest.raises(InvalidError, match="replay needs a scenario"):
            engine.run(project.root / "s.runbook.yaml", Options(mode="replay"))


def test_an_incident_that_cannot_be_had_is_invalid_input(project):
    from gert.engine import Options
    from gert.incident import IncidentError

    # Fetched only when an input comes from it: then a missing one stops the run.
    project.write(
        "s.runbook.yaml",
        RUNBOOK.replace("{host: {default: db1}}", "{host: {from: incident.title}}"),
    )
    with project.engine() as engine, pytest.raises(IncidentError) as caught:
        engine.run(project.root / "s.runbook.yaml", Options(incident_id="999"))
    assert caught.value.exit_code == EXIT_INVALID  # as gert exec exits


def test_replay_takes_a_scenario_folder_by_path(project):
    from gert.engine import Options

    project.config("record: auto\n")
    project.write("s.runbook.yaml", RUNBOOK)
    with project.engine() as engine:
        chain = engine.run(project.root / "s.runbook.yaml", Options(variables={"host": "db3"}))
    assert chain.scenario
    with project.engine() as engine:
        again = engine.run(
            project.root / "s.runbook.yaml",
            Options(mode="replay", scenario=str(project.root / chain.scenario)),
        )
    assert again.final_state == "resolved"
    assert again.runs[0].captures == {"out": "db3"}


def test_verify_trace_takes_a_plain_path(project):
    from gert.engine import Options
    from gert.store import verify_trace

    project.write("s.runbook.yaml", RUNBOOK)
    with project.engine() as engine:
        chain = engine.run(project.root / "s.runbook.yaml", Options())
    trace = str(chain.runs[0].folder / "trace.jsonl")
    assert verify_trace(trace).ok
