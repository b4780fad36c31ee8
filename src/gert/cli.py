"""The ``gert`` command line: a thin surface over the library.

Start-up stays fast: this module imports only click; each command imports what it
needs when it runs (a test guards this).
"""

from __future__ import annotations

import contextlib
import re
import sys
from pathlib import Path

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
    Run:      gert exec RUNBOOK --incident ID      gert trace verify RUN
    Author:   gert validate PATH...                gert schema runbook|tool
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


def _parse_vars(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--var")
        out[name] = value
    return out


def _load_answers(path: str | None) -> dict:
    if not path:
        return {}
    from gert.load import LoadError, load_file

    try:
        data = load_file(path).data or {}
    except LoadError as e:
        raise click.UsageError(str(e)) from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise click.UsageError(f"{path}: answers are a mapping of step ID to {{name: value}}")
    return data


@main.command(name="exec")
@click.argument("runbook", type=click.Path())
@click.option("--incident", "incident_id", metavar="ID", help="Bind inputs from this incident.")
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
@click.option(
    "--evidence", "answers_file", type=click.Path(), help="Answers for manual steps, by step ID."
)
@click.option(
    "--max-chain-depth",
    type=click.IntRange(0, 50),
    help="Hand-offs allowed (default from gert.yaml).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the result as JSON instead of progress."
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
) -> None:
    """Run a runbook (and the chain its outcomes name) against an incident.

    Exits 0 when the chain ended (with an outcome or completed), 1 when a step failed
    or the run errored, 2 for an invalid runbook or usage, 3 for a chain error, 130
    when interrupted.
    """
    from rich.console import Console

    from gert.console import Progress, TerminalPrompter, interactive
    from gert.engine import Engine, Options
    from gert.project import open_project

    console = Console(stderr=as_json, highlight=False, soft_wrap=True)  # no hard wraps in logs
    project = open_project(runbook)
    options = Options(
        mode=mode,
        incident_id=incident_id,
        variables=_parse_vars(variables),
        answers=_load_answers(answers_file),
        max_chain_depth=max_chain_depth,
        prompter=TerminalPrompter(console) if interactive() and not as_json else None,
        observer=None if as_json else Progress(console),
    )
    if actor:
        options.actor = actor
    options.record = not no_record
    options.post = not no_post
    if (scenario_dir or rebase_time) and mode != "replay":
        raise click.UsageError("--scenario and --rebase-time go with --mode replay")
    if mode == "replay":
        from gert.scenario import ScenarioError, load_scenario, parse_reference

        if not scenario_dir:
            raise click.UsageError("--mode replay needs --scenario DIR")
        try:
            options.scenario = load_scenario(Path(scenario_dir))
            options.rebase_to = parse_reference(rebase_time) if rebase_time else None
        except ScenarioError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(EXIT_INVALID)
    _finish_chain(lambda: Engine(project).run(runbook, options), project, console, as_json)


def _exit_invalid(error) -> None:  # type: ignore[no-untyped-def]
    """Print an invalid runbook's errors (file:line:col) and exit 2."""
    for problem in error.problems:
        if problem.severity == "error":
            click.echo(problem.format(), err=True)
    sys.exit(EXIT_INVALID)


def _finish_chain(run, project, console, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """Run a chain (exec, resume), show or print its result, and exit with its code."""
    from gert.console import print_summary
    from gert.engine import InputsMissing, ResumeRefused
    from gert.incident import IncidentError
    from gert.validate import RunbookInvalid

    try:
        chain = run()
    except RunbookInvalid as e:
        _exit_invalid(e)
    except (InputsMissing, IncidentError, ResumeRefused, FileNotFoundError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_INVALID)
    if as_json:
        import json

        click.echo(json.dumps(chain_json(chain, project.root), indent=2))
    else:
        print_summary(console, chain, project.root)
    sys.exit(chain.exit_code)


def chain_json(chain, root) -> dict:  # type: ignore[no-untyped-def]
    """The machine-readable result of `gert exec --json`."""
    return chain.to_dict(root)


@main.command()
@click.argument("run_id")
@click.option(
    "--evidence", "answers_file", type=click.Path(), help="Answers for manual steps, by step ID."
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the result as JSON instead of progress."
)
def resume(run_id: str, answers_file: str | None, as_json: bool) -> None:
    """Continue a run that was killed or interrupted, from its trace.

    Steps the trace shows as completed are not run again; evidence is kept and the
    trace's hash chain continues. A run that already finished is refused.
    """
    from rich.console import Console

    from gert.console import Progress, TerminalPrompter, interactive
    from gert.engine import Engine, Options
    from gert.project import open_project

    console = Console(stderr=as_json, highlight=False, soft_wrap=True)  # no hard wraps in logs
    project = open_project()
    options = Options(
        answers=_load_answers(answers_file),
        prompter=TerminalPrompter(console) if interactive() and not as_json else None,
        observer=None if as_json else Progress(console),
    )
    _finish_chain(lambda: Engine(project).resume(run_id, options), project, console, as_json)


@main.command(name="test")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
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
    from gert.project import open_project
    from gert.scenario import ScenarioError
    from gert.testing import Case, TestSpec, discover, json_result, run_cases, write_test_yaml

    project = open_project(paths[0] if paths else None)
    try:
        cases = discover([Path(p) for p in paths], project)
    except ScenarioError as e:
        raise click.UsageError(str(e)) from None
    if update:  # scenarios without test.yaml are replayed once to learn their expectations
        cases = [
            Case(c.folder, c.runbook, TestSpec()) if c.test is None and c.error is None else c
            for c in cases
        ]
    results = []
    for result in run_cases(project, cases, jobs=1 if fail_fast else jobs):
        if update and result.status in ("passed", "failed"):
            path = write_test_yaml(result.case, result)
            result.status, result.failures = "passed", [f"wrote {path}"]
        results.append(result)
        if not as_json:
            _print_case(result, project.root)
        if fail_fast and result.status in ("failed", "error", "invalid"):
            break
    counts = {
        k: sum(1 for r in results if r.status == k)
        for k in ("passed", "failed", "skipped", "error", "invalid")
    }
    failed = counts["failed"] + counts["error"] + counts["invalid"]
    if as_json:
        import json

        click.echo(
            json.dumps(
                {
                    "passed": counts["passed"],
                    "failed": failed,
                    "skipped": counts["skipped"],
                    "scenarios": [json_result(r) for r in results],
                },
                indent=2,
            )
        )
    else:
        click.echo(f"{counts['passed']} passed, {failed} failed, {counts['skipped']} skipped")
    sys.exit(EXIT_INVALID if counts["invalid"] else EXIT_FAILED if failed else EXIT_OK)


def _print_case(result, root) -> None:  # type: ignore[no-untyped-def]
    try:
        name = str(result.case.folder.resolve().relative_to(root.resolve()))
    except ValueError:
        name = str(result.case.folder)
    label = {
        "passed": "PASS",
        "failed": "FAIL",
        "skipped": "SKIP",
        "error": "ERROR",
        "invalid": "INVALID",
    }[result.status]
    steps = f"{result.steps} step{'s' * (result.steps != 1)}"
    detail = (
        f"  ({result.final_state}, {steps}, {result.seconds * 1000:.0f} ms)"
        if result.final_state
        else ""
    )
    click.echo(f"{label:7} {name}{detail}")
    for failure in result.failures:
        click.echo(f"        {failure}")


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the coverage as JSON.")
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
    from gert.project import open_project
    from gert.scenario import ScenarioError
    from gert.testing import RunbookCoverage, discover, measure_coverage

    project = open_project(paths[0] if paths else None)
    try:
        cases = discover([Path(p) for p in paths], project)
    except ScenarioError as e:
        raise click.UsageError(str(e)) from None
    report, problems = measure_coverage(project, cases)
    totals = {k: [0, 0] for k in ("steps", "branches", "outcomes")}
    rows = []
    for cov in report:
        row = {"runbook": cov.name, "path": str(cov.path)}
        for kind in totals:
            hit, total = RunbookCoverage.ratio(getattr(cov, kind))
            totals[kind][0] += hit
            totals[kind][1] += total
            row[kind] = {"covered": hit, "total": total}
        row["uncovered"] = cov.uncovered()
        rows.append(row)
    pct = {k: (100.0 * h / t if t else 100.0) for k, (h, t) in totals.items()}
    if as_json:
        import json

        click.echo(
            json.dumps(
                {
                    "runbooks": rows,
                    "total": {k: round(v, 1) for k, v in pct.items()},
                    "errors": [{"scenario": p.case.name, "error": p.failures} for p in problems],
                },
                indent=2,
            )
        )
    else:
        click.echo(f"{'RUNBOOK':40} {'STEPS':>12} {'BRANCHES':>12} {'OUTCOMES':>12}")
        for row in rows:
            cells = [
                f"{row[k]['covered']}/{row[k]['total']} {_pct(row[k]):>4}"
                for k in ("steps", "branches", "outcomes")
            ]
            click.echo(f"{row['runbook'][:40]:40} {cells[0]:>12} {cells[1]:>12} {cells[2]:>12}")
            for item in row["uncovered"]:
                click.echo(f"    uncovered: {item}")
        for p in problems:
            click.echo(f"error: {p.case.name}: {'; '.join(p.failures)}", err=True)
        click.echo(
            f"Total: steps {pct['steps']:.0f}%, branches {pct['branches']:.0f}%, outcomes {pct['outcomes']:.0f}%"
            f" ({len(cases)} scenario{'s' * (len(cases) != 1)})"
        )
    if problems and not rows:
        sys.exit(EXIT_INVALID)
    if min_branch is not None and pct["branches"] < min_branch:
        click.echo(
            f"branch coverage {pct['branches']:.1f}% is below --min-branch {min_branch:g}%",
            err=True,
        )
        sys.exit(EXIT_FAILED)


def _pct(cell: dict) -> str:  # type: ignore[type-arg]
    return f"{100 * cell['covered'] // cell['total']}%" if cell["total"] else "-"


@main.command()
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
    formats: tuple[str, ...],
) -> None:
    """Draft a blameless postmortem of an incident from its evidence (seed 003's structure).

    Writes postmortems/post-mortem-YYYY-MM-DD-<slug>.md and a row of
    POST_MORTEM_TRACKING.md; --format html / pdf also render it (the run chain drawn)
    next to the Markdown, which stays the document a person edits. The five questions are answered from the incident where it
    says, else from --answers, else asked on a terminal, else left as placeholders.
    Regenerating keeps what a person wrote in the sections gert cannot fill.
    """
    from gert import postmortem as pmod
    from gert.console import interactive
    from gert.incident import IncidentError
    from gert.incident.providers import make_provider
    from gert.load import LoadError, load_file
    from gert.project import open_project
    from gert.store import open_store

    project = open_project()
    given = {}
    if answers_file:
        try:
            given = load_file(answers_file).data or {}
        except LoadError as e:
            raise click.UsageError(str(e)) from None
        if not isinstance(given, dict) or not set(given) <= set(pmod.QUESTIONS):
            raise click.UsageError(
                f"{answers_file}: answers are a mapping of {', '.join(pmod.QUESTIONS)}"
            )
    try:
        provider = make_provider(project)
        incident = provider.get(incident_id)
        with contextlib.suppress(IncidentError):
            incident["timeline"] = incident.get("timeline") or provider.timeline(incident_id)
    except IncidentError as e:
        raise click.ClickException(str(e)) from None

    def ask(question: str, options: list[str]) -> str:
        for n, option in enumerate(options, 1):
            click.echo(f"  {chr(64 + n)}) {option}", err=True)
        choice = click.prompt(
            question, type=click.Choice([chr(65 + i) for i in range(len(options))]), err=True
        )
        return options[ord(choice) - 65]

    store = open_store(project)
    try:
        pm = pmod.build(
            store, incident_id, incident, given, None if no_input or not interactive() else ask
        )
    finally:
        store.index.close()
    text = pmod.render(pm)
    folder = Path(out_dir) if out_dir else project.root / "postmortems"
    path, kept = pmod.write(pm, text, folder, project.root / "POST_MORTEM_TRACKING.md", force=force)
    here = Path.cwd().resolve()

    def shown(p: Path) -> Path:
        return p.resolve().relative_to(here) if p.resolve().is_relative_to(here) else p

    click.echo(
        f"wrote {shown(path)}" + (" (kept the sections a person had written)" if kept else "")
    )
    try:
        for rendered in pmod.write_renderings(pm, path, formats):
            click.echo(f"wrote {shown(rendered)}")
    except pmod.RenderError as e:
        raise click.ClickException(str(e)) from None
    for flagged in pm.blame:
        click.echo(f"blameless check: restate without blame: {flagged}", err=True)


@main.command()
@click.argument("log", required=False, default="-")
@click.option(
    "--signatures",
    "signature_files",
    multiple=True,
    type=click.Path(),
    help="A signatures/v0 file (repeatable; default: every *.signatures.yaml in the project).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the matches as JSON.")
@click.option(
    "--run", "run_it", is_flag=True, help="Start the best match's runbook with its captures."
)
@click.option("--incident", "incident_id", metavar="ID", help="With --run: the incident.")
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
    import json

    from gert import signatures as sigmod
    from gert.project import open_project

    project = open_project()
    files = [Path(f) for f in signature_files] or sorted(
        p for p in project.root.rglob("*.signatures.yaml") if ".runbook" not in p.parts
    )
    if not files:
        raise click.UsageError(f"no *.signatures.yaml under {project.root}; pass --signatures FILE")
    known: list[sigmod.Signature] = []
    problems = []
    for f in files:
        try:
            known += sigmod.load(f)
        except sigmod.SignatureError as e:
            problems.append(str(e))
    if problems:
        click.echo("\n".join(problems), err=True)
        sys.exit(EXIT_INVALID)
    try:
        text = (
            sys.stdin.read()
            if log == "-"
            else Path(log).read_text(encoding="utf-8", errors="replace")
        )
    except OSError as e:
        raise click.UsageError(f"cannot read {log}: {e.strerror}") from None
    found = sigmod.match(known, text)
    histories = _signature_histories(project, found)
    if run_it:
        _triage_run(project, found, log, incident_id, mode, as_json)
    if as_json:
        click.echo(
            json.dumps(
                [{**m.to_dict(), "history": histories.get(m.signature.id, "")} for m in found],
                indent=2,
            )
        )
    elif not found:
        click.echo(f"no known signature in {'standard input' if log == '-' else log}")
    for n, m in enumerate([] if as_json else found, start=1):
        s = m.signature
        click.echo(
            f"{n}. {s.title} [{s.id}] severity {s.severity}"
            + (f", runbook {s.runbook}" if s.runbook else "")
        )
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
    sys.exit(0 if found else EXIT_FAILED)


def _signature_histories(project, found) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """How earlier runs started from each matched signature ended, by signature ID."""
    if not (project.root / ".runbook" / "index.sqlite").exists():
        return {}  # nothing has run here yet
    from gert import signatures as sigmod
    from gert.store import open_store

    store = open_store(project)
    try:
        out = {}
        for m in found:
            if m.signature.runbook:
                rel = str(
                    m.signature.runbook_path(project.root).relative_to(project.root.resolve())
                )
                out[m.signature.id] = sigmod.describe_history(
                    sigmod.history(store, m.signature.id, rel)
                )
        return out
    finally:
        store.index.close()


def _triage_run(project, found, log: str, incident_id, mode: str, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """Start the best match's runbook (gert triage --run) and exit with the chain's code."""
    from rich.console import Console

    from gert import signatures as sigmod
    from gert.console import Progress, TerminalPrompter, interactive
    from gert.engine import Engine, Options

    if not found:
        click.echo("no known signature: nothing to run", err=True)
        sys.exit(EXIT_FAILED)
    best = found[0]
    if not best.signature.runbook:
        raise click.UsageError(f"signature {best.signature.id} names no runbook to run")
    try:
        path = best.signature.runbook_path(project.root)
    except sigmod.SignatureError as e:
        raise click.UsageError(str(e)) from None
    console = Console(stderr=as_json, highlight=False, soft_wrap=True)
    if not as_json:
        console.print(f"signature {best.signature.id} matched; running {best.signature.runbook}")
    options = Options(
        mode=mode,
        incident_id=incident_id,
        variables=dict(best.groups),
        prompter=TerminalPrompter(console) if interactive() and not as_json else None,
        observer=None if as_json else Progress(console),
        trigger={
            "signature": best.signature.id,
            "defined_at": best.signature.source,
            "log": "standard input" if log == "-" else log,
            "log_lines": [n for n, _ in best.lines],
            "groups": dict(best.groups),
        },
    )
    _finish_chain(lambda: Engine(project).run(path, options), project, console, as_json)


@main.command()
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
    from gert.validate import RunbookInvalid, load_runbook

    project = open_project(runbook)
    try:
        checked = load_runbook(runbook, project)
        graph = dmod.build(checked.model, Path(runbook), chain=chain, project_root=project.root)  # type: ignore[arg-type]
    except RunbookInvalid as e:
        _exit_invalid(e)
    click.echo(dmod.to_mermaid(graph) if fmt == "mermaid" else dmod.to_ascii(graph), nl=False)


@main.command("import")
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
    from gert import importer
    from gert.project import open_project
    from gert.util import write_atomic

    project = open_project()
    path = Path(guide).resolve()
    root = project.root.resolve()
    display = str(path.relative_to(root)) if path.is_relative_to(root) else path.name
    result = importer.import_guide(path, display)
    target = Path(out_dir) if out_dir else root / "runbooks" / "imported" / importer.slug(path.stem)
    target.mkdir(parents=True, exist_ok=True)
    for name, text in sorted(result.files.items()):
        write_atomic(target / name, text)
    if mapping:
        lines = sorted(result.mapping, key=lambda ln: int(re.search(r"\d+", ln).group()))  # type: ignore[union-attr]
        write_atomic(
            target / f"{importer.slug(path.stem)}.mapping.md",
            f"# How {display} was imported\n\n" + "\n".join(lines) + "\n",
        )
    for problem in result.problems:
        click.echo(problem, err=True)
    runbooks = sum(name.endswith(".runbook.yaml") for name in result.files)
    signatures = len(result.files) - runbooks
    click.echo(
        f"imported {runbooks} runbook(s)"
        + (" and a signatures file" if signatures else "")
        + f" from {display} into {target}"
    )
    sys.exit(EXIT_INVALID if any(": error:" in p for p in result.problems) else EXIT_OK)


@main.group()
def trace() -> None:
    """Inspect run traces."""


@trace.command()
@click.argument("runs", nargs=-1, required=True)
@click.option("--key-env", metavar="VAR", help="Environment variable holding the HMAC key.")
def verify(runs: tuple[str, ...], key_env: str | None) -> None:
    """Check that traces were not edited: RUN is a run ID, a run folder or a trace.jsonl.

    Any edited, removed, inserted or reordered line is reported. Exits 0 when every
    trace is intact, 1 when one is not.
    """
    import os
    from pathlib import Path

    from gert.project import open_project
    from gert.store import RunFolder, verify_trace

    key = None
    if key_env:
        if key_env not in os.environ:
            raise click.UsageError(f"environment variable {key_env} is not set")
        key = os.environ[key_env].encode()
    bad = 0
    for ref in runs:
        p = Path(ref)
        if p.name == "trace.jsonl":
            p = p.parent
        if not p.is_dir():
            project = open_project()
            p = project.resolve(project.config.runs_dir) / ref
        folder = RunFolder(p)
        manifest = folder.read_manifest() if folder.manifest_path.is_file() else None
        report = verify_trace(folder.trace_path, key, manifest)
        if report.ok:
            signed = ", signature checked" if report.hmac_checked else ""
            click.echo(f"{folder.run_id}: ok ({report.events} events{signed})")
        else:
            bad += 1
            click.echo(f"{folder.run_id}: TAMPERED or damaged")
            for problem in report.problems:
                click.echo(f"  {problem}")
        for note in report.notes:
            click.echo(f"  note: {note}")
    sys.exit(EXIT_FAILED if bad else EXIT_OK)


def _index():  # type: ignore[no-untyped-def]
    from gert.project import find_root
    from gert.store.index import RunIndex

    return RunIndex(find_root() / ".runbook" / "index.sqlite")


def _duration(ms: float | None) -> str:
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 120_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms / 60000:.1f} min"


@main.group()
def runs() -> None:
    """The runs recorded in this project."""


@runs.command("list")
@click.option("--incident", "incident_id", metavar="ID", help="Only runs of this incident.")
@click.option("--runbook", metavar="NAME", help="Only runs of this runbook (meta.name or path).")
@click.option("--outcome", metavar="STATE", help="Only runs that ended in this state.")
@click.option(
    "--since", metavar="ISO", help="Started at or after this time (2026-02-14 or full ISO)."
)
@click.option("--until", metavar="ISO", help="Started before this time.")
@click.option(
    "--limit", default=50, show_default=True, help="At most this many, newest first (0: all)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
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
    rows = _index().query(
        incident=incident_id,
        runbook=runbook,
        state=outcome,
        since=since,
        until=until,
        limit=limit or None,
    )
    if as_json:
        import json

        click.echo(json.dumps([r.to_dict() for r in rows], indent=2))
        return
    if not rows:
        click.echo("no runs match", err=True)
        return
    click.echo(f"{'RUN':26} {'STARTED':20} {'INCIDENT':12} {'RUNBOOK':34} {'STATE':12} DURATION")
    for r in rows:
        click.echo(
            f"{r.run_id:26} {r.started_at[:19]:20} {r.incident_id or '-':12} {r.runbook_name[:34]:34} "
            f"{r.state:12} {_duration(r.duration_ms)}"
        )


@runs.command("reindex")
def runs_reindex() -> None:
    """Rebuild the index from the run folders."""
    from gert.project import open_project
    from gert.store import open_store

    store = open_store(open_project())
    n = store.index.rebuild(store.folders())
    click.echo(f"indexed {n} run{'s' * (n != 1)}")


@main.group()
def incident() -> None:
    """Incidents and every run made for them."""


@incident.command("show")
@click.argument("incident_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def incident_show(incident_id: str, as_json: bool) -> None:
    """Every run of an incident, drawn as chains with outcomes and durations."""
    import json

    from gert.project import find_root
    from gert.store.index import chains

    root = find_root()
    incident_file = root / ".runbook" / "incidents" / f"{incident_id}.json"
    # The local provider's file is read directly (fast, no config); any other provider
    # named in gert.yaml is asked for the incident and its timeline.
    info = (
        json.loads(incident_file.read_text(encoding="utf-8")) if incident_file.is_file() else None
    )
    if info is None and (root / "gert.yaml").is_file():
        info = _remote_incident(incident_id)
    rows = _index().query(incident=incident_id, limit=None)
    grouped = chains(rows)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "incident": info,
                    "chains": [[{"depth": d, **r.to_dict()} for d, r in c] for c in grouped],
                },
                indent=2,
            )
        )
        return
    if info is None and not rows:
        raise click.ClickException(f"no incident {incident_id} and no runs for it")
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
    click.echo(
        f"{len(rows)} run{'s' * (len(rows) != 1)} in {len(grouped)} chain{'s' * (len(grouped) != 1)}"
    )
    for chain in grouped:
        click.echo("")
        for depth, r in chain:
            lead = "  " * (depth - 1) + "└─ " if depth else ""
            note = f"  chain error: {r.chain_error}" if r.chain_error else ""
            click.echo(
                f"  {lead}{r.runbook_name}  {r.state}  {_duration(r.duration_ms)}  "
                f"[{r.run_id}, {r.started_at[:19]}]{note}"
            )
            if r.recommendation:
                click.echo(f"  {'   ' * depth}  → {r.recommendation}")


