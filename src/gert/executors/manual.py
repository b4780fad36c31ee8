"""``manual`` steps: instructions for the engineer, evidence and choices (the engine
handles approvals, for manual steps and tool actions alike).

Answers come from ``--evidence answers.yaml`` (keyed by step ID), else from the surface's
prompter on a terminal; when neither can supply something, the step stops with a message
saying exactly what to add to the answers file.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gert.executors import StepContext, StepError, StepOutput
from gert.load import load_mapping
from gert.template import render


def load_answers(path: str | Path) -> dict[str, dict[str, Any]]:
    """An answers file (``--evidence``): ``{step ID: {name: value}}``.

    Raises :class:`gert.load.LoadError` or :class:`gert.errors.InvalidError` naming the file.
    """
    return load_mapping(
        path,
        "answers are a mapping of step ID to {name: value}",
        lambda data: all(isinstance(v, dict) for v in data.values()),
    )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ManualExecutor:
    """Executes ``type: manual`` steps."""

    def render(self, step: Any, values: Mapping[str, str], project_root: Path) -> dict[str, Any]:
        """The instructions and the choice's prompt."""
        return {
            "instructions": render(step.instructions or "", values),
            "prompt": render(step.choices.prompt, values)
            if step.choices and step.choices.prompt
            else None,
        }

    def execute(self, ctx: StepContext) -> StepOutput:
        """Show the instructions, then gather evidence, choice, approvals and outcome."""
        step, answers, prompter = ctx.step, ctx.answers, ctx.prompter
        r = ctx.rendered
        out = StepOutput(request={"instructions": r.get("instructions", "")})
        if prompter:
            prompter.show(step.title or step.id, r.get("instructions", ""))
        missing: list[str] = []
        for ev in step.required_evidence:
            value = self._evidence(ctx, ev, answers.get(ev.name), missing)
            if value is not None:
                out.evidence[ev.name] = value
        if step.choices:
            out.choice = self._choice(ctx, step.choices, r.get("prompt"), missing)
        if missing:
            raise StepError(
                f"step '{step.id}' needs {', '.join(missing)}; nobody can be asked here, so give "
                f"them in --evidence FILE under '{step.id}:'"
            )
        return out

    def _evidence(
        self, ctx: StepContext, ev: Any, given: Any, missing: list[str]
    ) -> dict[str, Any] | None:
        prompter = ctx.prompter
        if ev.kind == "text":
            if given is None and prompter:
                given = prompter.ask_text(
                    f"{ev.name}{': ' + ev.description if ev.description else ''}"
                )
            if given is None or str(given).strip() == "":
                missing.append(f"text evidence '{ev.name}' ({ev.name}: ...)")
                return None
            return {"kind": "text", "value": str(given)}
        if ev.kind == "checklist":
            if given is None and prompter:
                given = prompter.ask_checklist(ev.description or ev.name, ev.items)
            if given is None:
                items = ", ".join(ev.items)
                missing.append(f"checklist '{ev.name}' ({ev.name}: [ticked items, of: {items}])")
                return None
            ticked = [given] if isinstance(given, str) else list(given)
            unknown = [t for t in ticked if t not in ev.items]
            if unknown:
                raise StepError(
                    f"checklist '{ev.name}' has no item {unknown[0]!r}; items: {ev.items}"
                )
            return {"kind": "checklist", "items": {item: item in ticked for item in ev.items}}
        # attachment
        if given is None and prompter:
            given = prompter.ask_text(f"path of the file for '{ev.name}'")
        if not given:
            missing.append(f"attachment '{ev.name}' ({ev.name}: path/to/file)")
            return None
        src = Path(str(given)).expanduser()
        if not src.is_absolute():
            src = ctx.project_root / src
        if not src.is_file():
            raise StepError(
                f"attachment '{ev.name}': no file at {src}; give it in --evidence FILE "
                f"under '{ctx.step.id}:'"
            )
        store = ctx.run_folder / "attachments"
        store.mkdir(parents=True, exist_ok=True)
        stored = store / f"{ctx.step.id}-{ev.name}{src.suffix}"
        shutil.copyfile(src, stored)
        return {
            "kind": "attachment",
            "path": str(given),
            "stored": str(stored.relative_to(ctx.run_folder)),
            "sha256": _sha256(stored),
            "size": stored.stat().st_size,
        }

    def _choice(
        self, ctx: StepContext, choices: Any, prompt: str | None, missing: list[str]
    ) -> str | None:
        values = [o.value for o in choices.options]
        given = ctx.answers.get("choice")
        if given is None and ctx.prompter:
            given = ctx.prompter.ask_choice(
                prompt or f"choose {choices.variable}",
                [(o.value, o.label or o.value) for o in choices.options],
            )
        if given is None:
            missing.append(f"a choice (choice: one of {', '.join(values)})")
            return None
        if str(given) not in values:
            raise StepError(f"choice {given!r} is not one of {', '.join(values)}")
        return str(given)
