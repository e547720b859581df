"""The shape of the package, read from its source: import graph and module sizes.

Every ``import`` statement of ``src/scalinglab`` counts, at module level or
inside a function (a function-level import is still a dependency, only a
later one), so a cycle hidden behind a lazy import is found too. Imports under
``if TYPE_CHECKING:`` are left out: they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "scalinglab"
MAX_LINES = 600


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module named by ``from <node.module> import ...`` inside ``module``."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _is_type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of ``tree`` except the bodies of ``if TYPE_CHECKING:`` (their else runs)."""
    out: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        out.append(node)
        if _is_type_checking(node):
            assert isinstance(node, ast.If)
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return out


def import_graph() -> dict[str, set[str]]:
    """Edges module -> every scalinglab module it imports (anywhere in its body)."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        is_package = path.name == "__init__.py"
        for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(mod, is_package, node)
                for a in node.names:  # `from pkg import submodule` imports the submodule
                    sub = f"{target}.{a.name}"
                    targets.append(sub if sub in mods else target)
            for t in targets:
                while t and t not in mods:  # `import a.b.c` of a name inside a module
                    t = t.rpartition(".")[0]
                if t.startswith("scalinglab") and t != mod:
                    graph[mod].add(t)
    return graph


def subpackage(module: str) -> str:
    """``scalinglab.train.sweep`` -> ``train``; a top-level module is its own part."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""  # "" for the root package itself


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of nodes (first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def subpackage_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for mod, deps in graph.items():
        a = subpackage(mod)
        for d in deps:
            b = subpackage(d)
            if a and b and a != b:
                out.setdefault(a, set()).add(b)
    return out


# -- the checker checks itself ------------------------------------------------------------


def test_find_cycle_finds_a_hidden_cycle_and_none_in_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_graph_sees_relative_and_function_level_imports():
    g = import_graph()
    # module level, relative two levels up
    assert "scalinglab.errors" in g["scalinglab.train.sweep"]
    # `from .. import corpus as c` inside a function names the subpackage
    assert "scalinglab.corpus" in g["scalinglab.train.cli"]
    assert subpackage("scalinglab.train.sweep") == "train"
    assert subpackage("scalinglab.cli") == "cli"
    assert subpackage("scalinglab") == ""


def test_type_checking_imports_are_left_out():
    tree = ast.parse(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import a\nelse:\n    import b\n"
    )
    names = {a.name for n in _runtime_nodes(tree) if isinstance(n, ast.Import) for a in n.names}
    assert names == {"b"}


# -- the rules -----------------------------------------------------------------------------


def test_no_import_cycle_between_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_no_import_cycle_between_subpackages():
    cycle = find_cycle(subpackage_graph(import_graph()))
    assert cycle is None, " -> ".join(cycle or [])


def test_train_never_imports_report():
    bad = sorted(
        f"{m} -> {d}"
        for m, deps in import_graph().items()
        if subpackage(m) == "train"
        for d in deps
        if subpackage(d) == "report"
    )
    assert not bad, bad


#: What report may take from train: its public result types (and the version of the run
#: record format that a RunResult file carries).
RESULT_TYPES = {"SweepResult", "RunResult", "RUN_FORMAT"}


def test_report_takes_only_result_types_from_train():
    bad = []
    for mod, path in _modules().items():
        if subpackage(mod) != "report":
            continue
        for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                bad += [f"{mod}: import {a.name}" for a in node.names if ".train" in a.name]
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(mod, path.name == "__init__.py", node)
                if subpackage(target) == "train":
                    bad += [
                        f"{mod}: {target}.{a.name}"
                        for a in node.names
                        if a.name not in RESULT_TYPES
                    ]
    assert not bad, bad


def test_no_module_over_600_lines():
    long = {
        m: n for m, p in _modules().items() if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, long


def test_train_modules_within_600_lines():
    """train is already split."""
    long = {
        m: n
        for m, p in _modules().items()
        if subpackage(m) == "train" and (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, long
