"""Normalization fusions: the ReduceMean spelling of LayerNorm and RMSNorm becomes
LayerNormalization / RMSNormalization (``nn.LayerNorm``, ``F.rms_norm`` in PyTorch).

- LayerNorm: ``d = x - mean(x); y = d / sqrt(mean(d^2) + eps) [* gamma] [+ beta]``
  (``d * d`` or ``d^2``; division or a Reciprocal), means over the last k axes.
- RMSNorm: ``y = x / sqrt(mean(x^2) + eps) [* gamma]``.

gamma and beta must be constants that broadcast over the normalized axes only; they are
stored with the normalized shape the ops require (ones when absent).
"""

from __future__ import annotations

import numpy as np

from ..graph import Graph
from ..node import Node
from . import register
from .match import Product, add_const, const, dtype, near, only_reader, op, private, product, product_root, rank, replace, \
    scalar, shape

_FLOAT = ("float32", "float64", "float16", "bfloat16")


def _mean_axes(graph: Graph, node: Node, r: int) -> int | None:
    """The first normalized axis when ``node`` is a keepdims ReduceMean over the last axes."""
    if node.op_type != "ReduceMean" or not node.attrs.get("keepdims", 1) or node.attrs.get("noop_with_empty_axes", 0):
        return None
    if "axes" in node.attrs:
        axes = list(node.attrs["axes"])
    elif len(node.inputs) > 1 and node.inputs[1]:
        c = const(graph, node.inputs[1])
        if c is None:
            return None
        axes = [int(a) for a in c.reshape(-1)]
    else:
        return None
    axes = sorted(a + r if a < 0 else a for a in axes)
    if not axes or axes != list(range(axes[0], r)):
        return None
    return axes[0]


def _square_of(graph: Graph, tensor: str) -> str | None:
    """``t`` when private ``tensor`` is ``t * t`` or ``t ^ 2``."""
    if not private(graph, tensor):
        return None
    p = product(graph, tensor)
    pw = p.powers()
    if p.nodes and near(p.coef, 1.0, 1e-6) and len(pw) == 1 and list(pw.values()) == [2]:
        return next(iter(pw))
    return None


def _rsqrt_chain(graph: Graph, mean_sq: Node):
    """(eps, sqrt node, [add, sqrt]) for ``sqrt(mean_sq + eps)``."""
    add = only_reader(graph, mean_sq.outputs[0], "Add")
    if add is None:
        return None
    eps = scalar(graph, add.inputs[1] if add.inputs[0] == mean_sq.outputs[0] else add.inputs[0])
    sqrt = only_reader(graph, add.outputs[0], "Sqrt")
    if eps is None or eps < 0 or sqrt is None:
        return None
    return eps, sqrt, [add, sqrt]


def _affine(graph: Graph, x: str, axis: int, p: Product, base: dict[str, int]):
    """gamma (or None) when ``p`` is the product ``base`` times at most one constant gamma."""
    extra = {t: e for t, e in p.powers().items() if t not in base or base[t] != e}
    if any(p.powers().get(t) != e for t, e in base.items()) or not near(p.coef, 1.0, 1e-6):
        return False
    if not extra:
        return None
    if len(extra) != 1 or list(extra.values()) != [1]:
        return False
    gamma = next(iter(extra))
    return gamma if const(graph, gamma) is not None else False


def _param(graph: Graph, tensor: str | None, x: str, axis: int, fill: float, where: str) -> str | None:
    """A constant of the normalized shape: ``tensor``'s value (if it broadcasts over the
    normalized axes only) or ``fill``; None when that cannot be made."""
    s = shape(graph, x)
    if s is None or not all(isinstance(d, int) for d in s[axis:]):
        return None
    norm = tuple(s[axis:])
    np_dtype = {"float32": np.float32, "float64": np.float64}.get(dtype(graph, x))
    if tensor is None:
        if np_dtype is None:
            return None
        return add_const(graph, where, np.full(norm, fill, dtype=np_dtype))
    c = const(graph, tensor)
    if c is None:
        return None
    lead = c.shape[: max(c.ndim - len(norm), 0)]
    if any(d != 1 for d in lead):
        return None
    tail = c.shape[len(lead):]
    try:
        value = np.broadcast_to(c.reshape(tail), norm)
    except ValueError:
        return None
    if value.shape == c.shape:
        return tensor
    return add_const(graph, f"{tensor}.{where.rsplit('.', 1)[-1]}", np.ascontiguousarray(value))


