"""The walls of the architecture, checked on the source.

- An adapter imports nothing from the core but `handover.sdk`, and no other adapter.
- No module of the daemon or an adapter is over 500 lines.
- No import circle among module-level imports (those under `if TYPE_CHECKING:` and inside
  functions do not run at import time and are left out).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 500


def modules(package: str) -> Iterator[tuple[str, Path]]:
    for path in sorted((ROOT / package).rglob("*.py")):
        if "__pycache__" in path.parts or "templates" in path.parts:
            continue
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def runtime_imports(name: str, path: Path) -> set[str]:
    """Modules imported at module level when `name` is imported."""
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from package import module` runs the package's __init__ (already
                # running, for a sibling) and the submodule: the edge that matters is the
                # submodule's. A name taken from the __init__ is an edge to the package.
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    found.add(sub if (ROOT / sub.replace(".", "/")).with_suffix(".py").exists()
                              or (ROOT / sub.replace(".", "/") / "__init__.py").exists()
                              else base)
            elif isinstance(node, ast.If | ast.Try):
                visit(node.body)
                visit(node.orelse)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(tree.body)
    return found


ALL = dict(modules("handover")) | dict(modules("adapters"))


@pytest.mark.parametrize("name", sorted(n for n in ALL if n.startswith("adapters.")))
def test_adapters_import_only_the_sdk_and_never_each_other(name: str) -> None:
    own = ".".join(name.split(".")[:2])
    for imported in runtime_imports(name, ALL[name]) | _type_imports(ALL[name]):
        if imported.startswith("handover"):
            assert imported == "handover.sdk" or imported.startswith("handover.sdk."), (
                f"{name} imports {imported}: adapters import only handover.sdk"
            )
        if imported.startswith("adapters."):
            assert imported == own or imported.startswith(own + "."), (
                f"{name} imports {imported}: adapters never import each other"
            )


def _type_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.module for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and not node.level
    } | {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
        for alias in node.names
    }


def test_no_module_is_over_500_lines() -> None:
    long = {n: len(p.read_text().splitlines()) for n, p in ALL.items()}
    assert {n: c for n, c in long.items() if c > MAX_LINES} == {}


def test_no_import_circle_at_run_time() -> None:
    graph = {
        name: {i for i in runtime_imports(name, path) if i in ALL and i != name}
        for name, path in ALL.items()
    }
    cycles = [c for c in _strongly_connected(graph) if len(c) > 1]
    assert cycles == []


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (the graph has a few hundred nodes)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        item = stack.pop()
                        on_stack.discard(item)
                        component.append(item)
                        if item == node:
                            break
                    result.append(sorted(component))
    return result
