"""gert: run incident-response runbooks as governed, traceable programs.

A library with thin surfaces on top (the CLI in ``gert.cli``). The public API is
importable from here and loaded on first use, so ``import gert`` (and the CLI's start-up)
stays light::

    from gert import Engine, Options, open_project

    project = open_project("examples")
    with Engine(project) as engine:
        chain = engine.run("examples/runbooks/web-health.runbook.yaml", Options(mode="dry-run"))

See ``docs/library.md`` for the API and ``docs/architecture.md`` for the layers.
"""

from __future__ import annotations

from gert.version import __version__

# typing is not imported for these: `gert --version` loads this package and nothing else
TYPE_CHECKING = False

# name -> module that defines it
_API = {
    # running
    "Engine": "gert.engine",
    "Options": "gert.engine",
    "ChainResult": "gert.engine",
    "RunResult": "gert.engine",
    "StepRecord": "gert.engine",
    "InputsMissing": "gert.engine",
    "ResumeRefused": "gert.engine",
    # projects, runbooks, validation
    "Project": "gert.project",
    "open_project": "gert.project",
    "load_runbook": "gert.validate",
    "validate_paths": "gert.validate",
    "Problem": "gert.problems",
    "Report": "gert.problems",
    "RunbookInvalid": "gert.problems",
    # the two languages
    "render": "gert.template",
    "evaluate": "gert.expr",
    # evidence
    "Store": "gert.store",
    "FileStore": "gert.store",
    "RunManifest": "gert.store",
    "open_store": "gert.store",
    "verify_trace": "gert.store",
    # errors
    "GertError": "gert.errors",
    "InvalidError": "gert.errors",
    "ChainError": "gert.errors",
    "NotFound": "gert.errors",
}

__all__ = [
    "ChainError",
    "ChainResult",
    "Engine",
    "FileStore",
    "GertError",
    "InputsMissing",
    "InvalidError",
    "NotFound",
    "Options",
    "Problem",
    "Project",
    "Report",
    "ResumeRefused",
    "RunManifest",
    "RunResult",
    "RunbookInvalid",
    "StepRecord",
    "Store",
    "__version__",
    "evaluate",
    "load_runbook",
    "open_project",
    "open_store",
    "render",
    "validate_paths",
    "verify_trace",
]


def __getattr__(name: str) -> object:
    """Load a public name's module on first use."""
    from importlib import import_module

    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'gert' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))


if TYPE_CHECKING:  # for type checkers and editors; never executed
    from gert.engine import (
        ChainResult,
        Engine,
        InputsMissing,
        Options,
        ResumeRefused,
        RunResult,
        StepRecord,
    )
    from gert.errors import ChainError, GertError, InvalidError, NotFound
    from gert.expr import evaluate
    from gert.problems import Problem, Report, RunbookInvalid
    from gert.project import Project, open_project
    from gert.store import FileStore, RunManifest, Store, open_store, verify_trace
    from gert.template import render
    from gert.validate import load_runbook, validate_paths
