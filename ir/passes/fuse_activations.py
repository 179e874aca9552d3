"""Activation fusions: an exporter's spelling of GELU (exact and tanh), HardSwish, Mish and SiLU
becomes the one ONNX op, so every backend writes it as the call a person would
(``F.gelu``, ``F.hardswish``, ``F.mish``, ``F.silu``).

Products are read in any order of their factors (``x * 0.5 * (1 + erf(x / sqrt 2))``,
``(x * (1 + erf(...))) * 0.5``, ``0.5 * x * ...``), constants to 1e-5 relative.  Every
value between the pattern's first and last node must have no other reader, and the
result keeps the last node's output (its name and type).
"""

from __future__ import annotations

import math

from ..graph import Graph
from ..node import Node
from . import register
from .match import Product, dtype, near, only_reader, op, private, product, product_root, rank, replace, scalar

_FLOAT = ("float32", "float64", "float16", "bfloat16")


def _shape_kept(graph: Graph, x: str, out: str) -> bool:
    """The fused op's output (``x``'s type) is the pattern's: scalar constants can only have
    changed the rank."""
    return dtype(graph, x) in _FLOAT and dtype(graph, out) == dtype(graph, x) and rank(graph, x) is not None \
        and rank(graph, x) == rank(graph, out)


def _is(p: Product, coef: float, *factors: str) -> bool:
    want: dict[str, int] = {}
    for f in factors:
        want[f] = want.get(f, 0) + 1
    return near(p.coef, coef, 1e-5) and p.powers() == want


def _fuse(graph: Graph, x: str, pattern: list[Node], root: Node, op_type: str, **attrs) -> None:
    new = Node(name=root.name, op_type=op_type, inputs=[x], outputs=[root.outputs[0]])
    for k, v in attrs.items():
        new.set_attr(k, v)
    seen: dict[str, Node] = {}
    for n in pattern:
        seen.setdefault(n.name, n)
    nodes = [n for n in seen.values() if n.name != root.name] + [root]
    replace(graph, nodes, new)


def _one_plus(graph: Graph, tensor: str) -> Node | None:
    """The Add reading private ``tensor`` that adds the constant 1."""
    add = only_reader(graph, tensor, "Add")
    if add is None:
        return None
    other = add.inputs[1] if add.inputs[0] == tensor else add.inputs[0]
    return add if near(scalar(graph, other), 1.0, 1e-6) else None


def _gelu_exact(graph: Graph, erf: Node):
    if not private(graph, erf.inputs[0]):
        return None
    inner = product(graph, erf.inputs[0])
    xs = [t for t, p in inner.powers().items() if p == 1]
    if not inner.nodes or len(xs) != 1 or not _is(inner, 1 / math.sqrt(2), xs[0]):
        return None
    x = xs[0]
    half = _half_x_one_plus(graph, x, erf)
    if half is None:
        return None
    root, nodes = half
    return x, inner.nodes + [erf] + nodes, root, {}


def _half_x_one_plus(graph: Graph, x: str, node: Node) -> tuple[Node, list[Node]] | None:
    """(root, nodes) of ``0.5 * x * (1 + node(...))``, the products in any order."""
    plus = _one_plus(graph, node.outputs[0])
    if plus is None:
        return None
    found = product_root(graph, plus.outputs[0], lambda p: _is(p, 0.5, x, plus.outputs[0]))
    if found is None:
        return None
    root, outer = found
    return root, [plus] + outer.nodes


def _gelu_tanh(graph: Graph, tanh: Node):
    """0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))."""
    if not private(graph, tanh.inputs[0]):
        return None
    scaled = product(graph, tanh.inputs[0])
    ws = list(scaled.powers())
    if not scaled.nodes or len(ws) != 1 or not _is(scaled, math.sqrt(2 / math.pi), ws[0]):
        return None
    w = op(graph, ws[0], "Add")
    if w is None or not private(graph, ws[0]):
        return None
    for i in (0, 1):
        x, cubic = w.inputs[i], w.inputs[1 - i]
        if not private(graph, cubic):
            continue
        cube = product(graph, cubic)
        if cube.nodes and _is(cube, 0.044715, x, x, x):
            break
    else:
        return None
    half = _half_x_one_plus(graph, x, tanh)
    if half is None:
        return None
    root, nodes = half
    return x, cube.nodes + [w] + scaled.nodes + [tanh] + nodes, root, {"approximate": "tanh"}


# the opset each fused op first exists at: a graph held at an older opset keeps its pattern
SINCE = {"Gelu": 20, "HardSwish": 14, "Mish": 18, "Swish": 24}


