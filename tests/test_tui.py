"""`gert tui` driven by Textual's Pilot: from the incidents to the example chain's waiting
manual step, answered in its form, to `resolved`; SVG screenshots kept as artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from helpers import gert, triaged_example

INCIDENT = "747870160"
TRIAGE = "runbooks/login-success-rate-below-target.runbook.yaml"
pytestmark = pytest.mark.slow


def keep_for_docs(folder: Path) -> None:
    """With GERT_WRITE_SCREENSHOTS=1, the screenshots of *folder* become docs/tui.md's."""
    import os
    import shutil

    if os.environ.get("GERT_WRITE_SCREENSHOTS") == "1":
        docs = Path(__file__).parents[1] / "docs"
        shown = (docs / "tui.md").read_text()
        for svg in folder.glob("*.svg"):
            if f"images/tui-{svg.name}" in shown:
                shutil.copy(svg, docs / "images" / f"tui-{svg.name}")


def output(screen: Any) -> str:
    """What a run's screen shows of the chain it follows (empty on any other screen)."""
    from textual.widgets import Log

    found = screen.query("#output")
    return "\n".join(found.first(Log).lines) if found else ""


async def until(pilot: Any, check: Any, timeout: float = 60) -> None:
    """Let the app run until *check()* holds (an AssertionError after *timeout*)."""
    for _ in range(int(timeout * 10)):
        await pilot.pause(0.1)
        if check():
            return
    raise AssertionError(f"not within {timeout} s: {check}")


def test_an_engineer_answers_the_waiting_step_in_the_terminal(tmp_path: Path) -> None:
    from textual.widgets import DataTable, Input, RadioSet, SelectionList, Static

    from gert.project import open_project
    from gert.tui import GertApp, RunScreen

    root = triaged_example(tmp_path, 0)
    started = gert("exec", TRIAGE, "--incident", INCIDENT, cwd=root)
    assert started.returncode == 4, started.stderr  # the cause runbook waits for its answer
    shots = tmp_path / "screenshots"
    shots.mkdir()

    async def main() -> str:
        app = GertApp(open_project(root), "user:tester")
        async with app.run_test(size=(100, 40)) as pilot:
            await pilot.pause()
            app.save_screenshot(str(shots / "1-incidents.svg"))
            assert INCIDENT in str(app.screen.query_one(DataTable).get_row_at(0))
            await pilot.press("enter")  # the incident
            await pilot.pause()
            chains = str(app.screen.query_one("#chains", Static).render())
            assert (
                "login-success-rate-below-target [needs_rca] → IsReplicaInBuild [waiting]" in chains
            )
            app.save_screenshot(str(shots / "2-incident.svg"))
            await pilot.press("down", "enter")  # its second run: the one that waits
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, RunScreen)
            assert "Waiting: Wait for the replica build" in str(
                screen.query_one("#waiting-title").render()
            )
            assert "87% rebuilt" in str(screen.query_one("#instructions", Static).render())
            app.save_screenshot(str(shots / "3-waiting.svg"))
            # a wrong answer is refused on the form, and the run keeps waiting
            screen.query_one("#answer").press()
            await pilot.pause()
            assert "dashboard_link: text is required" in str(
                screen.query_one("#answer-error").render()
            )
            screen.query_one("#ev-dashboard_link", Input).value = "https://dash.example/1"
            checks = screen.query_one("#ev-checks", SelectionList)
            checks.select_all()
            outcome = screen.query_one("#pick-outcome", RadioSet)
            next(b for b in outcome.query("RadioButton") if b.name == "resolved").value = True
            screen.query_one("#answer").press()  # (a click may land off a scrolled form)
            for _ in range(600):  # the run goes on in a worker
                await pilot.pause(0.1)
                if not screen.query("#answer") and "resolved" in str(
                    screen.query_one("#summary").render()
                ):
                    break
            app.save_screenshot(str(shots / "4-resolved.svg"))
            summary = str(screen.query_one("#summary", Static).render())
            await pilot.press("question_mark")
            await pilot.pause()
            app.save_screenshot(str(shots / "5-keys.svg"))
            await pilot.press("escape", "escape", "escape", "q")
            return summary

    summary = anyio.run(main)
    assert "resolved" in summary and "trace verified" in summary
    assert len(list(shots.glob("*.svg"))) == 5
    keep_for_docs(shots)
    run = next(
        p
        for p in (root / ".runbook" / "runs").iterdir()
        if "runbook_name: IsReplicaInBuild" in (p / "run.yaml").read_text()
    )
    assert "user:tester" in (run / "trace.jsonl").read_text()  # who answered


