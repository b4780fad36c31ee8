"""``gert tui``: the project in a full-screen terminal (Textual), keyboard first.

Incidents → an incident's chains and runs → a run's steps (with the output of the step
that runs, live, when the chain runs here), and the form of the manual step a run waits
at (text, checklist, file path, choice, outcome, approval). A surface over the library,
like the command line and the server: answering resumes the run with the same checks the
server makes, recorded as ``user:<name>``; an approval is given as that user, never a
typed name.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import (
    Button,
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    Log,
    RadioButton,
    RadioSet,
    SelectionList,
    Static,
)

from gert.project import Project

KEYS = """\
Keys
  ↑ ↓       move          Enter   open
  Esc       back          r       refresh
  Tab       next field    ?       this help
  s         start a runbook for an incident
  q, Ctrl+C quit (a chain running here stops
            before its next step)
"""


def _text(value: Any) -> Text:
    """A value as text for a widget: never read as markup (a step's output could hold
    ``[bold]`` or a link), its control characters shown (``\\x1b``), never acted on."""
    from gert.console import visible

    return Text(visible(str(value if value is not None else "")))


class Feed:
    """The events of a chain this terminal runs, from the engine's thread to the screen
    that shows them (the engine never waits for the screen)."""

    def __init__(self) -> None:
        self.events: queue.SimpleQueue[tuple[str, dict[str, Any]]] = queue.SimpleQueue()

    def __call__(self, type_: str, data: dict[str, Any]) -> None:
        self.events.put((type_, data))

    def drain(self, limit: int = 500) -> list[tuple[str, dict[str, Any]]]:
        """The events that arrived since the last drain (at most *limit*)."""
        out = []
        while len(out) < limit:
            try:
                out.append(self.events.get_nowait())
            except queue.Empty:
                break
        return out


class HelpScreen(ModalScreen[None]):
    """The keys."""

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape,question_mark,q", "app.pop_screen", "Close")
    ]

    def compose(self) -> ComposeResult:
        yield Static(KEYS, id="help")


def _keep_cursor(table: DataTable[Any], fill: Callable[[], None]) -> None:
    """Refill *table* with *fill*, its cursor on the same row as before."""
    row = table.cursor_row
    table.clear(columns=True)
    fill()
    if table.row_count:
        table.move_cursor(row=min(row, table.row_count - 1))


class IncidentsScreen(Screen[None]):
    """Every incident, newest first."""

    BINDINGS: ClassVar[list[Binding]] = [Binding("s", "start", "Start a runbook")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="empty")
        yield DataTable(id="incidents", cursor_type="row")
        yield Footer()

    def on_screen_resume(self) -> None:  # shown first, or again: read anew
        self.refresh_rows()

    def refresh_rows(self) -> None:
        from gert.overview import incidents

        table = self.query_one(DataTable)
        found = incidents(self.app.project)  # type: ignore[attr-defined]

        def fill() -> None:
            table.add_columns("incident", "status", "runs", "latest chain", "title")
            for i in found:
                table.add_row(
                    _text(i.get("id")),
                    _text(i.get("status") or ""),
                    _text(i.get("runs", 0)),
                    _text(i.get("last_state") or "—"),
                    _text(i.get("title") or ""),
                    key=str(i.get("id")),
                )

        _keep_cursor(table, fill)
        empty = self.query_one("#empty", Static)
        empty.display = not found
        root = self.app.project.root  # type: ignore[attr-defined]
        empty.update(
            _text(
                f"No incidents in {root} yet. Runs for an incident show here: gert exec "
                "RUNBOOK --incident ID, an alert to gert serve, or gert incident create."
            )
        )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.push_screen(IncidentScreen(str(event.row_key.value)))

    def action_start(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
            self.app.push_screen(RunbooksScreen(str(key.value)))


class IncidentScreen(Screen[None]):
    """An incident's chains, drawn, and its runs."""

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("s", "start", "Start a runbook"),
    ]

    def action_start(self) -> None:
        self.app.push_screen(RunbooksScreen(self.incident_id))

    def __init__(self, incident_id: str):
        super().__init__()
        self.incident_id = incident_id

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="chains")
        yield DataTable(id="runs", cursor_type="row")
        yield Footer()

    def on_screen_resume(self) -> None:  # shown first, or again: read anew
        self.refresh_rows()

    def refresh_rows(self) -> None:
        from gert.overview import incident_overview

        view = incident_overview(self.app.project, self.incident_id)  # type: ignore[attr-defined]
        title = (view.incident or {}).get("title") or ""
        lines = [f"Incident {self.incident_id}: {title}", ""]
        table = self.query_one(DataTable)

        def fill() -> None:
            table.add_columns("chain", "run", "runbook", "state", "recommendation")
            for n, chain in enumerate(view.chains, 1):
                for _, r in chain:
                    table.add_row(
                        str(n),
                        r.run_id,
                        _text(r.runbook_name),
                        _text(r.state),
                        _text(r.recommendation),
                        key=r.run_id,
                    )

        for n, chain in enumerate(view.chains, 1):
            lines.append(
                f"Chain {n}: " + " → ".join(f"{r.runbook_name} [{r.state}]" for _, r in chain)
            )
        _keep_cursor(table, fill)
        self.query_one("#chains", Static).update(_text("\n".join(lines)))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.push_screen(RunScreen(str(event.row_key.value)))