def _remote_incident(incident_id: str) -> dict | None:  # type: ignore[type-arg]
    """The incident and its timeline from the provider gert.yaml names (None for local)."""
    from gert.incident import IncidentError
    from gert.incident.providers import make_provider
    from gert.project import open_project

    project = open_project()
    if project.config.incident.provider == "local":
        return None
    try:
        provider = make_provider(project)
        info = provider.get(incident_id)
        info["timeline"] = provider.timeline(incident_id)
    except IncidentError as e:
        click.echo(f"warning: {e}", err=True)
        return None
    return info


def _local_provider():  # type: ignore[no-untyped-def]
    from gert.incident.local import LocalProvider
    from gert.project import find_root

    return LocalProvider(find_root() / ".runbook" / "incidents")


@incident.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def incident_list(as_json: bool) -> None:
    """Incidents of the local provider, newest first."""
    items = _local_provider().list()
    if as_json:
        import json

        click.echo(json.dumps(items, indent=2))
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
    from gert.incident import IncidentError

    try:
        entry = _local_provider().note(incident_id, text, author or _user())
    except IncidentError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"note {entry['id']} added")


@incident.command("resolve")
@click.argument("incident_id")
def incident_resolve(incident_id: str) -> None:
    """Mark a local incident resolved (a status change on its timeline)."""
    from gert.incident import IncidentError

    try:
        _local_provider().set_status(incident_id, "resolved")
    except IncidentError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"incident {incident_id} resolved")


