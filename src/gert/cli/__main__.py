"""``python -m gert.cli``: the same command line as ``gert``."""

from gert.cli import main

main()
