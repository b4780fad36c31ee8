"""Start-up stays light: the CLI module imports no heavy library (they load per command)."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Each test starts a fresh interpreter: what importing gert.cli pulls in is the point.
pytestmark = pytest.mark.slow

HEAVY = [
    "pydantic",
    "rich",
    "httpx",
    "httpx2",
    "mcp",
    "jsonschema",
    "textual",
    "fastapi",
    "ruamel",
    "jsonpath",
    "psycopg",
    "celery",
    "fpdf",
    "markdown_it",
    "azure",
    "elasticsearch",
    "elastic_transport",
    "requests",
    "msal",
    "prometheus_client",
]


def test_import_gert_cli_pulls_in_no_heavy_library():
    code = f"import sys, gert.cli; print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == ""


def test_help_lists_commands_without_importing_them():
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom gert.cli import main\n"
        "r = CliRunner().invoke(main, ['--help'])\nassert r.exit_code == 0, r.output\n"
        "assert 'validate' in r.output and 'schema' in r.output\n"
        f"print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == ""


def test_validating_a_plain_select_loads_no_sql_parser(tmp_path):
    """The SQL parser is loaded by validate only for a query that may write."""
    import subprocess
    import sys

    (tmp_path / "q.runbook.yaml").write_text(
        "apiVersion: runbook/v0\nmeta: {name: q, kind: composable}\nsteps:\n"
        "  - {id: q, type: tool, tool: {name: sql, action: query, args: {url: 'sqlite:///x.db', query: 'SELECT 1'}}}\n"
    )
    code = (
        "import sys\nfrom gert.validate import Validator\n"
        f"Validator(None).check({str(tmp_path / 'q.runbook.yaml')!r}, expect='runbook')\n"
        "print('sqlglot' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