class RunbooksScreen(Screen[None]):
    """The runbooks that can start for an incident."""

    BINDINGS: ClassVar[list[Binding]] = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, incident_id: str):
        super().__init__()
        self.incident_id = incident_id

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(_text(f"Start a runbook for incident {self.incident_id}"), id="chains")
        yield DataTable(id="runbooks", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        from gert.catalog import list_runbooks

        project: Project = self.app.project  # type: ignore[attr-defined]
        table = self.query_one(DataTable)
        table.add_columns("runbook", "kind", "description")
        for e in list_runbooks(project=project):
            if e.valid and e.kind != "reference":
                rel = str(e.path.resolve().relative_to(project.real_root))
                table.add_row(_text(e.name), _text(e.kind), _text(e.description), key=rel)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.push_screen(StartScreen(self.incident_id, str(event.row_key.value)))


class StartScreen(Screen[None]):
    """A runbook's inputs bound from the incident (and from where), fields for what
    nothing supplies, and Dry-run / Start."""

    BINDINGS: ClassVar[list[Binding]] = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, incident_id: str, runbook: str):
        super().__init__()
        self.incident_id = incident_id
        self.runbook = runbook

    def compose(self) -> ComposeResult:
        from gert.starting import plan_start

        self.plan = plan_start(self.app.project, self.runbook, self.incident_id, {})  # type: ignore[attr-defined]
        yield Header()
        with VerticalScroll():
            yield Static(
                _text(f"Start {self.plan.model.meta.name} for incident {self.incident_id}"),
                id="summary",
            )
            for name in self.plan.model.meta.inputs:
                source = self.plan.sources.get(name, "")
                if name in self.plan.missing:
                    yield Label(_text(f"{name}: nothing supplies it; give a value"))
                    yield Input(id=f"var-{name}")
                else:
                    yield Static(_text(f"{name} = {self.plan.inputs[name]}   (from {source})"))
            yield Button(_text("Dry-run"), id="dry-run")
            yield Button(_text("Start"), id="real", variant="primary")
            yield Static(id="start-error")
        yield Footer()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        given = {
            name: self.query_one(f"#var-{name}", Input).value.strip() for name in self.plan.missing
        }
        given = {k: v for k, v in given.items() if v}
        mode = str(event.button.id)
        missing = [n for n in self.plan.missing if n not in given]
        if mode == "real" and missing:
            self.query_one("#start-error", Static).update(
                _text(f"no value for {', '.join(missing)}: give each above")
            )
            return
        for button in self.query(Button):
            button.disabled = True
        app: GertApp = self.app  # type: ignore[assignment]
        self.feed = app.run_chain(
            lambda options: _engine_run(app, self.plan.path, options),
            mode=mode,
            incident_id=self.incident_id,
            variables=given,
        )
        self.watching = self.set_interval(0.1, self.follow)

    def follow(self) -> None:
        """Open the run once it has an ID; a chain refused before it began is said here."""
        while events := self.feed.drain(limit=1):  # one at a time: the run's screen
            type_, data = events[0]  # takes the rest
            if type_ == "run_started":
                self.watching.stop()
                self.app.switch_screen(RunScreen(str(data["run_id"]), self.feed))
                return
            if type_ == "chain_failed":
                self.watching.stop()
                self.query_one("#start-error", Static).update(_text(data.get("error", "")))
                for button in self.query(Button):
                    button.disabled = False
                return


