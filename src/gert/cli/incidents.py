"""Commands about incidents: the ``incident`` group and ``postmortem``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from gert.cli._common import (
    click_errors,
    duration,
    echo_json,
    json_option,
    parse_pairs,
    plural,
    shown,
    usage_errors,
)
from gert.errors import EXIT_FAILED


@click.group()
def incident() -> None:
    """Incidents and every run made for them."""


@incident.command("show")
@click.argument("incident_id")
@click.option("--all", "show_all", is_flag=True, help="Also show dry-runs and replays.")
@json_option()
def incident_show(incident_id: str, show_all: bool, as_json: bool) -> None:
    """Every run of an incident, drawn as chains with outcomes and durations.

    Dry-runs and replays are not evidence of the incident: they are left out unless --all.
    """
    from gert.overview import incident_overview
    from gert.project import open_project

    view = incident_overview(open_project(), incident_id, include_all=show_all)
    if view.warning:  # the provider is down or refuses: the runs are shown anyway
        click.echo(f"warning: {view.warning}", err=True)
    if as_json:
        echo_json(view.to_dict())
        return
    if view.incident is None and not view.runs:
        raise click.ClickException(f"no incident {incident_id} and no runs for it")
    _print_incident(incident_id, view.incident)
    note = f" ({view.hidden} dry-run or replay run(s) not shown: --all)" if view.hidden else ""
    click.echo(f"{plural(view.runs, 'run')} in {plural(len(view.chains), 'chain')}{note}")
    _print_chains(view.chains, view.replays)


def _print_incident(incident_id: str, info: dict[str, Any] | None) -> None:
    """The incident's title line and its timeline."""
    if info:
        sev = f"sev {info['severity']}, " if info.get("severity") else ""
        click.echo(
            f"Incident {incident_id}: {info.get('title', '')} ({sev}{info.get('status', '')})"
        )
    else:
        click.echo(f"Incident {incident_id}")
    timeline = (info or {}).get("timeline") or []
    if timeline:
        click.echo("Timeline:")
    for entry in timeline:
        first, *rest = str(entry.get("text", "")).splitlines() or [""]
        who = f" ({entry['author']})" if entry.get("author") else ""
        click.echo(f"  {str(entry.get('ts', ''))[:19]}  {entry.get('kind', ''):7} {first}{who}")
        for line in rest:
            click.echo(f"  {'':19}  {'':7} {line}")


def _print_chains(grouped: list[list[tuple[int, Any]]], replays: list[dict[str, str]]) -> None:
    """Each chain's runs, hand-offs indented, with state, duration and recommendation, and
    the command that replays it."""
    for chain, replay in zip(grouped, replays, strict=True):
        click.echo("")
        for depth, r in chain:
            lead = "  " * (depth - 1) + "└─ " if depth else ""
            note = f"  chain error: {r.chain_error}" if r.chain_error else ""
            mode = f"  ({r.mode})" if r.mode not in ("real", "") else ""
            click.echo(
                f"  {lead}{r.runbook_name}{mode}  {r.state}  {duration(r.duration_ms)}  "
                f"[{r.run_id}, {r.started_at[:19]}]{note}"
            )
            if r.recommendation:
                click.echo(f"  {'   ' * depth}  → {r.recommendation}")
        if replay:
            click.echo(f"  replay: {replay['command']}")


@incident.command("list")
@json_option()
def incident_list(as_json: bool) -> None:
    """Incidents of the local provider, newest first."""
    from gert.incident.local import local_provider
    from gert.project import open_project

    items = local_provider(open_project()).list()
    if as_json:
        echo_json(items)
        return
    for i in items:
        sev = f"sev {i['severity']}" if i.get("severity") else "sev -"
        click.echo(
            f"{i['id']:14} {i.get('status', ''):12} {sev:6} {str(i.get('created_at', ''))[:19]}  {i.get('title', '')}"
        )


@incident.command("note")
@click.argument("incident_id")
@click.argument("text")
@click.option("--as", "author", metavar="WHO", help="Who writes the note (default: the OS user).")
def incident_note(incident_id: str, text: str, author: str | None) -> None:
    """Add a note to a local incident's timeline."""
    from gert.engine.results import default_actor
    from gert.incident import IncidentError
    from gert.incident.local import local_provider
    from gert.project import open_project

    with click_errors(IncidentError):
        entry = local_provider(open_project()).note(incident_id, text, author or default_actor())
    click.echo(f"note {entry['id']} added")


@incident.command("resolve")
@click.argument("incident_id")
def incident_resolve(incident_id: str) -> None:
    """Mark a local incident resolved (a status change on its timeline)."""
    from gert.incident import IncidentError
    from gert.incident.local import local_provider
    from gert.project import open_project

    with click_errors(IncidentError):
        local_provider(open_project()).set_status(incident_id, "resolved")
    click.echo(f"incident {incident_id} resolved")


