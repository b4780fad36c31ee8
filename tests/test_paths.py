"""Paths stay in the project: imports, invoke, tool files, incident IDs and resume are
confined as next_runbook is."""

from __future__ import annotations

import json

from helpers import gert


def _outside(tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "gert.yaml").write_text("record: off\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.runbook.yaml").write_text(
        "apiVersion: runbook/v0\nmeta: {name: evil, kind: composable}\n"
        "steps:\n  - {id: w, type: cli, with: {argv: [touch, outside-ran.txt]}}\n"
    )
    (outside / "evil.tool.yaml").write_text(
        "apiVersion: tool/v0\nmeta: {name: evil}\ntransport: {mode: stdio}\n"
        "actions:\n  run: {argv: [touch, outside-tool-ran.txt]}\n"
    )
    return project, outside


def test_imports_and_tools_outside_the_project_are_refused(tmp_path):
    project, _ = _outside(tmp_path)
    (project / "r.runbook.yaml").write_text(
        "apiVersion: runbook/v0\nmeta: {name: r, kind: composable}\n"
        "imports: {evil: ../outside/evil.runbook.yaml}\n"
        "tools: {evil: ../outside/evil.tool.yaml}\n"
        "steps:\n"
        "  - {id: a, type: invoke, invoke: {runbook: evil}}\n"
        "  - {id: b, type: tool, tool: {name: evil, action: run}}\n"
    )
    ran = gert("validate", "r.runbook.yaml", cwd=project)
    assert ran.returncode == 2
    assert "import '../outside/evil.runbook.yaml' is outside the project" in ran.stdout
    assert "tool file '../outside/evil.tool.yaml' is outside the project" in ran.stdout
    ran = gert("exec", "r.runbook.yaml", cwd=project)
    assert ran.returncode == 2
    assert not list(tmp_path.rglob("outside-ran.txt"))
    assert not list(tmp_path.rglob("outside-tool-ran.txt"))


def test_invoke_of_a_runbook_outside_the_project_is_refused_at_run_time(project, tmp_path):
    from gert.engine import Options

    outside = tmp_path.parent / f"{tmp_path.name}-outside.runbook.yaml"
    outside.write_text(
        "apiVersion: runbook/v0\nmeta: {name: o, kind: composable}\n"
        "steps:\n  - {id: w, type: cli, with: {argv: [touch, outside-ran.txt]}}\n"
    )
    try:
        project.write(
            "r.runbook.yaml",
            f"""
            apiVersion: runbook/v0
            meta: {{name: r, kind: composable}}
            steps:
              - {{id: a, type: invoke, invoke: {{runbook: "../{outside.name}"}}}}
            """,
        )
        ran = gert("validate", "r.runbook.yaml", cwd=project.root)
        assert ran.returncode == 2 and "is outside the project" in ran.stdout
        # The engine checks again when it runs (a runbook changed after validation).
        from gert.validate import Validator

        with project.engine() as engine:
            engine.load = lambda p: Validator(engine.project).check(p)
            chain = engine.run(project.root / "r.runbook.yaml", Options())
        run = chain.runs[0]
        assert run.status == "failed"
        assert "outside the project" in run.steps[0].error
        assert not (project.root / "outside-ran.txt").exists()
    finally:
        outside.unlink()


def test_incident_ids_cannot_name_files_elsewhere(tmp_path):
    secret = tmp_path / "evil.json"
    secret.write_text(json.dumps({"title": "not an incident of this project", "timeline": []}))
    project = tmp_path / "proj"
    (project / ".runbook" / "incidents").mkdir(parents=True)
    (project / "gert.yaml").write_text("record: off\n")
    ran = gert("incident", "show", "../../../evil", cwd=project)
    assert ran.returncode != 0
    assert "not a valid incident ID" in ran.stderr
    assert "not an incident of this project" not in ran.stdout


def test_resume_refuses_a_runbook_outside_the_project(project):
    project.write(
        "ok.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: ok}
        steps:
          - {id: a, type: cli, with: {argv: [echo, hi]}, outcomes: [{state: resolved}]}
        """,
    )
    ran = gert("exec", "ok.runbook.yaml", "--json", cwd=project.root)
    run = json.loads(ran.stdout)["runs"][0]
    manifest = project.root / run["folder"] / "run.yaml"
    text = manifest.read_text().replace(
        "runbook: ok.runbook.yaml", "runbook: ../elsewhere.runbook.yaml"
    )
    manifest.write_text(text.replace("status: completed", "status: running"))
    ran = gert("resume", run["run_id"], cwd=project.root)
    assert ran.returncode == 2
    assert "outside the project" in ran.stderr
