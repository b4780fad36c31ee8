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