@incident.command("post")
@click.argument("run_id")
def incident_post(run_id: str) -> None:
    """Post the summary of the chain rooted at RUN_ID to its incident (once: a chain
    already posted is not posted again)."""
    from gert.governance import Redactor
    from gert.incident.posting import post_chain
    from gert.incident.providers import make_provider
    from gert.project import open_project
    from gert.store import open_store

    project = open_project()
    store = open_store(project)
    try:
        result = post_chain(
            store,
            run_id,
            make_provider(project),
            redact=Redactor.from_config(project.config.redact),
        )
    except FileNotFoundError as e:
        raise click.ClickException(str(e)) from None
    finally:
        store.index.close()
    if result.skipped:
        click.echo(
            f"not posted: {result.skipped}"
            + (f" (entry {result.entry_id})" if result.entry_id else "")
        )
    elif result.posted:
        click.echo(f"posted as entry {result.entry_id}")
    else:
        click.echo(f"posting failed after {result.attempts} attempt(s): {result.error}", err=True)
        sys.exit(EXIT_FAILED)


def _user() -> str:
    from gert.engine.results import default_actor as _default_actor

    return _default_actor()


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
    from gert.incident.local import LocalProvider
    from gert.project import open_project

    project = open_project()
    provider = LocalProvider(project.root / ".runbook" / "incidents")
    try:
        provider.create(incident_id, title, severity, _parse_vars(fields), _parse_vars(locations))
    except IncidentError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"incident {incident_id} created")


if __name__ == "__main__":  # pragma: no cover
    main()
