"""Showing what is happening: a command's output lines reach the observer while the step
runs (redacted, never recorded), and the terminal's live line shows the running step."""

from __future__ import annotations

import io
import time

from rich.console import Console

from gert.console import LiveLine, Progress
from gert.executors.cli import LINE_SHOWN, LINES_TOLD, _Collector, run_command
from gert.store.trace import read_events

SLOW = """
apiVersion: runbook/v0
meta: {name: slow}
steps:
  - id: copy
    type: cli
    title: Copy the blocks
    with:
      argv: [sh, -c, 'echo starting; sleep 0.6; echo "api_key=sk12345678abcdef"; echo "block 42 of 99"; sleep 0.6']
    outcomes: [{state: resolved}]
"""


def test_the_observer_sees_output_lines_while_the_command_runs(project):
    project.write("slow.runbook.yaml", SLOW)
    seen: list[tuple[float, str, dict]] = []
    chain = project.run(
        "slow.runbook.yaml", observer=lambda t, d: seen.append((time.monotonic(), t, d))
    )
    assert chain.final_state == "resolved"
    lines = [(at, d) for at, t, d in seen if t == "step_output"]
    done = next(at for at, t, _ in seen if t == "step_completed")
    assert lines[0][1]["line"] == "starting"
    assert lines[0][0] < done - 0.9  # while the command ran, not when it ended
    assert lines[0][1]["step_id"] == "copy" and lines[0][1]["runbook"] == "slow"
    shown = " ".join(d["line"] for _, d in lines)
    assert "block 42 of 99" in shown
    assert "sk12345678abcdef" not in shown  # redacted like everything shown
    # A display event only: the trace keeps the step's output in its own events.
    run = chain.runs[0].folder
    assert "step_output" not in {e["type"] for e in read_events(run / "trace.jsonl")}


def test_no_observer_no_watching(project, monkeypatch):
    contexts = []
    from gert.executors import cli

    real = cli.CliExecutor.execute

    def spy(self, ctx):
        contexts.append(ctx)
        return real(self, ctx)

    monkeypatch.setattr(cli.CliExecutor, "execute", spy)
    project.write("slow.runbook.yaml", SLOW.replace("sleep 0.6", "true"))
    project.run("slow.runbook.yaml")
    assert contexts and contexts[0].on_output is None


class _Stream(io.BytesIO):
    def read1(self, n: int = -1) -> bytes:  # as a pipe gives what it holds
        return self.read(n)


def test_lines_are_told_whole_as_they_complete():
    told: list[str] = []
    c = _Collector(_Stream(), told.append)
    for chunk in (b"abc", b"def\nghi", b"\r\n\n  \n", b"50%\r60%\r", b"x" * 5000, b"y\n"):
        c.tell(chunk)
    assert told == ["abcdef", "ghi", "50%", "60%", "x" * LINE_SHOWN]


def test_a_flood_tells_the_last_lines_of_each_read():
    told: list[str] = []
    c = _Collector(_Stream(), told.append)
    c.tell(b"".join(b"line %d\n" % n for n in range(1000)))
    assert told == [f"line {n}" for n in range(1000 - LINES_TOLD, 1000)]


def test_a_watcher_that_breaks_changes_nothing():
    calls = []

    def broken(line: str) -> None:
        calls.append(line)
        raise RuntimeError("display broke")

    out = run_command(["sh", "-c", "echo one; echo two; seq 1 20000"], on_output=broken)
    assert out.exit_code == 0 and out.error is None
    assert out.stdout.startswith("one\ntwo\n1\n") and out.stdout.endswith("\n20000\n")
    assert len(calls) == 1  # stopped telling it after it broke


def _terminal(width: int = 60) -> tuple[Console, io.StringIO]:
    file = io.StringIO()
    file.isatty = lambda: True  # type: ignore[method-assign]
    return Console(file=file, force_terminal=True, width=width, soft_wrap=True), file


def test_the_live_line_shows_the_running_step_and_fits_the_width():
    console, _ = _terminal(40)
    live = LiveLine(console)
    live.steps.clear()
    live.started("copy", "Copy the blocks to the new volume in the other zone", "cli")
    live.output("copy", "\x1b[2Jblock 42 of 99 copied to the other volume")
    now = live.steps[-1].started + 12.3
    assert live.text(now) == (
        "copy",
        "12 s",
        "Copy the blocks to the new volume in the other zone",
        "\\x1b[2Jblock 42 of 99 copied to the other volume",  # shown as text
    )
    assert live.text(live.steps[-1].started + 0.1) is None  # a quick step never shows
    with live.paused():
        assert live.text(now) is None  # a prompt is waiting
    live.started("ask", "Ask the owner", "manual")
    assert live.text(time.monotonic() + 5) is None  # the engineer reads and answers
    live.ended("ask")
    assert live.text(now)[0] == "copy"  # the step that invoked it shows again
    live.close()


def test_drawn_lines_fit_and_are_erased(monkeypatch):
    from rich.cells import cell_len

    console, file = _terminal(40)
    live = LiveLine(console)
    live.started("copy", "Copy the blocks to the new volume in the other zone", "cli")
    live.output("copy", "block 42 of 99 copied to the other volume")
    live.steps[-1].started -= 3
    live.draw()
    drawn = file.getvalue()
    text = drawn.removeprefix("\r").removesuffix("\x1b[K")
    for code in ("\x1b[36m", "\x1b[1m", "\x1b[2m", "\x1b[0m"):
        text = text.replace(code, "")
    assert cell_len(text) <= 39 and "copy  3.0 s  Copy" in text and "block" in text
    live.ended("copy")
    assert file.getvalue().endswith("\r\x1b[2K")  # erased when the step ended
    live.close()


def test_progress_draws_no_live_line_off_a_terminal():
    file = io.StringIO()
    progress = Progress(Console(file=file, force_terminal=True, width=80))  # FORCE_COLOR, say
    assert progress.live is None  # not a TTY: plain lines only
    progress("step_started", {"step_id": "a", "title": "", "type": "cli"})
    progress("step_output", {"step_id": "a", "line": "hello"})
    assert file.getvalue() == ""
    console, _ = _terminal()
    assert Progress(console).live is not None
