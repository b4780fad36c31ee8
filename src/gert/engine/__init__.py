"""The engine: walks a runbook, runs its steps, records evidence, picks an outcome, and
chains into the runbook that outcome names.

The engine knows executors, the store and incident providers only through small
interfaces, and never prints or prompts: surfaces pass a :class:`~gert.executors.Prompter`
and an observer callback, and render the :class:`ChainResult`.

- :mod:`gert.engine.results`: what runs and chains produced, and the :class:`Options`;
- :mod:`gert.engine.inputs`: input resolution;
- :mod:`gert.engine.chain`: the :class:`Engine` (chains, hand-offs, resume);
- :mod:`gert.engine.run`: one run's walk and each step's lifecycle;
- :mod:`gert.engine.recorder`: a run's evidence (trace, step records, manifest).
"""

from gert.engine.chain import MODES, ChainStop, Engine, ResumeRefused, default_executors
from gert.engine.inputs import InputsMissing, resolve_inputs
from gert.engine.recorder import RunRecorder
from gert.engine.results import ChainResult, Options, RunResult, StepRecord
from gert.engine.run import Run

__all__ = [
    "MODES",
    "ChainResult",
    "ChainStop",
    "Engine",
    "InputsMissing",
    "Options",
    "ResumeRefused",
    "Run",
    "RunRecorder",
    "RunResult",
    "StepRecord",
    "default_executors",
    "resolve_inputs",
]
