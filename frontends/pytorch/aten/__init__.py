"""ATen op handlers of the PyTorch frontend, registered by overload name.

One file per op family (``elementwise``, ``activation``, ``linalg``, ``conv``, ``norm``,
``pool``, ``shape``, ``index``, ``reduce``, ``creation``, ``attention``).  A handler takes a
:class:`~frontends.pytorch.translate.Call` and returns the value of the FX node: an IR
tensor name, a list of them (ops with several results), a Python number, or None::

    @aten("relu.default")
    def relu(c):
        return c.out("Relu", [c.x(c["self"])])

Arguments are read by their schema name (``c["self"]``, ``c.get("alpha", 1)``).  An
overload without a handler is decomposed by torch (to the core ATen set) or, failing that,
sends the model down the torch.onnx route.
"""

from __future__ import annotations

import operator
from collections import Counter
from typing import Callable

HANDLERS: dict[str, Callable] = {}


class Unmapped(Exception):
    """Some ops of the program have no IR mapping (``ops`` counts them by ATen name)."""

    def __init__(self, ops: Counter, why: str = ""):
        self.ops = ops
        detail = ", ".join(f"{k} x{v}" for k, v in ops.most_common(8))
        super().__init__(why or f"no IR mapping for {detail}")


def aten(*names: str):
    """Register a handler for ATen overloads (``"add.Tensor"``; ``"operator.getitem"`` for
    Python functions)."""

    def deco(fn: Callable) -> Callable:
        for name in names:
            key = name if name.startswith(("operator.", "builtins.")) else f"aten.{name}"
            if key in HANDLERS:
                raise ValueError(f"two handlers for {key}")
            HANDLERS[key] = fn
        return fn

    return deco


def unmapped(c, why: str):
    """Give up on this op: the caller decomposes it or takes the torch.onnx route."""
    raise Unmapped(Counter({c.key: 1}), f"{c.key}: {why}")


def target_key(target) -> str:
    """The registry key of an FX call target."""
    name = getattr(target, "__name__", str(target))
    if getattr(operator, name, None) is target:
        return f"operator.{name}"
    if hasattr(target, "_schema") or type(target).__name__ == "OpOverload":
        return str(target)
    module = getattr(target, "__module__", None) or ""
    return f"{module}.{name}" if module else name


def is_mapped(op) -> bool:
    return target_key(op) in HANDLERS


from . import activation, attention, conv, creation, elementwise, index, linalg, norm, pool, reduce, resize, shape  # noqa: E402,F401,I001
