"""An answers file (``--evidence``) checked against the chain before anything runs.

A typo in a step ID, an evidence name, a checklist item or a choice would otherwise let
every automatic step run before the manual step fails. The chain's manual steps are found
statically: the root runbook, the runbooks it invokes (their step IDs prefixed, as the
engine records them) and the runbooks its outcomes hand off to, when their file names are
not templates.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gert.errors import InvalidError
from gert.model import ManualStep, Node, Runbook, as_node

if TYPE_CHECKING:
    from gert.engine.chain import Engine

# What an answer may hold besides the step's evidence names.
ANSWER_KEYS = ("choice", "outcome", "approved_by")


class AnswersInvalid(InvalidError):
    """An answers file that does not fit the chain's manual steps (nothing has run)."""


@dataclass
class _Steps:
    """The answerable steps of a chain, by the ID answers use."""

    steps: dict[str, Any] = field(default_factory=dict)
    complete: bool = True  # False: a hand-off or invoke names a runbook only known at run time


def check_answers(
    engine: Engine, root: Runbook, path: Path, answers: dict[str, Any], file: str
) -> None:
    """Raise AnswersInvalid listing every answer that fits no step of the chain."""
    if not answers:
        return
    found = _Steps()
    _collect(engine, root, path, "", found, set())
    problems: list[str] = []
    for sid, answer in answers.items():
        step = found.steps.get(sid)
        if step is None:
            if found.complete:
                problems.append(
                    f"'{sid}' is not a step of the chain that takes answers{_near(sid, found.steps)}"
                )
            continue
        problems += [f"{sid}: {p}" for p in _check_one(step, answer, engine.project.root)]
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise AnswersInvalid(
            f"{file}: {len(problems)} answer(s) fit no step (nothing was run):\n{lines}"
        )


def _collect(
    engine: Engine, rb: Runbook, path: Path, prefix: str, found: _Steps, seen: set[str]
) -> None:
    key = f"{prefix}{path.resolve()}"
    if key in seen:
        return
    seen.add(key)
    for node in _nodes(rb.body()):
        step = node.step
        sid = prefix + step.id
        if isinstance(step, ManualStep) or step.type == "tool":
            found.steps.setdefault(sid, step)
        if step.type == "invoke":
            target = _runbook(
                engine, rb.imports.get(step.invoke.runbook, step.invoke.runbook), path
            )
            if target is None:
                found.complete = False
            else:
                _collect(engine, target[0], target[1], f"{sid}/", found, seen)
        for outcome in step.outcomes:
            if outcome.next_runbook is None or prefix:
                continue
            target = _runbook(engine, outcome.next_runbook.file, path)
            if target is None:
                found.complete = False
            else:
                _collect(engine, target[0], target[1], "", found, seen)


def _nodes(nodes: list[Node]) -> list[Node]:
    out = []
    for node in nodes:
        out.append(node)
        for branch in node.branches:
            out += _nodes([as_node(s) for s in branch.steps])
    return out


def _runbook(engine: Engine, rel: str, path: Path) -> tuple[Runbook, Path] | None:
    if "{{" in rel:
        return None
    found = engine.resolve_runbook(rel, path.parent)
    if found is None or not engine.project.contains(found):
        return None
    try:
        return engine.load(found).model, found
    except Exception:  # an invalid child is the hand-off's to report
        return None


def _check_one(step: Any, answer: Any, root: Path) -> list[str]:
    if not isinstance(answer, dict):
        return [f"is {type(answer).__name__}, not a mapping of names to values"]
    if not isinstance(step, ManualStep):  # a tool action waiting for approval
        return [
            f"{k}: a tool step takes only approved_by{_near(k, ['approved_by'])}"
            for k in answer
            if k != "approved_by"
        ]
    evidence = {ev.name: ev for ev in step.required_evidence}
    known = [*evidence, *ANSWER_KEYS]
    problems = []
    for name, value in answer.items():
        if name not in known:
            problems.append(
                f"{name}: step '{step.id}' has no evidence of that name{_near(name, known)}"
            )
        elif name in evidence and evidence[name].kind == "attachment" and value:
            where = Path(str(value)).expanduser()
            if not where.is_absolute():
                where = root / where
            if not where.is_file():
                problems.append(f"{name}: no file at {where}")
        elif name in evidence and evidence[name].kind == "checklist":
            items = evidence[name].items
            for item in [value] if isinstance(value, str) else list(value or []):
                if item not in items:
                    problems.append(
                        f"{name}: no checklist item {item!r}{_near(str(item), items)}; items: {', '.join(items)}"
                    )
        elif name == "choice" and step.choices:
            values = [o.value for o in step.choices.options]
            if str(value) not in values:
                problems.append(
                    f"choice: {value!r} is not one of {', '.join(values)}{_near(str(value), values)}"
                )
        elif name == "outcome":
            states = list(dict.fromkeys(o.state for o in step.outcomes if not o.when))
            if str(value) not in states:
                problems.append(
                    f"outcome: {value!r} is not one of {', '.join(states) or '(none)'}{_near(str(value), states)}"
                )
    return problems


def _near(word: str, vocabulary: Any) -> str:
    close = difflib.get_close_matches(word, sorted(vocabulary), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
