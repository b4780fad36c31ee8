"""Terminal rendering for the CLI: live progress, the chain summary, and the prompter
that asks the engineer for manual evidence. A surface module: only the CLI imports it."""

from __future__ import annotations

import atexit
import functools
import os
import re
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

from rich.console import Console
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
    """Prints each event of a run as it happens (the engine's observer); on a terminal, a
    live line shows the step that is running (:class:`LiveLine`)."""

    def __init__(self, console: Console):
        self.console = console
        self.live: LiveLine | None = None
        if console.is_interactive and _isatty(console.file):  # a person watches a terminal
            self.live = _LIVE_LINES[console] = LiveLine(console)

    def __call__(self, type_: str, data: dict[str, Any]) -> None:
        live = self.live
        if type_ == "step_output":  # from a reader thread, while the step runs
            if live is not None:
                live.output(data["step_id"], data["line"])
            return
        if live is None:
            self.show(type_, data)
            return
        with live.hidden():  # printed above the live line, which is drawn again after
            self.show(type_, data)
            if type_ == "step_started":
                live.started(data["step_id"], data.get("title") or "", data.get("type") or "")
            elif type_ in ("step_completed", "step_skipped"):
                live.ended(data["step_id"])
            elif type_ in ("run_completed", "run_interrupted"):
                live.reset()

    def show(self, type_: str, data: dict[str, Any]) -> None:
        """Print one event."""
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
            if data.get("step_id") and data.get("decision") == "retry":  # a skip prints as one
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
                f"[dim]({data['duration_ms']:.0f} ms{tries})[/]"
                + (f"  {caps}" if caps else "")
                + err
                + _would_run(data),
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
            rec = data.get("recommendation", "")
            code, meta = data.get("code"), data.get("meta")
            c.print(
                f"  → outcome [{style}]{plain(data['state'])}[/]"
                + (f" code [bold]{plain(code, one_line=True)}[/]" if code else "")
                + (f" [dim]({plain(shorten(_pairs(meta), 120), one_line=True)})[/]" if meta else "")
                + (f": {plain(rec, one_line=True)}" if rec else ""),
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


class _Running:
    """A step on the live line: its ID, title, kind, start and the last line it printed."""

    def __init__(self, step_id: str, title: str, kind: str):
        self.step_id, self.title, self.kind = step_id, title, kind
        self.started = time.monotonic()
        self.last = ""


class LiveLine:
    """The line at the bottom of a terminal while a step runs: its ID and title, how long it
    has run, and the last line its command printed.

    A background thread draws it four times a second once the step has run for half a
    second (quick steps never show it); it is erased before anything else is printed
    (:meth:`hidden`) and while the engineer is asked something (:meth:`paused`), and never
    drawn for a manual step. Step output is shown as text, control characters visible.
    """

    TICK = 0.25  # seconds between draws
    DELAY = 0.5  # a step shows once it has run this long
    SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self, console: Console):
        self.console = console
        self.lock = threading.RLock()
        self.steps: list[_Running] = []  # innermost last (an invoked runbook's steps)
        self.drawn = False
        self.pauses = 0
        self.thread: threading.Thread | None = None
        self.closed = threading.Event()

    def started(self, step_id: str, title: str, kind: str) -> None:
        with self.lock:
            self.steps.append(_Running(step_id, title, kind))
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="gert-live", daemon=True)
                self.thread.start()
                atexit.register(self.close)

    def output(self, step_id: str, line: str) -> None:
        with self.lock:
            for running in reversed(self.steps):
                if running.step_id == step_id:
                    running.last = line
                    break

    def ended(self, step_id: str) -> None:
        with self.lock:
            for n in range(len(self.steps) - 1, -1, -1):
                if self.steps[n].step_id == step_id:
                    del self.steps[n]
                    break
            self.erase()

    def reset(self) -> None:
        with self.lock:
            self.steps.clear()
            self.erase()

    def close(self) -> None:
        """Stop drawing and leave the terminal as it was."""
        self.closed.set()
        with suppress(OSError, ValueError):  # the terminal went away first
            self.reset()

    @contextmanager
    def hidden(self) -> Iterator[None]:
        """Erased while the caller prints; drawn again on the next tick."""
        with self.lock:
            self.erase()
            yield

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Not drawn until the block ends (a prompt is waiting for the engineer)."""
        with self.lock:
            self.erase()
            self.pauses += 1
        try:
            yield
        finally:
            with self.lock:
                self.pauses -= 1

    def erase(self) -> None:
        if self.drawn:
            self._write("\r\x1b[2K")
            self.drawn = False

    def text(self, now: float) -> tuple[str, str, str, str] | None:
        """What the line shows — the step, how long it has run, its title, its last
        output line — or None when nothing is to be shown."""
        if not self.steps or self.pauses:
            return None
        top = self.steps[-1]
        seconds = now - top.started
        if top.kind == "manual" or seconds < self.DELAY:
            return None
        last = visible(top.last.replace("\t", " ")).strip()
        return visible(top.step_id), _elapsed(seconds), visible(top.title), last

    def draw(self) -> None:
        from rich.cells import cell_len, set_cell_size

        now = time.monotonic()
        shown = self.text(now)
        if shown is None:
            self.erase()
            return
        step_id, elapsed, title, last = shown
        spin = self.SPINNER[int(now / self.TICK) % len(self.SPINNER)]
        room = self.console.width - 1  # the last column would wrap on some terminals
        # The step and its time always show; the title and the output share what is left.
        head = f"  {spin} {step_id}  {elapsed}"
        rest = room - cell_len(head)
        if title and last:
            title = _fit(title, max(rest // 2, rest - cell_len(last) - 4) - 2)
        parts = [(f"  {spin} ", "\x1b[36m"), (step_id, "\x1b[1m"), (f"  {elapsed}", "\x1b[2m")]
        if title:
            parts.append((f"  {title}", ""))
        if last:
            parts.append((f"  {last}", "\x1b[2m"))
        colour = self.console.color_system is not None and not self.console.no_color
        out = ["\r"]
        for text, style in parts:
            if room <= 0:
                break
            if cell_len(text) > room:
                text = set_cell_size(text, room - 1) + "…"
            room -= cell_len(text)
            out.append(f"{style}{text}\x1b[0m" if colour and style else text)
        out.append("\x1b[K")
        self._write("".join(out))
        self.drawn = True

    def _run(self) -> None:
        while not self.closed.wait(self.TICK):
            with self.lock:
                try:
                    self.draw()
                except Exception:  # a display that breaks never changes the run
                    self.closed.set()

    def _write(self, text: str) -> None:
        file = self.console.file
        file.write(text)
        file.flush()


def _elapsed(seconds: float) -> str:
    s = int(seconds)
    if s < 10:
        return f"{seconds:.1f} s"
    return f"{s} s" if s < 60 else f"{s // 60} min {s % 60:02d} s"


def _fit(text: str, cells: int) -> str:
    """*text* in at most *cells* terminal cells, with … where it was cut."""
    from rich.cells import cell_len, set_cell_size

    if cell_len(text) <= cells:
        return text
    return set_cell_size(text, cells - 1) + "…" if cells > 1 else ""


def _isatty(file: Any) -> bool:
    try:
        return bool(file.isatty())
    except (AttributeError, ValueError):  # no such method, or closed
        return False


# The live line of each console, so that its prompter can pause it.
_LIVE_LINES: weakref.WeakKeyDictionary[Console, LiveLine] = weakref.WeakKeyDictionary()


def _would_run(data: dict[str, Any]) -> str:
    """What a dry-run's step would have done, on its own dim line."""
    would = data.get("would_run")
    if not isinstance(would, dict) or not would:
        return ""
    if would.get("argv"):
        what = " ".join(str(a) for a in would["argv"])
    elif would.get("url"):
        what = f"{would.get('method', 'GET')} {would['url']}"
    elif would.get("query"):
        what = str(would["query"])
    elif would.get("name") and would.get("action"):  # a tool step: tool.action and its args
        args = would.get("args")
        what = f"{would['name']}.{would['action']}" + (f" {_pairs(args)}" if args else "")
    elif would.get("instructions"):
        text = str(would["instructions"]).strip()
        what = text.splitlines()[0] if text else ""
        shown = re.search(r"```[^\n]*\n(.+?)\n", text)  # a command it shows the engineer
        if shown and shown.group(1).strip() not in what:
            what += f"  (shows: {shown.group(1).strip()})"
        if would.get("choice"):
            what += f"  (choice: {would['choice']})"
    else:
        what = _pairs({k: v for k, v in would.items() if k != "dry_run"})
    return f"\n      [dim]would run: {plain(what, one_line=True)}[/]" if what else ""


