"""The codebase's shape (docs/architecture.md): every package's modules stay readable in one
sitting, import no cycle, and the three packages never import each other, tests included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from testkit import ROOT

PACKAGES = {
    "churn_training": ROOT / "training",
    "churn_api": ROOT / "inference-service",
    "churn_ui": ROOT / "ui-service",
}
MAX_LINES = 300


def _modules(package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module under the package's src/ folder."""
    src = PACKAGES[package] / "src"
    return {
        ".".join(path.relative_to(src).with_suffix("").parts).removesuffix(".__init__"): path
        for path in sorted((src / package).rglob("*.py"))
    }


def _imported(path: Path, importer: str) -> set[str]:
    """Every absolute module name a file imports (relative imports resolved against `importer`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = importer.split(".")[: -node.level]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def _graph(package: str) -> dict[str, set[str]]:
    modules = _modules(package)
    return {
        name: {m for m in _imported(path, name) if m in modules and m != name}
        for name, path in modules.items()
    }


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

    for node in sorted(graph):
        if node not in state and (found := visit(node, [])):
            return found
    return None


def test_the_checks_see_what_they_check() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
    assert "churn_api.features" in _graph("churn_api")["churn_api.scorer"]
    assert "churn_training.tune" in _graph("churn_training")["churn_training.pipeline"]
    assert "churn_ui.app_pages.batch" in _modules("churn_ui")


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_import_cycle_inside_a_package(package: str) -> None:
    assert _cycle(_graph(package)) is None


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_every_module_reads_in_one_sitting(package: str) -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules(package).items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_packages_never_import_each_other(package: str) -> None:
    others = tuple(p for p in PACKAGES if p != package)
    folder = PACKAGES[package]
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in _imported(path, "") if m.startswith(others))
        for path in sorted([*folder.glob("src/**/*.py"), *folder.glob("tests/**/*.py")])
    }
    assert {path: found for path, found in offenders.items() if found} == {}


def test_the_pyfunc_model_is_standalone() -> None:
    """It is logged with the model and loaded where churn_training is not installed."""
    assert _graph("churn_training")["churn_training.pyfunc_model"] == set()


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_every_module_is_in_the_architecture_doc(package: str) -> None:
    """docs/architecture.md says which module holds what: a new or renamed module joins it."""
    doc = (ROOT / "docs" / "architecture.md").read_text()
    missing = [
        name
        for name, path in _modules(package).items()
        if path.name != "__init__.py"
        and "migrations" not in path.parts
        # Listed by their path inside the package: `scorer`, `store/writes`, `app_pages/score`.
        and f"`{'/'.join(name.split('.')[1:])}`" not in doc
    ]
    assert not missing, f"docs/architecture.md does not list {missing}"
