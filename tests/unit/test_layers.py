"""Imports go one way: no package imports a layer above it (issue 15).

The shared core (``kafkaval``) imports no component (``stack`` only lazily, in
``environment.py``); the report reads what every component wrote, so no
component imports ``report``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMPONENTS = ("loadgen", "chaos", "exporter", "report", "scheduler", "cdc")


def _imported_packages(path: Path) -> set[str]:
    """Top-level packages ``path`` imports anywhere (module level or inside functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _importers(packages: tuple[str, ...], of: str) -> list[str]:
    return sorted(
        str(path.relative_to(REPO))
        for package in packages
        for path in (REPO / package).rglob("*.py")
        if of in _imported_packages(path)
    )


@pytest.mark.parametrize("component", COMPONENTS)
def test_the_core_imports_no_component(component: str) -> None:
    assert _importers(("kafkaval", "stack"), component) == []


def test_no_component_imports_the_report() -> None:
    below = tuple(c for c in COMPONENTS if c != "report")
    assert _importers(below, "report") == []


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from report.queries import QueryRunner\n    import chaos\n")
    assert _imported_packages(module) == {"report", "chaos"}
