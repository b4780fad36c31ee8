"""A person at a terminal: gert exec asks for inputs and manual evidence on a real pty."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest

from gert.store import RunFolder
from gert.store.trace import read_events

# A real gert process on a pseudo-terminal.
pytestmark = pytest.mark.slow

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal:
    """A process on a pseudo-terminal: read its screen, type answers."""

    def __init__(self, argv: list[str], cwd):  # type: ignore[no-untyped-def]
        master, slave = pty.openpty()
        env = {**os.environ, "COLUMNS": "120", "TERM": "xterm"}
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env, close_fds=True
        )
        os.close(slave)
        self.master = master
        self.screen = ""

    def expect(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            assert time.monotonic() < deadline, f"{text!r} never appeared; screen:\n{self.screen}"
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    raw = os.read(self.master, 4096).decode("utf-8", "replace")
                    self.screen += ANSI.sub("", raw)
                except OSError:  # the process exited and closed the terminal
                    break
        assert text in self.screen, f"{text!r} never appeared; screen:\n{self.screen}"

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def wait(self) -> int:
        code = self.proc.wait(timeout=30)
        os.close(self.master)
        return code


def test_engineer_answers_prompts_on_a_terminal(project):
    project.write(
        "t.runbook.yaml",
        """
        apiVersion: runbook/v0
        meta:
          name: t
          inputs: {server: {from: prompt, description: 'Which server?'}}
        steps:
          - id: ask
            type: manual
            title: Check the dashboard
            instructions: |
              Open the **dashboard** for `{{ .server }}`.
            required_evidence:
              - {kind: text, name: link}
              - {kind: checklist, name: checks, items: [graphs green]}
            choices: {variable: verdict, prompt: 'Is it healthy?', options: [{value: "yes", label: Healthy}, {value: "no", label: Broken}]}
            outcomes:
              - {when: verdict == "yes", state: resolved, recommendation: "{{ .server }} is healthy"}
              - {state: escalated}
        """,
    )
    t = Terminal([sys.executable, "-m", "gert.cli", "exec", "t.runbook.yaml"], project.root)
    t.expect("Which server?")
    t.type("db7\r")
    t.expect("Check the dashboard")  # the instructions, rendered as Markdown in a panel
    t.expect("dashboard for db7")
    t.expect("link")
    t.type("https://dash/db7\r")
    t.expect("graphs green")
    t.type("y\r")
    t.expect("Is it healthy?")
    t.type("1\r")
    t.expect("final state")
    assert t.wait() == 0
    assert "**dashboard**" not in t.screen  # Markdown was rendered, not shown raw
    run = RunFolder(next((project.root / ".runbook" / "runs").iterdir()))
    m = run.read_manifest()
    assert m["outcome"]["state"] == "resolved" and m["inputs_resolved"] == {"server": "db7"}
    ev = next(e for e in read_events(run.trace_path) if e["type"] == "evidence_recorded")["data"]
    assert ev["evidence"]["link"] == {"kind": "text", "value": "https://dash/db7"}
    assert ev["evidence"]["checks"]["items"] == {"graphs green": True}
    assert ev["choice"] == "yes"
