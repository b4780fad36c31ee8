"""Logs of `gert serve`: JSON lines on stderr when it is not a terminal (a real server
process, its start, a chain it runs, uvicorn's access log, its stop), text on a terminal;
every value redacted, bounded and on one line."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import pty
import socket
import subprocess
import sys
from pathlib import Path

import httpx2 as httpx
import pytest

from gert.logs import MAX_TEXT, JsonFormatter, TextFormatter, clean, log_event
from helpers import wait_for
from test_server import start_server

ANA = "a" * 20 + "-ana-token"
OK = """apiVersion: runbook/v0
meta: {name: disk-cleanup}
steps:
  - id: clean
    type: cli
    with: {argv: [sh, -c, 'echo freed=12']}
    capture: {freed: {from: stdout, pattern: 'freed=(\\d+)'}}
    outcomes:
      - {when: freed > 5, state: resolved, recommendation: done}
"""


def record(message: str, **fields: object) -> logging.LogRecord:
    got: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, r: logging.LogRecord) -> None:
            got.append(r)

    log = logging.getLogger("gert.test_logs")
    log.addHandler(Keep())
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        log_event(log, message, level="warning", **fields)
    finally:
        log.handlers.clear()
    return got[0]


def test_a_json_line_is_one_object_with_redacted_bounded_one_line_values() -> None:
    rec = record(
        "rotated\nPassword=hunter2hunter2 \x1b[31mred",
        ts="forged",
        note="a" * 5000,
        n=3,
        ok=True,
        ratio=float("nan"),
    )
    line = JsonFormatter().format(rec)
    assert "\n" not in line
    data = json.loads(line)
    assert list(data)[:4] == ["ts", "level", "logger", "message"]
    assert data["level"] == "warning" and data["logger"] == "gert.test_logs"
    ts = dt.datetime.fromisoformat(data["ts"].replace("Z", "+00:00"))
    assert ts.utcoffset() == dt.timedelta(0) and data["ts"].endswith("Z")
    assert "hunter2hunter2" not in line
    assert data["message"].startswith("rotated\\nPassword=") and "\\x1b[31mred" in data["message"]
    assert data["ts_"] == "forged" and data["ts"] != "forged"  # no field replaces a core one
    assert len(data["note"]) == MAX_TEXT and data["note"].endswith("…")
    assert (data["n"], data["ok"], data["ratio"]) == (3, True, "nan")
    assert TextFormatter().format(rec).startswith("warning: rotated\\nPassword=")
    assert clean("ok\u2028forged") == "ok\\x2028forged"


def test_serve_logs_json_lines_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    root = tmp_path / "p"
    (root / "runbooks").mkdir(parents=True)
    (root / "gert.yaml").write_text(
        "record: 'off'\nserver:\n  tokens:\n    - {name: ana, env: GERT_TEST_ANA, role: operator}\n"
    )
    (root / "runbooks" / "ok.runbook.yaml").write_text(OK)
    auth = {"Authorization": f"Bearer {ANA}"}
    proc, base = start_server(root, {"GERT_TEST_ANA": ANA})
    try:
        r = httpx.post(
            f"{base}/api/v1/runs",
            json={"runbook": "runbooks/ok.runbook.yaml", "mode": "real"},
            headers=auth,
        )
        run_id = r.json()["run_id"]
        wait_for(
            lambda: (
                httpx.get(f"{base}/api/v1/runs/{run_id}", headers=auth).json()["manifest"]["status"]
                == "completed"
            ),
            what="the chain to end",
        )
        assert httpx.get(f"{base}/metrics", headers=auth).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    proc.reader.join(timeout=10)  # all it said, to the end of its stderr
    lines = proc.said().splitlines()
    logged = [json.loads(line) for line in lines]  # every line is one JSON object
    for entry in logged:
        assert {"ts", "level", "logger", "message"} <= set(entry), entry
        assert entry["ts"].endswith("Z") and dt.datetime.fromisoformat(entry["ts"][:-1])
    events = {e.get("event"): e for e in logged if e["logger"] == "gert.serve"}
    serving = events["serving"]
    assert serving["address"] == f"{base}/" and serving["store"] == "files"
    assert serving["tokens"] is True and serving["level"] == "info"
    started = events["chain_started"]
    assert started["run_id"] == run_id and started["runbook"] == "runbooks/ok.runbook.yaml"
    assert started["actor"] == "user:ana" and started["mode"] == "real"
    assert events["chain_ended"]["state"] == "resolved"
    assert events["stopping"]["running"] == 0
    access = [e for e in logged if e["logger"] == "uvicorn.access"]
    scraped = next(e for e in access if e["path"] == "/metrics")
    assert scraped["method"] == "GET" and scraped["status"] == 200
    assert any(e["logger"] == "uvicorn.error" for e in logged)  # uvicorn's own, as JSON
    assert ANA not in "\n".join(lines)


def test_on_a_terminal_serve_speaks_text_and_in_a_pipe_json(tmp_path: Path) -> None:
    (tmp_path / "gert.yaml").write_text("record: 'off'\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        command = [sys.executable, "-m", "gert.cli", "serve", "--port", port]
        leader, follower = pty.openpty()
        try:
            code = subprocess.run(
                command, cwd=tmp_path, stderr=follower, stdout=subprocess.DEVNULL, timeout=60
            ).returncode
            os.close(follower)
            said = b""
            while True:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the terminal's other end closed: all read
                    break
                if not chunk:
                    break
                said += chunk
        finally:
            os.close(leader)
        assert code == 2
        assert (
            said.decode().strip()
            == f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
        )
        piped = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert piped.returncode == 2
    (line,) = [json.loads(x) for x in piped.stderr.splitlines()]
    assert line["level"] == "error" and line["event"] == "refused"
    assert line["message"].startswith(f"cannot listen on 127.0.0.1:{port}")


@pytest.mark.parametrize("form", ["json", "text"])
def test_the_log_format_can_be_chosen(tmp_path: Path, form: str) -> None:
    (tmp_path / "gert.yaml").write_text("record: 'off'\n")
    r = subprocess.run(
        [sys.executable, "-m", "gert.cli", "serve", "--host", "0.0.0.0", "--log-format", form],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    if form == "text":
        assert r.stderr.startswith("error: refusing to listen on 0.0.0.0 without tokens")
    else:
        assert json.loads(r.stderr)["message"].startswith("refusing to listen on 0.0.0.0")
