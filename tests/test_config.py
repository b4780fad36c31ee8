"""gert.yaml is read one way by every command: a misspelt key or an unknown value stops
``exec``, ``runs list`` and the rest before anything runs, as ``gert validate`` reports it."""

from __future__ import annotations

import json

import pytest

from gert.config import ConfigInvalid, load_config
from gert.project import open_project
from helpers import gert

RUNBOOK = """
apiVersion: runbook/v0
meta: {name: leak, kind: composable}
steps:
  - {id: s, type: cli, with: {argv: [echo, "sessid=SECRET42"]}}
"""

MISSPELT = """
record: off
redactions:
  - {pattern: 'sessid=\\w+', replace: 'sessid=***'}
"""


@pytest.mark.parametrize(
    "args",
    [
        ("exec", "leak.runbook.yaml"),
        ("exec", "leak.runbook.yaml", "--json"),
        ("exec", "leak.runbook.yaml", "--mode", "dry-run"),
        ("runs", "list"),
        ("incident", "list"),
        ("test",),
        ("validate", "leak.runbook.yaml"),
        ("validate", "."),
    ],
)
def test_a_misspelt_key_stops_every_command(project, args):
    project.write("leak.runbook.yaml", RUNBOOK)
    project.config(MISSPELT)
    r = gert(*args, cwd=project.root)
    assert r.returncode == 2, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert "gert.yaml:2:1: error: redactions: unknown field 'redactions'" in out
    assert "hint: did you mean 'redact'?" in out
    assert "Traceback" not in out
    assert not (project.root / ".runbook" / "runs").exists()  # nothing ran, nothing written


def test_the_secret_stays_out_once_the_key_is_right(project):
    project.write("leak.runbook.yaml", RUNBOOK)
    project.config(MISSPELT.replace("redactions:", "redact:"))
    r = gert("exec", "leak.runbook.yaml", cwd=project.root)
    assert r.returncode == 0, r.stderr
    assert "SECRET42" not in project.files_text()
    assert "sessid=***" in project.files_text()


def test_unknown_incident_provider_names_the_known_ones(project):
    project.config("record: off\nincident: {provider: locl}\n")
    r = gert("validate", "gert.yaml", cwd=project.root)
    assert r.returncode == 2
    assert r.stdout.startswith(
        "gert.yaml:2:22: error: incident.provider: must be one of 'local', 'webhook', "
        "'pagerduty', 'jira', 'github', 'servicenow' or 'mcp'; got 'locl'\n"
        "    hint: did you mean 'local'?"
    ), r.stdout
    project.write("leak.runbook.yaml", RUNBOOK)
    r = gert("exec", "leak.runbook.yaml", cwd=project.root)
    assert r.returncode == 2 and "got 'locl'" in r.stderr


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("incident: {provider: webhook, webhok: {url: x}}\n", "1:31", "unknown field 'webhok'"),
        ("incident: {post: never}\n", "1:18", "must be one of 'auto' or 'off'; got 'never'"),
        ("record: of\n", "1:9", "must be one of 'auto' or 'off'; got 'of'"),
        (
            "store: filez\n",
            "1:8",
            "store is `files`, or {backend: postgresql, url_env: GERT_DATABASE_URL} with the URL in that environment variable, not 'filez'",
        ),
        ("governance: {denied_command: [rm]}\n", "1:14", "unknown field 'denied_command'"),
        ("redact: [{pattern: '('}]\n", "1:20", "invalid regular expression"),
        ("governance: {redact: [{pattern: '[a'}]}\n", "1:33", "invalid regular expression"),
        ("- a\n- b\n", "1:1", "gert.yaml must be a mapping of settings, not a list"),
        ("record: [off\n", "2:1", "invalid YAML"),
    ],
)
def test_every_mistake_is_refused_with_its_place(project, text, where, message):
    project.config(text)
    _, problems = load_config(project.root / "gert.yaml")
    assert [f"{p.line}:{p.col}" for p in problems] == [where], problems
    assert message in problems[0].message
    with pytest.raises(ConfigInvalid) as e:
        open_project(project.root)
    assert f"gert.yaml:{where}: error:" in str(e.value)
    r = gert("runs", "list", cwd=project.root)
    assert r.returncode == 2 and f"gert.yaml:{where}: error:" in r.stderr


def test_provider_settings_still_reach_the_provider(project):
    project.config("incident: {provider: webhook, webhook: {url: 'http://127.0.0.1:9/x'}}\n")
    config = open_project(project.root).config
    assert config.incident.provider == "webhook"
    assert config.incident.webhook == {"url": "http://127.0.0.1:9/x"}


def test_validating_a_runbook_reports_its_projects_gert_yaml(project):
    project.write("leak.runbook.yaml", RUNBOOK)
    project.config(MISSPELT)
    r = gert("validate", "--json", "leak.runbook.yaml", cwd=project.root)
    data = json.loads(r.stdout)
    assert r.returncode == 2 and not data["valid"]
    assert data["files"] == ["leak.runbook.yaml", str(project.root / "gert.yaml")]
    assert [(e["line"], e["field"]) for e in data["errors"]] == [(2, "redactions")]


def test_a_project_without_gert_yaml_needs_none(tmp_path):
    (tmp_path / "leak.runbook.yaml").write_text(RUNBOOK)
    r = gert("exec", "leak.runbook.yaml", "--no-record", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