def _finish(graph: Graph, x: str, axis: int, p: Product, root: Node, gamma: str | None, nodes: list[Node],
            op_type: str, eps: float, with_bias: bool) -> bool:
    out = root.outputs[0]
    beta = None
    pattern = list(nodes) + list(p.nodes)
    if with_bias:
        add = only_reader(graph, out, "Add")
        if add is not None:
            other = add.inputs[1] if add.inputs[0] == out else add.inputs[0]
            if const(graph, other) is not None and rank(graph, add.outputs[0]) == rank(graph, x):
                beta, root = other, add
                pattern.append(add)
                out = add.outputs[0]
    if dtype(graph, x) not in _FLOAT or dtype(graph, out) != dtype(graph, x) or rank(graph, out) != rank(graph, x):
        return False
    scale = _param(graph, gamma, x, axis, 1.0, f"{root.name}.scale")
    if scale is None:
        return False
    inputs = [x, scale]
    if beta is not None:
        bias = _param(graph, beta, x, axis, 0.0, f"{root.name}.bias")
        if bias is None:
            return False
        inputs.append(bias)
    r = rank(graph, x)
    new = Node(name=root.name, op_type=op_type, inputs=inputs, outputs=[out])
    new.set_attr("axis", axis - r)
    new.set_attr("epsilon", float(eps))
    if dtype(graph, x) == "float64":
        new.set_attr("stash_type", 11)  # compute in double, as the pattern did
    seen: dict[str, Node] = {}
    for n in pattern:
        seen.setdefault(n.name, n)
    replace(graph, [n for n in seen.values() if n.name != root.name] + [root], new)
    return True


def _layer_norm(graph: Graph, mean: Node) -> bool:
    x = mean.inputs[0]
    r = rank(graph, x)
    axis = _mean_axes(graph, mean, r) if r else None
    if axis is None or not private(graph, mean.outputs[0]):
        return False
    sub = only_reader(graph, mean.outputs[0], "Sub")
    if sub is None or sub.inputs != [x, mean.outputs[0]]:
        return False
    d = sub.outputs[0]
    if d in graph.outputs:
        return False
    readers = graph.consumers(d)
    if len(readers) != 2:
        return False
    for sq_node in readers:
        if sq_node.op_type in ("Pow", "Mul") and _square_of(graph, sq_node.outputs[0]) == d \
                and sq_node.inputs.count(d) == (2 if sq_node.op_type == "Mul" else 1):
            break
    else:
        return False
    var = only_reader(graph, sq_node.outputs[0], "ReduceMean")
    if var is None or _mean_axes(graph, var, r) != axis:
        return False
    return _over_root(graph, x, axis, var, d, [mean, sub, sq_node, var], "LayerNormalization", True)


def _over_root(graph: Graph, x: str, axis: int, stat: Node, num: str, nodes: list[Node], op_type: str,
               with_bias: bool) -> bool:
    """Fuse ``num / sqrt(stat + eps) [* gamma] [+ beta]`` (``nodes`` made ``stat``) into ``op_type``."""
    chain = _rsqrt_chain(graph, stat)
    if chain is None:
        return False
    eps, sqrt, rs = chain
    sd = sqrt.outputs[0]
    base = {num: 1, sd: -1}
    found = product_root(graph, sd, lambda p: _affine(graph, x, axis, p, base) is not False)
    if found is None:
        return False
    root, p = found
    if not any(num in n.inputs for n in p.nodes):
        return False
    gamma = _affine(graph, x, axis, p, base)
    return _finish(graph, x, axis, p, root, gamma, nodes + rs, op_type, eps, with_bias)


def _rms_norm(graph: Graph, ms: Node) -> bool:
    r = rank(graph, ms.inputs[0])
    if not r:
        return False
    sq = ms.inputs[0]
    pow_node = op(graph, sq, "Pow", "Mul")
    x = _square_of(graph, sq) if pow_node is not None else None
    axis = _mean_axes(graph, ms, r)
    if x is None or axis is None or not private(graph, ms.outputs[0]) or rank(graph, x) != r:
        return False
    return _over_root(graph, x, axis, ms, x, [pow_node, ms], "RMSNormalization", False)


def _run(graph: Graph, match) -> int:
    fused = 0
    for mean in [n for n in graph.nodes if n.op_type == "ReduceMean"]:
        if mean.name in graph.nx and op(graph, mean.outputs[0], "ReduceMean") is not None and match(graph, mean):
            fused += 1
    return fused


@register()
def fuse_layer_norm(graph: Graph) -> int:
    """``(x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) [* gamma] [+ beta]`` over the last axes
    becomes LayerNormalization."""
    if graph.opset_imports.get("", 0) < 17:
        return 0
    return _run(graph, _layer_norm)


@register()
def fuse_rms_norm(graph: Graph) -> int:
    """``x / sqrt(mean(x^2) + eps) [* gamma]`` over the last axes becomes RMSNormalization."""
    if graph.opset_imports.get("", 0) < 23:
        return 0
    return _run(graph, _rms_norm)
