"""The exported schema works in a real editor back end: the YAML language server (npm
`yaml-language-server`, installed by scripts/setup.sh) validates runbooks against it.

A small LSP client speaks JSON-RPC over the server's stdio, opens documents that point at
schemas/runbook.schema.json with the `# yaml-language-server: $schema=` modeline, and
reads the diagnostics it publishes.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from pathlib import Path

import pytest

# The YAML language server runs in Node.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SERVER = (
    ROOT
    / ".venv"
    / "npm"
    / "node_modules"
    / "yaml-language-server"
    / "bin"
    / "yaml-language-server"
)


class LanguageServer:
    """A minimal LSP client over stdio."""

    def __init__(self) -> None:
        assert SERVER.exists(), "yaml-language-server missing: run scripts/setup.sh"
        self.proc = subprocess.Popen(
            ["node", str(SERVER), "--stdio"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.inbox: queue.Queue[dict] = queue.Queue()
        self.next_id = 1
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    return
                line = line.decode().strip()
                if not line:
                    break
                k, _, v = line.partition(":")
                headers[k.lower()] = v.strip()
            body = out.read(int(headers["content-length"]))
            self.inbox.put(json.loads(body))

    def send(self, message: dict) -> None:
        data = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(data) + data)
        self.proc.stdin.flush()

    def request(self, method: str, params: dict) -> dict:
        rid = self.next_id
        self.next_id += 1
        self.send({"id": rid, "method": method, "params": params})
        while True:
            msg = self.wait()
            if msg.get("id") == rid and "method" not in msg:
                return msg

    def wait(self, timeout: float = 30) -> dict:
        msg = self.inbox.get(timeout=timeout)
        if "method" in msg and "id" in msg:  # a request from the server: answer it
            result = None
            if msg["method"] == "workspace/configuration":
                result = [SETTINGS.get(i.get("section", "")) for i in msg["params"]["items"]]
            self.send({"id": msg["id"], "result": result})
        return msg

    def diagnostics(self, uri: str, text: str) -> list[dict]:
        self.send(
            {
                "method": "textDocument/didOpen",
                "params": {
                    "textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}
                },
            }
        )
        while True:
            msg = self.wait()
            if (
                msg.get("method") == "textDocument/publishDiagnostics"
                and msg["params"]["uri"] == uri
            ):
                return msg["params"]["diagnostics"]

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


SETTINGS = {
    "yaml": {"validate": True, "schemaStore": {"enable": False}, "format": {"enable": False}},
    "[yaml]": {},
    "editor": {},
    "http": {},
    "files": {},
}


@pytest.fixture(scope="module")
def server():
    ls = LanguageServer()
    ls.request(
        "initialize",
        {
            "processId": os.getpid(),
            "rootUri": ROOT.as_uri(),
            "capabilities": {
                "workspace": {"configuration": True},
                "textDocument": {"publishDiagnostics": {}},
            },
        },
    )
    ls.send({"method": "initialized", "params": {}})
    ls.send({"method": "workspace/didChangeConfiguration", "params": {"settings": SETTINGS}})
    yield ls
    ls.close()


def with_schema(text: str) -> str:
    schema = (ROOT / "schemas" / "runbook.schema.json").as_uri()
    return f"# yaml-language-server: $schema={schema}\n{text}"


def test_valid_runbook_has_no_diagnostics(server):
    text = (ROOT / "examples/runbooks/login-success-rate-below-target.runbook.yaml").read_text()
    body = text.split("\n", 1)[1]  # drop the example's relative modeline
    assert server.diagnostics((ROOT / "a-valid.runbook.yaml").as_uri(), with_schema(body)) == []


def test_schema_errors_are_reported_at_their_lines(server):
    text = with_schema(
        "apiVersion: runbook/v0\n"  # line 1 (0-based, after the modeline)
        "meta:\n"
        "  name: x\n"
        "  kind: triage\n"  # line 4: not a kind
        "tree:\n"
        "  - step:\n"
        "      id: a\n"
        "      type: cli\n"
        "      with: {argv: [echo], comand: x}\n"  # line 9: unknown field
    )
    diags = server.diagnostics((ROOT / "b-invalid.runbook.yaml").as_uri(), text)
    lines = sorted({d["range"]["start"]["line"] for d in diags})
    assert 4 in lines and 9 in lines, diags
    messages = " ".join(d["message"] for d in diags)
    assert "comand" in messages


def test_yaml_as_written_is_accepted_as_gert_accepts_it(server):
    text = with_schema(
        "apiVersion: runbook/v0\n"
        "meta: {name: x, kind: composable}\n"
        "steps:\n"
        "  - id: a\n"
        "    type: cli\n"
        "    precondition: {check: [true]}\n"
        "    with: {argv: [curl, -s, http://127.0.0.1:8080/x, 5, 1.10]}\n"
        "  - {id: 5, type: cli, with: {argv: [echo]}}\n"  # line 8: an ID is no number
    )
    diags = server.diagnostics((ROOT / "c-as-written.runbook.yaml").as_uri(), text)
    assert sorted({d["range"]["start"]["line"] for d in diags}) == [8], diags
