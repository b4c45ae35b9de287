"""The package's shape: no import cycle between churn_api modules."""

from __future__ import annotations

import ast
from pathlib import Path

import churn_api

PACKAGE = Path(churn_api.__file__).parent


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.glob("*.py"):
        name = f"churn_api.{path.stem}"
        graph[name] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t.startswith("churn_api.")}
    return {m: {t for t in deps if t in graph and t != m} for m, deps in graph.items()}


def test_no_import_cycle_inside_the_package() -> None:
    graph = _imports()
    assert "churn_api.scorer" in graph
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError("import cycle: " + " -> ".join([*path, module]))
        if module in done:
            return
        for dep in sorted(graph[module]):
            visit(dep, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
