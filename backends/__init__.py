"""Backends: one package per target, each emitting an artifact from an ``ir.Graph``.

Every backend package exposes the same three names, so the API and the CLI reach a new
target without an if-chain:

- ``save(graph, output, **options) -> EmitResult``: check support first (raising
  ``UnsupportedOpsError`` listing every missing op before anything is written), then
  write the artifact atomically;
- ``supported_ops() -> dict[str, list[str]]``: op type -> opset ranges it handles
  (for ``mmconvert ops``);
- ``REQUIRES``: the pip extra the target needs at run time (``None`` if none).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from ir.errors import InputError, UnsupportedError

TARGETS = ("onnx", "pytorch", "tensorflow")


@dataclass
class EmitResult:
    path: str
    target: str
    opset: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


def get_backend(target: str):
    """The backend package for ``target``."""
    if target not in TARGETS:
        raise InputError(f"unknown target '{target}' (choose from {', '.join(TARGETS)})")
    try:
        return importlib.import_module(f"backends.{target}")
    except ModuleNotFoundError as e:
        if e.name == f"backends.{target}":
            raise UnsupportedError(f"the {target} backend is not available in this version yet") from None
        raise InputError(f"the {target} backend needs '{e.name}': pip install 'mmconvert[{target}]'") from None
