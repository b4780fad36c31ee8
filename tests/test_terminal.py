"""A person at a terminal: gert exec asks for inputs and manual evidence on a real pty."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time

import pytest

from gert.store import RunFolder
from gert.store.trace import read_events

# A real gert process on a pseudo-terminal.
pytestmark = pytest.mark.slow

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal:
    """A process on a pseudo-terminal: read its screen, type answers."""

    def __init__(self, argv: list[str], cwd, columns: int = 120):  # type: ignore[no-untyped-def]
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        env = {**os.environ, "COLUMNS": str(columns), "TERM": "xterm"}
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env, close_fds=True
        )
        os.close(slave)
        self.master = master
        self.screen = ""
        self.raw = ""  # with the escape sequences

    def expect(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            assert time.monotonic() < deadline, f"{text!r} never appeared; screen:\n{self.screen}"
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    raw = os.read(self.master, 4096).decode("utf-8", "replace")
                    self.raw += raw
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
    assert "☑ graphs green" in t.screen
    run = RunFolder(next((project.root / ".runbook" / "runs").iterdir()))
    m = run.read_manifest()
    assert m["outcome"]["state"] == "resolved" and m["inputs_resolved"] == {"server": "db7"}
    ev = next(e for e in read_events(run.trace_path) if e["type"] == "evidence_recorded")["data"]
    assert ev["evidence"]["link"] == {"kind": "text", "value": "https://dash/db7"}
    assert ev["evidence"]["checks"]["items"] == {"graphs green": True}
    assert ev["choice"] == "yes"


LONG = """
apiVersion: runbook/v0
meta: {name: long}
steps:
  - id: failover
    type: manual
    title: Fail over the replica set before the maintenance window closes tonight
    instructions: |
      The primary of the payments cluster stopped accepting writes at the start of the
      incident; the replicas are healthy and less than one second behind it according
      to the replication dashboard. Promote the replica in the second availability zone.

      Before you promote it, confirm with the database on-call that nobody else is
      running a failover, and write the name of the person you reached in the channel.
      DO NOT restart the primary.

      After the promotion, watch the error rate of the checkout service for five minutes
      and compare it with the same window yesterday before you close the step here.
    required_evidence:
      - kind: text
        name: contact
        description: The database on-call engineer you reached before promoting the replica
      - kind: checklist
        name: checks
        items: [nobody else was running a failover on the payments cluster at that time]
    choices:
      variable: promoted
      prompt: Which replica did you promote in the end, after talking to the on-call engineer?
      options:
        - {value: az2, label: The replica in the second availability zone as the runbook says}
        - {value: az3, label: The replica in the third availability zone because the second lagged}
    outcomes:
      - state: resolved
        recommendation: The replica was promoted and the checkout error rate is back to the level of yesterday evening.
      - state: escalated
        recommendation: The promotion did not bring the error rate down; escalate to the payments database team now.
"""

WORD = re.compile(r"[^\s│╭╮╰╯─]+")


def _words_in_order(expected: str, screen: str) -> list[str]:
    """The words of *expected* missing from *screen* in order (borders and wrapping aside)."""
    shown = [w.removesuffix(":") for w in WORD.findall(screen)]  # a prompt ends in ':'
    missing, at = [], 0
    for word in WORD.findall(expected):
        try:
            at = shown.index(word, at) + 1
        except ValueError:
            missing.append(word)
    return missing


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_nothing_an_engineer_must_read_is_cut_off(project, columns):
    from gert.load import parse_text

    project.write("long.runbook.yaml", LONG)
    step = parse_text(LONG).data["steps"][0]
    t = Terminal(
        [sys.executable, "-m", "gert.cli", "exec", "long.runbook.yaml"], project.root, columns
    )
    t.expect("contact")
    t.type("Ana Lopes\r")
    t.expect("[y/N]")
    t.type("y\r")
    t.expect("engineer?")  # the choice's prompt
    t.type("1\r")
    t.expect("which outcome?")
    t.type("2\r")
    t.expect("final state")
    assert t.wait() == 0
    screen = t.screen.replace("\r", "")
    assert _words_in_order(step["instructions"], screen) == []
    assert _words_in_order(step["title"], screen) == []
    for text in (
        step["required_evidence"][0]["description"],
        step["required_evidence"][1]["items"][0],
        step["choices"]["prompt"],
        *(o["label"] for o in step["choices"]["options"]),
        *(o["recommendation"] for o in step["outcomes"]),  # in the outcome prompt
    ):
        assert _words_in_order(text, screen) == [], text
    # the outcome reached, and the summary, in full too
    after = screen[screen.index("which outcome?") :]
    assert _words_in_order(step["outcomes"][1]["recommendation"], after) == []
    assert "…" not in screen
    assert "☑ nobody else was running a failover" in screen  # the ticked item, ticked


SLOW = """
apiVersion: runbook/v0
meta: {name: slow}
steps:
  - id: copy
    type: cli
    title: Copy the blocks to the new volume
    with:
      argv: [sh, -c, 'echo starting; sleep 1.2; echo "block 42 of 99"; sleep 1.3; echo done']
    outcomes: [{state: resolved, recommendation: copied}]
"""


def test_a_running_step_shows_a_live_line(project):
    project.write("slow.runbook.yaml", SLOW)
    t = Terminal([sys.executable, "-m", "gert.cli", "exec", "slow.runbook.yaml"], project.root, 80)
    t.expect("final state")
    assert t.wait() == 0
    before, done = t.raw.split("✓", 1)
    # While the step ran: its ID, title, elapsed time and last output line, redrawn in place.
    assert "Copy the blocks to the new volume" in ANSI.sub("", before)
    assert re.search(r"copy.*\d\.\d s.*Copy the blocks.*starting", ANSI.sub("", before))
    assert re.search(r"copy.*[12]\.\d s.*block 42 of 99", ANSI.sub("", before))
    assert "\r" in before.split("Copy the blocks", 1)[1]  # drawn over itself, not scrolled
    # Erased before the step's result line is printed; never left on the screen.
    assert re.search(r"\r\x1b\[2K *(\x1b\[[0-9;]*m)?$", before)
    assert "block 42" not in done


def test_no_live_line_when_output_is_not_a_terminal(project):
    from helpers import gert_process

    project.write("slow.runbook.yaml", SLOW.replace("sleep 1.2", "sleep 0.7"))
    for extra in ([], ["--json"]):
        ran = gert_process("exec", "slow.runbook.yaml", *extra, cwd=project.root)
        assert ran.returncode == 0, ran.stderr
        both = ran.stdout + ran.stderr
        assert "\r" not in both and "\x1b" not in both
        assert "block 42" not in both and "starting" not in both
        assert "0.7 s" not in both and "Copy the blocks" not in both
