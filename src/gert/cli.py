"""The ``gert`` command line: a thin surface over the library.

Start-up stays fast: this module imports only click; each command imports what it
needs when it runs (a test guards this).
"""

from __future__ import annotations

import sys

import click

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_CHAIN, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gert")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(message="gert %(version)s", package_name="gert")
def main() -> None:
    """Run incident-response runbooks as governed, traceable programs.

    \b
    Author:   gert validate PATH...   gert schema runbook|tool
    """


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option("-q", "--quiet", is_flag=True, help="Print errors only, no summary or warnings.")
def validate(paths: tuple[str, ...], as_json: bool, strict: bool, quiet: bool) -> None:
    """Check runbooks and tool files (files or folders).

    Prints FILE:LINE:COL: error: MESSAGE for each problem, warnings after errors.
    Exits 0 when everything is valid, 2 when something is not.
    """
    from gert.validate import validate_paths

    report = validate_paths(list(paths))
    import json

    failed = bool(report.errors) or (strict and bool(report.warnings))
    if as_json:
        out = {
            "valid": not failed,
            "files": report.files,
            "errors": [p.to_dict() for p in report.errors],
            "warnings": [p.to_dict() for p in report.warnings],
        }
        click.echo(json.dumps(out, indent=2))
        sys.exit(EXIT_INVALID if failed else EXIT_OK)
    key = lambda p: (p.file, p.line, p.col)  # noqa: E731
    for p in sorted(report.errors, key=key):
        click.echo(_colour(p.format(), "red", "error:"), err=False)
    if not quiet:
        for p in sorted(report.warnings, key=key):
            click.echo(_colour(p.format(), "yellow", "warning:"))
        n_files = len(report.files)
        summary = (
            f"{n_files} file{'s' * (n_files != 1)}: {len(report.errors)} error"
            f"{'s' * (len(report.errors) != 1)}, {len(report.warnings)} warning"
            f"{'s' * (len(report.warnings) != 1)}"
        )
        click.echo(summary, err=True)
    sys.exit(EXIT_INVALID if failed else EXIT_OK)


def _colour(text: str, colour: str, word: str) -> str:
    return text.replace(f" {word} ", " " + click.style(word, fg=colour, bold=True) + " ", 1)


@main.command()
@click.argument("kind", type=click.Choice(["runbook", "tool"]))
def schema(kind: str) -> None:
    """Print the JSON Schema (Draft 2020-12) of a format.

    Editors using the YAML language server validate runbooks with it: put
    `# yaml-language-server: $schema=<path>/runbook.schema.json` at the top of a file.
    """
    import json

    from gert.model import runbook_json_schema, tool_json_schema

    data = runbook_json_schema() if kind == "runbook" else tool_json_schema()
    click.echo(json.dumps(data, indent=2, sort_keys=False))


if __name__ == "__main__":  # pragma: no cover
    main()