def _engine_run(app: GertApp, path: Any, options: Any) -> Any:
    from gert.engine import Engine

    with Engine(app.project) as engine:
        return engine.run(path, options)


def _engine_resume(app: GertApp, run_id: str, options: Any) -> Any:
    from gert.engine import Engine

    with Engine(app.project) as engine:
        return engine.resume(run_id, options)


class StepScreen(ModalScreen[None]):
    """One step of a run in full: its status, error, captures and output."""

    BINDINGS: ClassVar[list[Binding]] = [Binding("escape,enter,q", "app.pop_screen", "Close")]

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="step"):
            yield Static(_text(self.text))


class RunScreen(Screen[None]):
    """A run's steps and, when it waits, the form of its waiting step. Given the feed of
    a chain this terminal runs, it follows the chain from run to run and shows each
    step's output as it comes; a run running or waiting elsewhere is read again when its
    trace changes (checked every second)."""

    BINDINGS: ClassVar[list[Binding]] = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, run_id: str, feed: Feed | None = None):
        super().__init__()
        self.run_id = run_id
        self.feed = feed
        self.waiting: dict[str, Any] | None = None
        self.status = ""
        self.running_step = ""
        self.runbook = ""
        self.form_for: tuple[str, str] | None = None  # (run, step) the form answers
        self.seen: tuple[float, int] | None = None  # the trace's mtime and size when read
        self.records: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Static(id="summary")
            yield DataTable(id="steps", cursor_type="row")
            yield Vertical(id="form")
            yield Log(id="output", max_lines=5000, auto_scroll=True)
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one("#output", Log).display = self.feed is not None
        await self.refresh_rows()
        if self.feed is not None:
            self.query_one("#output", Log).write_line(
                _text(f"▶ {self.runbook}  run {self.run_id}").plain
            )
            self.set_interval(0.1, self.follow)
        self.set_interval(1.0, self.poll)

    def _trace_now(self) -> tuple[float, int] | None:
        project: Project = self.app.project  # type: ignore[attr-defined]
        trace = project.resolve(project.config.runs_dir) / self.run_id / "trace.jsonl"
        try:
            st = trace.stat()
        except OSError:
            return None
        return (st.st_mtime, st.st_size)

    async def poll(self) -> None:
        """Read the run again when something else (a server, an assistant, another
        terminal) added to its trace."""
        if self.status in ("running", "waiting") and self._trace_now() != self.seen:
            await self.refresh_rows()

    async def follow(self) -> None:
        """Show what the chain this terminal runs did since the last look."""
        if self.feed is None:
            return
        events = self.feed.drain()
        if not events:
            return
        log = self.query_one("#output", Log)
        changed = False
        for type_, data in events:
            if type_ == "step_output":
                log.write_line(_text(f"  {data['step_id']} │ {data['line']}").plain)
                continue
            changed = True
            if type_ in ("run_started", "run_resumed"):
                self.run_id = str(data["run_id"])
                log.write_line(_text(f"▶ {data.get('runbook', '')}  run {self.run_id}").plain)
            elif type_ == "step_started":
                self.running_step = str(data["step_id"])
                log.write_line(_text(f"… {self.running_step}").plain)
            elif type_ in ("step_completed", "step_skipped"):
                self.running_step = ""
            elif type_ == "outcome_reached":
                log.write_line(_text(f"→ outcome {data.get('state', '')}").plain)
            elif type_ == "run_waiting":
                log.write_line(_text(f"⏸ waiting at {data.get('step_id', '')}").plain)
            elif type_ == "chain_finished":
                self.running_step = ""
                log.write_line(_text(f"chain finished: {data.get('state', '')}").plain)
            elif type_ == "chain_failed":
                self.running_step = ""
                log.write_line(_text(f"chain stopped: {data.get('error', '')}").plain)
        if changed:
            await self.refresh_rows()

    async def refresh_rows(self) -> None:
        from gert.overview import run_view

        self.seen = self._trace_now()
        view = run_view(self.app.project, self.run_id)  # type: ignore[attr-defined]
        m = view.manifest
        self.status = str(m.get("status", ""))
        self.runbook = str(m.get("runbook_name", ""))
        outcome = m.get("outcome") or {}
        state = outcome.get("state") or self.status
        trace = "trace verified" if view.verified else "TRACE VERIFICATION FAILED"
        mode = "  DRY-RUN (nothing ran)" if m.get("mode") == "dry-run" else ""
        summary = f"Run {self.run_id}  {self.runbook}  {state}{mode}  ({trace})"
        if self.running_step and self.status == "running":
            summary += f"\nrunning: {self.running_step}"
        if outcome.get("recommendation"):
            summary += f"\n→ {outcome['recommendation']}"
        self.query_one("#summary", Static).update(_text(summary))
        table = self.query_one(DataTable)
        self.records = view.rows()

        def fill() -> None:
            table.add_columns("#", "step", "status", "captures / error")
            for r in self.records:
                shown = r["error"] or ", ".join(f"{k}={v}" for k, v in r["captures"].items())
                if r["status"] == "waiting":
                    shown = "answers below"
                table.add_row(
                    _text(r["number"]), _text(r["step_id"]), _text(r["status"]), _text(shown)
                )

        _keep_cursor(table, fill)
        self.waiting = view.waiting
        key = (self.run_id, self.waiting["step_id"]) if self.waiting else None
        if key != self.form_for:  # a new question: a new form (a refresh keeps the answers)
            self.form_for = key
            await self.show_form()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id != "steps" or event.cursor_row >= len(self.records):
            return
        import json

        r = self.records[event.cursor_row]
        text = (
            f"Step {r['step_id']} ({r['status']})"
            + (f", {r['duration_ms']:.0f} ms" if r.get("duration_ms") is not None else "")
            + (f"\n\nerror: {r['error']}" if r["error"] else "")
            + (f"\n\ncaptures:\n{json.dumps(r['captures'], indent=2)}" if r["captures"] else "")
        )
        self.app.push_screen(StepScreen(text))

    async def show_form(self) -> None:
        """The form of the step the run waits at (nothing when it waits for none)."""
        form = self.query_one("#form", Vertical)
        await form.remove_children()
        if not self.waiting:
            return
        w = self.waiting
        widgets: list[Any] = [
            Label(_text(f"Waiting: {w.get('title') or w['step_id']}"), id="waiting-title")
        ]
        widgets.append(Static(_text(w.get("instructions", "")), id="instructions"))
        approvals = int(w.get("approvals") or 0)
        if not w.get("answerable") or approvals > 1:
            how = (
                f"needs {approvals} approvals, given together: gert resume {self.run_id} "
                f"--evidence FILE ({w['step_id']}: {{approved_by: [names]}})"
                if approvals > 1
                else f"{w.get('needs', '')}\n(answer it with gert serve or gert resume)"
            )
            widgets.append(Static(_text(how), id="answer-elsewhere"))
            await form.mount_all(widgets)
            return
        for ev in w.get("evidence") or []:
            widgets.append(Label(_text(f"{ev['name']} ({ev['kind']}) {ev.get('description', '')}")))
            if ev["kind"] == "checklist":
                widgets.append(
                    SelectionList[str](
                        *[(item, item) for item in ev["items"]], id=f"ev-{ev['name']}"
                    )
                )
            else:
                hint = "path inside the project" if ev["kind"] == "attachment" else ""
                widgets.append(Input(placeholder=hint, id=f"ev-{ev['name']}"))
        for field, options in (
            ("choice", [o["value"] for o in (w.get("choices") or {}).get("options", [])]),
            ("outcome", w.get("outcomes") or []),
        ):
            if options:
                widgets.append(Label(_text(field)))
                widgets.append(
                    RadioSet(*[RadioButton(_text(o), name=o) for o in options], id=f"pick-{field}")
                )
        label = "Answer and go on"
        if approvals:
            me = self.app.approver  # type: ignore[attr-defined]
            widgets.append(Static(_text(f"This step needs an approval: yours, as {me}.")))
            label = f"Approve as {me} and go on"
        widgets.append(Button(_text(label), id="answer", variant="primary"))
        widgets.append(Static(id="answer-error"))
        await form.mount_all(widgets)
        # the first field takes the keys: typing an answer never presses r or q
        first = next((x for x in widgets if isinstance(x, Input | SelectionList | RadioSet)), None)
        (first or widgets[-2]).focus()

    def answers(self) -> dict[str, Any]:
        """What the form holds, as an --evidence file gives it."""
        assert self.waiting is not None
        given: dict[str, Any] = {}
        for ev in self.waiting.get("evidence") or []:
            widget = self.query_one(f"#ev-{ev['name']}")
            if isinstance(widget, SelectionList):
                given[ev["name"]] = list(widget.selected)
            elif isinstance(widget, Input) and widget.value.strip():
                given[ev["name"]] = widget.value.strip()
        for field in ("choice", "outcome"):
            picks = self.query(f"#pick-{field}")
            if picks:
                pressed = picks.first(RadioSet).pressed_button
                if pressed is not None:
                    given[field] = str(pressed.name)
        return given

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id != "answer" or self.waiting is None:
            return
        from gert.overview import answer_problems

        given = self.answers()
        wrong = answer_problems(self.waiting, given)
        if wrong:
            self.query_one("#answer-error", Static).update(_text("; ".join(wrong)))
            return
        event.button.disabled = True
        app: GertApp = self.app  # type: ignore[assignment]
        if self.waiting.get("approvals"):
            given["approved_by"] = [app.approver]  # as themselves, never a typed name
        run_id, step_id = self.run_id, self.waiting["step_id"]
        feed = app.run_chain(
            lambda options: _engine_resume(app, run_id, options), answers={step_id: given}
        )
        if self.feed is None:  # from now on this screen follows the chain it resumed
            self.feed = feed
            self.query_one("#output", Log).display = True
            self.set_interval(0.1, self.follow)
        else:
            self.feed = feed


