"""Commands for a project as a whole: ``init`` and ``runbooks``."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

import click

from gert.cli._common import echo_json, json_option


@click.command(short_help="Start a project with an example runbook and tests.")
@click.argument("folder", metavar="[DIR]", default=".", type=click.Path(file_okay=False))
def init(folder: str) -> None:
    """Start a project in DIR (default: here): a commented gert.yaml, an example triage
    runbook in runbooks/, and two scenarios with tests.

    `gert validate`, `gert exec runbooks/disk-space.runbook.yaml` and `gert test` work at
    once. Existing files are never overwritten: when one of them exists, nothing is written
    and the command exits 2.
    """
    from gert.scaffold import RUNBOOK, init_project

    written = init_project(folder)
    for path in written:
        click.echo(f"created {_shown(path)}")
    go = [] if Path(folder).resolve() == Path.cwd() else [f"cd {shlex.quote(_shown(Path(folder)))}"]
    click.echo("\nNext:", err=True)
    for line in (
        *go,
        "gert validate .                # check the runbooks and gert.yaml",
        f"gert exec {RUNBOOK}   # run the example here",
        "gert test                      # replay the scenarios and check their tests",
        "gert runbooks                  # list the project's runbooks",
    ):
        click.echo(f"  {line}", err=True)


@click.command(short_help="List the project's runbooks: name, kind, inputs, path.")
@click.argument("folder", metavar="[DIR]", required=False, type=click.Path(file_okay=False))
@json_option("Print the runbooks as JSON.")
def runbooks(folder: str | None, as_json: bool) -> None:
    """List the runbooks of the project (or under DIR): name, kind, description, inputs
    and path; an invalid runbook is marked with its first error."""
    from gert.catalog import list_runbooks

    entries = list_runbooks(folder)
    if as_json:
        echo_json([{**e.to_dict(), "path": _shown(e.path)} for e in entries])
        return
    if not entries:
        click.echo(f"no runbooks under {folder or 'the project'}", err=True)
        return
    width = max(len(e.name) for e in entries)
    kinds = max(len(e.kind or "INVALID") for e in entries)
    for e in entries:
        kind = e.kind if e.valid else click.style("INVALID".ljust(kinds), fg="red")
        click.echo(f"{e.name:{width}}  {kind:{kinds}}  {_shown(e.path)}")
        if e.description:
            click.echo(f"    {e.description}")
        if e.inputs:
            click.echo(f"    inputs: {', '.join(_input(i) for i in e.inputs)}")
        if e.errors:
            more = f" (and {len(e.errors) - 1} more: gert validate)" if len(e.errors) > 1 else ""
            click.echo(f"    {_shown(e.path)}:{e.errors[0]}{more}")


def _input(spec: dict[str, Any]) -> str:
    """``mount (default /)``, ``server (from incident.title)``, ``token (from env.T, secret)``."""
    how = [f"from {spec['from']}"] if "from" in spec else []
    if "default" in spec:
        default = spec["default"]
        how.append(f"default {default}" if default != "" else 'default ""')
    if spec.get("secret"):
        how.append("secret")
    return f"{spec['name']} ({', '.join(how)})" if how else spec["name"]


def _shown(path: Path) -> str:
    """A path as the user can type it here: relative to the current folder when inside it."""
    here = Path.cwd()
    full = path if path.is_absolute() else here / path
    return os.path.relpath(full, here) if full.is_relative_to(here) else str(full)


COMMANDS = (init, runbooks)
