"""HTTP incident providers against a real server on 127.0.0.1 speaking each vendor's shape."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gert.incident import IncidentError
from gert.incident.http import (
    GitHubProvider,
    JiraProvider,
    PagerDutyProvider,
    ServiceNowProvider,
    WebhookProvider,
)
from gert.incident.posting import send
from helpers import gert, record_waits


class Vendor:
    """A scripted HTTP server: routes answer in order (the last answer repeats); every
    request is recorded with its time, headers and body."""

    def __init__(self):
        self.routes: dict[tuple[str, str], list[tuple[int, object, dict]]] = {}
        self.requests: list[dict] = []
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def handle_one(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                vendor.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                        "t": time.monotonic(),
                    }
                )
                answers = vendor.routes.get((self.command, self.path)) or [
                    (404, {"error": "no route"}, {})
                ]
                status, payload, headers = answers.pop(0) if len(answers) > 1 else answers[0]
                if "X-Sleep" in headers:  # a slow service
                    time.sleep(float(headers["X-Sleep"]))
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = handle_one

        class Quiet(ThreadingHTTPServer):
            def handle_error(self, request, client_address):  # a client that timed out and left
                pass

        self.server = Quiet(("127.0.0.1", 0), Handler)
        threading.Thread(  # a short poll: shutting down waits for one
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def route(self, method: str, path: str, *answers: tuple) -> None:
        self.routes[(method, path)] = [(a[0], a[1], a[2] if len(a) > 2 else {}) for a in answers]


@pytest.fixture
def vendor():
    v = Vendor()
    yield v
    v.server.shutdown()


ENTRY = {
    "text": "[gert] Runbook execution completed\nOutcome: resolved\n",
    "markdown": "**[gert]** done",
    "run_id": "20260214T095753-e0943cea",
    "final_state": "resolved",
    "runs": ["20260214T095753-e0943cea"],
}


def test_webhook_signs_the_body(vendor, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "s3cr3t")
    vendor.route("POST", "/hook", (200, {"id": "evt-1"}))
    p = WebhookProvider({"url": f"{vendor.url}/hook", "secret_env": "HOOK_SECRET"})
    assert p.post("747870160", ENTRY) == {"id": "evt-1"}
    req = vendor.requests[0]
    want = "sha256=" + hmac.new(b"s3cr3t", req["body"], hashlib.sha256).hexdigest()
    assert req["headers"]["X-Gert-Signature"] == want
    assert json.loads(req["body"])["incident_id"] == "747870160"
    with pytest.raises(IncidentError, match="cannot fetch incidents"):
        p.get("747870160")


def test_pagerduty_incident_and_note(vendor, monkeypatch):
    monkeypatch.setenv("PD_TOKEN", "pd-tok")
    vendor.route(
        "GET",
        "/incidents/PXYZ",
        (
            200,
            {
                "incident": {
                    "id": "PXYZ",
                    "title": "Login rate low",
                    "urgency": "high",
                    "status": "triggered",
                    "created_at": "2026-02-14T09:50:00Z",
                    "service": {"summary": "auth"},
                    "custom_fields": [{"name": "ServerName", "value": "sql01"}],
                }
            },
        ),
    )
    vendor.route("POST", "/incidents/PXYZ/notes", (201, {"note": {"id": "N1", "content": "x"}}))
    p = PagerDutyProvider(
        {"base_url": vendor.url, "token_env": "PD_TOKEN", "from_email": "oncall@example.com"}
    )
    inc = p.get("PXYZ")
    assert inc["title"] == "Login rate low" and inc["custom_fields"] == {"ServerName": "sql01"}
    assert inc["location"] == {"service": "auth"} and inc["severity"] == "high"
    assert p.post("PXYZ", ENTRY) == {"id": "N1"}
    get, post = vendor.requests
    assert get["headers"]["Authorization"] == "Token token=pd-tok"
    assert get["headers"]["Accept"] == "application/vnd.pagerduty+json;version=2"
    assert post["headers"]["From"] == "oncall@example.com"
    assert json.loads(post["body"]) == {"note": {"content": ENTRY["text"]}}


def test_jira_issue_and_comment(vendor, monkeypatch):
    monkeypatch.setenv("JIRA_USER", "bot@example.com")
    monkeypatch.setenv("JIRA_TOKEN", "jt")
    vendor.route(
        "GET",
        "/rest/api/2/issue/OPS-7",
        (
            200,
            {
                "key": "OPS-7",
                "fields": {
                    "summary": "DB down",
                    "priority": {"name": "P1"},
                    "status": {"name": "Open"},
                    "created": "2026-02-14",
                    "customfield_10010": "sql01",
                    "customfield_10011": None,
                },
            },
        ),
    )
    vendor.route("POST", "/rest/api/2/issue/OPS-7/comment", (201, {"id": "10001"}))
    p = JiraProvider({"base_url": vendor.url, "user_env": "JIRA_USER", "token_env": "JIRA_TOKEN"})
    inc = p.get("OPS-7")
    assert inc["custom_fields"] == {"customfield_10010": "sql01"} and inc["severity"] == "P1"
    assert p.post("OPS-7", ENTRY) == {"id": "10001"}
    auth = vendor.requests[1]["headers"]["Authorization"]
    assert auth == "Basic " + base64.b64encode(b"bot@example.com:jt").decode()
    assert json.loads(vendor.requests[1]["body"]) == {"body": ENTRY["text"]}


def test_github_issue_and_markdown_comment(vendor, monkeypatch):
    monkeypatch.setenv("GH_TOKEN", "ghp_x")
    vendor.route(
        "GET",
        "/repos/acme/ops/issues/12",
        (
            200,
            {
                "number": 12,
                "title": "Latency",
                "state": "open",
                "created_at": "2026-02-14T09:00:00Z",
                "labels": [{"name": "ServerName:sql01"}, {"name": "sev1"}],
            },
        ),
    )
    vendor.route("POST", "/repos/acme/ops/issues/12/comments", (201, {"id": 555, "body": "x"}))
    p = GitHubProvider({"base_url": vendor.url, "repo": "acme/ops", "token_env": "GH_TOKEN"})
    assert p.get("12")["custom_fields"] == {"ServerName": "sql01"}
    assert p.post("12", ENTRY) == {"id": "555"}
    post = vendor.requests[1]
    assert post["headers"]["Authorization"] == "Bearer ghp_x"
    assert post["headers"]["Accept"] == "application/vnd.github+json"
    assert post["headers"]["X-GitHub-Api-Version"] == "2022-11-28"
    assert json.loads(post["body"]) == {"body": ENTRY["markdown"]}  # GitHub renders Markdown


def test_servicenow_work_note(vendor, monkeypatch):
    monkeypatch.setenv("SN_USER", "admin")
    monkeypatch.setenv("SN_PASSWORD", "pw")
    vendor.route(
        "GET",
        "/api/now/table/incident?sysparm_query=number%3DINC0010001&sysparm_limit=1",
        (
            200,
            {
                "result": [
                    {
                        "sys_id": "abc123",
                        "number": "INC0010001",
                        "short_description": "Disk",
                        "priority": "2",
                        "state": "2",
                        "u_host": "h1",
                    }
                ]
            },
        ),
    )
    vendor.route(
        "PATCH",
        "/api/now/table/incident/abc123",
        (200, {"result": {"sys_updated_on": "2026-02-14 10:00:00"}}),
    )
    p = ServiceNowProvider(
        {"base_url": vendor.url, "user_env": "SN_USER", "password_env": "SN_PASSWORD"}
    )
    assert p.get("INC0010001")["custom_fields"] == {"u_host": "h1"}
    assert p.post("INC0010001", ENTRY) == {"id": "abc123@2026-02-14 10:00:00"}
    patch = vendor.requests[-1]
    assert patch["method"] == "PATCH" and json.loads(patch["body"]) == {"work_notes": ENTRY["text"]}


@pytest.mark.slow
def test_429_retry_after_is_honoured_then_posted_once(vendor, monkeypatch):
    monkeypatch.setenv("GH_TOKEN", "t")
    vendor.route(
        "POST",
        "/repos/a/b/issues/1/comments",
        (429, {"message": "slow down"}, {"Retry-After": "1"}),
        (201, {"id": 9}),
    )
    p = GitHubProvider({"base_url": vendor.url, "repo": "a/b", "token_env": "GH_TOKEN"})
    result = send(p, "1", ENTRY, retries=3, delay=0.01)
    assert result.posted and result.entry_id == "9" and result.attempts == 2
    first, second = vendor.requests
    assert second["t"] - first["t"] >= 0.95  # waited as the server asked


def test_500s_are_retried_and_401_is_final(vendor, monkeypatch):
    monkeypatch.setenv("PD_TOKEN", "bad")
    vendor.route(
        "POST",
        "/incidents/P1/notes",
        (500, {"error": "boom"}),
        (502, b"<html>bad gateway"),
        (201, {"note": {"id": "N9"}}),
    )
    p = PagerDutyProvider({"base_url": vendor.url, "token_env": "PD_TOKEN", "from_email": "a@b.c"})
    result = send(p, "P1", ENTRY, retries=3, delay=0.01)
    assert result.posted and result.attempts == 3
    vendor.route("POST", "/incidents/P2/notes", (401, {"error": {"message": "Unauthorized"}}))
    result = send(p, "P2", ENTRY, retries=3, delay=0.01)
    assert not result.posted and result.attempts == 1 and "credentials were refused" in result.error


def test_answers_that_break_the_api_promise(vendor, monkeypatch):
    monkeypatch.setenv("PD_TOKEN", "t")
    p = PagerDutyProvider({"base_url": vendor.url, "token_env": "PD_TOKEN", "from_email": "a@b.c"})
    vendor.route("POST", "/incidents/P3/notes", (201, {"unexpected": True}))
    with pytest.raises(IncidentError, match="has no 'note'"):
        p.post("P3", ENTRY)
    vendor.route("GET", "/incidents/P4", (200, b"<html>not json</html>"))
    with pytest.raises(IncidentError, match="not JSON"):
        p.get("P4")
    with pytest.raises(IncidentError, match="not found"):
        p.get("NOPE")


def test_missing_secret_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("PD_TOKEN", raising=False)
    p = PagerDutyProvider({"base_url": "http://127.0.0.1:9", "token_env": "PD_TOKEN"})
    with pytest.raises(IncidentError, match="environment variable PD_TOKEN"):
        p.get("X")


def test_exec_binds_inputs_from_pagerduty_and_posts_there(vendor, project, monkeypatch):
    monkeypatch.setenv("PD_TOKEN", "pd-tok")
    project.config(
        f"record: 'off'\nincident:\n  provider: pagerduty\n  pagerduty: {{base_url: '{vendor.url}', "
        "token_env: PD_TOKEN, from_email: oncall@example.com}\n"
    )
    vendor.route(
        "GET",
        "/incidents/PABC",
        (
            200,
            {
                "incident": {
                    "id": "PABC",
                    "title": "Login low",
                    "custom_fields": [{"name": "ServerName", "value": "sql07"}],
                }
            },
        ),
    )
    vendor.route("POST", "/incidents/PABC/notes", (201, {"note": {"id": "NOTE-1"}}))
    project.write(
        "t.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: t, inputs: {server: {from: incident.custom_fields.ServerName}}}
        steps: [{id: s, type: cli, with: {argv: [echo, "{{ .server }}"]}, outcomes: [{state: resolved}]}]
        """,
    )
    r = gert("exec", "t.runbook.yaml", "--incident", "PABC", "--json", cwd=project.root)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["posted"]["entry_id"] == "NOTE-1" and out["posted"]["provider"] == "pagerduty"
    note = json.loads(vendor.requests[-1]["body"])["note"]["content"]
    assert note.startswith("[gert] Runbook execution completed\nRunbook: t\n")


