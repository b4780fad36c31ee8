"""Commands over scenarios: ``test`` and ``coverage``."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import click

from gert.cli._common import echo_json, json_option, plural, shown, usage_errors
from gert.errors import EXIT_FAILED

scenario_paths = click.argument("paths", nargs=-1, type=click.Path())
LABELS = {
    "passed": "PASS",
    "failed": "FAIL",
    "skipped": "SKIP",
    "error": "ERROR",
    "invalid": "INVALID",
}


def _cases(paths: tuple[str, ...]) -> tuple[Any, list[Any]]:
    """The project and the scenarios the paths name (default: the project's scenarios)."""
    from gert.project import open_project
    from gert.scenario import ScenarioError
    from gert.testing import find_cases

    project = open_project(paths[0] if paths else None)
    with usage_errors(ScenarioError):
        return project, find_cases([Path(p) for p in paths], project)


@click.command("test")
@scenario_paths
@json_option("Print the results as JSON.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first scenario that fails.")
@click.option(
    "--update", is_flag=True, help="Write each scenario's test.yaml from what its replay showed."
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(1, 64),
    help="Worker processes (default: cores, for 200+ scenarios).",
)
def test_(
    paths: tuple[str, ...], as_json: bool, fail_fast: bool, update: bool, jobs: int | None
) -> None:
    """Replay scenarios and check their test.yaml (RUNBOOK files or folders; default: scenarios/).

    A scenario without test.yaml is skipped (with --update it gets one). Prints one line
    per scenario with the failed assertions under it, then `N passed, N failed, N
    skipped`. Exits 0 when all pass, 1 when one fails, 2 when a runbook is invalid.
    """
    from gert.testing import Tally, run_tests

    project, cases = _cases(paths)
    tally = Tally()
    for result in run_tests(project, cases, jobs=1 if fail_fast else jobs, update=update):
        tally.results.append(result)
        if not as_json:
            _print_case(result, project.root)
        if fail_fast and result.status in ("failed", "error", "invalid"):
            break
    if as_json:
        echo_json(tally.to_dict())
    else:
        click.echo(f"{tally.passed} passed, {tally.failed} failed, {tally.skipped} skipped")
    sys.exit(tally.exit_code)


def _print_case(result: Any, root: Path) -> None:
    """``PASS    scenarios/x  (resolved, 3 steps, 12 ms)`` and the failures under it."""
    name = shown(result.case.folder)
    label = LABELS[result.status]
    detail = (
        f"  ({result.final_state}, {plural(result.steps, 'step')}, {result.seconds * 1000:.0f} ms)"
        if result.final_state
        else ""
    )
    click.echo(f"{label:7} {name}{detail}")
    rel = shown(root)  # files named in problems, as the user can use them from here
    inside = "" if rel == "." else f"{rel}/"
    for failure in result.failures:  # one per line; a hint under its problem
        click.echo(textwrap.indent(failure.replace(f"{root}/", inside), " " * 8))


@click.command()
@scenario_paths
@json_option("Print the coverage as JSON.")
@click.option(
    "--min-branch",
    type=click.FloatRange(0, 100),
    help="Exit 1 when branch coverage is below N percent.",
)
def coverage(paths: tuple[str, ...], as_json: bool, min_branch: float | None) -> None:
    """Step, branch and outcome coverage of runbooks by their scenarios.

    Every scenario is replayed (with or without test.yaml). Branch coverage counts every
    branch `condition` and every outcome `when` that held at least once; what no
    scenario reached is named. Exits 1 below --min-branch, 2 on bad input.
    """
    from gert.testing import coverage as measure

    project, cases = _cases(paths)
    report = measure(project, cases)
    percent = report.percent()
    if as_json:
        echo_json(report.to_dict())
    else:
        _print_coverage(report, percent)
    if report.exit_code:
        sys.exit(report.exit_code)
    if min_branch is not None and percent["branches"] < min_branch:
        click.echo(
            f"branch coverage {percent['branches']:.1f}% is below --min-branch {min_branch:g}%",
            err=True,
        )
        sys.exit(EXIT_FAILED)


def _print_coverage(report: Any, percent: dict[str, float]) -> None:
    """The table (covered/total and percent per kind), what is uncovered, the totals."""
    click.echo(f"{'RUNBOOK':40} {'STEPS':>12} {'BRANCHES':>12} {'OUTCOMES':>12}")
    for row in (cov.to_dict() for cov in report.runbooks):
        cells = [_cell(row[k]) for k in ("steps", "branches", "outcomes")]
        click.echo(f"{row['runbook'][:40]:40} {cells[0]:>12} {cells[1]:>12} {cells[2]:>12}")
        for item in row["uncovered"]:
            click.echo(f"    uncovered: {item}")
    for p in report.problems:
        click.echo(f"error: {p.case.name}: {'; '.join(p.failures)}", err=True)
    click.echo(
        f"Total: steps {percent['steps']:.0f}%, branches {percent['branches']:.0f}%, "
        f"outcomes {percent['outcomes']:.0f}% ({plural(report.scenarios, 'scenario')})"
    )


def _cell(counts: dict[str, int]) -> str:
    """``3/4  75%`` (``-`` for the percent when there is nothing to cover)."""
    covered, total = counts["covered"], counts["total"]
    return f"{covered}/{total} {f'{100 * covered // total}%' if total else '-':>4}"


COMMANDS = (test_, coverage)
