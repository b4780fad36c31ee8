"""How well ``gert import`` reads guides written by others.

Imports every Markdown guide under a folder (default: the public runbook collections in
tests/fixtures/guides/public/) and prints:

- guides, and guides that yield at least one runbook (every guide with a section should);
- runbooks, and runbooks that validate with no error;
- cli steps whose argv[0] is not a command (a YAML key, a table header, ``)``, ``EOF``…);
- state-changing commands imported as cli steps (by the command table, and by the
  write verbs of kubectl/oc: edit, patch, apply, create, delete, scale, adm, exec, debug,
  rsh, rollout restart, port-forward);
- guide lines not accounted for by the mapping.

Usage: .venv/bin/python bench/import_guides.py [FOLDER ...]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from gert.importer import import_guide  # noqa: E402
from gert.importer.commands import classify, known, program_of, subcommand  # noqa: E402
from gert.load import load_file  # noqa: E402
from gert.validate import Validator  # noqa: E402

DEFAULT = ROOT / "tests" / "fixtures" / "guides" / "public"
KUBE_WRITES = {
    "edit",
    "patch",
    "apply",
    "create",
    "delete",
    "scale",
    "exec",
    "debug",
    "rsh",
    "port-forward",
}


def is_command(argv0: str) -> bool:
    """argv[0] names a program: the command table knows it, it is on PATH, or it is a path
    to a script."""
    return known(argv0) or shutil.which(argv0) is not None or argv0.startswith(("./", "/"))


def kube_write(argv: list[str]) -> bool:
    if program_of(argv) not in ("kubectl", "oc"):
        return False
    from gert.importer.commands import TOOLS

    words = subcommand(argv[1:], TOOLS["kubectl"].value_options)
    verb = words[0] if words else ""
    two = " ".join(words[:2])
    return verb in KUBE_WRITES or (verb == "adm" and two != "adm top") or two == "rollout restart"


def cli_steps(tree: list) -> list[dict]:
    out = []
    for node in tree:
        step = node.get("step", node)
        if step.get("type") == "cli":
            out.append(step)
        for branch in node.get("branches", []):
            out += cli_steps(branch["steps"])
    return out


def measure(folders: list[Path]) -> dict[str, int]:
    guides = sorted(p for f in folders for p in f.rglob("*.md") if p.name.lower() != "readme.md")
    figures = dict.fromkeys(
        (
            "guides",
            "guides with runbooks",
            "runbooks",
            "runbooks that validate",
            "cli steps",
            "cli argv[0] not a command",
            "state-changing cli steps",
            "kubectl/oc write verbs as cli steps",
            "lines not accounted for",
        ),
        0,
    )
    validator = Validator()
    with tempfile.TemporaryDirectory() as tmp:
        for n, guide in enumerate(guides):
            figures["guides"] += 1
            result = import_guide(guide, guide.name)
            figures["lines not accounted for"] += len(
                [ln for ln, what in result.lines.items() if what.startswith("not imported")]
            )
            if result.runbooks:
                figures["guides with runbooks"] += 1
            folder = Path(tmp) / str(n)
            folder.mkdir()
            for name, text in result.files.items():
                (folder / name).write_text(text, encoding="utf-8")
            for path in sorted(folder.glob("*.runbook.yaml")):
                figures["runbooks"] += 1
                checked = validator.check(path)
                if not [p for p in checked.problems if p.severity == "error"]:
                    figures["runbooks that validate"] += 1
                for step in cli_steps(load_file(path).data.get("tree", [])):
                    argv = step["with"]["argv"]
                    figures["cli steps"] += 1
                    figures["cli argv[0] not a command"] += not is_command(argv[0])
                    figures["state-changing cli steps"] += not classify(argv).reads
                    figures["kubectl/oc write verbs as cli steps"] += kube_write(argv)
    return figures


def main() -> None:
    folders = [Path(a) for a in sys.argv[1:]] or [DEFAULT]
    start = time.perf_counter()
    figures = measure(folders)
    took = time.perf_counter() - start
    print(f"guides under {', '.join(str(f) for f in folders)}")
    for key, value in figures.items():
        print(f"  {key:38} {value}")
    print(f"  {'seconds':38} {took:.1f}")


if __name__ == "__main__":
    main()
