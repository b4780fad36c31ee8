"""A runbook as Markdown to read: what ``gert exec`` shows for a ``kind: reference``
runbook (linked from outcomes, never run)."""

from __future__ import annotations

from gert.model import ManualStep, Node, Runbook, as_node


def reference_markdown(rb: Runbook) -> str:
    """The runbook's description, inputs and steps (titles, descriptions, commands,
    instructions) as Markdown."""
    meta = rb.meta
    out = [f"# {meta.name}", ""]
    if meta.description:
        out += [meta.description.strip(), ""]
    if meta.owner:
        out += [f"Owner: {meta.owner}", ""]
    if meta.inputs:
        out += ["## Inputs", ""]
        for name, spec in meta.inputs.items():
            out.append(f"- `{name}`: {spec.description or spec.from_ or 'prompt'}")
        out.append("")
    nodes = rb.body()
    if nodes:
        out += ["## Steps", ""]
        _steps(nodes, out, 0)
    return "\n".join(out).rstrip() + "\n"


def _steps(nodes: list[Node], out: list[str], depth: int) -> None:
    indent = "   " * depth
    for n, node in enumerate(nodes, start=1):
        step = node.step
        out.append(f"{indent}{n}. **{step.title or step.id}** (`{step.id}`, {step.type})")
        if step.description:
            out.append(f"{indent}   {step.description.strip()}")
        if step.type == "cli":
            out.append(f"{indent}   `{' '.join(step.with_.argv)}`")
        elif isinstance(step, ManualStep) and step.instructions:
            for line in step.instructions.strip().splitlines():
                out.append(f"{indent}   {line}".rstrip())
        for branch in node.branches:
            out.append(f"{indent}   - when `{branch.condition}`:")
            _steps([as_node(s) for s in branch.steps], out, depth + 2)