THEMES = {"dark": "textual-dark", "light": "textual-light"}


class GertApp(App[None]):
    """gert in a terminal."""

    TITLE = "gert"
    CSS = """
    #chains, #summary, #instructions { padding: 1 2; }
    #help { width: 56; height: auto; padding: 1 2; border: round $accent; background: $panel; }
    HelpScreen { align: center middle; }
    #form { height: auto; padding: 0 2; }
    #answer-error { color: $text-error; }
    #output { height: 12; border: round $primary; margin: 0 2; }
    """
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("question_mark", "help", "Keys"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self, project: Project, actor: str, theme: str | None = None):
        super().__init__()
        self.project = project
        self.actor = actor
        self.approver = actor.removeprefix("user:")
        # Set when the terminal closes: a chain it runs stops before its next step,
        # recorded as interrupted (gert resume goes on with it).
        self.stopping = threading.Event()
        self.chains: list[tuple[threading.Thread, Feed]] = []  # chains this terminal runs
        if theme:
            self.theme = THEMES.get(theme, theme)

    def on_mount(self) -> None:
        self.push_screen(IncidentsScreen())

    def on_unmount(self) -> None:
        self.stopping.set()

    def run_chain(self, call: Callable[[Any], Any], **options: Any) -> Feed:
        """Run *call* (an engine run or resume, given its Options) in a thread, its events
        into a new :class:`Feed`, ended by ``chain_finished`` or ``chain_failed``."""
        from gert.engine import Options

        feed = Feed()
        opts = Options(
            actor=self.actor,
            observer=feed,
            stop=self.stopping,
            stop_reason="gert tui closed",
            **options,
        )

        def go() -> None:
            try:
                chain = call(opts)
            except Exception as e:  # refused (answered elsewhere, a bad runbook): shown
                feed("chain_failed", {"error": str(e)})
                return
            feed("chain_finished", {"state": chain.final_state or ""})

        # A thread of its own, not a Textual worker: closing the terminal never waits
        # for a step to end (see running_chains and gert tui's exit).
        thread = threading.Thread(target=go, name="gert-chain", daemon=False)
        self.chains = [(t, f) for t, f in self.chains if t.is_alive()] + [(thread, feed)]
        thread.start()
        return feed

    def running_chains(self) -> list[threading.Thread]:
        """The chains this terminal started that have not ended yet."""
        return [t for t, _ in self.chains if t.is_alive()]

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    async def action_refresh(self) -> None:
        screen = self.screen
        if hasattr(screen, "refresh_rows"):
            done = screen.refresh_rows()
            if done is not None:
                await done