def test_gert_tui_in_a_real_terminal(tmp_path: Path) -> None:
    """tmux, 80×24: start gert tui, open the incident, see its chain, the keys, quit."""
    import shutil
    import subprocess
    import sys

    from helpers import wait_for

    tmux = shutil.which("tmux")
    assert tmux, "tmux comes from the README's set-up (scripts/setup.sh)"
    root = triaged_example(tmp_path, 1)
    session = f"gert-tui-{tmp_path.name[-12:]}"
    gert_cmd = f"cd {root} && {sys.executable} -m gert.cli tui"

    def screen() -> str:
        return subprocess.run(
            [tmux, "capture-pane", "-p", "-t", session], capture_output=True, text=True
        ).stdout

    subprocess.run(
        [tmux, "new-session", "-d", "-s", session, "-x", "80", "-y", "24", gert_cmd], check=True
    )
    try:
        wait_for(lambda: INCIDENT in screen(), timeout=30, interval=0.2, what="the incidents")
        subprocess.run([tmux, "send-keys", "-t", session, "Enter"], check=True)
        wait_for(lambda: "Chain 1:" in screen(), timeout=30, interval=0.2, what="the incident")
        assert "IsReplicaInBuild" in screen()
        subprocess.run([tmux, "send-keys", "-t", session, "?"], check=True)
        wait_for(lambda: "this help" in screen(), timeout=10, interval=0.2, what="the keys")
        subprocess.run([tmux, "send-keys", "-t", session, "Escape"], check=True)
        # a terminal reads Escape followed at once by q as Alt+q: a person pauses between
        wait_for(
            lambda: "this help" not in screen(), timeout=10, interval=0.2, what="the keys to close"
        )
        subprocess.run([tmux, "send-keys", "-t", session, "q"], check=True)
        wait_for(
            lambda: subprocess.run([tmux, "has-session", "-t", session]).returncode != 0,
            timeout=15,
            interval=0.2,
            what="gert tui to quit",
        )
    finally:
        subprocess.run([tmux, "kill-session", "-t", session], capture_output=True)


def test_a_runbook_starts_for_an_incident_with_its_inputs_bound(tmp_path: Path) -> None:
    from textual.widgets import DataTable, Static

    from gert.project import open_project
    from gert.tui import GertApp, RunbooksScreen, RunScreen, StartScreen

    root = triaged_example(tmp_path, 0)

    async def main() -> str:
        app = GertApp(open_project(root), "user:tester")
        async with app.run_test(size=(100, 40)) as pilot:
            await pilot.pause()
            await pilot.press("enter", "s")  # the incident, then start a runbook for it
            await pilot.pause()
            assert isinstance(app.screen, RunbooksScreen)
            table = app.screen.query_one(DataTable)
            names = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
            table.move_cursor(row=names.index("login-success-rate-below-target"))
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, StartScreen)
            shown = " ".join(str(w.render()) for w in app.screen.query(Static))
            assert "server_name = sobeys-sql01" in shown and "incident.custom_fields" in shown
            app.screen.query_one("#dry-run").press()
            await until(pilot, lambda: "chain finished" in output(app.screen))
            assert isinstance(app.screen, RunScreen)
            assert app.screen.query_one("#steps", DataTable).row_count > 0  # from its trace
            return str(app.screen.query_one("#summary", Static).render())

    summary = anyio.run(main)
    assert "IsReplicaInBuild" in summary  # the dry-run followed the chain to the cause
    assert "DRY-RUN (nothing ran)" in summary


