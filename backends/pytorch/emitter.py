"""The PyTorch backend's entry points: check, generate and write a graph in the PyTorch
dialect (``dialect.py``) with the op handlers of ``ops/``."""

from __future__ import annotations

import numpy as np

from mmconvert.backends import EmitResult
from mmconvert.backends.codegen import core
from mmconvert.ir.graph import Graph
from mmconvert.ir.opset import CANONICAL_OPSET

from .dialect import DIALECT, MODULE_API, UnformattedDialect  # noqa: F401 - MODULE_API: the names tests check
from .registry import REGISTRY


def _load_ops() -> None:
    from . import ops  # noqa: F401 - registers the handlers (when first needed, not at start-up)


def missing_ops(graph: Graph) -> dict[tuple[str, str], list[str]]:
    _load_ops()
    return core.missing_ops(REGISTRY, graph)


def preflight(graph: Graph) -> None:
    _load_ops()
    core.preflight(DIALECT, graph)


def supported_ops() -> dict[str, list[str]]:
    _load_ops()
    return REGISTRY.supported()


def generate(graph: Graph) -> tuple[str, dict[str, np.ndarray], dict]:
    """(model.py source, state dict arrays, manifest) for ``graph``."""
    _load_ops()
    module = core.generate(DIALECT, graph)
    return module.source, module.state, module.manifest


def emit(graph: Graph, path: str, *, format_code: bool = True) -> EmitResult:
    """Write ``graph`` as a PyTorch folder (``model.py``, ``weights.safetensors``,
    ``manifest.json``) at ``path``, a fresh staging path."""
    preflight(graph)
    module = core.generate(DIALECT if format_code else UnformattedDialect(), graph)
    core.write_folder(path, module, DIALECT)
    return EmitResult(path=path, target="pytorch", opset=graph.opset_imports.get("", CANONICAL_OPSET),
                      details={"model": "model.py", "parameters": len(module.state)})