@incident.command("post")
@click.argument("run_id")
def incident_post(run_id: str) -> None:
    """Post the summary of the chain rooted at RUN_ID to its incident (once: a chain
    already posted is not posted again)."""
    from gert.incident.posting import post_run
    from gert.project import open_project

    with click_errors(FileNotFoundError):
        result = post_run(open_project(), run_id)
    if result.skipped:
        entry = f" (entry {result.entry_id})" if result.entry_id else ""
        click.echo(f"not posted: {result.skipped}{entry}")
    elif result.posted:
        click.echo(f"posted as entry {result.entry_id}")
    else:
        click.echo(f"posting failed after {result.attempts} attempt(s): {result.error}", err=True)
        sys.exit(EXIT_FAILED)


@incident.command("create")
@click.argument("incident_id")
@click.option("--title", required=True)
@click.option("--severity", type=click.IntRange(1, 5))
@click.option(
    "--field", "fields", multiple=True, metavar="NAME=VALUE", help="A custom field (repeatable)."
)
@click.option(
    "--location",
    "locations",
    multiple=True,
    metavar="NAME=VALUE",
    help="A location field (repeatable).",
)
def incident_create(
    incident_id: str,
    title: str,
    severity: int | None,
    fields: tuple[str, ...],
    locations: tuple[str, ...],
) -> None:
    """Open an incident in the local provider."""
    from gert.incident import IncidentError
    from gert.incident.local import local_provider
    from gert.project import open_project

    provider = local_provider(open_project())
    with click_errors(IncidentError):
        provider.create(incident_id, title, severity, parse_pairs(fields), parse_pairs(locations))
    click.echo(f"incident {incident_id} created")


@click.command()
@click.argument("incident_id")
@click.option(
    "--answers", "answers_file", type=click.Path(), help="Answers to the five questions (YAML)."
)
@click.option(
    "--out", "out_dir", type=click.Path(), help="Folder for the document (default: postmortems/)."
)
@click.option("--no-input", is_flag=True, help="Never ask; leave [to be confirmed] placeholders.")
@click.option("--force", is_flag=True, help="Overwrite sections a person already wrote.")
@click.option(
    "--commit", "commit", is_flag=True, help="git add and commit the document and tracking file."
)
@click.option(
    "--format",
    "formats",
    type=click.Choice(["md", "html", "pdf"]),
    multiple=True,
    help="Also render HTML and/or PDF next to the Markdown (repeatable).",
)
def postmortem(
    incident_id: str,
    answers_file: str | None,
    out_dir: str | None,
    no_input: bool,
    force: bool,
    commit: bool,
    formats: tuple[str, ...],
) -> None:
    """Draft a blameless postmortem of an incident from its evidence.

    Writes postmortems/post-mortem-YYYY-MM-DD-<slug>.md and a row of
    POST_MORTEM_TRACKING.md; --format html / pdf also render it (the run chain drawn)
    next to the Markdown, which stays the document a person edits. The five questions are answered from the incident where it
    says, else from --answers, else asked on a terminal, else left as placeholders.
    Regenerating keeps what a person wrote in the sections gert cannot fill.
    """
    from gert import postmortem as pmod
    from gert.console import interactive
    from gert.errors import InvalidError
    from gert.incident import IncidentError
    from gert.project import open_project

    project = open_project()
    if commit:
        pmod.draft.check_repository(project.root)
    given: dict[str, Any] = {}
    if answers_file:
        with usage_errors(InvalidError):
            given = pmod.load_answers(answers_file)
    ask = None if no_input or not interactive() else _ask
    with click_errors(IncidentError):
        pm = pmod.for_incident(project, incident_id, given, ask)
    folder = Path(out_dir) if out_dir else project.root / "postmortems"
    tracking = project.root / "POST_MORTEM_TRACKING.md"
    path, kept = pmod.write(pm, pmod.render(pm), folder, tracking, force=force)
    kept_note = " (kept the sections a person had written)" if kept else ""
    click.echo(f"wrote {shown(path)}{kept_note}")
    with click_errors(pmod.RenderError):
        for rendered in pmod.write_renderings(pm, path, formats):
            click.echo(f"wrote {shown(rendered)}")
    for flagged in pm.blame:
        click.echo(f"blameless check: restate without blame: {flagged}", err=True)
    if commit:
        done = pmod.commit(pm, [path, tracking], project.root)
        click.echo(f"committed {done}: {pmod.commit_message(pm).splitlines()[0]}")


def _ask(question: str, options: list[str]) -> str:
    """One of *options*, chosen by letter on the terminal."""
    for n, option in enumerate(options, 1):
        click.echo(f"  {chr(64 + n)}) {option}", err=True)
    letters = [chr(65 + i) for i in range(len(options))]
    choice = click.prompt(question, type=click.Choice(letters), err=True)
    return options[ord(choice) - 65]


COMMANDS = (incident, postmortem)
