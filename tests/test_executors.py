"""http, jsonrpc and mcp executors against real peers on this machine."""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SERVERS = Path(__file__).parent / "servers"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        if self.path.startswith("/health"):
            self._send(200, {"status": "ok", "nodes": ["a", "b"]}, {"ETag": "v42"})
        elif self.path == "/error":
            self._send(503, {"status": "down"})
        elif self.path == "/garbage":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html>definitely not json")
        elif self.path == "/slow":
            time.sleep(3)
            self._send(200, {})
        elif self.path in ("/slowdrip", "/forever", "/big"):
            self.send_response(200)
            self.end_headers()  # HTTP/1.0: the body ends when the connection closes
            try:
                if self.path == "/big":  # 17 MiB (past the 16 MiB kept), sent at once
                    self.wfile.write(b"x" * (17 * 1024 * 1024))
                    return
                started = time.monotonic()
                while time.monotonic() - started < 20:  # ends by itself, whatever the client
                    if self.path == "/slowdrip":  # a byte every 0.1 s: each read is quick
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(0.1)
                    else:  # an endless stream as fast as it goes
                        self.wfile.write(b"y" * 65536)
            except (BrokenPipeError, ConnectionResetError):
                pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self._send(201, {"echo": body, "auth": self.headers.get("Authorization")})

    def _send(self, code, payload, headers=None):
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def http_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(  # a short poll: shutting down waits for one
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    ).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_http_captures_status_headers_and_jsonpath(project, http_url):
    project.write(
        "h.runbook.yaml",
        f"""
        apiVersion: runbook/v0
        meta: {{name: h, kind: composable, inputs: {{token: {{from: prompt, default: abc123xyz, secret: true}}}}}}
        steps:
          - id: get
            type: http
            http: {{url: "{http_url}/health"}}
            capture: {{status: status_code, etag: header.ETag, health: $.status, nodes: "$.nodes[*]"}}
            assertions: [{{status_code: 200}}, {{json_path: {{path: $.status, equals: ok}}}}]
          - id: post
            type: http
            http: {{method: POST, url: "{http_url}/items", headers: {{Authorization: "Bearer {{{{ .token }}}}"}}, json: {{n: 1}}}}
            capture: {{code: status_code, echoed: $.echo.n}}
        """,
    )
    run = project.run("h.runbook.yaml").final
    assert run.status == "completed", run.error
    assert run.captures == {
        "status": "200",
        "etag": "v42",
        "health": "ok",
        "nodes": "a\nb",
        "code": "201",
        "echoed": "1",
    }
    assert "abc123xyz" not in project.files_text()


@pytest.mark.parametrize(
    ("path", "capture", "fragment"),
    [
        ("/error", "{code: status_code}", "assertion status_code failed: expected 200, got 503"),
        ("/garbage", "{h: $.status}", "the body is not JSON"),
        ("/slow", "{code: status_code}", "timed out after 0.3s"),
    ],
)
def test_http_faults_are_recorded_failures(project, http_url, path, capture, fragment):
    project.write(
        "h.runbook.yaml",
        f"""
        apiVersion: runbook/v0
        meta: {{name: h, kind: composable}}
        steps:
          - id: call
            type: http
            timeout: 300ms
            http: {{url: "{http_url}{path}"}}
            capture: {capture}
            assertions: [{{status_code: 200}}]
        """,
    )
    run = project.run("h.runbook.yaml").final
    assert run.status == "failed"
    assert fragment in run.steps[0].error
    assert (run.folder / "steps" / "001-call.json").is_file()


def test_http_connection_refused(project):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    project.write(
        "h.runbook.yaml",
        f"""
        apiVersion: runbook/v0
        meta: {{name: h, kind: composable}}
        steps: [{{id: call, type: http, http: {{url: "http://127.0.0.1:{port}/x"}}}}]
        """,
    )
    run = project.run("h.runbook.yaml").final
    assert run.status == "failed" and "HTTP request failed" in run.steps[0].error


def _jsonrpc_tool(project) -> None:  # type: ignore[no-untyped-def]
    project.write(
        "tools/rpc.tool.yaml",
        f"""
        apiVersion: tool/v0
        meta: {{name: rpc}}
        transport: {{mode: jsonrpc, command: ["{sys.executable}", "{SERVERS / "jsonrpc_tool.py"}"], timeout: 2s}}
        actions:
          status: {{method: host.status, params: {{host: "{{{{ .host }}}}"}}, args: {{host: {{type: string, required: true}}}}}}
          query: {{method: query, args: {{rows: {{type: integer, default: 2}}}}}}
          boom: {{method: boom}}
          crash: {{method: crash}}
          slow: {{method: slow, args: {{seconds: {{type: number, default: 5}}}}}}
        """,
    )


