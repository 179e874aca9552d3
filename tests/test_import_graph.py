"""The modules of ``backends/`` import each other without a cycle.

Every ``.py`` file under ``backends/`` is read with ``ast`` (nothing is imported) into a
module-level graph: an edge ``a -> b`` for each ``import`` or ``from ... import`` in ``a``
that names ``b``, wherever the import stands (module top or inside a function: a lazy
import that closes a cycle fails as soon as the function runs before the other module has
finished loading).  Relative imports are resolved against the file's package, and absolute
``mmconvert.backends.X`` ones map to the folder ``backends/X`` (the installed package
``mmconvert.backends`` is that folder).  ``from pkg import name`` is an import of the
submodule ``pkg.name`` when ``name`` is one (a file or a package), else of ``pkg`` itself.
An import under ``if TYPE_CHECKING:`` never runs and is left out; so is a module importing
itself.  Only the explicit target is an edge, not its parent packages: Python loads a
package before its submodule, but a package whose ``__init__`` imports its own submodules
(``backends/pytorch/__init__.py`` -> ``emitter``) is not a cycle unless a submodule
imports the package's ``__init__`` back."""

from __future__ import annotations

import ast
import os

import networkx as nx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREFIX = "mmconvert.backends"


def _module_files(root: str, prefix: str) -> dict[str, tuple[str, bool]]:
    """{dotted module name: (path, is a package's __init__)} of every .py file under ``root``."""
    found = {}
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, name), root)[:-3].split(os.sep)
            is_package = rel[-1] == "__init__"
            if is_package:
                rel = rel[:-1]
            found[".".join([prefix] + rel)] = (os.path.join(dirpath, name), is_package)
    return found


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes inside an ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``) body."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else None
            if name == "TYPE_CHECKING":
                for stmt in node.body:
                    skip.update(id(n) for n in ast.walk(stmt))
    return skip


def _existing(name: str, modules) -> str | None:
    """``name`` or its longest prefix that is one of ``modules``."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def imports_of(path: str, module: str, is_package: bool, modules) -> set[str]:
    """The modules among ``modules`` that the file at ``path`` (module ``module``) imports."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    skip = _type_checking_only(tree)
    package = module.split(".") if is_package else module.split(".")[:-1]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                hit = _existing(alias.name, modules)
                if hit is not None:
                    targets.add(hit)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level - 1 > len(package):
                    continue  # beyond the top: Python refuses it, nothing to follow
                base = package[: len(package) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                if sub in modules:
                    targets.add(sub)
                else:
                    hit = _existing(source, modules)
                    if hit is not None:
                        targets.add(hit)
    targets.discard(module)
    return targets


def import_graph(root: str = os.path.join(ROOT, "backends"), prefix: str = PREFIX) -> nx.DiGraph:
    """The module-level import graph of the .py files under ``root`` (the package ``prefix``)."""
    modules = _module_files(root, prefix)
    g = nx.DiGraph()
    g.add_nodes_from(modules)
    for module, (path, is_package) in modules.items():
        for target in imports_of(path, module, is_package, modules):
            g.add_edge(module, target)
    return g


def cycles(g: nx.DiGraph) -> list[list[str]]:
    """One cycle, as the modules along it (the first repeated at the end), per strongly
    connected group of modules that import each other."""
    found = []
    for group in sorted(nx.strongly_connected_components(g), key=lambda s: sorted(s)):
        if len(group) < 2:
            continue
        sub = g.subgraph(group)
        edges = nx.find_cycle(sub, source=min(group))
        found.append([a for a, _ in edges] + [edges[0][0]])
    return found


# cycles known when this test was written, each with what would remove it; a new one fails the test
KNOWN_CYCLES: dict = {}  # frozenset of modules -> why it is tolerated (none today)


def test_backends_import_each_other_without_a_cycle():
    g = import_graph()
    # the reader sees the package's real structure, so an empty graph cannot pass for a clean one
    assert "mmconvert.backends.pytorch.dialect" in g
    assert g.has_edge("mmconvert.backends.pytorch.emitter", "mmconvert.backends.pytorch.ops")
    assert g.has_edge("mmconvert.backends.pytorch.ops.attention", "mmconvert.backends.pytorch.dialect")
    found = [c for c in cycles(g) if frozenset(c) not in KNOWN_CYCLES]
    assert not found, "import cycles among backends/ modules:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_known_cycles_are_still_there():
    """A known cycle that is gone comes off ``KNOWN_CYCLES``, so it cannot come back unnoticed."""
    present = {frozenset(c) for c in cycles(import_graph())}
    gone = [sorted(k) for k in KNOWN_CYCLES if k not in present]
    assert not gone, f"no longer a cycle, remove from KNOWN_CYCLES: {gone}"


def _write(root, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_checker_finds_a_cycle_through_a_lazy_and_an_absolute_import(tmp_path):
    root = tmp_path / "backends"
    _write(root, {
        "__init__.py": "",
        "a/__init__.py": "from .x import f\n",
        "a/x.py": "from ..b import y  # y is a submodule of b: the import is of b.y\n\ndef f():\n    return y\n",
        "b/__init__.py": "",
        "b/y.py": "def g():\n    from mmconvert.backends.a import x  # lazy, absolute\n    return x\n",
    })
    g = import_graph(str(root), PREFIX)
    assert g.has_edge("mmconvert.backends.a.x", "mmconvert.backends.b.y")
    assert not g.has_edge("mmconvert.backends.a.x", "mmconvert.backends.b")
    assert g.has_edge("mmconvert.backends.b.y", "mmconvert.backends.a.x")
    found = cycles(g)
    assert len(found) == 1 and found[0][0] == found[0][-1]
    assert set(found[0]) == {"mmconvert.backends.a.x", "mmconvert.backends.b.y"}


def test_the_checker_sees_a_submodule_importing_its_package_back(tmp_path):
    root = tmp_path / "backends"
    _write(root, {
        "__init__.py": "",
        "p/__init__.py": "from .emitter import emit\n",
        "p/emitter.py": "from . import ops\n\ndef emit():\n    pass\n",
        "p/ops/__init__.py": "from . import conv\n",
        "p/ops/conv.py": "from .. import emit  # emit is no submodule: this imports p's __init__\n",
    })
    found = cycles(import_graph(str(root), PREFIX))
    assert len(found) == 1
    assert set(found[0]) == {"mmconvert.backends.p", "mmconvert.backends.p.emitter", "mmconvert.backends.p.ops",
                             "mmconvert.backends.p.ops.conv"}


def test_a_tree_without_a_cycle_passes(tmp_path):
    root = tmp_path / "backends"
    _write(root, {
        "__init__.py": "",
        "p/__init__.py": "from .emitter import emit\n\ndef save():\n    import mmconvert.backends.p as me\n",
        "p/dialect.py": "import os\nfrom mmconvert.ir import graph\n",
        "p/emitter.py": "from . import ops\nfrom .dialect import D\n",
        "p/ops/__init__.py": "from . import conv\n",
        "p/ops/conv.py": "from ..dialect import D\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                         "    from ..emitter import emit\n",
    })
    g = import_graph(str(root), PREFIX)
    assert g.has_edge("mmconvert.backends.p.ops.conv", "mmconvert.backends.p.dialect")
    assert not g.has_edge("mmconvert.backends.p.ops.conv", "mmconvert.backends.p.emitter")  # TYPE_CHECKING only
    assert not g.has_edge("mmconvert.backends.p", "mmconvert.backends.p")  # a package importing itself
    assert cycles(g) == []
