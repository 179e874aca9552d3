"""No-op removal: a node whose output is certainly its input, same dtype and same shape, goes.

Each rule below is registered for the op types it covers and returns the input the output
equals, or None.  A rule only fires on what it can prove: a constant operand, a static
attribute, or types that are known and equal (symbolic dims by name).  Broadcasting is
checked (``x * ones(3, 1)`` can grow ``x``: it is not a no-op unless ``x``'s shape already
covers it), and so is the dtype.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..graph import Graph
from ..node import Node
from . import register
from .match import bypass, const, dtype, plain, rank, reshaped, same_shape, shape, source_state, used_outputs

Rule = Callable[[Graph, Node], "str | None"]
RULES: dict[str, Rule] = {}
INT64_MAX = np.iinfo(np.int64).max


def rule(*op_types: str):
    def deco(fn: Rule) -> Rule:
        for t in op_types:
            RULES[t] = fn
        return fn

    return deco


@rule("Identity")
def _identity(graph: Graph, node: Node) -> str | None:
    vt = graph.type_of(node.inputs[0])
    return node.inputs[0] if vt is None or vt.is_tensor else None  # sequences/optionals: keep


@rule("Dropout")
def _dropout(graph: Graph, node: Node) -> str | None:
    """Inference Dropout (training_mode absent or false) whose mask nobody reads."""
    if len(node.inputs) > 2 and node.inputs[2]:
        mode = const(graph, node.inputs[2])
        if mode is None or bool(mode.reshape(-1)[0]):
            return None
    if len(node.outputs) > 1 and node.outputs[1] in used_outputs(graph, node):
        return None
    return node.inputs[0]


@rule("Cast", "CastLike")
def _cast(graph: Graph, node: Node) -> str | None:
    src = dtype(graph, node.inputs[0])
    if src is None or src != dtype(graph, node.outputs[0]):
        return None
    if node.op_type == "CastLike" and dtype(graph, node.inputs[1]) != src:
        return None
    return node.inputs[0]


@rule("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Expand", "Tile")
def _same_shape_out(graph: Graph, node: Node) -> str | None:
    """A reshaping op whose output shape, computed from its constants, is its input's (every dim
    known and equal); declared output types are not trusted for this."""
    x = node.inputs[0]
    if node.op_type in ("Flatten", "Squeeze", "Unsqueeze"):
        return x if same_shape(shape(graph, x), reshaped(graph, node, shape(graph, x))) else None
    if node.op_type == "Reshape":
        return _reshape_to_itself(graph, node)
    if node.op_type == "Expand":
        target, s = const(graph, node.inputs[1]), shape(graph, x)
        if target is not None and s is not None and target.ndim == 1 and target.size <= len(s) and all(
                t == 1 or (isinstance(d, int) and d == t) for t, d in zip(target.tolist()[::-1], s[::-1])):
            return x  # broadcasting with ones (or x's own dims) of no higher rank changes nothing
    if node.op_type == "Tile":
        reps = const(graph, node.inputs[1])
        if reps is not None and reps.size and np.all(reps == 1):
            return x
    return None


def _reshape_to_itself(graph: Graph, node: Node) -> str | None:
    """``Reshape(x, s)`` where ``s`` spells ``x``'s own shape: each entry copies (0, allowzero
    off) or equals the dim, with at most one -1 left where every other dim matched."""
    target, s = const(graph, node.inputs[1]), shape(graph, node.inputs[0])
    if target is None or s is None or target.ndim != 1 or len(target) != len(s):
        return None
    allowzero = node.attrs.get("allowzero", 0)
    free = 0
    for t, d in zip(target.tolist(), s):
        if t == 0 and not allowzero:
            continue
        if t == -1:
            free += 1
            continue
        if not (isinstance(d, int) and d == t):
            return None
    return node.inputs[0] if free <= 1 else None


@rule("Transpose")
def _transpose(graph: Graph, node: Node) -> str | None:
    perm = node.attrs.get("perm")
    r = rank(graph, node.inputs[0])
    if perm is None:
        return node.inputs[0] if r is not None and r <= 1 else None
    return node.inputs[0] if list(perm) == list(range(len(perm))) else None


@rule("Pad")
def _pad(graph: Graph, node: Node) -> str | None:
    pads = const(graph, node.inputs[1]) if len(node.inputs) > 1 else None
    if pads is not None and pads.size and not np.any(pads):
        return node.inputs[0]
    return None


@rule("Slice")
def _slice(graph: Graph, node: Node) -> str | None:
    """Every sliced axis starts at 0, steps by 1 and ends at or past its (static) length."""
    s = shape(graph, node.inputs[0])
    starts, ends = const(graph, node.inputs[1]), const(graph, node.inputs[2])
    axes = const(graph, node.inputs[3]) if len(node.inputs) > 3 and node.inputs[3] else None
    steps = const(graph, node.inputs[4]) if len(node.inputs) > 4 and node.inputs[4] else None
    if s is None or starts is None or ends is None or (len(node.inputs) > 3 and node.inputs[3] and axes is None) \
            or (len(node.inputs) > 4 and node.inputs[4] and steps is None):
        return None
    axes = list(range(len(starts))) if axes is None else axes.tolist()
    for i, axis in enumerate(axes):
        axis = axis + len(s) if axis < 0 else axis
        if not 0 <= axis < len(s):
            return None
        if steps is not None and int(steps[i]) != 1:
            return None
        end = int(ends[i])
        if int(starts[i]) != 0:
            return None
        if end >= INT64_MAX // 2 or end >= np.iinfo(np.int32).max:
            continue
        if not (isinstance(s[axis], int) and end >= s[axis]):
            return None
    return node.inputs[0]


@rule("Concat", "Sum", "Max", "Min", "Mean")
def _single_input(graph: Graph, node: Node) -> str | None:
    return node.inputs[0] if len(node.inputs) == 1 else None


@rule("Split")
def _split_whole(graph: Graph, node: Node) -> str | None:
    return node.inputs[0] if len(node.outputs) == 1 else None


def _neutral(graph: Graph, x: str, c: str, value: float, out: str, stored: bool = False) -> str | None:
    """``x`` when constant ``c`` is all ``value`` and broadcasting it against ``x`` keeps ``x``'s type;
    ``stored`` picks which constants count: one-element or computed ones (False), or a stored
    weight of several elements (True: a bias still at its initial zeros)."""
    if source_state(graph, c):
        return None  # a source's own parameter (a LayerNorm weight still at its initial 1s) stays
    k = const(graph, c)
    if k is not None and (k.size > 1 and c in graph.initializers) != stored:
        return None
    if k is None or k.size == 0 or k.dtype.kind not in "fiub" or not np.all(k == value):
        return None
    s = shape(graph, x)
    if s is None or k.ndim > len(s) or dtype(graph, x) is None or dtype(graph, x) != dtype(graph, out):
        return None
    for kd, xd in zip(reversed(k.shape), reversed(s)):
        if kd != 1 and not (isinstance(xd, int) and xd == kd):
            return None
    return x


@rule("Mul", "Add", "Sub", "Div", "Pow")
def _arith(graph: Graph, node: Node, stored: bool = False) -> str | None:
    """``x * 1``, ``1 * x``, ``x / 1``, ``x + 0``, ``0 + x``, ``x - 0``, ``x ** 1``."""
    a, b = node.inputs[0], node.inputs[1]
    y = node.outputs[0]
    if node.op_type in ("Mul", "Add"):
        v = 1.0 if node.op_type == "Mul" else 0.0
        return _neutral(graph, a, b, v, y, stored) or _neutral(graph, b, a, v, y, stored)
    v = 0.0 if node.op_type == "Sub" else 1.0
    return _neutral(graph, a, b, v, y, stored)


def _stored_weight_arith(graph: Graph, node: Node) -> str | None:
    return _arith(graph, node, stored=True)


@register()
def remove_neutral_weights(graph: Graph) -> int:
    """``x * W``, ``x / W``, ``x + W``, ``x - W`` and ``x ** W`` with a stored weight ``W`` of several
    elements that is all neutral (a bias still at its initial zeros, a scale at its ones) go.
    Not for the code-emitting targets: they keep such a weight as the layer's parameter."""
    return _remove(graph, {t: _stored_weight_arith for t in ("Mul", "Add", "Sub", "Div", "Pow")})