def _pairs(values: Any) -> str:
    """A mapping as ``key: value, …`` (lists and mappings inside as JSON), never a repr."""
    import json

    def text(v: Any) -> str:
        if isinstance(v, str):
            return v
        return json.dumps(v, ensure_ascii=False, default=str)

    if not isinstance(values, dict):
        return text(values)
    return ", ".join(f"{k}: {text(v)}" for k, v in values.items())


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
            rel = os.path.relpath(r.folder.resolve(), root)
        except ValueError:
            rel = str(r.folder)
        style = STATE_STYLE.get(r.state, "white")
        if not (r.folder / "run.yaml").exists() and r.folder.parent.name == "work":
            rel = f"in the store, run {r.run_id}"  # PostgreSQL: gert runs export writes it out
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


F = TypeVar("F", bound=Callable[..., Any])


def _pausing(method: F) -> F:
    """The prompter's *method*, with its console's live line paused while it asks."""

    @functools.wraps(method)
    def asking(self: TerminalPrompter, *args: Any, **kwargs: Any) -> Any:
        live = _LIVE_LINES.get(self.console)
        if live is None:
            return method(self, *args, **kwargs)
        with live.paused():
            return method(self, *args, **kwargs)

    return asking  # type: ignore[return-value]


class TerminalPrompter:
    """Asks the engineer on a terminal (used only when stdin is a TTY)."""

    def __init__(self, console: Console):
        self.console = console

    @_pausing
    def show(self, title: str, markdown: str) -> None:
        """The instructions in a panel, wrapped to the terminal's width (never cut off); a
        title too long for the panel's top border goes inside it, wrapped too."""
        from rich.cells import cell_len
        from rich.console import Group
        from rich.markdown import Markdown  # markdown-it: loaded for a manual step only
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

    @_pausing
    def ask_text(self, prompt: str, default: str | None = None) -> str:
        import click

        return str(click.prompt(visible(prompt), default=default, err=True))

    @_pausing
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

    @_pausing
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
            # The question was asked on stderr: on the same terminal, the answer takes its place.
            if _isatty(self.console.file) and _isatty(sys.stderr):
                rows = -(
                    -cell_len(f"{question} [y/N]: {'y' if yes else 'n'}") // self.console.width
                )
                self.console.file.write(f"\x1b[{rows}A\r\x1b[J")
            mark = "[green]☑[/]" if yes else "[dim]☐[/]"
            self.console.print(f"  {mark} {plain(item)}", highlight=False)
        return ticked

    @_pausing
    def confirm(self, prompt: str) -> bool:
        import click

        return bool(click.confirm(prompt, err=True))


def interactive() -> bool:
    """True when a person can answer prompts."""
    return sys.stdin.isatty()
