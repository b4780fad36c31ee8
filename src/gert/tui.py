"""``gert tui``: the project in a full-screen terminal (Textual), keyboard first.

Incidents → an incident's chains and runs → a run's steps, and the form of the manual
step a run waits at (text, checklist, file path, choice, outcome). A surface over the
library, like the command line and the server: answering resumes the run with the same
checks the server makes, recorded as ``user:<name>``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
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
  s         start a runbook (on an incident)
  q         quit
"""


def _text(value: Any) -> Text:
    """A value as text for a widget: never read as markup (a step's output could hold
    ``[bold]`` or a link)."""
    return Text(str(value if value is not None else ""))


class HelpScreen(ModalScreen[None]):
    """The keys."""

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape,question_mark,q", "app.pop_screen", "Close")
    ]

    def compose(self) -> ComposeResult:
        yield Static(KEYS, id="help")


class IncidentsScreen(Screen[None]):
    """Every incident, newest first."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="incidents", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_rows()

    def refresh_rows(self) -> None:
        from gert.overview import incidents

        table = self.query_one(DataTable)
        table.clear(columns=True)
        table.add_columns("incident", "status", "runs", "latest chain", "title")
        for i in incidents(self.app.project):  # type: ignore[attr-defined]
            table.add_row(
                _text(i.get("id")),
                _text(i.get("status") or ""),
                _text(i.get("runs", 0)),
                _text(i.get("last_state") or "—"),
                _text(i.get("title") or ""),
                key=str(i.get("id")),
            )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.push_screen(IncidentScreen(str(event.row_key.value)))


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

    def on_mount(self) -> None:
        self.refresh_rows()

    def refresh_rows(self) -> None:
        from gert.overview import incident_overview

        view = incident_overview(self.app.project, self.incident_id)  # type: ignore[attr-defined]
        title = (view.incident or {}).get("title") or ""
        lines = [f"Incident {self.incident_id}: {title}", ""]
        table = self.query_one(DataTable)
        table.clear(columns=True)
        table.add_columns("chain", "run", "runbook", "state", "recommendation")
        for n, chain in enumerate(view.chains, 1):
            lines.append(
                f"Chain {n}: " + " → ".join(f"{r.runbook_name} [{r.state}]" for _, r in chain)
            )
            for _, r in chain:
                table.add_row(
                    str(n),
                    r.run_id,
                    _text(r.runbook_name),
                    _text(r.state),
                    _text(r.recommendation),
                    key=r.run_id,
                )
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
        self.start(mode, given)

    @work(thread=True, exclusive=True)
    def start(self, mode: str, given: dict[str, str]) -> None:
        """Run the chain (in a worker: the screen stays live), then show its first run."""
        from gert.engine import Engine, Options

        app: GertApp = self.app  # type: ignore[assignment]
        try:
            with Engine(app.project) as engine:
                chain = engine.run(
                    self.plan.path,
                    Options(
                        mode=mode,
                        incident_id=self.incident_id,
                        variables=given,
                        actor=app.actor,
                    ),
                )
        except Exception as e:  # refused before anything ran: said on the screen
            app.call_from_thread(self.query_one("#start-error", Static).update, _text(str(e)))
            return
        last = chain.runs[-1].run_id if chain.runs else ""
        app.call_from_thread(self.dismiss_to, last)

    def dismiss_to(self, run_id: str) -> None:
        self.app.pop_screen()
        if run_id:
            self.app.push_screen(RunScreen(run_id))


class RunScreen(Screen[None]):
    """A run's steps and, when it waits, the form of its waiting step."""

    BINDINGS: ClassVar[list[Binding]] = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, run_id: str):
        super().__init__()
        self.run_id = run_id
        self.waiting: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Static(id="summary")
            yield DataTable(id="steps", cursor_type="row")
            yield Vertical(id="form")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_rows()

    def refresh_rows(self) -> None:
        from gert.overview import run_view

        view = run_view(self.app.project, self.run_id)  # type: ignore[attr-defined]
        m = view.manifest
        outcome = m.get("outcome") or {}
        state = outcome.get("state") or m.get("status", "")
        trace = "trace verified" if view.verified else "TRACE VERIFICATION FAILED"
        summary = f"Run {self.run_id}  {m.get('runbook_name', '')}  {state}  ({trace})"
        if outcome.get("recommendation"):
            summary += f"\n→ {outcome['recommendation']}"
        self.query_one("#summary", Static).update(_text(summary))
        table = self.query_one(DataTable)
        table.clear(columns=True)
        table.add_columns("#", "step", "status", "captures")
        for _, r in view.steps:
            captures = ", ".join(f"{k}={v}" for k, v in (r.get("captures") or {}).items())
            table.add_row(
                _text(r.get("number")),
                _text(r.get("step_id")),
                _text(r.get("status")),
                _text(captures),
            )
        self.waiting = view.waiting
        form = self.query_one("#form", Vertical)
        form.remove_children()
        if not self.waiting:
            return
        w = self.waiting
        widgets: list[Any] = [
            Label(_text(f"Waiting: {w.get('title') or w['step_id']}"), id="waiting-title")
        ]
        widgets.append(Static(_text(w.get("instructions", "")), id="instructions"))
        if not w.get("answerable") or w.get("approvals"):
            widgets.append(
                Static(_text(w.get("needs", "")) + "\n(answer it with gert serve or gert resume)")
            )
            form.mount_all(widgets)
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
        widgets.append(Button(_text("Answer and go on"), id="answer", variant="primary"))
        widgets.append(Static(id="answer-error"))
        form.mount_all(widgets)

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
        self.resume(self.waiting["step_id"], given)

    @work(thread=True, exclusive=True)
    def resume(self, step_id: str, given: dict[str, Any]) -> None:
        """Resume the run with the answers (in a worker: the screen stays live)."""
        from gert.engine import Engine, Options

        app: GertApp = self.app  # type: ignore[assignment]
        try:
            with Engine(app.project) as engine:
                engine.resume(self.run_id, Options(answers={step_id: given}, actor=app.actor))
        except Exception as e:  # shown on the form: answered elsewhere, refused
            app.call_from_thread(self.query_one("#answer-error", Static).update, _text(str(e)))
        app.call_from_thread(self.refresh_rows)


class GertApp(App[None]):
    """gert in a terminal."""

    TITLE = "gert"
    CSS = """
    #chains, #summary, #instructions { padding: 1 2; }
    #help { width: 56; height: auto; padding: 1 2; border: round $accent; background: $panel; }
    HelpScreen { align: center middle; }
    #form { height: auto; padding: 0 2; }
    #answer-error { color: $error; }
    """
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Keys"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self, project: Project, actor: str):
        super().__init__()
        self.project = project
        self.actor = actor

    def on_mount(self) -> None:
        self.push_screen(IncidentsScreen())

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_refresh(self) -> None:
        screen = self.screen
        if hasattr(screen, "refresh_rows"):
            screen.refresh_rows()
