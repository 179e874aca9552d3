"""ONNX argument decoders every code-emitting backend shares.

A handler of a backend's ``ops/`` reads its node's ONNX inputs and attributes through these
functions into plain Python values (validated, axes normalized, the per-dim geometry worked
out) and keeps only its framework's spelling.  A decoder that answers None means "not known
at conversion time": the handler then writes its generic (run-time helper) fallback.

Decoders read values only (``NodeCtx.attr``/``const``/``rank``/``shape``); they never write
an expression (``NodeCtx.x``), so the order in which a handler declares buffers stays its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .core import NodeCtx

PAD_MODES = ("constant", "reflect", "edge", "wrap")


@dataclass
class PadArgs:
    """A Pad node's arguments.  ``pairs`` is [begin, end] per dim of the input, None when the
    pads, the input rank or the axes are known only at run time (the generic fallback)."""

    mode: str
    value: int | float | bool | None  # the constant value as a Python number, when it is one
    pads: list[int] | None  # the ``pads`` input as given (begins of ``axes``, then ends)
    axes: list[int] | None  # normalized (non-negative), every dim when the input is omitted
    pairs: list[list[int]] | None

    @property
    def static(self) -> bool:
        return self.pairs is not None


def pad_args(c: NodeCtx) -> PadArgs:
    """Decode Pad (opset 2-21): ``mode`` attribute, ``pads``/``constant_value``/``axes`` inputs."""
    mode = c.choice("mode", "constant", PAD_MODES)
    value = c.scalar(2) if c.has(2) else None
    pads = c.int_list(1)
    axes = c.int_list(3) if c.has(3) else None
    r = c.rank(0)
    if pads is None or r is None or (c.has(3) and axes is None):
        return PadArgs(mode, value, pads, None, None)
    axes = [a + r if a < 0 else a for a in (axes if axes is not None else range(r))]
    k = len(axes)
    pairs = [[0, 0] for _ in range(r)]
    for i, a in enumerate(axes):
        pairs[a] = [pads[i], pads[k + i]]
    return PadArgs(mode, value, pads, axes, pairs)


def static_expand(c: NodeCtx) -> tuple[list[int], list[int]] | None:
    """Expand with a constant target and a fully static input: (input shape, broadcast output
    shape); None when either is known only at run time or they do not broadcast."""
    target = c.int_list(1)
    xs = c.shape(0)
    if target is None or xs is None or not all(isinstance(d, int) for d in xs):
        return None
    try:
        out = list(np.broadcast_shapes(tuple(xs), tuple(target)))
    except ValueError:
        return None
    return list(xs), out