@register()
def remove_noops(graph: Graph) -> int:
    """Remove nodes that certainly pass their input through unchanged (same dtype, same shape):
    Identity, inference Dropout, Cast to its own type, Reshape/Flatten/Squeeze/Unsqueeze/Expand/
    Tile to the same shape, identity Transpose, zero Pad, whole Slice, single-input
    Concat/Sum/Max/Min/Mean, x*1, x/1, x+0, x-0, x**1 (with a constant of one element or a
    computed one; a stored weight of several elements is :func:`remove_neutral_weights`')."""
    return _remove(graph, RULES)


def _remove(graph: Graph, rules: dict[str, Rule]) -> int:
    removed = 0
    for g in graph.iter_graphs():
        for node in g.nodes:
            fn = rules.get(node.op_type)
            if fn is None or not plain(node) or not node.inputs or not node.inputs[0] or node.name not in g.nx:
                continue
            if len([o for o in node.outputs if o]) == 0:
                continue
            src = fn(g, node)
            if src is None:
                continue
            out = node.outputs[0]
            extra = [o for o in node.outputs[1:] if o]
            if extra and any(o in used_outputs(g, node) for o in extra):
                continue
            if bypass(g, out, src):
                if node.name in g.nx:
                    g.remove_node(node.name)
                removed += 1
    return removed
