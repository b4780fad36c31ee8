"""``gert tui``: the project in a full-screen terminal."""

from __future__ import annotations

import click


@click.command(short_help="The project in a full-screen terminal.")
@click.option(
    "--theme",
    type=click.Choice(["dark", "light"]),
    envvar="GERT_TUI_THEME",
    help="Colours for a dark or a light terminal (default: dark; also GERT_TUI_THEME).",
)
def tui(theme: str | None) -> None:
    """Incidents, their chains, runs and the manual steps they wait at, in a full-screen
    terminal; keyboard first (? lists the keys). Answers and approvals are recorded as
    user:<you>."""
    try:
        from gert.tui import GertApp
    except ImportError:
        raise click.ClickException(
            "gert tui needs the tui extra: pip install 'gert[tui]'"
        ) from None
    from gert.engine.results import default_actor
    from gert.project import open_project

    app = GertApp(open_project(), f"user:{default_actor()}", theme)
    app.run()
    running = app.running_chains()
    if running:  # the run stops before its next step; its step may take a while to end
        click.echo(
            f"gert tui: {len(running)} chain(s) stop when their running step ends; each is "
            "then recorded as interrupted (gert runs list; gert resume RUN goes on)",
            err=True,
        )
        for thread in running:
            thread.join()
    if app.return_code:
        raise SystemExit(app.return_code)


COMMANDS = (tui,)
