"""``gert triage``: name the known failures a log shows, and start the best match's runbook."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import click

from gert.cli._common import (
    echo_json,
    incident_option,
    json_option,
    run_chain,
    terminal,
    usage_errors,
)
from gert.errors import EXIT_FAILED, EXIT_INVALID


@click.command()
@click.argument("log", required=False, default="-")
@click.option(
    "--signatures",
    "signature_files",
    multiple=True,
    type=click.Path(),
    help="A signatures/v0 file (repeatable; default: every *.signatures.yaml in the project).",
)
@json_option("Print the matches as JSON.")
@click.option(
    "--run", "run_it", is_flag=True, help="Start the best match's runbook with its captures."
)
@incident_option("With --run: the incident.")
@click.option(
    "--mode",
    type=click.Choice(["real", "dry-run"]),
    default="real",
    show_default=True,
    help="With --run: how to run the runbook.",
)
def triage(
    log: str,
    signature_files: tuple[str, ...],
    as_json: bool,
    run_it: bool,
    incident_id: str | None,
    mode: str,
) -> None:
    """Name the known failures a log shows: LOG is a file, or - (default) for standard input.

    Matches are ranked most specific first, each with its severity, the log lines that
    matched, the named groups captured, replay commands, artifacts, remediation, and how
    earlier runs started from the same signature ended. --run starts the best match's
    runbook with the named groups as inputs (its evidence records the signature).
    Without --run, exits 0 when a signature matched and 1 when none did.
    """
    from gert import signatures as sigmod
    from gert.project import open_project

    project = open_project()
    files = [Path(f) for f in signature_files] or sigmod.find_files(project.root)
    if not files:
        raise click.UsageError(f"no *.signatures.yaml under {project.root}; pass --signatures FILE")
    try:
        known = sigmod.load_all(files)
    except sigmod.SignatureError as e:  # its lines are FILE:LINE:COL: error: ... already
        click.echo(str(e), err=True)
        sys.exit(EXIT_INVALID)
    found = sigmod.match(known, _lines(log))
    histories = sigmod.histories(project, found)
    if run_it:
        _run_best(project, found, log, incident_id, mode, as_json)
    if as_json:
        echo_json([{**m.to_dict(), "history": histories.get(m.signature.id, "")} for m in found])
    elif not found:
        click.echo(f"no known signature in {_name(log)}")
    else:
        _print_matches(found, histories)
    sys.exit(0 if found else EXIT_FAILED)


def _name(log: str) -> str:
    return "standard input" if log == "-" else log


def _lines(log: str) -> Iterator[str]:
    """The log's lines, read one at a time (undecodable bytes replaced); a log that cannot
    be read is a usage error."""
    if log == "-":
        yield from sys.stdin
        return
    try:
        with open(log, encoding="utf-8", errors="replace") as f:
            yield from f
    except OSError as e:
        raise click.UsageError(f"cannot read {log}: {e.strerror}") from None


def _print_matches(found: list[Any], histories: dict[str, str]) -> None:
    """Each match: title, matching lines (five at most), captures, history and what to do."""
    for n, m in enumerate(found, start=1):
        s = m.signature
        runbook = f", runbook {s.runbook}" if s.runbook else ""
        label = f" ({s.scale['label']})" if s.scale.get("label") else ""
        click.echo(f"{n}. {s.title} [{s.id}] severity {s.severity}{label}{runbook}")
        if s.scale.get("response"):
            click.echo(f"   respond: {s.scale['response']}")
        for number, line in m.lines[:5]:
            click.echo(f"   line {number}: {line.strip()[:200]}")
        if len(m.lines) > 5:
            click.echo(f"   ... {len(m.lines) - 5} more matching lines")
        if m.groups:
            click.echo("   captured: " + ", ".join(f"{k}={v}" for k, v in m.groups.items()))
        if histories.get(s.id):
            click.echo(f"   earlier runs: {histories[s.id]}")
        for label, items in (
            ("replay", s.replay),
            ("artifacts", s.artifacts),
            ("remediation", s.remediation),
        ):
            if items:
                click.echo(f"   {label}:")
                click.echo("\n".join(f"     {item}" for item in items))


def _run_best(
    project: Any, found: list[Any], log: str, incident_id: str | None, mode: str, as_json: bool
) -> NoReturn:
    """Start the best match's runbook (``--run``) with its captures as inputs; exit with the
    chain's code."""
    from gert.signatures import SignatureError

    if not found:
        click.echo("no known signature: nothing to run", err=True)
        sys.exit(EXIT_FAILED)
    best = found[0]
    with usage_errors(SignatureError):
        path = best.signature.runbook_to_run(project.root)
    console = terminal(as_json)
    if not as_json:
        console.print(f"signature {best.signature.id} matched; running {best.signature.runbook}")
    run_chain(
        project,
        as_json,
        lambda engine, chosen: engine.run(path, chosen),
        console=console,
        mode=mode,
        incident_id=incident_id,
        variables=dict(best.groups),
        trigger=best.trigger(_name(log)),
    )


COMMANDS = (triage,)
