"""The incident link: inputs from the incident, one summary posted to its timeline."""

from __future__ import annotations

import json

import pytest

from gert.incident import IncidentError
from gert.incident.local import LocalProvider
from gert.store import RunFolder, verify_trace
from gert.store.trace import read_events
from helpers import FakeCli, gert, output, record_waits


def provider(project) -> LocalProvider:  # type: ignore[no-untyped-def]
    return LocalProvider(project.root / ".runbook" / "incidents")


@pytest.fixture
def incident(project):
    provider(project).create(
        "747870160",
        "Login rate low. LoginFailureCause: Throttled",
        severity=2,
        custom_fields={"ServerName": "sql01"},
        location={"instance": "eu1"},
    )
    project.config("record: 'off'\n")
    return project


ONE = """
    apiVersion: runbook/v0
    meta:
      name: triage
      inputs:
        server: {from: incident.custom_fields.ServerName}
        cause: {from: incident.title, pattern: 'LoginFailureCause:\\s*(\\w+)'}
        token: {from: env.GERT_T_TOKEN, default: none, secret: true}
    steps:
      - id: count
        type: cli
        with: {argv: [sh, -c, 'echo "failures=1 token={{ .token }}"']}
        capture: {failure_count: {from: stdout, pattern: 'failures=(\\d+)'}, raw: stdout}
        outcomes:
          - {state: needs_rca, recommendation: "Route to {{ .cause }} TSG for {{ .server }}"}
"""


def gert_entries(project, incident_id="747870160"):  # type: ignore[no-untyped-def]
    return [e for e in provider(project).timeline(incident_id) if e["kind"] == "gert"]


def _seal(run) -> str:  # type: ignore[no-untyped-def]
    """The chain hash the run's run_completed sealed: the post witnesses it."""
    ends = [e for e in read_events(run.folder / "trace.jsonl") if e["type"] == "run_completed"]
    return ends[-1]["data"]["chain_hash"]


def test_single_run_summary_in_seed_000_format(incident, monkeypatch):
    monkeypatch.setenv("GERT_T_TOKEN", "s3cret-t0ken")
    incident.write("triage.runbook.yaml", ONE)
    chain = incident.run("triage.runbook.yaml", incident_id="747870160")
    run = chain.runs[0]
    [entry] = gert_entries(incident)
    assert entry["text"] == (
        "[gert] Runbook execution completed\n"
        "Runbook: triage\n"
        f"Run ID: {run.run_id}\n"
        "Outcome: needs_rca\n"
        "Steps: 1 passed, 0 failed\n"
        "Captures: failure_count=1, raw=failures=1 token=***\n"
        "Recommendation: Route to Throttled TSG for sql01\n"
        f"Evidence: {run.run_id} sha256:{_seal(run)}\n"
    )
    assert "s3cret-t0ken" not in json.dumps(provider(incident).get("747870160"))
    m = RunFolder(run.folder).read_manifest()
    assert m["posted"]["provider"] == "local" and m["posted"]["entry_id"] == entry["id"]
    assert read_events(run.folder / "trace.jsonl")[-1]["type"] == "incident_posted"
    assert verify_trace(run.folder / "trace.jsonl", manifest=m).ok
    sources = next(
        e for e in read_events(run.folder / "trace.jsonl") if e["type"] == "inputs_resolved"
    )["data"]["sources"]
    assert sources == {
        "server": "incident.custom_fields.ServerName",
        "cause": "incident.title",
        "token": "env.GERT_T_TOKEN",
    }


