"""One exception tree for gert: every error gert raises on purpose is a :class:`GertError`.

Each error knows the exit code the command line gives it, so surfaces need one handler::

    GertError                 exit 1  something did not work (a provider, a rendering, a step)
    ├── InvalidError          exit 2  bad input: a runbook, a YAML file, a scenario, a usage
    └── ChainError            exit 3  a chain that cannot go on

The concrete classes live next to the concept they belong to (``gert.load.LoadError``,
``gert.validate.RunbookInvalid``…) and derive from these bases. This module is a leaf: it
imports nothing from gert.
"""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_CHAIN, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_WAITING = 4  # a run stopped at a step waiting for an answer nobody here could give


class GertError(Exception):
    """The root of every error gert raises on purpose; ``exit_code`` is the CLI's."""

    exit_code: int = EXIT_FAILED


class InvalidError(GertError):
    """Input gert cannot use: a file, a runbook, a scenario, an option (exit 2)."""

    exit_code = EXIT_INVALID


class ChainError(GertError):
    """A chain that cannot go on: a missing or invalid child, a loop, the depth limit (exit 3)."""

    exit_code = EXIT_CHAIN


class NotFound(InvalidError, FileNotFoundError):
    """A run, incident or file that does not exist (also a ``FileNotFoundError``)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"