SLOW = """apiVersion: runbook/v0
meta: {name: slow-check, kind: composable, description: Prints as it goes}
steps:
  - id: talk
    type: cli
    with:
      argv: [sh, talk.sh]
  - {id: after, type: cli, with: {argv: [echo, done]}}
"""


def write_slow(root: Path) -> None:
    """A runbook whose first step prints a line, a line of markup and escapes, then
    sleeps before its last line."""
    (root / "runbooks" / "slow.runbook.yaml").write_text(SLOW)
    (root / "talk.sh").write_text(
        'echo first line; printf "\\033[31m[bold]red\\n"; sleep 3; echo second line\n'
    )


async def start_from_incident(app: Any, pilot: Any, runbook: str, button: str) -> None:
    """Incidents → the incident → s → *runbook* → press *button* (dry-run or real)."""
    from textual.widgets import DataTable

    await pilot.pause()
    await pilot.press("enter", "s")
    await pilot.pause()
    table = app.screen.query_one(DataTable)
    names = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
    table.move_cursor(row=names.index(runbook))
    await pilot.press("enter")
    await pilot.pause()
    app.screen.query_one(f"#{button}").press()


def test_a_running_step_shows_its_output_as_it_comes(tmp_path: Path) -> None:
    """Started here, a chain's steps print into the run's screen while they run, as text:
    markup and escape sequences are shown, never acted on."""
    from textual.widgets import Static

    from gert.project import open_project
    from gert.tui import GertApp, RunScreen

    root = triaged_example(tmp_path, 0)
    write_slow(root)

    async def main() -> tuple[str, str, str]:
        app = GertApp(open_project(root), "user:tester")
        async with app.run_test(size=(100, 40)) as pilot:
            await start_from_incident(app, pilot, "slow-check", "real")
            await until(pilot, lambda: "first line" in output(app.screen))
            assert isinstance(app.screen, RunScreen)
            while_running = output(app.screen)
            summary = str(app.screen.query_one("#summary", Static).render())
            await until(pilot, lambda: "chain finished" in output(app.screen))
            return while_running, summary, output(app.screen)

    while_running, summary, after = anyio.run(main)
    assert "second line" not in while_running  # shown while the step still ran
    assert "running: talk" in summary
    assert "\\x1b[31m[bold]red" in while_running  # as written, not styled
    assert "talk │ second line" in after and "chain finished: completed" in after


def test_closing_the_terminal_parks_the_chain_it_runs(tmp_path: Path) -> None:
    """Ctrl+C while a step runs: the terminal closes at once (it never waits for the
    step); the chain stops before its next step, recorded as interrupted by the terminal
    closing (gert resume goes on with it)."""
    import json
    import time

    from gert.project import open_project
    from gert.tui import GertApp

    root = triaged_example(tmp_path, 0)
    write_slow(root)
    app = GertApp(open_project(root), "user:tester")

    async def main() -> float:
        async with app.run_test(size=(100, 40)) as pilot:
            await start_from_incident(app, pilot, "slow-check", "real")
            await until(pilot, lambda: "first line" in output(app.screen))
            pressed = time.perf_counter()
            await pilot.press("ctrl+c")
        return time.perf_counter() - pressed

    closing = anyio.run(main)
    assert closing < 2.0, f"closing waited {closing:.1f} s for the step"
    assert app.running_chains()  # the step (sleep 3) still runs; it ends on its own
    for thread in app.running_chains():
        thread.join(timeout=30)
    [run] = [
        p
        for p in (root / ".runbook" / "runs").iterdir()
        if "runbook_name: slow-check" in (p / "run.yaml").read_text()
    ]
    from helpers import wait_for

    wait_for(
        lambda: "status: interrupted" in (run / "run.yaml").read_text(),
        timeout=30,
        interval=0.2,
        what="the run to park",
    )
    events = [json.loads(line) for line in (run / "trace.jsonl").read_text().splitlines()]
    stopped = [e for e in events if e["type"] == "run_interrupted"]
    assert "gert tui closed" in stopped[-1]["data"]["reason"]
    assert not any(e["data"].get("step_id") == "after" for e in events)  # never began


