"""Commands for writing runbooks: ``validate``, ``schema``, ``diagram``, ``import`` and
``migrate``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from gert.cli._common import echo_json, json_option, plural
from gert.errors import EXIT_FAILED, EXIT_INVALID, EXIT_OK


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@json_option("Print the problems as JSON.")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option("-q", "--quiet", is_flag=True, help="Print errors only, no summary or warnings.")
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(1, 64),
    help="Worker processes (default: cores, for 200+ files).",
)
def validate(
    paths: tuple[str, ...], as_json: bool, strict: bool, quiet: bool, jobs: int | None
) -> None:
    """Check runbooks, tool files, signatures, scenarios and gert.yaml (files or folders).

    In folders, every YAML file whose apiVersion is gert's is checked, whatever its name.
    Prints FILE:LINE:COL: error: MESSAGE for each problem, warnings after errors.
    Exits 0 when everything is valid, 2 when something is not or nothing was found.
    """
    from gert.validate import validate_paths

    report = validate_paths(list(paths), jobs=jobs)
    if not report.files:
        _nothing_found(paths, as_json)
    failed = bool(report.errors) or (strict and bool(report.warnings))
    if as_json:
        echo_json(
            {
                "valid": not failed,
                "files": report.files,
                "errors": [p.to_dict() for p in report.errors],
                "warnings": [p.to_dict() for p in report.warnings],
            }
        )
    else:
        _print_report(report, quiet)
    sys.exit(EXIT_INVALID if failed else EXIT_OK)


def _nothing_found(paths: tuple[str, ...], as_json: bool) -> None:
    """No gert file in the folders named: say so and what was seen (exit 2), rather than
    call nothing valid."""
    yaml = [f for p in paths for ext in ("*.yaml", "*.yml") for f in Path(p).rglob(ext)]
    seen = f"; {plural(len(yaml), 'YAML file')} there, none of them gert's" if yaml else ""
    message = (
        f"no runbooks, tool files, signatures, scenarios or gert.yaml in {', '.join(paths)}{seen}"
    )
    hint = (
        "gert knows its files by their apiVersion: runbook/v0, tool/v0, signatures/v0, scenario/v0"
    )
    if as_json:
        echo_json({"valid": False, "files": [], "errors": [], "warnings": [], "error": message})
    else:
        click.echo(f"error: {message}\n    hint: {hint}", err=True)
    sys.exit(EXIT_INVALID)


def _print_report(report: Any, quiet: bool) -> None:
    """Errors, then (unless quiet) warnings and the summary line on stderr."""
    key = lambda p: (p.file, p.line, p.col)  # noqa: E731
    for p in sorted(report.errors, key=key):
        click.echo(_colour(p.format(), "red", "error:"))
    if quiet:
        return
    for p in sorted(report.warnings, key=key):
        click.echo(_colour(p.format(), "yellow", "warning:"))
    click.echo(
        f"{plural(len(report.files), 'file')}: {plural(len(report.errors), 'error')}, "
        f"{plural(len(report.warnings), 'warning')}",
        err=True,
    )


def _colour(text: str, colour: str, word: str) -> str:
    return text.replace(f" {word} ", " " + click.style(word, fg=colour, bold=True) + " ", 1)


@click.command()
@click.argument("kind", type=click.Choice(["runbook", "tool"]))
def schema(kind: str) -> None:
    """Print the JSON Schema (Draft 2020-12) of a format.

    Editors using the YAML language server validate runbooks with it: put
    `# yaml-language-server: $schema=<path>/runbook.schema.json` at the top of a file.
    """
    from gert.model import runbook_json_schema, tool_json_schema

    echo_json(runbook_json_schema() if kind == "runbook" else tool_json_schema())


@click.command()
@click.argument("runbook", type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "ascii"]),
    default="mermaid",
    show_default=True,
    help="Mermaid flowchart text, or plain text for a terminal.",
)
@click.option("--chain", is_flag=True, help="Also draw the runbooks that hand-offs name.")
def diagram(runbook: str, fmt: str, chain: bool) -> None:
    """Draw a runbook as a flowchart: steps, branches with their labels, outcomes with
    their states, and each next_runbook hand-off as its own node."""
    from gert import diagram as dmod
    from gert.project import open_project
    from gert.validate import load_runbook

    project = open_project(runbook)
    checked = load_runbook(runbook, project)
    graph = dmod.build(checked.model, Path(runbook), chain=chain, project_root=project.root)  # type: ignore[arg-type]
    click.echo(dmod.to_mermaid(graph) if fmt == "mermaid" else dmod.to_ascii(graph), nl=False)


@click.command("import")
@click.argument("guide", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Folder for the runbooks (default: runbooks/imported/<guide>/).",
)
@click.option("--mapping", is_flag=True, help="Also write which lines became which step.")
def import_(guide: str, out_dir: str | None, mapping: bool) -> None:
    """Import a Markdown troubleshooting guide (prose, shell blocks, Mermaid flowcharts)
    into runbooks. Deterministic: the same guide gives the same files.

    Writes what it could and reports what it could not, each with the guide's line.
    Exits 0 when everything imported, 2 when a part could not be.
    """
    from gert.importer import import_into
    from gert.project import open_project

    out = Path(out_dir) if out_dir else None
    result = import_into(Path(guide), open_project().root, out, mapping)
    for problem in result.problems:
        click.echo(problem, err=True)
    signatures = len(result.files) > result.runbooks
    click.echo(
        f"imported {result.runbooks} runbook(s)"
        + (" and a signatures file" if signatures else "")
        + f" from {result.source} into {result.folder}"
    )
    sys.exit(EXIT_INVALID if result.failed else EXIT_OK)


@click.command("migrate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default="migrated",
    show_default=True,
    help="Folder to write the converted project into.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Convert in memory and run the converted scenario tests; write nothing.",
)
def migrate(paths: tuple[str, ...], out_dir: str, check: bool) -> None:
    """Convert runbooks, tool files and scenario tests of gert's Go implementation
    (kernel/v0) into gert's formats. Deterministic: the same files give the same output.

    Prints a report of every construct: converted, converted with a behaviour
    difference, dropped, or refused (with its line and why). Exits 0 when everything
    converted, 1 when a converted test does not pass (--check), 2 when something could
    not be converted.
    """
    from gert import migrate as mig

    out = Path(out_dir)
    result = mig.migrate([Path(p) for p in paths], out)
    click.echo(result.report.text(), nl=False)
    code = EXIT_INVALID if result.refused else EXIT_OK
    if check:
        checked = mig.check(result)
        for name, status, failures in checked.results:
            click.echo(f"{status.upper():7} {name}")
            for f in failures:
                click.echo(f"    {f}")
        passed = sum(1 for _, s, _ in checked.results if s == "passed")
        click.echo(
            f"checked {len(checked.results)} converted scenario(s): {passed} passed; "
            "nothing written",
            err=True,
        )
        if checked.differ and code == EXIT_OK:
            code = EXIT_FAILED
    else:
        mig.write(result, out)
        refused = len({e.file for e in result.report.refused()})
        click.echo(
            f"migrated {result.runbooks} runbook(s), {result.tools} tool(s), "
            f"{result.scenarios} scenario(s) into {out}"
            + (f"; {refused} file(s) with refused constructs not written" if refused else ""),
            err=True,
        )
        for rel in result.removed:
            click.echo(f"removed {rel}: an earlier migration wrote it; this one does not", err=True)
        for rel in result.kept_stale:
            click.echo(
                f"kept {rel}: an earlier migration wrote it and this one does not, but it was "
                "edited since; remove it if it is no longer wanted",
                err=True,
            )
    sys.exit(code)


COMMANDS = (validate, schema, diagram, import_, migrate)
