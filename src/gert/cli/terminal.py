"""``gert tui``: the project in a full-screen terminal."""

from __future__ import annotations

import click


@click.command(short_help="The project in a full-screen terminal.")
def tui() -> None:
    """Incidents, their chains, runs and the manual steps they wait at, in a full-screen
    terminal; keyboard first (? lists the keys). Answers are recorded as user:<you>."""
    try:
        from gert.tui import GertApp
    except ImportError:
        raise click.ClickException(
            "gert tui needs the tui extra: pip install 'gert[tui]'"
        ) from None
    from gert.engine.results import default_actor
    from gert.project import open_project

    GertApp(open_project(), default_actor()).run()


COMMANDS = (tui,)
