"""The package's shape: no import cycle, a standalone pyfunc model, modules of a readable size."""

from __future__ import annotations

import ast
from pathlib import Path

import churn_training

PACKAGE = Path(churn_training.__file__).parent
MAX_LINES = 300


def _imports() -> dict[str, set[str]]:
    """Module name -> the churn_training modules it imports (at run time or for typing)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.glob("*.py")):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "churn_training":
                    found |= {alias.name for alias in node.names}
                elif node.module.startswith("churn_training."):
                    found.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                found |= {
                    a.name.split(".")[1] for a in node.names if a.name.startswith("churn_training.")
                }
        graph[path.stem] = found
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return [*path, node, nxt]
            if nxt not in state and (found := visit(nxt, [*path, node])):
                return found
        state[node] = "done"
        return None

    for node in graph:
        if node not in state and (found := visit(node, [])):
            return found
    return None


def test_the_graph_is_read() -> None:
    graph = _imports()
    assert "pipeline" in graph and {"features", "tune", "bundle"} <= graph["pipeline"]
    assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]


def test_no_import_cycle() -> None:
    assert _cycle(_imports()) is None


def test_pyfunc_model_imports_nothing_from_the_package() -> None:
    """It is logged with the model and loaded where churn_training is not installed."""
    assert _imports()["pyfunc_model"] == set()


def test_modules_stay_small() -> None:
    sizes = {p.name: len(p.read_text().splitlines()) for p in PACKAGE.glob("*.py")}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
