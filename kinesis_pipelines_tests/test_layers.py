"""The package's layering, read from its source: no import cycles between its modules, planning
stays pure, and the operations hold no Dagster."""

from __future__ import annotations

import ast
from pathlib import Path

import kinesis_pipelines

PACKAGE = Path(kinesis_pipelines.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module this file imports, at any depth (function-level imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {
        name: {m for m in imports_of(path) if m in modules and m != name} for name, path in modules.items()
    }


def test_no_import_cycles_between_parts_of_the_package() -> None:
    """Modules are grouped by their part (a sub-package, or a top-level module): importing any
    module of a sub-package runs its __init__, so a cycle between parts is a real cycle."""
    edges: dict[str, set[str]] = {}
    for name, targets in graph().items():
        part = ".".join(name.split(".")[:2])
        edges.setdefault(part, set()).update(".".join(t.split(".")[:2]) for t in targets)
    edges = {part: targets - {part} for part, targets in edges.items()}
    assert sum(map(len, edges.values())) > 30  # the graph was read, not empty
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for start in sorted(edges):
        if start not in state:
            visit(start, [start])
    assert cycles == [], "\n".join(" -> ".join(c) for c in cycles)


def test_planning_is_pure() -> None:
    allowed_outside = {"pydantic", "math", "re", "enum", "hashlib", "json", "typing", "__future__"}
    for path in (PACKAGE / "planning").glob("*.py"):
        for name in imports_of(path):
            top = name.split(".")[0]
            inside = name.startswith(("kinesis_pipelines.planning", "kinesis_pipelines.errors"))
            assert inside or top in allowed_outside, f"{path.name} imports {name}"


def test_operations_hold_no_dagster() -> None:
    for path in (PACKAGE / "operations").glob("*.py"):
        assert not [m for m in imports_of(path) if m.split(".")[0] == "dagster"], path.name


RESOLVERS = {
    "kinesis_pipelines.tools.find_spark",
    "kinesis_pipelines.tools.require_spark",
    "kinesis_pipelines.tools.python_version_of",
    "kinesis_pipelines.tools.spark_submit",
    "kinesis_pipelines.tools.spark_class",
}


def test_only_the_spec_resolves_spark_and_the_drivers_python() -> None:
    """The Spark installation, its line and the driver's Python are resolved in `spec/runtime.py`,
    once per operation, and handed on as one value: nothing else asks the file system for Spark or
    an interpreter for its version."""
    outside = {
        name: sorted(imports_of(path) & RESOLVERS)
        for name, path in ((module_name(p), p) for p in PACKAGE.rglob("*.py"))
        if not name.startswith("kinesis_pipelines.spec") and name != "kinesis_pipelines.tools"
    }
    assert {name: found for name, found in outside.items() if found} == {}
    assert imports_of(PACKAGE / "spec" / "runtime.py") & RESOLVERS  # the test reads real imports
