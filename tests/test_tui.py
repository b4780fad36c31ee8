"""`gert tui` driven by Textual's Pilot: from the incidents to the example chain's waiting
manual step, answered in its form, to `resolved`; SVG screenshots kept as artifacts."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from helpers import gert, triaged_example

INCIDENT = "747870160"
TRIAGE = "runbooks/login-success-rate-below-target.runbook.yaml"
pytestmark = pytest.mark.slow


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
            for _ in range(300):
                await pilot.pause(0.1)
                if isinstance(app.screen, RunScreen):
                    break
            assert isinstance(app.screen, RunScreen)
            return str(app.screen.query_one("#summary", Static).render())

    summary = anyio.run(main)
    assert "IsReplicaInBuild" in summary  # the dry-run followed the chain to the cause
