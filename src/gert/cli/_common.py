"""What the commands share: the group with the one error handler, options written once,
the terminal, and running a chain (exec, resume, triage --run).

Only click and gert.errors are imported here; everything else loads inside functions, when
a command runs.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from gert.errors import GertError, InvalidError

if TYPE_CHECKING:
    from pathlib import Path

    from rich.console import Console

    from gert.engine import ChainResult, Engine, Options
    from gert.project import Project
    from gert.store.index import RunIndex

F = TypeVar("F", bound=Callable[..., Any])


class GertGroup(click.Group):
    """The ``gert`` group, with gert's one error handler.

    A :class:`~gert.errors.GertError` that a command lets through ends the command: it is
    printed on stderr and the command exits with the error's ``exit_code``.
    """

    def invoke(self, ctx: click.Context) -> Any:
        as_json = "--json" in (ctx.args or [])  # read now: invoking consumes the arguments
        try:
            return super().invoke(ctx)
        except GertError as e:
            show_error(e)
            if as_json:  # a script reading stdout gets JSON, not nothing
                echo_json({"error": str(e), "exit_code": e.exit_code})
            ctx.exit(e.exit_code)
        except (KeyboardInterrupt, click.Abort):  # Ctrl-C before a run began, or at a prompt
            click.echo("interrupted", err=True)
            ctx.exit(130)


def show_error(error: GertError) -> None:
    """``error: MESSAGE`` on stderr; an invalid runbook's errors and a YAML file that cannot
    be read as ``FILE:LINE:COL: error: MESSAGE`` lines, as ``gert validate`` prints them."""
    from gert.load import LoadError
    from gert.problems import Problem, RunbookInvalid

    if isinstance(error, RunbookInvalid):
        import dataclasses

        for problem in error.problems:
            if problem.severity == "error":  # files named as from here, as validate does
                click.echo(
                    dataclasses.replace(problem, file=shown(problem.file)).format(), err=True
                )
    elif isinstance(error, LoadError):
        problem = Problem(error.file, error.line, error.col, error.message, hint=error.hint)
        click.echo(problem.format(), err=True)
    else:
        click.echo(f"error: {error}", err=True)


@contextmanager
def usage_errors(*types: type[Exception]) -> Iterator[None]:
    """Show errors of these types as click shows a usage error (the usage line, then
    ``Error: MESSAGE``; exit 2): bad input given on the command line."""
    try:
        yield
    except types as e:
        raise click.UsageError(str(e)) from None


@contextmanager
def click_errors(*types: type[Exception]) -> Iterator[None]:
    """Show errors of these types as click shows a failure (``Error: MESSAGE``; exit 1)."""
    try:
        yield
    except types as e:
        raise click.ClickException(str(e)) from None


# ------------------------------------------------------------------ options


def json_option(help: str = "Print JSON.") -> Callable[[F], F]:
    """``--json`` (the ``as_json`` flag): print a result as JSON on stdout."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def incident_option(help: str) -> Callable[[F], F]:
    """``--incident ID`` (``incident_id``)."""
    return click.option("--incident", "incident_id", metavar="ID", help=help)


evidence_option = click.option(
    "--evidence", "answers_file", type=click.Path(), help="Answers for manual steps, by step ID."
)


def parse_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    """``NAME=VALUE`` options (``--var``, ``--field``, ``--location``) as a mapping."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--var")
        out[name] = value
    return out


def load_answers(path: str | None) -> dict[str, dict[str, Any]]:
    """The ``--evidence`` file's answers ({} without one); a bad file is a usage error."""
    if not path:
        return {}
    from gert.executors.manual import load_answers as load

    with usage_errors(InvalidError):
        return load(path)


# ------------------------------------------------------------------ output


def shown(path: str | Path) -> str:
    """A path as the user can use it from where they are: relative to the current folder
    (``../x`` when it lies beside it), else absolute."""
    import os
    from pathlib import Path as _Path

    full = _Path(path).resolve()
    rel = os.path.relpath(full, _real_cwd(os.getcwd()))
    return str(full) if rel.startswith(("../../..",)) else rel


@functools.lru_cache(maxsize=8)
def _real_cwd(cwd: str) -> str:
    """The current folder with symlinks followed (asked once per folder: a test run
    prints a thousand paths)."""
    import os

    return os.path.realpath(cwd)


def echo_json(data: Any) -> None:
    """Print *data* as indented JSON on stdout."""
    import json

    click.echo(json.dumps(data, indent=2))


