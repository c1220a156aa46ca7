"""Arrows point down: each package of strf_core imports only packages of lower layers."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "strf_core"
# Lowest first. A package may import its own modules and those of lower layers, nothing else
# (so engine and retrieval, on one layer, never import each other).
LAYERS = (
    {"paper", "package_data", "atomic", "allocator"},
    {"modules", "metrics"},
    {"models"},
    {"losses", "data"},
    {"synth", "features"},
    {"explain", "engine", "retrieval", "baselines"},
    {"experiments", "demo", "plotting"},
    {"cli"},
)
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def _imports(path: Path) -> set[str]:
    """The strf_core packages a module imports (at the top or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "strf_core" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_every_package_is_placed_in_a_layer():
    packages = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()}
    packages = {p for p in packages if not p.startswith("_") and p != "py.typed"}
    assert packages == set(LAYER)


def test_no_module_imports_its_own_layer_or_above():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts == ("__init__",):
            continue  # the package root re-exports the public names
        own = parts[0]
        for target in _imports(path) - {own}:
            if LAYER[target] >= LAYER[own]:
                upward.append(f"{path.relative_to(PACKAGE)} imports strf_core.{target}")
    assert not upward, upward