def test_an_approver_approves_as_themselves(tmp_path: Path) -> None:
    """A step needing one approval: the form approves as the terminal's user (no typed
    name); the run goes on, and the trace names them."""
    import json

    from textual.widgets import Static

    from gert.project import open_project
    from gert.tui import GertApp, RunScreen
    from test_server import APPROVE

    root = triaged_example(tmp_path, 0)
    (root / "runbooks" / "approve.runbook.yaml").write_text(APPROVE)
    started = gert("exec", "runbooks/approve.runbook.yaml", "--incident", INCIDENT, cwd=root)
    assert started.returncode == 4, started.stderr
    [run] = [
        p
        for p in (root / ".runbook" / "runs").iterdir()
        if "runbook_name: approve" in (p / "run.yaml").read_text()
    ]

    async def main() -> str:
        app = GertApp(open_project(root), "user:tester")
        async with app.run_test(size=(100, 40)) as pilot:
            await pilot.pause()
            app.push_screen(RunScreen(run.name))
            await until(pilot, lambda: bool(app.screen.query("#answer")))
            assert "Approve as tester" in str(app.screen.query_one("#answer").label)
            app.screen.query_one("#answer").press()
            await until(pilot, lambda: "chain finished" in output(app.screen))
            return str(app.screen.query_one("#summary", Static).render())

    assert "resolved" in anyio.run(main)
    events = [json.loads(line) for line in (run / "trace.jsonl").read_text().splitlines()]
    granted = [e for e in events if e["type"] == "approval_granted"]
    assert granted[-1]["data"]["approved_by"] == ["tester"]
    resumed = [e for e in events if e["type"] == "run_resumed"]
    assert resumed[-1]["data"]["actor"] == "user:tester"


def contrast(a: Any, b: Any) -> float:
    """The WCAG contrast ratio of two colours."""

    def luminance(c: Any) -> float:
        def channel(v: int) -> float:
            x = v / 255
            return x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4

        return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b)

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_readable_in_a_light_and_a_dark_terminal(tmp_path: Path, theme: str) -> None:
    """Every text of the waiting step's screen reads against its background (WCAG AA,
    4.5:1) in both themes, at 80×24; a screenshot of each is kept."""
    from textual.widgets import Button, DataTable, Input, Label, Static

    from gert.project import open_project
    from gert.tui import GertApp, RunScreen

    root = triaged_example(tmp_path, 0)
    started = gert("exec", TRIAGE, "--incident", INCIDENT, cwd=root)
    assert started.returncode == 4, started.stderr
    [run] = [
        p
        for p in (root / ".runbook" / "runs").iterdir()
        if "runbook_name: IsReplicaInBuild" in (p / "run.yaml").read_text()
    ]

    async def main() -> list[tuple[str, float]]:
        app = GertApp(open_project(root), "user:tester", theme=theme)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            app.push_screen(RunScreen(run.name))
            await until(pilot, lambda: bool(app.screen.query("#answer")))
            app.save_screenshot(str(tmp_path / f"waiting-{theme}.svg"))
            seen = []
            for widget in app.screen.query("Static, Label, DataTable, Input, Button, Footer"):
                if not isinstance(widget, Static | Label | DataTable | Input | Button) and (
                    type(widget).__name__ != "Footer"
                ):
                    continue
                _, _, background, color = widget.colors
                seen.append((f"{type(widget).__name__}#{widget.id}", contrast(background, color)))
            return seen

    seen = anyio.run(main)
    assert len(seen) > 8
    low = [(name, round(ratio, 2)) for name, ratio in seen if ratio < 4.5]
    assert not low, f"hard to read in a {theme} terminal: {low}"
    assert (tmp_path / f"waiting-{theme}.svg").stat().st_size > 10_000
    keep_for_docs(tmp_path)


