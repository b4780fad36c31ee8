"""Commands over recorded runs: the ``runs`` and ``trace`` groups."""

from __future__ import annotations

import sys
from contextlib import closing
from typing import Any

import click

from gert.cli._common import (
    duration,
    echo_json,
    incident_option,
    json_option,
    plural,
    run_index,
)
from gert.errors import EXIT_FAILED, EXIT_OK


@click.group()
def trace() -> None:
    """Inspect run traces."""


@trace.command()
@click.argument("runs", nargs=-1)
@click.option("--key-env", metavar="VAR", help="Environment variable holding the HMAC key.")
@click.option(
    "--incident",
    "incident_id",
    metavar="ID",
    help="Also check every run the incident's posted summaries name against the chain hash "
    "they recorded (a run cut short and reset shows).",
)
def verify(runs: tuple[str, ...], key_env: str | None, incident_id: str | None) -> None:
    """Check that traces were not edited: RUN is a run ID, a run folder or a trace.jsonl.

    Any edited, removed, inserted or reordered line is reported. Exits 0 when every
    trace is intact, 1 when one is not.
    """
    import os

    from gert.store import check_witness

    if key_env and key_env not in os.environ:
        raise click.UsageError(f"environment variable {key_env} is not set")
    if not key_env:  # the project's signing key, when it is set here
        from gert.project import open_project

        configured = open_project().config.hmac_key_env
        key_env = configured if configured and os.environ.get(configured) else None
    key = os.environ[key_env].encode() if key_env else None
    if not runs and not incident_id:
        raise click.UsageError("give RUN... or --incident ID")
    witness = _witness(incident_id) if incident_id else {}
    bad = 0
    for ref in dict.fromkeys([*runs, *witness]):
        run_id, report = _verify_one(ref, key)
        if run_id in witness:
            check_witness(report, witness[run_id], incident_id or "")
        if report.ok:
            if not report.completed:
                how = ", not ended: running, or stopped (gert resume)"
            elif report.hmac_checked:
                how = ", signature checked"
            elif report.signed:
                how = ", signed but not checked: give --key-env"
            else:
                how = ", unsigned: a rewrite of the whole trace would not show"
            click.echo(f"{run_id}: ok ({report.events} events{how})")
        else:
            bad += 1
            click.echo(f"{run_id}: TAMPERED or damaged")
            for problem in report.problems:
                click.echo(f"  {problem}")
        for note in report.notes:
            click.echo(f"  note: {note}")
    sys.exit(EXIT_FAILED if bad else EXIT_OK)


def _verify_one(ref: str, key: bytes | None) -> tuple[str, Any]:
    """(run ID, report) for a run folder, a trace.jsonl, or a run ID of the project's store."""
    from pathlib import Path

    from gert.project import open_project
    from gert.store import find_run, open_store, verify_trace

    path = Path(ref)
    if path.name != "trace.jsonl" and not path.is_dir():
        project = open_project()
        with closing(open_store(project)) as store:
            try:
                run = store.open(ref)
            except FileNotFoundError:
                pass  # a folder without its manifest, or no such run: said below
            else:
                return run.run_id, store.verify(run, key)
    folder = find_run(ref)
    manifest = folder.read_manifest() if folder.manifest_path.is_file() else None
    return folder.run_id, verify_trace(folder.trace_path, key, manifest)


def _witness(incident_id: str) -> dict[str, str]:
    """Run ID -> chain hash, as the incident's posted summaries recorded them."""
    from gert.incident.posting import witnessed
    from gert.incident.providers import look_up
    from gert.project import open_project

    info = look_up(open_project(), incident_id)
    if info is None:
        raise click.UsageError(f"no incident {incident_id}")
    return witnessed([str(e.get("text", "")) for e in info.get("timeline") or []])


@click.group()
def runs() -> None:
    """The runs recorded in this project."""


