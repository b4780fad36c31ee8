"""Terminal rendering for the CLI: live progress, the chain summary, and the prompter
that asks the engineer for manual evidence. A surface module: only the CLI imports it."""

from __future__ import annotations

import re
import sys
from typing import Any

from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.panel import Panel

from gert.engine import ChainResult
from gert.util import shorten

ICONS = {"passed": "[green]✓[/]", "failed": "[red]✗[/]", "skipped": "[dim]–[/]"}
STATE_STYLE = {
    "resolved": "green",
    "no_action": "green",
    "completed": "green",
    "escalated": "yellow",
    "needs_rca": "yellow",
    "failed": "red",
    "error": "red",
    "interrupted": "red",
    "chain_error": "red",
}


class Progress:
    """Prints each event of a run as it happens (the engine's observer)."""

    def __init__(self, console: Console):
        self.console = console

    def __call__(self, type_: str, data: dict[str, Any]) -> None:
        c = self.console
        if type_ == "run_started":
            parent = (
                f"  [dim](chained from {plain(data['parent_run_id'])})[/]"
                if data.get("parent_run_id")
                else ""
            )
            c.print(
                f"[bold]▶ {plain(data['runbook'])}[/]  [dim]run {plain(data['run_id'])} · {plain(data['mode'])}[/]{parent}"
            )
        elif type_ == "inputs_resolved":
            made_up = [n for n, src in (data.get("sources") or {}).items() if src == "placeholder"]
            if made_up:
                c.print(
                    f"  [yellow]! no value for {plain(', '.join(made_up))}: the dry-run uses "
                    f"{plain(', '.join(f'<{n}>' for n in made_up))}[/]",
                    highlight=False,
                )
        elif type_ == "run_resumed":
            c.print(
                f"[bold]▶ {plain(data['runbook'])}[/]  [dim]run {plain(data['run_id'])} · resumed[/]"
            )
        elif type_ == "step_recovered":
            pids = ", ".join(str(p["pid"]) for p in data.get("processes") or [])
            if pids:
                doing = "killing" if data.get("processes_action") == "kill" else "waiting for"
                c.print(f"  [yellow]… {doing} processes left running: {pids}[/]", highlight=False)
            if data.get("step_id"):
                c.print(
                    f"  [yellow]↻ {plain(data['step_id'])}[/]  [dim]{plain(data['reason'], one_line=True)}[/]",
                    highlight=False,
                )
        elif type_ == "step_completed":
            caps = " ".join(
                f"{plain(k)}={_short(v)}" for k, v in (data.get("captures") or {}).items()
            )
            err = f"  [red]{plain(data['error'], one_line=True)}[/]" if data.get("error") else ""
            tries = f", {data['attempts']} attempts" if data.get("attempts", 1) > 1 else ""
            c.print(
                f"  {ICONS.get(data['status'], '?')} {plain(data['step_id'])}  "
                f"[dim]({data['duration_ms']:.0f} ms{tries})[/]  {caps}{err}",
                highlight=False,
            )
        elif type_ == "step_skipped":
            c.print(
                f"  {ICONS['skipped']} {plain(data['step_id'])}  [dim]skipped: {plain(data['reason'], one_line=True)}[/]",
                highlight=False,
            )
        elif type_ == "governance_blocked":
            c.print(
                f"  [red]⛔ blocked[/] {plain(' '.join(data['argv']), one_line=True)}: {plain(data['reason'])}",
                highlight=False,
            )
        elif type_ == "condition_warning":
            c.print(f"  [yellow]! {plain(data['warning'], one_line=True)}[/]", highlight=False)
        elif type_ == "outcome_reached":
            style = STATE_STYLE.get(data["state"], "white")
            c.print(
                f"  → outcome [{style}]{plain(data['state'])}[/]: {plain(data.get('recommendation', ''))}",
                highlight=False,
            )
        elif type_ == "chain_started":
            c.print(
                f"  ⇢ chaining to [bold]{plain(data['file'], one_line=True)}[/]", highlight=False
            )
        elif type_ == "reference_linked":
            c.print(
                f"  ↗ see [bold]{plain(data['name'])}[/] ({plain(data['file'])}): a reference, "
                "not run",
                highlight=False,
            )
        elif type_ == "chain_error":
            c.print(f"  [red]✗ chain error:[/] {plain(data['error'])}", highlight=False)
        elif type_ == "run_interrupted":
            c.print("  [red]interrupted[/]")


# C0 and C1 control characters except tab and newline: ANSI/OSC escape sequences start here.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """*text* with its control characters shown as ``\\xNN`` instead of acting on the
    terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def plain(value: Any, *, one_line: bool = False) -> str:
    """Text that came from outside (a step, an input, an incident) as the terminal may show
    it: never markup (``[red]`` prints as written), control sequences made visible
    (``\\x1b``), on one line when asked."""
    text = visible(str(value))
    if one_line:
        text = text.replace("\n", "⏎")
    return escape(text)


