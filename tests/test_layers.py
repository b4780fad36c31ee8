"""The architecture holds: gert's import graph has no cycle and never reaches up a layer.

Every import counts, also those inside functions (they run when the function runs); only
imports under ``if TYPE_CHECKING:`` are left out (they never run). docs/architecture.md
draws these layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import gert

SRC = Path(gert.__file__).parent

# Lowest first. A module belongs to the layer of its longest matching prefix.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("utilities", ("gert.errors", "gert.util", "gert.problems", "gert.version")),
    (
        "language",
        (
            "gert.model",
            "gert.load",
            "gert.template",
            "gert.expr",
            "gert.mermaid",
            "gert.config",
            "gert.project",
            "gert.governance",
            "gert.validate",
        ),
    ),
    (
        "store and executors",
        (
            "gert.store",
            "gert.logs",
            "gert.executors",
            "gert.capture",
            "gert.mcp_client",
            "gert.incident",
        ),
    ),
    (
        "engine and services",
        (
            "gert.engine",
            "gert.scenario",
            "gert.testing",
            "gert.postmortem",
            "gert.signatures",
            "gert.diagram",
            "gert.importer",
            "gert.migrate",
            "gert.reference",
            "gert.scaffold",
            "gert.catalog",
            "gert.overview",
            "gert.alerts",
            "gert.starting",
            "gert.queue",
            "gert.watching",
            "gert.metrics",
        ),
    ),
    (
        "surfaces",
        (
            "gert.cli",
            "gert.console",
            "gert._entry",
            "gert.server",
            "gert.mcp_server",
            "gert.tui",
            "gert.worker",
        ),
    ),
]


def module_names() -> dict[str, Path]:
    """Every module of the package by dotted name (packages by their __init__)."""
    out = {}
    for path in SRC.rglob("*.py"):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for n, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and (best is None or len(p) > best[0]):
                best = (len(p), n)
    return best[1] if best else None


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The gert modules *name* imports (submodules resolved: ``from gert import expr``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "gert")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            if base.split(".")[0] == "gert":
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    found.add(sub if sub in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(name)
    return found


def graph() -> dict[str, set[str]]:
    modules = module_names()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def test_every_module_has_a_layer():
    unplaced = sorted(m for m in module_names() if m != "gert" and layer_of(m) is None)
    assert not unplaced, f"place these modules in a layer (tests/test_layers.py): {unplaced}"


def test_no_import_reaches_up_a_layer():
    bad = []
    for module, targets in graph().items():
        if module == "gert":  # the lazy public API sits above everything
            continue
        own = layer_of(module)
        for target in sorted(targets):
            theirs = layer_of(target)
            if own is not None and theirs is not None and theirs > own:
                bad.append(f"{module} ({LAYERS[own][0]}) imports {target} ({LAYERS[theirs][0]})")
    assert not bad, "imports that go up a layer:\n" + "\n".join(bad)


def test_nothing_imports_the_top_level_package():
    users = sorted(m for m, targets in graph().items() if "gert" in targets)
    assert not users, f"import from the defining module, not from gert: {users}"


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_import_graph_has_no_cycle():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_checks_catch_what_they_look_for():
    # The cycle finder and the layer rule are themselves checked on known bad graphs.
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert layer_of("gert.engine.run") > layer_of("gert.store.files")
    assert layer_of("gert.cli.running") == len(LAYERS) - 1
    source = "from gert import expr\nfrom gert.engine import Engine\nif TYPE_CHECKING:\n    import gert.cli\n"
    assert _imports_from_text(source, module_names()) == {"gert.expr", "gert.engine"}


def _imports_from_text(text: str, modules: dict[str, Path]) -> set[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "snippet.py"
        p.write_text(text)
        return imports_of("gert.snippet", p, modules)
