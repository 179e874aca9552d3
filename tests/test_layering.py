"""The packages depend on each other as docs/architecture.md says: ``ir`` on nothing of ours,
``frontends``, ``backends`` and ``validators`` on ``ir`` only (never on each other or on the
API), whatever the import's place (module top or inside a function).  Read with ``ast``,
without importing anything."""

from __future__ import annotations

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS = ("ir", "frontends", "backends", "validators")
ALLOWED = {"ir": {"ir"}, "frontends": {"ir", "frontends"}, "backends": {"ir", "backends"},
           "validators": {"ir", "validators"}}


def _modules(package: str):
    for dirpath, _dirs, files in os.walk(os.path.join(ROOT, package)):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                yield path, rel[: -len(".__init__")] if rel.endswith(".__init__") else rel, name == "__init__.py"


def imported_layers(path: str, module: str, is_package: bool) -> set[tuple[str, int]]:
    """(our top-level package, line) for every import in the file."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                names = [".".join(base + ([node.module] if node.module else []))]
            else:
                names = [node.module or ""]
            if names == ["mmconvert"]:  # from mmconvert import ir, api ...
                names = [f"mmconvert.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "mmconvert":
                parts = parts[1:] or ["mmconvert"]
                found.add((parts[0] if parts[0] in LAYERS else "mmconvert", node.lineno))
            elif parts[0] in LAYERS and isinstance(node, ast.ImportFrom) and node.level:
                found.add((parts[0], node.lineno))
    return found


@pytest.mark.parametrize("package", LAYERS)
def test_a_layer_imports_only_what_it_may(package):
    wrong = []
    for path, module, is_package in _modules(package):
        for layer, line in imported_layers(path, module, is_package):
            if layer not in ALLOWED[package]:
                wrong.append(f"{os.path.relpath(path, ROOT)}:{line} imports mmconvert.{layer}")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_check_sees_a_forbidden_import(tmp_path):
    """The reader resolves relative imports, so a wrong one cannot hide."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from ...frontends import get_frontend\n    import mmconvert.api\n"
                   "from mmconvert import backends\n")
    found = imported_layers(str(bad), "validators.runners.bad", False)
    assert {("frontends", 2), ("mmconvert", 3), ("backends", 4)} <= found