def _run(graph: Graph, anchors: tuple[str, ...], match, op_type: str) -> int:
    if graph.opset_imports.get("", 0) < SINCE[op_type]:
        return 0
    fused = 0
    for anchor in [n for n in graph.nodes if n.op_type in anchors]:
        if anchor.name not in graph.nx or op(graph, anchor.outputs[0], anchor.op_type) is None:
            continue
        found = match(graph, anchor)
        if found is None:
            continue
        x, pattern, root, attrs = found
        if not _shape_kept(graph, x, root.outputs[0]):
            continue
        _fuse(graph, x, pattern, root, op_type, **attrs)
        fused += 1
    return fused


@register()
def fuse_gelu(graph: Graph) -> int:
    """``x * 0.5 * (1 + erf(x / sqrt 2))`` becomes Gelu, and ``0.5 * x * (1 + tanh(sqrt(2/pi) *
    (x + 0.044715 x^3)))`` Gelu(approximate="tanh"), their products in any order."""
    return _run(graph, ("Erf",), _gelu_exact, "Gelu") + _run(graph, ("Tanh",), _gelu_tanh, "Gelu")


def _times_x(graph: Graph, gate: Node, x: str):
    """(root, product) of ``x * gate`` around ``gate``'s output."""
    return product_root(graph, gate.outputs[0], lambda p: _is(p, 1.0, x, gate.outputs[0]))


def _silu(graph: Graph, sig: Node):
    found = _times_x(graph, sig, sig.inputs[0])
    return None if found is None else (sig.inputs[0], [sig] + found[1].nodes, found[0], {})


@register()
def fuse_silu(graph: Graph) -> int:
    """``x * sigmoid(x)`` becomes Swish (alpha 1: SiLU)."""
    return _run(graph, ("Sigmoid",), _silu, "Swish")


def _hardswish(graph: Graph, node: Node):
    if node.op_type == "HardSigmoid":
        if not (near(node.attrs.get("alpha", 0.2), 1 / 6, 1e-5) and near(node.attrs.get("beta", 0.5), 0.5, 1e-6)):
            return None
        found = _times_x(graph, node, node.inputs[0])
        return None if found is None else (node.inputs[0], [node] + found[1].nodes, found[0], {})
    # x * clip(x + 3, 0, 6) / 6
    lo = scalar(graph, node.inputs[1]) if len(node.inputs) > 1 and node.inputs[1] else None
    hi = scalar(graph, node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
    add = op(graph, node.inputs[0], "Add")
    if lo != 0.0 or hi != 6.0 or add is None or not private(graph, node.inputs[0]):
        return None
    for i in (0, 1):
        x = add.inputs[i]
        if scalar(graph, add.inputs[1 - i]) == 3.0:
            out = node.outputs[0]
            found = product_root(graph, out, lambda p: _is(p, 1 / 6, x, out))
            if found is not None:
                return x, [add, node] + found[1].nodes, found[0], {}
    return None


@register()
def fuse_hardswish(graph: Graph) -> int:
    """``x * HardSigmoid(x; 1/6, 0.5)`` and ``x * clip(x + 3, 0, 6) / 6`` become HardSwish."""
    return _run(graph, ("HardSigmoid", "Clip"), _hardswish, "HardSwish")


def _mish(graph: Graph, tanh: Node):
    if not private(graph, tanh.inputs[0]):
        return None
    sp = op(graph, tanh.inputs[0], "Softplus")
    pattern: list[Node] = []
    if sp is not None:
        x = sp.inputs[0]
        pattern = [sp]
    else:  # log(exp(x) + 1)
        log = op(graph, tanh.inputs[0], "Log")
        add = op(graph, log.inputs[0], "Add") if log is not None else None
        if add is None or not private(graph, log.inputs[0]):
            return None
        exp = None
        for i in (0, 1):
            e = op(graph, add.inputs[i], "Exp")
            if e is not None and near(scalar(graph, add.inputs[1 - i]), 1.0, 1e-6) and private(graph, add.inputs[i]):
                exp = e
        if exp is None:
            return None
        x = exp.inputs[0]
        pattern = [exp, add, log]
    found = _times_x(graph, tanh, x)
    return None if found is None else (x, pattern + [tanh] + found[1].nodes, found[0], {})


@register()
def fuse_mish(graph: Graph) -> int:
    """``x * tanh(softplus(x))`` (softplus also as ``log(exp(x) + 1)``) becomes Mish."""
    return _run(graph, ("Tanh",), _mish, "Mish")