@pytest.mark.slow
def test_jsonrpc_tool_keeps_one_process_and_restarts_after_a_crash(project):
    _jsonrpc_tool(project)
    project.write(
        "r.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: r, kind: composable}
        tools: {rpc: tools/rpc.tool.yaml}
        steps:
          - {id: s1, type: tool, tool: {name: rpc, action: status, args: {host: db1}}, capture: {pid1: $.pid, state: $.state}}
          - {id: q, type: tool, tool: {name: rpc, action: query}, capture: {n: row_count, first: "$.data[0].node"}}
          - {id: s2, type: tool, tool: {name: rpc, action: status, args: {host: db1}}, capture: {pid2: $.pid}}
          - {id: err, type: tool, continue_on_fail: true, tool: {name: rpc, action: boom}}
          - {id: dies, type: tool, continue_on_fail: true, tool: {name: rpc, action: crash}}
          - {id: s3, type: tool, tool: {name: rpc, action: status, args: {host: db1}}, capture: {pid3: $.pid}}
          - {id: hang, type: tool, continue_on_fail: true, tool: {name: rpc, action: slow}}
        """,
    )
    run = project.run("r.runbook.yaml").final
    c = run.captures
    assert c["state"] == "up" and c["n"] == "2" and c["first"] == "n0"
    assert c["pid1"] == c["pid2"]  # one long-lived process
    assert c["pid3"] != c["pid1"]  # restarted after the crash
    errors = {s.step_id: s.error for s in run.steps if s.error}
    assert "JSON-RPC error -32000: the host is on fire" in errors["err"]
    assert "crashed during the call (exit code 3" in errors["dies"]
    assert "no answer within 2s" in errors["hang"]
    s3 = json.loads((run.folder / "steps" / "006-s3.json").read_text())
    assert s3["attempts"][0]["request"]["restarted"] is True


@pytest.mark.slow
def test_mcp_tool_through_the_official_sdk(project):
    project.write(
        "tools/inc.tool.yaml",
        f"""
        apiVersion: tool/v0
        meta: {{name: inc}}
        transport: {{mode: mcp, command: ["{sys.executable}", "{SERVERS / "mcp_server.py"}"], timeout: 30s}}
        actions:
          get: {{mcp_tool: get_incident, params: {{id: "{{{{ .id }}}}"}}, args: {{id: {{type: string, required: true}}}}}}
          count: {{mcp_tool: count_nodes, args: {{cluster: {{type: string, required: true}}}}}}
        """,
    )
    project.write(
        "m.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: m, kind: composable}
        tools: {inc: tools/inc.tool.yaml}
        steps:
          - {id: get, type: tool, tool: {name: inc, action: get, args: {id: "747870160"}}, capture: {title: $.title, sev: $.severity}}
          - {id: count, type: tool, tool: {name: inc, action: count, args: {cluster: c1}}, capture: {text: stdout}}
          - {id: missing, type: tool, tool: {name: inc, action: get, args: {id: missing}}}
        """,
    )
    run = project.run("m.runbook.yaml").final
    assert run.captures == {
        "title": "Incident 747870160. LoginFailureCause: Throttled",
        "sev": "2",
        "text": "cluster c1: 3 nodes",
    }
    assert run.status == "failed" and "no incident missing" in run.steps[-1].error


