"""Commands that run chains: ``exec`` and ``resume``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gert.cli._common import (
    evidence_option,
    incident_option,
    json_option,
    load_answers,
    open_local_incident,
    parse_pairs,
    project_relative,
    run_chain,
)
from gert.errors import GertError


@click.command("exec")
@click.argument("runbook", type=click.Path())
@incident_option("Bind inputs from this incident.")
@click.option(
    "--var", "variables", multiple=True, metavar="NAME=VALUE", help="Set an input (repeatable)."
)
@click.option(
    "--mode",
    type=click.Choice(["real", "dry-run", "replay"]),
    default="real",
    show_default=True,
    help="dry-run renders every step and runs nothing; replay takes every response from --scenario.",
)
@click.option(
    "--scenario", "scenario_dir", type=click.Path(), help="The scenario folder to replay."
)
@click.option(
    "--rebase-time",
    metavar="now|ISO",
    help="Replay with timestamps shifted so the root starts then.",
)
@click.option("--no-record", is_flag=True, help="Do not save this real run as a scenario.")
@click.option("--no-post", is_flag=True, help="Do not post the summary to the incident.")
@click.option("--as", "actor", metavar="ACTOR", help="Who runs it (default: the OS user).")
@evidence_option
@click.option(
    "--max-chain-depth",
    type=click.IntRange(0, 50),
    help="Hand-offs allowed (default from gert.yaml).",
)
@json_option("Print the result as JSON instead of progress.")
@click.option(
    "--queue",
    "queued",
    is_flag=True,
    help="Queue the chain for gert worker processes and print its run ID (gert runs wait "
    "RUN follows it).",
)
def exec_(
    runbook: str,
    incident_id: str | None,
    variables: tuple[str, ...],
    mode: str,
    scenario_dir: str | None,
    rebase_time: str | None,
    no_record: bool,
    no_post: bool,
    actor: str | None,
    answers_file: str | None,
    max_chain_depth: int | None,
    as_json: bool,
    queued: bool,
) -> None:
    """Run a runbook (and the chain its outcomes name) against an incident.

    Exits 0 when the chain ended (with an outcome or completed), 1 when a step failed
    or the run errored, 2 for an invalid runbook or usage, 3 for a chain error, 130
    when interrupted.
    """
    from gert.project import open_project

    project = open_project(runbook)
    if _print_reference(runbook, project):
        return
    options: dict[str, Any] = {
        "mode": mode,
        "incident_id": incident_id,
        "variables": parse_pairs(variables),
        "answers": load_answers(answers_file),
        "answers_file": project_relative(answers_file, project),
        "max_chain_depth": max_chain_depth,
        "record": not no_record,
        "post": not no_post,
    }
    if actor:
        options["actor"] = actor
    if (scenario_dir or rebase_time) and mode != "replay":
        raise click.UsageError("--scenario and --rebase-time go with --mode replay")
    if mode == "replay":
        options.update(_replay(scenario_dir, rebase_time))
    if queued:
        _queue(project, runbook, options, as_json)
        return
    opened = open_local_incident(project, incident_id, "gert exec") if mode == "real" else None
    try:
        run_chain(project, as_json, lambda engine, chosen: engine.run(runbook, chosen), **options)
    except GertError:
        if opened is not None:  # refused before any run: no incident of nothing
            opened()
        raise


def _queue(project: Any, runbook: str, options: dict[str, Any], as_json: bool) -> None:
    """Queue the chain for the workers and say how to follow it."""
    from gert.cli._common import echo_json
    from gert.queue import enqueue_chain

    if options["mode"] == "replay" or options["answers"] or options["max_chain_depth"]:
        raise click.UsageError(
            "--queue runs real or dry-run chains; give answers later with gert answer"
        )
    from gert.queue import broker_url

    broker_url(project)  # a missing broker setting is refused before anything is opened
    opened = (
        open_local_incident(project, options["incident_id"], "gert exec --queue")
        if options["mode"] == "real"
        else None
    )
    try:
        queued = enqueue_chain(
            project,
            runbook,
            incident_id=options["incident_id"],
            variables=options["variables"],
            actor=options.get("actor", ""),
            mode=options["mode"],
            post=options["post"],
            record=options["record"],
        )
    except GertError:
        if opened is not None:  # refused before any run: no incident of nothing
            opened()
        raise
    if as_json:
        echo_json({"run_id": queued.run_id, "queued": True, "unsent": queued.unsent})
    else:
        click.echo(queued.run_id)
        _say_queued(queued)


def _say_queued(queued: Any) -> None:
    """How to follow a queued run, and what to expect when the broker is away."""
    if queued.unsent:
        click.echo(
            f"queued, but no worker could be told now ({queued.unsent}); a worker's "
            "sweeper sends it when the broker is back",
            err=True,
        )
    click.echo(f"queued; follow it with: gert runs wait {queued.run_id}", err=True)


def _print_reference(runbook: str, project: Any) -> bool:
    """Print a ``kind: reference`` runbook (linked, never run); False for any other."""
    import re

    try:
        text = Path(runbook).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False  # the engine reports the file
    if not re.search(r"^\s*kind:\s*[\"']?reference\b", text, re.M):
        return False
    from gert.reference import reference_markdown
    from gert.validate import load_runbook

    model = load_runbook(runbook, project).model
    if model.meta.kind != "reference":
        return False
    click.echo(reference_markdown(model), nl=False)
    return True


def _replay(scenario_dir: str | None, rebase_time: str | None) -> dict[str, Any]:
    """The scenario to replay and the time to shift it to, as Options fields."""
    from gert.scenario import ScenarioError, load_any_scenario, parse_reference

    if not scenario_dir:
        raise click.UsageError("--mode replay needs --scenario DIR")
    if not Path(scenario_dir).is_dir():
        raise ScenarioError(f"{scenario_dir}: no such scenario folder")
    return {  # a recorded chain, or a hand-written scenario (as gert test replays it)
        "scenario": load_any_scenario(Path(scenario_dir)),
        "rebase_to": parse_reference(rebase_time) if rebase_time else None,
    }


@click.command()
@click.argument("run_id")
@click.option(
    "--retry-step",
    "retry_steps",
    multiple=True,
    metavar="STEP",
    help="Run this step again if it was running when the run stopped (repeatable).",
)
@click.option(
    "--skip-step",
    "skip_steps",
    multiple=True,
    metavar="STEP",
    help="Go on without this step if it was running when the run stopped (repeatable).",
)
@click.option(
    "--in-flight",
    type=click.Choice(["wait", "kill"]),
    help="What to do with processes the stopped step left running.",
)
@click.option(
    "--accept-changed-runbook",
    is_flag=True,
    help="Go on although the runbook was edited since the run began.",
)
@evidence_option
@json_option("Print the result as JSON instead of progress.")
def resume(
    run_id: str,
    retry_steps: tuple[str, ...],
    skip_steps: tuple[str, ...],
    in_flight: str | None,
    accept_changed_runbook: bool,
    answers_file: str | None,
    as_json: bool,
) -> None:
    """Continue a run that was killed or interrupted, from its trace, and its chain.

    Steps the trace shows as completed are not run again; evidence is kept and the
    trace's hash chain continues. A step that was running when the run stopped is run
    again only if it is marked idempotent or is read-only; otherwise say what to do with
    --retry-step or --skip-step (a terminal asks). A run that already finished is refused.
    """
    from gert.project import open_project

    both = set(retry_steps) & set(skip_steps)
    if both:
        raise click.UsageError(f"--retry-step and --skip-step both name {', '.join(sorted(both))}")
    project = open_project()
    run_chain(
        project,
        as_json,
        lambda engine, chosen: engine.resume(run_id, chosen),
        answers=load_answers(answers_file),
        answers_file=project_relative(answers_file, project),
        retry_steps=retry_steps,
        skip_steps=skip_steps,
        in_flight=in_flight,
        accept_changed_runbook=accept_changed_runbook,
    )


@click.command()
@click.argument("run_id")
@evidence_option
@click.option(
    "--retry-step",
    "retry_steps",
    multiple=True,
    metavar="STEP",
    help="Run this step again: it was running when its worker died (repeatable).",
)
@click.option(
    "--skip-step",
    "skip_steps",
    multiple=True,
    metavar="STEP",
    help="Go on without this step: it was running when its worker died (repeatable).",
)
@click.option(
    "--abort",
    "abort",
    is_flag=True,
    help="End the run here as failed, running nothing more (with --reason).",
)
@click.option("--reason", metavar="TEXT", help="Why the run is aborted (recorded).")
@click.option("--as", "actor", metavar="ACTOR", help="Who answers (default: the OS user).")
@json_option("Print the result as JSON (without a queue).")
def answer(
    run_id: str,
    answers_file: str | None,
    retry_steps: tuple[str, ...],
    skip_steps: tuple[str, ...],
    abort: bool,
    reason: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Give a waiting or parked run what it waits for, and let it go on.

    A manual step's answers come from --evidence FILE; a step that was running when its
    worker died takes --retry-step or --skip-step; --abort ends the run as failed. With a
    queue in gert.yaml the run is queued for the workers (gert runs wait RUN follows it);
    without one it goes on here, as gert resume does.
    """
    from gert.project import open_project

    both = set(retry_steps) & set(skip_steps)
    if both:
        raise click.UsageError(f"--retry-step and --skip-step both name {', '.join(sorted(both))}")
    if not answers_file and not retry_steps and not skip_steps and not abort:
        raise click.UsageError(
            "give --evidence FILE, --retry-step STEP, --skip-step STEP or --abort"
        )
    if abort and (answers_file or retry_steps or skip_steps):
        raise click.UsageError("--abort ends the run: give it alone (with --reason)")
    why = (reason or "no reason given").strip()[:500] if abort else ""
    project = open_project()
    answers = load_answers(answers_file)
    if not abort:  # what does not fit what the run waits for is refused now, not later
        from gert.overview import check_decisions

        check_decisions(
            project, run_id, answers, retry_steps, skip_steps, source=answers_file or "answers"
        )
    if project.config.queue is None:
        run_chain(
            project,
            as_json,
            lambda engine, chosen: engine.resume(run_id, chosen),
            answers=answers,
            answers_file=project_relative(answers_file, project),
            retry_steps=retry_steps,
            skip_steps=skip_steps,
            abort=why,
            **({"acting": actor} if actor else {}),
        )
    from gert.queue import enqueue_answer

    queued = enqueue_answer(
        project,
        run_id,
        answers=answers,
        retry_steps=retry_steps,
        skip_steps=skip_steps,
        acting=actor or "",
        abort=why,
    )
    _say_queued(queued)


COMMANDS = (exec_, resume, answer)
