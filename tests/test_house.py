"""The house rules of the package's structure (README "Architecture"), checked on the code itself:
imports only point down the layers, no import circles, small root, short functions."""

from __future__ import annotations

import ast
import collections
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "gradient_runtime_test"

# Top floor first. A module may import from its own wing and from any lower floor, never from its
# own floor's other rooms or from above. A new wing or root module gets a floor here.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__main__",),
    ("cli",),
    ("commands",),
    ("preflight", "dashboard"),  # preflight: grt doctor ends its probe's notebook through
    # orchestrate's ending path; dashboard: the run history as a site
    ("orchestrate", "history"),
    ("command", "plan", "providers", "report", "github", "sources"),
    ("settings",),
    ("results", "matrix", "durations"),
    ("errors", "__init__"),
    ("harness",),  # runs inside runtimes: imports nothing from the package
)
MAX_ROOT_MODULES = 12
MAX_FUNCTION_LINES = 80


def floor_of(unit: str) -> int:
    for floor, units in enumerate(LAYERS):
        if unit in units:
            return floor
    raise AssertionError(f"{unit!r} has no floor in tests/test_house.py LAYERS: give it one")


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """(module imported, line) for every package-relative import, wherever it stands."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            if node.module:
                yield ".".join([*base, node.module]), node.lineno
            else:
                for alias in node.names:
                    yield ".".join([*base, alias.name]), node.lineno


def unit(module: str) -> str:
    """The wing (sub-package) or root module a module belongs to."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "__version__":
        return "__init__"
    return parts[1]


def resolve(module: str, known: set[str]) -> str:
    """`module`, or the package it names a member of (`from .x import name`)."""
    while module not in known and "." in module:
        module = module.rsplit(".", 1)[0]
    return module


def test_imports_only_point_down() -> None:
    wrong = []
    for name, path in modules():
        here = unit(name)
        for target, line in imports(name, path):
            there = unit(target)
            if there != here and floor_of(there) <= floor_of(here):
                wrong.append(f"{path.relative_to(PACKAGE)}:{line}: {here} imports {there}")
    assert not wrong, "imports that do not point down a floor:\n" + "\n".join(wrong)


def test_no_import_circles() -> None:
    known = {name for name, _ in modules()}
    graph: dict[str, set[str]] = collections.defaultdict(set)
    for name, path in modules():
        for target, _ in imports(name, path):
            found = resolve(target, known)
            if found != name and not name.startswith(found + "."):  # a package's own face
                graph[name].add(found)
    circles = _circles(graph)
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(c) for c in circles)


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_harness_imports_nothing_from_the_package() -> None:
    for name, path in modules():
        if unit(name) == "harness":
            outside = [t for t, _ in imports(name, path) if unit(t) != "harness"]
            assert not outside, f"{path}: {outside}"


def test_the_package_root_stays_small() -> None:
    root = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(root) <= MAX_ROOT_MODULES, root


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_functions_are_short(path: Path) -> None:
    long = [
        f"{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"{path.relative_to(PACKAGE)}: split these into named steps: {long}"


def test_the_rules_can_fail() -> None:
    """The checks above see a real violation: a circle and an upward import, made up here."""
    assert _circles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert floor_of("harness") > floor_of("results") > floor_of("cli")
