"""The ``gert`` console script: ``gert --version`` answered before the command line (and
click) is loaded; everything else goes to :func:`gert.cli.main`."""

from __future__ import annotations

import sys


def main() -> None:
    """Run the gert command line."""
    if sys.argv[1:] == ["--version"]:
        from gert.version import __version__

        print(f"gert {__version__}")
        return
    from gert.cli import main as cli

    cli()
