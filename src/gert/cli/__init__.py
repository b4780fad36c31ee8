"""The ``gert`` command line: a thin surface over the library.

One module per command group; each command reads its options, calls the library and
shows the result. Shared options, the terminal and the one error handler (any
:class:`~gert.errors.GertError` becomes ``error: MESSAGE`` and its exit code) live in
:mod:`gert.cli._common`.

Start-up stays fast: importing this package loads click and :mod:`gert.errors` only; each
command imports what it needs when it runs (``tests/test_startup.py`` guards this).
"""

from __future__ import annotations

import click

from gert.cli import (
    assistant,
    authoring,
    fleet,
    incidents,
    project,
    running,
    runs,
    serve,
    terminal,
    testing,
    triage,
)
from gert.cli._common import GertGroup
from gert.version import __version__

__all__ = ["main"]


@click.group(
    cls=GertGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, message="gert %(version)s")
@click.option(
    "-C",
    "--project",
    "project_dir",
    metavar="DIR",
    type=click.Path(exists=True, file_okay=False),
    help="Run as if gert was started in DIR (its project).",
)
def main(project_dir: str | None) -> None:
    """Run incident-response runbooks as governed, traceable programs.

    \b
    Start:    gert init [DIR]                      gert runbooks
    Run:      gert exec RUNBOOK --incident ID      gert trace verify RUN
    Author:   gert validate PATH...                gert schema runbook|tool
    """
    if project_dir:
        import os

        os.chdir(project_dir)


for _command in (
    *project.COMMANDS,
    *authoring.COMMANDS,
    *running.COMMANDS,
    *testing.COMMANDS,
    *incidents.COMMANDS,
    *runs.COMMANDS,
    *triage.COMMANDS,
    *serve.COMMANDS,
    *assistant.COMMANDS,
    *terminal.COMMANDS,
    *fleet.COMMANDS,
):
    main.add_command(_command)
