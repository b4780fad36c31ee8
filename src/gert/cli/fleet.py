"""Beyond one machine: ``gert worker``, ``gert status`` and the ``store`` group."""

from __future__ import annotations

import sys
from contextlib import closing
from typing import Any

import click

from gert.cli._common import echo_json, json_option, plural
from gert.errors import EXIT_FAILED, EXIT_OK


def _postgres(project: Any) -> Any:
    """The project's PostgreSQL store; a usage error when it keeps runs in files."""
    from gert.store import open_store

    if project.config.store.backend != "postgresql":
        from gert.errors import InvalidError

        raise InvalidError(
            "gert.yaml keeps runs in files; set store: {backend: postgresql, url_env: "
            "GERT_DATABASE_URL} first (docs/scaling.md)"
        )
    return open_store(project)


@click.command()
@click.option(
    "--concurrency",
    "-c",
    default=2,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Runs this worker runs at once (one thread each).",
)
@click.option(
    "--loglevel",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
def worker(concurrency: int, loglevel: str) -> None:
    """Run queued chains (a Celery worker on the project's Redis broker).

    Stop it with Ctrl-C or SIGTERM: the runs it holds stop before their next step and
    are queued again. A worker that is killed loses nothing: another takes its runs over
    from their traces once its lease runs out.
    """
    from gert.project import open_project
    from gert.worker import run_worker

    project = open_project()
    with closing(_postgres(project)) as store:
        store.query(limit=1)  # the schema is up to date, the database reachable
    run_worker(project, concurrency, loglevel.upper())


@click.command()
@json_option()
def status(as_json: bool) -> None:
    """Queue depth, workers alive, and runs waiting, running and parked."""
    from gert.project import open_project
    from gert.queue import require_queue
    from gert.queue import status as queue_status

    project = open_project()
    queue = require_queue(project)
    with closing(_postgres(project)) as store:
        figures = queue_status(store, queue.lease_seconds)
    if as_json:
        echo_json(figures)
        return
    click.echo(
        f"queue: {figures['queued']} queued (oldest {figures['oldest_queued_seconds']:g} s), "
        f"{figures['taken']} running on workers, {figures['parked']} parked"
    )
    workers = figures["workers"]
    click.echo(f"workers alive: {len(workers)}")
    for w in workers:
        click.echo(f"  {w['name']}  concurrency {w['concurrency']}  seen {w['seen_at'][:19]}")
    runs = figures["runs"]
    click.echo(
        f"runs: {runs['running']} running, {runs['waiting']} waiting for a person, "
        f"{runs['interrupted']} interrupted"
    )
    for w in figures["waiting_runs"]:
        click.echo(
            f"  waiting {w['run_id']} ({w['runbook']}): gert answer {w['run_id']} --evidence FILE"
        )
    for p in figures["parked_runs"]:
        click.echo(f"  parked {p['run_id']}: {p['why']}")


@click.group()
def store() -> None:
    """The run store: set up PostgreSQL, copy run folders into it."""


@store.command("init")
def store_init() -> None:
    """Create or bring up to date the PostgreSQL store's schema (safe to run again)."""
    from gert.project import open_project
    from gert.store import database_url
    from gert.store.postgres import _connect, apply_migrations, migrations

    project = open_project()
    _postgres(project).close()
    conn = _connect(database_url(project))
    try:
        applied = apply_migrations(conn)
    finally:
        conn.close()
    latest = migrations()[-1][1]
    if applied:
        click.echo(f"applied {plural(len(applied), 'migration')}: {', '.join(applied)}")
    click.echo(f"the store's schema is up to date ({latest})")


@store.command("migrate")
@click.option(
    "--to",
    "target",
    type=click.Choice(["postgresql"]),
    required=True,
    help="Where to copy the project's run folders.",
)
@click.option(
    "--url-env",
    metavar="VAR",
    help="Environment variable holding the postgresql:// URL (default: store.url_env "
    "of gert.yaml, else GERT_DATABASE_URL).",
)
@click.option("--key-env", metavar="VAR", help="Environment variable holding the HMAC key.")
@json_option()
def store_migrate(target: str, url_env: str | None, key_env: str | None, as_json: bool) -> None:
    """Copy every run folder into PostgreSQL, verifying each hash chain first.

    Safe to run again: runs already copied whole are left as they are. A run whose
    evidence does not verify, or that is running now, is not copied and is named.
    Exits 0 when every run is in the store, 1 when some were not copied.
    """
    import os

    from gert.project import open_project
    from gert.store import FileStore, index_path
    from gert.store.copying import copy_runs
    from gert.store.postgres import PostgresStore

    project = open_project()
    name = url_env or project.config.store.url_env
    url = os.environ.get(name, "")
    if not url.startswith(("postgresql://", "postgres://")):
        from gert.errors import InvalidError

        raise InvalidError(
            f"{name} "
            + ("is not set" if not url else "is not a postgresql:// URL")
            + f"; export {name}=postgresql://USER@HOST:5432/DB"
        )
    key_name = key_env or project.config.hmac_key_env
    key = os.environ[key_name].encode() if key_name and os.environ.get(key_name) else None
    source = FileStore(project.resolve(project.config.runs_dir), index_path(project.root))
    dest = PostgresStore(url, project.root / ".runbook" / "work")
    try:
        report = copy_runs(source, dest, key)
        from gert.store import incidents_dir
        from gert.store.copying import copy_incidents

        report.incidents = copy_incidents(incidents_dir(project), url)
    finally:
        source.close()
        dest.close()
    if as_json:
        echo_json(
            {
                "copied": report.copied,
                "present": report.present,
                "refused": [{"run_id": r, "why": w} for r, w in report.refused],
                "incidents": report.incidents,
            }
        )
    else:
        click.echo(
            f"copied {plural(len(report.copied), 'run')} into PostgreSQL; "
            f"{len(report.present)} already there; {len(report.refused)} not copied; "
            f"{plural(len(report.incidents), 'local incident')} copied"
        )
        for run_id, why in report.refused:
            click.echo(f"  {run_id}: {why}")
        if not report.refused and project.config.store.backend != "postgresql":
            click.echo("now set store: {backend: postgresql} in gert.yaml")
    sys.exit(EXIT_FAILED if report.refused else EXIT_OK)


COMMANDS = (worker, status, store)
