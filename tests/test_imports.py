"""The package's imports form no cycle (read from the source with `ast`, nothing imported).

Module-level imports form none at all. An import deferred into a function (to keep a light
module light) closes no new cycle either: the ones in `DEFERRED_CYCLES` are known, and none
of them passes through `execution/` or `builders/`."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tuner"


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(node: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The package's modules a module-level import statement names (`from a import b` names
    `a.b` when that is a module, else `a`)."""
    found: set[str] = set()
    if isinstance(node, ast.Import):
        found.update(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            anchor = module.split(".") if is_package else module.split(".")[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join(anchor + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        found.add(base)
        found.update(f"{base}.{alias.name}" for alias in node.names)
    return found & known


def _statements(tree: ast.Module, deferred: bool) -> list[ast.stmt]:
    """The statements that run on import: the module's own, including those under `if` and
    `try` (never under `if TYPE_CHECKING`); with `deferred`, those in functions and classes
    too."""
    statements: list[ast.stmt] = []
    pending = list(tree.body)
    while pending:
        statement = pending.pop()
        statements.append(statement)
        if isinstance(statement, ast.If):
            test = statement.test
            if not (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"):
                pending.extend(statement.body)
            pending.extend(statement.orelse)
        elif isinstance(statement, ast.Try):
            pending.extend(statement.body)
            for handler in statement.handlers:
                pending.extend(handler.body)
            pending.extend(statement.orelse + statement.finalbody)
        elif isinstance(statement, (ast.With, ast.For, ast.While)):
            pending.extend(statement.body)
        elif deferred and isinstance(
            statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        ):
            pending.extend(statement.body)
    return statements


def import_graph(root: Path = PACKAGE, *, deferred: bool = False) -> dict[str, set[str]]:
    """Each module of the package and the package's modules it imports at module level (with
    `deferred`, in its functions too; importing ``a.b.c`` runs ``a/__init__`` and
    ``a/b/__init__`` too)."""
    paths = {_module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    known = set(paths)
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for statement in _statements(tree, deferred):
            for name in _imported(statement, module, is_package, known):
                parts = name.split(".")
                edges.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        edges &= known
        # A module's own package is imported before it; that is no edge of the module's.
        graph[module] = {e for e in edges if e != module and not module.startswith(e + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


# Deferred imports that close a cycle, known and left for their modules' owners.
DEFERRED_CYCLES: list[list[str]] = []


def test_no_new_cycle_through_deferred_imports() -> None:
    """`StackedTowers` once chose its JAX subclass by importing it in ``__new__``, the subclass
    importing the base class: a factory beside both chooses now."""
    found = cycles(import_graph(deferred=True))
    assert [c for c in found if c not in DEFERRED_CYCLES] == []  # none at all now
    assert not any(m.startswith(("tuner.execution", "tuner.builders")) for c in found for m in c)


def test_the_check_sees_a_cycle(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.sub import b\n")
    (package / "sub" / "b.py").write_text("from .. import c\n")
    (package / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.d\n"
        "def later():\n    import pkg.a\n"
    )
    (package / "d.py").write_text("import pkg.a\n")
    assert cycles(import_graph(package)) == []  # only under TYPE_CHECKING or in a function
    assert cycles(import_graph(package, deferred=True)) == [["pkg.a", "pkg.c", "pkg.sub.b"]]
    (package / "c.py").write_text("try:\n    import pkg.a\nexcept ImportError:\n    pass\n")
    assert cycles(import_graph(package)) == [["pkg.a", "pkg.c", "pkg.sub.b"]]