@runs.command("list")
@incident_option("Only runs of this incident.")
@click.option("--runbook", metavar="NAME", help="Only runs of this runbook (meta.name or path).")
@click.option("--outcome", metavar="STATE", help="Only runs that ended in this state.")
@click.option(
    "--since", metavar="ISO", help="Started at or after this time (2026-02-14 or full ISO)."
)
@click.option("--until", metavar="ISO", help="Started before this time.")
@click.option(
    "--limit", default=50, show_default=True, help="At most this many, newest first (0: all)."
)
@json_option()
def runs_list(
    incident_id: str | None,
    runbook: str | None,
    outcome: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List runs from the index, newest first."""
    from gert.util import parse_iso

    for name, value in (("--since", since), ("--until", until)):
        if value:
            try:
                parse_iso(value if "T" in value else value + "T00:00:00Z")
            except ValueError:
                raise click.BadParameter(
                    f"{value!r} is not a date: write 2026-02-14 or 2026-02-14T09:30:00Z",
                    param_hint=name,
                ) from None
    from pathlib import Path

    from gert.store import run_holder
    from gert.store.index import HANDOFF_PENDING

    index = run_index()
    # Who still runs a run: a lock on its folder, or a lease in a PostgreSQL store.
    holder_of = getattr(index, "holder_of", None)
    held = (lambda r: holder_of(r.run_id)) if holder_of else (lambda r: run_holder(Path(r.folder)))
    rows = index.query(
        incident=incident_id,
        runbook=runbook,
        state=outcome,
        since=since,
        until=until,
        limit=limit or None,
    )
    if as_json:
        echo_json([r.to_dict() for r in rows])
        return
    if not rows:
        click.echo("no runs match" + _near_filter(outcome, runbook), err=True)
        return
    click.echo(
        f"{'RUN':26} {'STARTED':20} {'INCIDENT':12} {'RUNBOOK':34} {'MODE':8} {'STATE':12} DURATION"
    )
    for r in rows:
        state, note = r.state, ""
        if r.status == HANDOFF_PENDING:
            note = f"  hand-off pending: gert resume {r.run_id}"
        elif r.status in ("running", "interrupted") and held(r) is None:
            state = "stopped" if r.status == "running" else state  # nobody runs it any more
            note = (
                f"  no worker holds it: gert status says why; gert answer {r.run_id} …"
                if holder_of  # a worker's run that parked, or whose worker died just now
                else f"  go on with: gert resume {r.run_id}"
            )
        click.echo(
            f"{r.run_id:26} {r.started_at[:19]:20} {r.incident_id or '-':12} {r.runbook_name[:34]:34} "
            f"{r.mode or 'real':8} {state:12} {duration(r.duration_ms)}{note}"
        )


def _near_filter(outcome: str | None, runbook: str | None) -> str:
    """A did-you-mean for a filter that names no state or runbook the index has."""
    import difflib

    index = run_index()
    for given, column, what in (
        (outcome, "state", "--outcome"),
        (runbook, "runbook_name", "--runbook"),
    ):
        if not given:
            continue
        known = index.values(column)
        if given not in known:
            close = difflib.get_close_matches(given, known, n=1, cutoff=0.6)
            if close:
                return f" ({what} {given!r}: did you mean {close[0]!r}?)"
    return ""


@runs.command("reindex")
def runs_reindex() -> None:
    """Rebuild the index from the run folders."""
    from contextlib import closing

    from gert.project import open_project
    from gert.store import open_store

    with closing(open_store(open_project())) as store:
        n = store.reindex()
    click.echo(f"indexed {plural(n, 'run')}")


@runs.command("export")
@click.argument("run_id")
@click.argument("dest", type=click.Path())
def runs_export(run_id: str, dest: str) -> None:
    """Write a run's evidence as a run folder (run.yaml, trace.jsonl, steps/,
    attachments) into DEST/RUN_ID, from any store; gert trace verify checks it there."""
    from pathlib import Path

    from gert.project import open_project
    from gert.store import open_store

    target = Path(dest) / run_id
    if target.exists():
        raise click.UsageError(f"{target} already exists; give another DEST")
    with closing(open_store(open_project())) as store:
        store.export(store.open(run_id), target)
    click.echo(f"exported run {run_id} to {target}")


@runs.command("wait")
@click.argument("run_id")
@click.option(
    "--timeout",
    type=click.FloatRange(0),
    default=0,
    help="Give up after this many seconds (0: wait as long as it takes).",
)
def runs_wait(run_id: str, timeout: float) -> None:
    """Follow a run and the chain after it to their end, as gert exec shows a chain.

    Exits as gert exec does: 0 ended, 1 failed, 3 chain error, 4 waiting for an
    answer (gert answer RUN --evidence FILE), 130 interrupted; 2 when the run was parked
    for a person's decision or the wait timed out.
    """
    from gert.cli._common import terminal
    from gert.console import Progress, plain
    from gert.project import open_project
    from gert.store import open_store
    from gert.watching import watch

    console = terminal(False)
    progress = Progress(console)
    codes = {"ended": 0, "failed": 1, "error": 1, "chain_error": 3, "waiting": 4}
    with closing(open_store(open_project())) as store:
        for seen in watch(store, run_id, timeout or None):
            if seen.kind == "queued":
                console.print(f"[dim]{plain(run_id)} is queued; waiting for a worker[/]")
            elif seen.kind == "event":
                progress(seen.type, seen.data)
            else:
                break
    steps = len(seen.runs)
    final = seen.runs[-1][2] if seen.runs else seen.ended
    console.print()
    console.print(
        f"[bold]Chain:[/] {plural(steps, 'runbook')}, final state: {plain(final)}",
        highlight=False,
    )
    for rid, name, state, _ in seen.runs:
        console.print(f"  {plain(name)}: {plain(state)}  [dim]run {plain(rid)}[/]", highlight=False)
    if seen.ended == "waiting":
        last = seen.runs[-1][0]
        console.print(f"waiting for answers: gert answer {last} --evidence FILE", highlight=False)
    elif seen.ended == "parked":
        console.print(f"[yellow]parked:[/] {plain(seen.note)}", highlight=False)
    elif seen.note:
        console.print(f"[red]{plain(seen.note)}[/]", highlight=False)
    elif seen.ended == "timeout":
        console.print("[yellow]still running; gave up waiting (--timeout)[/]")
    elif seen.ended == "interrupted":
        console.print(f"interrupted; go on with: gert answer {seen.runs[-1][0]} ...")
    sys.exit(codes.get(seen.ended, 130 if seen.ended == "interrupted" else 2))


COMMANDS = (trace, runs)
