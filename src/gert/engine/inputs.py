"""Input resolution: --var and chained inputs, then the source, then default, then a prompt."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

from gert.errors import InvalidError
from gert.executors import Prompter
from gert.incident import field_value
from gert.model import Runbook

PLACEHOLDER = "placeholder"  # the source of an input a dry-run made up


class InputsMissing(InvalidError):
    """Inputs that no source could supply; the message lists each and where it could come from."""

    def __init__(self, runbook: str, missing: dict[str, str]):
        self.missing = missing
        lines = "\n".join(f"  - {name}: {where}" for name, where in missing.items())
        super().__init__(f"{runbook}: {len(missing)} input(s) have no value:\n{lines}")


def resolve_inputs(
    rb: Runbook,
    given: dict[str, str],
    incident: dict[str, Any] | None,
    parent: dict[str, str] | None,
    prompter: Prompter | None,
    sources: dict[str, str] | None = None,
    denied_env: Callable[[str], bool] = lambda name: False,
    placeholders: bool = False,
) -> dict[str, str]:
    """Every input's value: --var / chained inputs, then the source, then default, then a
    prompt. *sources*, when given, is filled with where each value came from.

    With *placeholders* (a dry-run), an input nothing supplies is ``<name>`` (its source
    ``placeholder``) instead of an error.
    """
    values: dict[str, str] = {}
    missing: dict[str, str] = {}
    where: dict[str, str] = {}
    for name, spec in rb.meta.inputs.items():
        if name in given:
            values[name], where[name] = str(given[name]), "given"
            continue
        source = spec.from_ or "prompt"
        value: Any = None
        why_not = ""
        if parent is not None and (source == "parent" or name in parent):
            value, origin = parent.get(name), "parent"
        elif source.startswith("incident"):
            value, origin = (
                (field_value(incident, source) if incident is not None else None),
                source,
            )
        elif source.startswith("env."):
            # deny_env_vars hides a variable from inputs as it does from commands.
            value = None if denied_env(source[4:]) else os.environ.get(source[4:])
            origin = source
            if denied_env(source[4:]):
                why_not = f"environment variable {source[4:]} is in deny_env_vars"
        else:
            origin = source
        if value is not None and spec.pattern:
            m = re.search(spec.pattern, str(value))
            if m is None:
                why_not = f"{source} did not match pattern {spec.pattern!r}"
            value = (m.group(1) if m.groups() else m.group(0)) if m else None
        if value is None and spec.default is not None:
            value, origin = spec.default, "default"
        if value is None and prompter is not None and source != "parent":
            value, origin = prompter.ask_text(spec.description or name, None), "prompt"
        if value is None and placeholders:
            value, origin = f"<{name}>", PLACEHOLDER
        if value is None:
            missing[name] = (
                (why_not + f"; or --var {name}=VALUE")
                if why_not
                else _where(name, source, incident is not None)
            )
            continue
        values[name], where[name] = value_text(value), origin
    if missing:
        raise InputsMissing(rb.meta.name, missing)
    if sources is not None:
        sources.update(where)
    return values


def _where(name: str, source: str, have_incident: bool) -> str:
    if source.startswith("incident"):
        why = "the incident has no such field" if have_incident else "no --incident was given"
        return f"from {source} ({why}); or --var {name}=VALUE"
    if source.startswith("env."):
        return f"from environment variable {source[4:]} (not set); or --var {name}=VALUE"
    if source == "parent":
        return f"from the parent runbook (none: this run has no parent); or --var {name}=VALUE"
    return f"asked on a terminal (none here); give --var {name}=VALUE"


def value_text(value: Any) -> str:
    """A value as the text runbooks see (YAML booleans as Go prints them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