def _short(value: Any, limit: int = 40) -> str:
    return plain(shorten(str(value).replace("\n", "⏎"), limit))


def print_summary(console: Console, chain: ChainResult, root: Any) -> None:
    """The chain at a glance: each run, its outcome, and where its evidence is."""
    steps = sum(r.summary["total"] for r in chain.runs)
    state = chain.final_state
    style = STATE_STYLE.get(state, "white")
    console.print()
    console.print(
        f"[bold]Chain:[/] {len(chain.runs)} runbook{'s' * (len(chain.runs) != 1)}, {steps} step"
        f"{'s' * (steps != 1)}, final state: [{style}]{plain(state)}[/]"
    )
    for r in chain.runs:
        try:
            rel = r.folder.relative_to(root)
        except ValueError:
            rel = r.folder
        style = STATE_STYLE.get(r.state, "white")
        console.print(
            f"  {plain(r.runbook)}: [{style}]{plain(r.state)}[/]  [dim]evidence {plain(rel)}[/]",
            highlight=False,
            soft_wrap=True,
        )
        if r.error:
            console.print(f"    [red]{plain(r.error)}[/]", highlight=False)
    if chain.chain_error:
        console.print(f"[red]chain error:[/] {plain(chain.chain_error)}", highlight=False)
    if chain.posted.get("entry_id"):
        console.print(
            f"[dim]posted to the incident ({plain(chain.posted['provider'])}, entry {plain(chain.posted['entry_id'])})[/]",
            highlight=False,
        )
    elif chain.posted.get("error"):
        console.print(
            f"[yellow]posting to the incident failed: {plain(chain.posted['error'])}[/]",
            highlight=False,
        )
    if chain.scenario:
        console.print(f"[dim]scenario saved: {plain(chain.scenario)}[/]", highlight=False)
    if chain.scenario_error:
        console.print(f"[yellow]{plain(chain.scenario_error)}[/]", highlight=False)


class TerminalPrompter:
    """Asks the engineer on a terminal (used only when stdin is a TTY)."""

    def __init__(self, console: Console):
        self.console = console

    def show(self, title: str, markdown: str) -> None:
        """The instructions in a panel, wrapped to the terminal's width (never cut off); a
        title too long for the panel's top border goes inside it, wrapped too."""
        from rich.cells import cell_len
        from rich.console import Group
        from rich.text import Text

        # Markdown is the author's; values rendered into it may not move the cursor.
        body: Any = Markdown(visible(markdown or ""))
        heading = visible(title)
        fits = cell_len(heading) + 6 <= self.console.width
        if not fits:
            body = Group(Text(heading, style="bold"), Text(""), body)
        # The console soft-wraps (its lines end up in logs), which would crop a panel's lines.
        self.console.print(
            Panel(body, title=plain(title) if fits else None, border_style="cyan"),
            soft_wrap=False,
        )

    def ask_text(self, prompt: str, default: str | None = None) -> str:
        import click

        return str(click.prompt(visible(prompt), default=default, err=True))

    def ask_choice(self, prompt: str, options: list[tuple[str, str]]) -> str:
        """Numbered options, each wrapped under its own number; the value in parentheses
        when the label does not already start with it."""
        import click
        from rich.table import Table
        from rich.text import Text

        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True, justify="right")
        grid.add_column(ratio=1, overflow="fold")
        for i, (value, label) in enumerate(options, 1):
            text = Text(visible(label))
            if not label.startswith(value):
                text.append(f" ({visible(value)})", style="dim")
            grid.add_row(f"  {i}.", text)
        self.console.print(grid, soft_wrap=False)
        n = click.prompt(visible(prompt), type=click.IntRange(1, len(options)), err=True)
        return options[n - 1][0]

    def ask_checklist(self, prompt: str, items: list[str]) -> list[str]:
        """Each item asked in turn; its line then shows ☑ when ticked, ☐ when not."""
        import click
        from rich.cells import cell_len

        self.console.print(f"[bold]{plain(prompt)}[/]")
        ticked = []
        for item in items:
            question = f"  ☐ {visible(item)}"
            yes = click.confirm(question, default=False, err=True)
            if yes:
                ticked.append(item)
            if self.console.is_terminal:  # put the answer in the question's place
                rows = -(
                    -cell_len(f"{question} [y/N]: {'y' if yes else 'n'}") // self.console.width
                )
                self.console.file.write(f"\x1b[{rows}A\r\x1b[J")
            mark = "[green]☑[/]" if yes else "[dim]☐[/]"
            self.console.print(f"  {mark} {plain(item)}", highlight=False)
        return ticked

    def confirm(self, prompt: str) -> bool:
        import click

        return bool(click.confirm(prompt, err=True))


def interactive() -> bool:
    """True when a person can answer prompts."""
    return sys.stdin.isatty()
