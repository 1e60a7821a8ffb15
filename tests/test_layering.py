"""The package's layout is a property the tests keep: layers import only downward, no
import cycle (imports inside functions count), small modules, no private names reached
across subpackages, and one module that reads raw recipe dicts.

Reads the source tree with ``ast`` only (nothing is imported), so it runs the same on
every backend.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("kdream", "kdream_tui")
MAX_LINES = 600

LAYERS = (
    ("kdream._files", "kdream.config", "kdream.pixels"),
    ("kdream.recipe",),
    ("kdream.backend",),
    ("kdream.network", "kdream.catalogue"),  # the catalogue: networks as data
    ("kdream.weights",),
    ("kdream.models",),
    ("kdream.objectives",),
    ("kdream.ascent",),
    ("kdream.techniques",),
    ("kdream.io", "kdream.imageio"),
    ("kdream.distributed",),  # Ray, imported only when used
    ("kdream.cli", "kdream_tui"),
    ("kdream",),  # the package itself: the public API, lazily
)
"""Bottom to top: a module may import its own layer and the layers before it."""


def module_files() -> dict[str, pathlib.Path]:
    files = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join(parts)] = path
    return files


MODULES = module_files()
TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}


def owner(name: str) -> str | None:
    """The module ``name`` (a module or a name inside one) belongs to."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def package_of(module: str) -> str:
    return module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]


def imports(module: str):
    """(imported module, imported name or None, line) for every import, at any depth."""
    for node in ast.walk(TREES[module]):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package_of(module).split(".")[
                    : len(package_of(module).split(".")) - node.level + 1
                ]
                base = ".".join(up + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield (
                    (full, None, node.lineno)
                    if full in MODULES
                    else (base, alias.name, node.lineno)
                )


def edges() -> dict[str, set[str]]:
    graph = {}
    for module in MODULES:
        targets = {owner(target) for target, _, _ in imports(module)}
        graph[module] = {t for t in targets if t and t != module}
    return graph


def layer_of(module: str) -> int:
    best = max(
        (
            prefix
            for layer in LAYERS
            for prefix in layer
            if module == prefix or module.startswith(prefix + ".")
        ),
        key=len,
    )
    return next(index for index, layer in enumerate(LAYERS) if best in layer)


def test_every_module_has_a_layer():
    assert {module: layer_of(module) for module in MODULES}  # max() raises for a stray module


def test_layers_import_only_downward():
    upward = [
        f"{module} -> {target}"
        for module, targets in edges().items()
        for target in targets
        if module != "kdream" and layer_of(target) > layer_of(module)
    ]
    assert upward == []


def test_no_import_cycle():
    graph = edges()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_modules_stay_small():
    big = {
        module: lines
        for module, path in MODULES.items()
        if (lines := path.read_text(encoding="utf-8").count("\n")) > MAX_LINES
    }
    assert big == {}


def test_no_private_name_is_imported_across_subpackages():
    reached = [
        f"{module}:{line} imports {target}.{name}"
        for module in MODULES
        for target, name, line in imports(module)
        if name
        and name.startswith("_")
        and not name.startswith("__")
        and owner(target)
        and package_of(owner(target)) != package_of(module)
    ]
    assert reached == []


def reads_recipe(node: ast.AST) -> bool:
    """``recipe["key"]`` or ``recipe.get("key")`` on a name or attribute holding a recipe."""

    def recipe_like(value: ast.AST) -> bool:
        name = getattr(value, "id", None) or getattr(value, "attr", None) or ""
        return "recipe" in name

    if isinstance(node, ast.Subscript) and recipe_like(node.value):
        return isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and recipe_like(node.func.value)
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
    )


def test_only_the_recipe_module_reads_raw_recipes():
    readers = {module for module, tree in TREES.items() if any(map(reads_recipe, ast.walk(tree)))}
    assert readers == {"kdream.recipe"}


@pytest.mark.parametrize(
    "source, found",
    [
        ("x = recipe['config']", True),
        ("x = self.recipe.get('input')", True),
        ("x = d['config']", False),
    ],
)
def test_the_recipe_check_sees_raw_reads(source, found):
    assert any(map(reads_recipe, ast.walk(ast.parse(source)))) is found