def test_mcp_server_that_cannot_start(project):
    project.write(
        "tools/bad.tool.yaml",
        """
        apiVersion: tool/v0
        meta: {name: bad}
        transport: {mode: mcp, command: [no-such-mcp-server-binary], timeout: 10s}
        actions: {get: {mcp_tool: x}}
        """,
    )
    project.write(
        "b.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: b, kind: composable}
        tools: {bad: tools/bad.tool.yaml}
        steps: [{id: call, type: tool, tool: {name: bad, action: get}}]
        """,
    )
    run = project.run("b.runbook.yaml").final
    assert run.status == "failed" and "MCP server error" in run.steps[0].error


def _http_step(project, url: str, timeout: str) -> object:
    project.write(
        "h.runbook.yaml",
        f"""
        apiVersion: runbook/v0
        meta: {{name: h, kind: composable}}
        steps:
          - id: call
            type: http
            timeout: {timeout}
            http: {{url: "{url}"}}
            capture: {{code: status_code}}
        """,
    )
    started = time.monotonic()
    run = project.run("h.runbook.yaml").final
    return run, time.monotonic() - started


@pytest.mark.slow
def test_http_deadline_covers_the_whole_request(project, http_url):
    # A server that sends a byte every 0.1 s answers every read in time; the step's
    # timeout still bounds the whole request.
    run, took = _http_step(project, f"{http_url}/slowdrip", "1s")
    assert run.status == "failed"
    assert "timed out after 1s" in run.steps[0].error
    assert took < 4


@pytest.mark.slow
def test_http_body_is_capped_and_the_rest_counted(project, http_url):
    from gert.executors import MAX_OUTPUT

    run, _ = _http_step(project, f"{http_url}/big", "20s")
    assert run.status == "completed", run.error
    record = json.loads((run.folder / "steps" / "001-call.json").read_text())
    attempt = record["attempts"][0]
    assert len(attempt["body"]) == MAX_OUTPUT
    assert attempt["truncated"] == {"body": 17 * 1024 * 1024 - MAX_OUTPUT}


@pytest.mark.slow
def test_an_endless_http_stream_ends_at_the_deadline(project, http_url):
    run, took = _http_step(project, f"{http_url}/forever", "1s")
    assert run.status == "failed"
    assert "timed out after 1s" in run.steps[0].error
    assert took < 4
    record = json.loads((run.folder / "steps" / "001-call.json").read_text())
    from gert.executors import MAX_OUTPUT

    assert len(record["attempts"][0]["body"]) <= MAX_OUTPUT
    assert record["attempts"][0]["truncated"]["body"] > 0


def test_an_mcp_tool_keeps_one_server_for_the_run(project, tmp_path):
    """The server starts once per tool per run, not once per call, and stops with the run."""
    import time

    log = tmp_path / "starts.log"
    wrapper = tmp_path / "counting_server.py"
    wrapper.write_text(
        "import os, runpy, sys\n"
        f"open({str(log)!r}, 'a').write(str(os.getpid()) + '\\n')\n"
        f"sys.argv = [{str(SERVERS / 'mcp_server.py')!r}]\n"
        f"runpy.run_path({str(SERVERS / 'mcp_server.py')!r}, run_name='__main__')\n"
    )
    project.write(
        "tools/inc.tool.yaml",
        f"""
        apiVersion: tool/v0
        meta: {{name: inc}}
        transport: {{mode: mcp, command: ["{sys.executable}", "{wrapper}"], timeout: 30s}}
        actions:
          count: {{mcp_tool: count_nodes, args: {{cluster: {{type: string, required: true}}}}}}
        """,
    )
    steps = "\n".join(
        f"          - {{id: c{i}, type: tool, tool: {{name: inc, action: count, args: {{cluster: c{i}}}}}, capture: {{t{i}: stdout}}}}"
        for i in range(5)
    )
    project.write(
        "m.runbook.yaml",
        f"""
        apiVersion: runbook/v0
        meta: {{name: m, kind: composable}}
        tools: {{inc: tools/inc.tool.yaml}}
        steps:
{steps}
        """,
    )
    started = time.monotonic()
    run = project.run("m.runbook.yaml").final
    assert run.status == "completed", run.steps
    assert run.captures["t4"] == "cluster c4: 3 nodes"
    pids = log.read_text().split()
    assert len(pids) == 1, pids  # one server for five calls
    from helpers import alive, wait_for

    wait_for(lambda: not alive(int(pids[0])), timeout=5, what="the MCP server to stop with the run")
    assert time.monotonic() - started < 30


@pytest.mark.slow
def test_a_third_party_mcp_server_answers_every_call_of_the_run(project):
    """mcp-server-time (from PyPI, built on the official SDK): one server for the run, each
    call answered through it."""
    import shutil

    server = shutil.which("mcp-server-time", path=str(Path(sys.executable).parent))
    assert server, "mcp-server-time is installed by the test extra"
    project.write(
        "tools/clock.tool.yaml",
        f"""
        apiVersion: tool/v0
        meta: {{name: clock}}
        transport: {{mode: mcp, command: ["{server}", "--local-timezone", "UTC"], timeout: 30s}}
        actions:
          now: {{mcp_tool: get_current_time, args: {{timezone: {{type: string, required: true}}}}}}
        """,
    )
    project.write(
        "m.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta: {name: m, kind: composable}
        tools: {clock: tools/clock.tool.yaml}
        steps:
          - {id: utc, type: tool, tool: {name: clock, action: now, args: {timezone: UTC}}, capture: {tz: $.timezone}}
          - {id: tokyo, type: tool, tool: {name: clock, action: now, args: {timezone: Asia/Tokyo}}, capture: {tz2: $.timezone, dst: $.is_dst}}
          - {id: nowhere, type: tool, tool: {name: clock, action: now, args: {timezone: Mars/Olympus}}}
        """,
    )
    run = project.run("m.runbook.yaml").final
    assert run.captures["tz"] == "UTC"
    assert run.captures["tz2"] == "Asia/Tokyo" and run.captures["dst"] == "false"
    assert run.status == "failed" and "Mars/Olympus" in (run.steps[-1].error or "")
