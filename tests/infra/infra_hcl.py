"""Parse terraform/ with python-hcl2 into plain dictionaries that tests can assert on."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
API_SRC = ROOT / "inference-service" / "src" / "churn_api"
ROUTE = re.compile(
    r"\.(get|post|put|delete|patch|head|api_route)\(\s*[\"']([^\"']*)[\"']", re.MULTILINE
)


def normalize(value: Any) -> Any:
    """Drop python-hcl2's quoting and block markers: '"x"' -> 'x', '${a.b}' -> '${a.b}'."""
    if isinstance(value, dict):
        markers = ("__is_block__", "__comments__")
        return {normalize(k): normalize(v) for k, v in value.items() if k not in markers}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@dataclass
class Module:
    """The blocks of one Terraform module directory, by kind and name."""

    path: Path
    resources: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    data: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    terraform: list[dict[str, Any]] = field(default_factory=list)

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        """One resource body; fails with the list of known names when it is missing."""
        known = self.resources.get(kind, {})
        assert name in known, f"{kind}.{name} not in {self.path.name}: {sorted(known)}"
        return known[name]

    def of_kind(self, kind: str) -> dict[str, dict[str, Any]]:
        """All resources of one type."""
        return self.resources.get(kind, {})

    def default(self, variable: str) -> Any:
        """Default value of a variable of this module."""
        assert variable in self.variables, f"variable {variable} not declared"
        return self.variables[variable].get("default")


def load_module(path: Path) -> Module:
    """Parse every .tf file of one directory."""
    module = Module(path=path)
    files = sorted(path.glob("*.tf"))
    assert files, f"no .tf files in {path}"
    for file in files:
        with file.open() as handle:
            parsed = normalize(hcl2.load(handle))
        for block in parsed.get("resource", []):
            for kind, named in block.items():
                module.resources.setdefault(kind, {}).update(named)
        for block in parsed.get("data", []):
            for kind, named in block.items():
                module.data.setdefault(kind, {}).update(named)
        for block in parsed.get("variable", []):
            module.variables.update(block)
        for block in parsed.get("locals", []):
            module.locals.update(block)
        for block in parsed.get("module", []):
            module.modules.update(block)
        for block in parsed.get("output", []):
            module.outputs.update(block)
        for block in parsed.get("check", []):
            module.checks.update(block)
        module.terraform.extend(parsed.get("terraform", []))
    return module


def ref(expression: Any) -> str:
    """'${aws_security_group.alb.id}' -> 'aws_security_group.alb.id' (fails if not a ref)."""
    assert isinstance(expression, str), expression
    match = re.fullmatch(r"\$\{(.+)\}", expression)
    assert match, f"not an expression: {expression!r}"
    return match.group(1)


def local_value(module: Module, expression: Any) -> Any:
    """Resolve 'local.x' / 'var.x' (its default) one level; literals pass through."""
    if isinstance(expression, str) and expression.startswith("${"):
        inner = ref(expression)
        if inner.startswith("local.") and inner[6:] in module.locals:
            return local_value(module, module.locals[inner[6:]])
        if inner.startswith("var.") and inner[4:] in module.variables:
            return module.default(inner[4:])
    return expression


def walk(value: Any) -> Iterator[Any]:
    """Every nested value of a parsed block."""
    yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)


def api_route_paths() -> set[tuple[str, str]]:
    """(method, path) pairs declared with FastAPI decorators in churn_api."""
    routes: set[tuple[str, str]] = set()
    for source in API_SRC.rglob("*.py"):
        for method, path in ROUTE.findall(source.read_text()):
            routes.add((method.upper(), path))
    return routes


def when(expression: Any, condition: str) -> dict[str, Any]:
    """The object of '${<condition> ? {...} : {}}' (python-hcl2 leaves it as a string)."""
    assert isinstance(expression, str), expression
    match = re.fullmatch(r"\$\{(.+?) \? (\{.*\}) : \{\}\}", expression, re.DOTALL)
    assert match, f"not '<condition> ? {{...}} : {{}}': {expression[:80]}"
    assert match.group(1) == condition, match.group(1)
    return normalize(hcl2.loads(f"x = {match.group(2)}"))["x"]