@pytest.mark.slow
def test_mcp_provider_reaches_the_incident_through_tools(project, tmp_path, monkeypatch):
    import sys
    from pathlib import Path

    server = Path(__file__).parent / "servers" / "mcp_server.py"
    store = tmp_path / "discussion.json"
    monkeypatch.setenv("MCP_STORE", str(store))
    project.config(
        f"record: 'off'\nincident:\n  provider: mcp\n  mcp: {{command: ['{sys.executable}', '{server}'], "
        "get_tool: get_incident, post_tool: add_discussion_entry}\n"
    )
    project.write(
        "t.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: t, inputs: {server: {from: incident.custom_fields.ServerName}, cause: {from: incident.title, pattern: 'Cause:\\s*(\\w+)'}}}
        steps: [{id: s, type: cli, with: {argv: [echo, "{{ .server }} {{ .cause }}"]}, capture: {o: stdout}, outcomes: [{state: resolved}]}]
        """,
    )
    chain = project.run("t.runbook.yaml", incident_id="747870160")
    assert chain.runs[0].captures["o"] == "sql-mcp Throttled"
    assert chain.posted["provider"] == "mcp" and chain.posted["entry_id"] == "D1"
    [entry] = json.loads(store.read_text())
    assert entry["incident_id"] == "747870160" and entry["text"].startswith(
        "**[gert] Runbook execution completed**"
    )
    with pytest.raises(IncidentError, match="no incident missing"):
        from gert.incident.mcp import McpProvider

        McpProvider({"command": [sys.executable, str(server)]}).get("missing")


@pytest.mark.slow
def test_a_provider_that_is_down_or_slow(vendor, monkeypatch):
    import socket

    from gert.incident import http

    waits = record_waits(monkeypatch, http)  # the back-off between attempts, not waited
    monkeypatch.setenv("GH_TOKEN", "t")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    down = GitHubProvider(
        {"base_url": f"http://127.0.0.1:{closed}", "repo": "a/b", "token_env": "GH_TOKEN"}
    )
    result = send(down, "1", ENTRY, retries=2, delay=0.01)
    assert not result.posted and result.attempts == 2 and "failed" in result.error
    vendor.route("GET", "/repos/a/b/issues/2", (200, {"title": "slow"}, {"X-Sleep": "2"}))
    slow = GitHubProvider(
        {"base_url": vendor.url, "repo": "a/b", "token_env": "GH_TOKEN", "timeout": 0.2}
    )
    start = time.monotonic()
    with pytest.raises(IncidentError, match=r"timed out after 0\.2s"):
        slow.get("2")
    assert time.monotonic() - start < 5  # three attempts of 0.2 s, not three of 2 s
    assert len(waits) == 2  # three attempts: a wait before each retry


def test_incident_show_asks_a_remote_provider(vendor, project, monkeypatch):
    monkeypatch.setenv("GH_TOKEN", "t")
    project.config(
        f"incident:\n  provider: github\n  github: {{base_url: '{vendor.url}', repo: acme/ops, token_env: GH_TOKEN}}\n"
    )
    vendor.route(
        "GET",
        "/repos/acme/ops/issues/12",
        (200, {"title": "Latency", "state": "open", "labels": []}),
    )
    vendor.route(
        "GET",
        "/repos/acme/ops/issues/12/comments",
        (
            200,
            [{"created_at": "2026-02-14T10:00:00Z", "body": "[gert] Runbook execution completed"}],
        ),
    )
    r = gert("incident", "show", "12", cwd=project.root)
    assert r.returncode == 0, r.stderr
    assert "Incident 12: Latency (open)" in r.stdout
    assert "2026-02-14T10:00:00  comment [gert] Runbook execution completed" in r.stdout


def test_an_incident_is_fetched_only_when_an_input_needs_it(project, vendor):
    # A webhook provider can receive posts but not be asked for incidents.
    vendor.route("POST", "/hook", (200, {"id": "evt-1"}))
    url = vendor.url + "/hook"
    project.config(f"record: off\nincident: {{provider: webhook, webhook: {{url: '{url}'}}}}\n")
    project.write(
        "t.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: t}
        steps: [{id: s, type: cli, with: {argv: [echo, hi]}, outcomes: [{state: resolved}]}]
        """,
    )
    r = gert("exec", "t.runbook.yaml", "--incident", "W-1", "--json", cwd=project.root)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["posted"].get("provider") == "webhook"
    project.write(
        "needs.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: needs, kind: composable, inputs: {title: {from: incident.title}}}
        steps: [{id: s, type: cli, with: {argv: [echo, "{{ .title }}"]}}]
        """,
    )
    r = gert("exec", "needs.runbook.yaml", "--incident", "W-1", cwd=project.root)
    assert r.returncode == 2 and "cannot fetch incidents" in r.stderr