MANUAL = """apiVersion: runbook/v0
meta: {name: ask-first, kind: composable, description: Asks before anything}
steps:
  - id: look
    type: manual
    instructions: Look at the dashboard.
    required_evidence: [{kind: text, name: note}]
    outcomes: [{state: resolved}, {state: escalated}]
"""


def test_a_run_that_waits_at_once_shows_its_form_and_keeps_it_on_refresh(tmp_path: Path) -> None:
    """Started here, a runbook whose first step waits: its form opens with the keys in its
    first field; a refresh keeps what was typed (and never mounts the form twice)."""
    from textual.widgets import Input

    from gert.project import open_project
    from gert.tui import GertApp, RunScreen

    root = triaged_example(tmp_path, 0)
    (root / "runbooks" / "ask.runbook.yaml").write_text(MANUAL)

    async def main() -> str:
        app = GertApp(open_project(root), "user:tester")
        async with app.run_test(size=(100, 40)) as pilot:
            await start_from_incident(app, pilot, "ask-first", "real")
            await until(pilot, lambda: bool(app.screen.query("#answer")))
            assert isinstance(app.screen, RunScreen)
            field = app.screen.query_one("#ev-note", Input)
            assert app.focused is field  # typing goes to the answer, not to the keys
            await pilot.press("r", "q")  # typed, not refresh and quit
            assert field.value == "rq"
            await app.run_action("refresh")
            await app.run_action("refresh")
            await pilot.pause()
            return app.screen.query_one("#ev-note", Input).value

    assert anyio.run(main) == "rq"


def test_a_run_answered_elsewhere_is_shown_as_it_is_now(tmp_path: Path) -> None:
    """A run waiting on screen, answered by someone else (gert resume): its form goes and
    its outcome shows within seconds; the step that waited reads as waited, not failed."""
    from textual.widgets import DataTable, Static

    from gert.project import open_project
    from gert.tui import GertApp, RunScreen

    root = triaged_example(tmp_path, 0)
    (root / "runbooks" / "ask.runbook.yaml").write_text(MANUAL)
    started = gert("exec", "runbooks/ask.runbook.yaml", "--incident", INCIDENT, cwd=root)
    assert started.returncode == 4, started.stderr
    [run] = [
        p
        for p in (root / ".runbook" / "runs").iterdir()
        if "runbook_name: ask-first" in (p / "run.yaml").read_text()
    ]
    (root / "answers.yaml").write_text("look: {note: seen it, outcome: resolved}\n")

    async def main() -> tuple[str, list[str]]:
        app = GertApp(open_project(root), "user:tester")
        async with app.run_test(size=(100, 40)) as pilot:
            app.push_screen(RunScreen(run.name))
            await until(pilot, lambda: bool(app.screen.query("#answer")))
            done = gert("resume", run.name, "--evidence", "answers.yaml", cwd=root)
            assert done.returncode == 0, done.stderr
            await until(pilot, lambda: not app.screen.query("#answer"), timeout=10)
            table = app.screen.query_one("#steps", DataTable)
            statuses = [str(table.get_row_at(i)[2]) for i in range(table.row_count)]
            return str(app.screen.query_one("#summary", Static).render()), statuses

    summary, statuses = anyio.run(main)
    assert "resolved" in summary
    assert statuses == ["waited", "passed"]