def test_chain_summary_and_exactly_once(incident):
    incident.write(
        "triage.runbook.yaml",
        ONE.replace(
            'recommendation: "Route to {{ .cause }} TSG for {{ .server }}"}',
            'recommendation: "Route", next_runbook: {file: "causes/{{ .cause }}"}}',
        ),
    )
    incident.write(
        "causes/Throttled.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: Throttled, inputs: {server: {from: parent}}}
        steps:
          - {id: a, type: cli, with: {argv: [echo]}}
          - {id: b, type: cli, with: {argv: [echo]}, outcomes: [{state: resolved, recommendation: "Load shed on {{ .server }}"}]}
        """,
    )
    chain = incident.run("triage.runbook.yaml", incident_id="747870160")
    root, child = chain.runs
    [entry] = gert_entries(incident)
    assert entry["text"] == (
        "[gert] Runbook chain completed for incident 747870160\n\n"
        f"1. triage ({root.run_id[:15]})\n   → 1 step passed\n   → Outcome: needs_rca → chained to Throttled\n\n"
        f"2. Throttled ({child.run_id[:15]})\n   → 2 steps passed\n   → Outcome: resolved\n"
        "   → Recommendation: Load shed on sql01\n\n"
        "Total: 3 steps, 2 runbooks, final state: resolved\n"
        f"Evidence: {root.run_id} sha256:{_seal(root)}\n"
        f"Evidence: {child.run_id} sha256:{_seal(child)}\n"
    )
    for r in chain.runs:
        assert RunFolder(r.folder).read_manifest()["posted"]["entry_id"] == entry["id"]
    r = gert("incident", "post", root.run_id, cwd=incident.root)
    assert r.returncode == 0 and f"not posted: already posted (entry {entry['id']})" in r.stdout
    assert len(gert_entries(incident)) == 1


class Flaky:
    """A provider that fails a set number of times."""

    name = "flaky"

    def __init__(self, failures: int, final: bool = False):
        self.failures, self.final, self.calls = failures, final, 0

    def post(self, incident_id, entry):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls <= self.failures:
            raise IncidentError("503 Service Unavailable", final=self.final)
        return {"id": f"entry-{self.calls}"}

    def get(self, incident_id):  # type: ignore[no-untyped-def]
        return {
            "id": incident_id,
            "title": "LoginFailureCause: Throttled",
            "custom_fields": {"ServerName": "s"},
        }


def counted() -> FakeCli:
    """ONE's command, answering as it would without a process (posting needs no process)."""
    return FakeCli().on("count", output("failures=1 token=none\n"))


def _engine(project, prov):  # type: ignore[no-untyped-def]
    return project.engine(provider=prov, executors={"cli": counted()})


def test_posting_is_retried_then_recorded_without_changing_the_exit_code(incident, monkeypatch):
    from gert.engine import Options
    from gert.incident import posting

    waits = record_waits(monkeypatch, posting)  # the back-off between attempts, not waited
    incident.write("triage.runbook.yaml", ONE)
    flaky = Flaky(failures=2)
    chain = _engine(incident, flaky).run(
        incident.root / "triage.runbook.yaml", Options(incident_id="747870160")
    )
    assert (
        flaky.calls == 3 and chain.posted["entry_id"] == "entry-3" and chain.posted["attempts"] == 3
    )
    assert len(waits) == 2 and 0 < waits[0] < waits[1]  # a wait before each retry, growing
    down = Flaky(failures=99)
    chain = _engine(incident, down).run(
        incident.root / "triage.runbook.yaml", Options(incident_id="747870160")
    )
    assert down.calls == 3 and chain.exit_code == 0
    m = RunFolder(chain.runs[0].folder).read_manifest()
    assert (
        m["posted"]["error"] == "503 Service Unavailable" and m["outcome"]["state"] == "needs_rca"
    )
    assert verify_trace(chain.runs[0].folder / "trace.jsonl", manifest=m).ok
    refused = Flaky(failures=99, final=True)  # 401-like: trying again cannot help
    _engine(incident, refused).run(
        incident.root / "triage.runbook.yaml", Options(incident_id="747870160")
    )
    assert refused.calls == 1
    # the failed chain can be posted later, once
    r = gert("incident", "post", chain.runs[0].run_id, cwd=incident.root)
    assert r.returncode == 0 and "posted as entry" in r.stdout


def test_no_post_and_post_off(incident):
    incident.write("triage.runbook.yaml", ONE)
    cli = {"cli": counted()}
    chain = incident.run("triage.runbook.yaml", executors=cli, incident_id="747870160", post=False)
    assert chain.final.state == "needs_rca" and gert_entries(incident) == []
    incident.config("record: 'off'\nincident: {provider: local, post: 'off'}\n")
    chain = incident.run("triage.runbook.yaml", executors=cli, incident_id="747870160")
    assert chain.final.state == "needs_rca" and gert_entries(incident) == []


def test_failures_and_chain_errors_are_posted_too(incident):
    incident.write(
        "bad.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: bad, kind: composable, inputs: {server: {from: incident.custom_fields.ServerName}}}
        steps: [{id: s, type: cli, with: {argv: ["false"]}, assertions: [{exit_code: 0}]}]
        """,
    )
    chain = incident.run("bad.runbook.yaml", incident_id="747870160")
    assert chain.exit_code == 1
    text = gert_entries(incident)[-1]["text"]
    assert text.startswith("[gert] Runbook execution failed\n") and "Error: step 's' failed" in text
    incident.write(
        "chain.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: chain, vars: {c: Nowhere}}
        steps: [{id: s, type: cli, with: {argv: [echo]}, outcomes: [{state: needs_rca, next_runbook: {file: "{{ .c }}"}}]}]
        """,
    )
    chain = incident.run("chain.runbook.yaml", incident_id="747870160")
    assert chain.exit_code == 3
    assert "Chain error: next runbook 'Nowhere' not found" in gert_entries(incident)[-1]["text"]


def test_missing_fields_and_unmatched_titles_are_explained(incident):
    incident.write(
        "m.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta:
          name: m
          kind: composable
          inputs:
            db: {from: incident.custom_fields.DatabaseName}
            cause: {from: incident.title, pattern: 'Cause=(\\w+)'}
        steps: [{id: s, type: cli, with: {argv: [echo, "{{ .db }}{{ .cause }}"]}}]
        """,
    )
    r = gert("exec", "m.runbook.yaml", "--incident", "747870160", cwd=incident.root)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert (
        "db: from incident.custom_fields.DatabaseName (the incident has no such field)" in r.stderr
    )
    assert "cause: incident.title did not match pattern 'Cause=(\\\\w+)'" in r.stderr


def test_local_provider_through_the_cli(project):
    assert (
        gert(
            "incident",
            "create",
            "42",
            "--title",
            "Disk full",
            "--severity",
            "3",
            "--field",
            "Host=h1",
            cwd=project.root,
        ).returncode
        == 0
    )
    assert (
        "already exists"
        in gert("incident", "create", "42", "--title", "x", cwd=project.root).stderr
    )
    assert (
        gert("incident", "note", "42", "freed 10 GB", "--as", "ana", cwd=project.root).returncode
        == 0
    )
    assert gert("incident", "resolve", "42", cwd=project.root).returncode == 0
    assert "already resolved" in gert("incident", "resolve", "42", cwd=project.root).stderr
    listing = gert("incident", "list", cwd=project.root).stdout
    assert listing.startswith("42") and "resolved" in listing and "Disk full" in listing
    show = gert("incident", "show", "42", cwd=project.root).stdout
    assert "Incident 42: Disk full (sev 3, resolved)" in show
    assert "note    freed 10 GB (ana)" in show and "status  status: active -> resolved" in show
    assert "no incident 43" in gert("incident", "note", "43", "x", cwd=project.root).stderr