def plural(n: int, word: str) -> str:
    """``1 run``, ``2 runs``."""
    return f"{n} {word}{'s' * (n != 1)}"


def duration(ms: float | None) -> str:
    """A run's duration for a table: ms, s or min."""
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 120_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms / 60000:.1f} min"


def terminal(as_json: bool) -> Console:
    """The console progress and summaries are drawn on: stderr when stdout carries JSON;
    no hard wraps (the output ends up in logs)."""
    from rich.console import Console

    return Console(stderr=as_json, highlight=False, soft_wrap=True)


def run_index() -> RunIndex:
    """The project's run index (gert.yaml is checked first, as by every command)."""
    from gert.project import open_project
    from gert.store import open_index

    return open_index(open_project().root)


# ------------------------------------------------------------------ chains


def run_chain(
    project: Project,
    as_json: bool,
    start: Callable[[Engine, Options], ChainResult],
    console: Console | None = None,
    **options: Any,
) -> NoReturn:
    """Run a chain with *start* (exec, resume, triage --run): progress and prompts on a
    terminal, or JSON; then the summary, and exit with the chain's code.

    *options* are :class:`~gert.engine.Options` fields.
    """
    from gert.console import Progress, TerminalPrompter, interactive, print_summary
    from gert.engine import Engine, Options

    console = console or terminal(as_json)
    _stop_on_signals()
    chosen = Options(
        prompter=Interruptible(TerminalPrompter(console))
        if interactive() and not as_json
        else None,
        observer=None if as_json else Progress(console),
        **options,
    )
    try:
        with Engine(project) as engine:
            chain = start(engine, chosen)
    except FileNotFoundError as e:  # a file that cannot be had is bad input here (exit 2)
        if isinstance(e, GertError):
            raise
        raise InvalidError(str(e)) from e
    from pathlib import Path

    if chain.scenario:  # paths as the user can use them from where they are
        chain.scenario = shown(project.root / chain.scenario)
    if as_json:
        echo_json(chain.to_dict(Path.cwd().resolve()))
    else:
        print_summary(console, chain, Path.cwd().resolve())
    hint = resume_hint(chain)
    if hint:
        click.echo(hint, err=True)
    sys.exit(chain.exit_code)


def _stop_on_signals() -> None:
    """SIGTERM and SIGHUP (a closed terminal, a dropped SSH session) stop a run as Ctrl-C
    does: the step's processes are ended and the run is recorded as interrupted."""
    import signal

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)


def resume_hint(chain: ChainResult) -> str:
    """The command that goes on with a chain that stopped part-way, or ''."""
    for run in chain.runs:
        if run.status == "interrupted":
            return f"interrupted: go on with: gert resume {run.run_id}"
        if run.status in ("waiting", "failed") and run.error and "--evidence FILE" in run.error:
            return (
                f"waiting for an answer: give it and go on with: "
                f"gert resume {run.run_id} --evidence FILE"
            )
    return ""


class Interruptible:
    """A prompter whose Ctrl-C (click's Abort) is an interruption, as Ctrl-C is anywhere
    else: the run is recorded as interrupted and can be resumed."""

    def __init__(self, prompter: Any):
        self.prompter = prompter

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.prompter, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except EOFError:
                raise KeyboardInterrupt("Ctrl-D") from None
            except click.Abort:
                raise KeyboardInterrupt("Ctrl-C") from None

        return call


def open_local_incident(project: Project, incident_id: str | None, command: str) -> Any:
    """With the local provider, an incident ID used for the first time is opened (said on
    stderr, recorded as opened by *command*); returns a function that takes it back (when
    the run refuses to start), or None."""
    if not incident_id or project.config.incident.provider != "local":
        return None
    from gert.incident import IncidentError
    from gert.incident.local import local_provider

    provider = local_provider(project)
    try:
        if provider.find(incident_id) is not None:
            return None
        provider.create(incident_id, f"opened by {command}")
    except IncidentError as e:
        e.exit_code = 2
        raise
    click.echo(f"incident {incident_id} is new: opened it (local provider)", err=True)

    def take_back() -> None:
        provider.remove(incident_id)
        click.echo(f"incident {incident_id}: not kept (the run did not start)", err=True)

    return take_back


def project_relative(path: str | None, project: Project) -> str | None:
    """*path* (given on the command line) relative to the project root, for the manifest."""
    if not path:
        return None
    import os

    return os.path.relpath(os.path.abspath(path), project.root)
