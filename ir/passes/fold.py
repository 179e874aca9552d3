"""Constant folding: a node whose inputs are all known at conversion time becomes a constant."""

from __future__ import annotations

import numpy as np

from ..graph import Graph
from ..node import Node
from ..opset import is_default_domain
from . import register

FOLD_MAX = 1 << 16  # elements: a larger result stays a computation (the model file stays small)
# never folded: random ops (each run differs), quantization (Q/DQ pairs are the model's meaning),
# and ops that make or consume sequences/optionals (no constant form)
NO_FOLD = frozenset({
    "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli",
    "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "Constant", "If", "Loop", "Scan",
    "SequenceConstruct", "SequenceEmpty", "SequenceInsert", "SequenceAt", "SequenceErase", "SequenceLength",
    "SplitToSequence", "ConcatFromSequence", "Optional", "OptionalGetElement", "OptionalHasElement",
})


def evaluate_node(node: Node, consts: list) -> list[np.ndarray]:
    """Run one node on constant inputs (``None`` for an omitted input) with ONNX's reference evaluator."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    from ..onnx_proto import attribute_proto

    names = [f"i{k}" if c is not None else "" for k, c in enumerate(consts)]
    n = onnx.helper.make_node(node.op_type, names, [f"o{k}" for k in range(len(node.outputs))])
    n.attribute.extend(attribute_proto(k, node.attr_types[k], v) for k, v in sorted(node.attrs.items()))
    ev = ReferenceEvaluator(n)
    feeds = {nm: c for nm, c in zip(names, consts) if nm}
    return [np.asarray(o) for o in ev.run(None, feeds)]


def static_shape(graph: Graph, tensor: str):
    c = graph.constant(tensor)
    if c is not None:
        return tuple(c.shape)
    vt = graph.type_of(tensor)
    if vt is None or not vt.is_tensor or vt.shape is None or not all(isinstance(d, int) for d in vt.shape):
        return None
    return tuple(vt.shape)


def _fold_one(graph: Graph, node: Node) -> list[np.ndarray] | None:
    if node.op_type in ("Shape", "Size"):
        shape = static_shape(graph, node.inputs[0])
        if shape is None:
            return None
        if node.op_type == "Size":
            return [np.array(int(np.prod(shape, dtype=np.int64)), dtype=np.int64)]
        start, end = node.attrs.get("start", 0), node.attrs.get("end", None)
        return [np.array(shape[start:end] if end is not None else shape[start:], dtype=np.int64)]
    consts = []
    for t in node.inputs:
        if not t:
            consts.append(None)
            continue
        c = graph.constant(t)
        if c is None or c.dtype == object or c.size > FOLD_MAX:
            return None
        consts.append(c)
    if not any(c is not None for c in consts):
        return None
    try:
        outs = evaluate_node(node, consts)
    except Exception:  # noqa: BLE001 - the reference evaluator cannot run it: leave it
        return None
    if len(outs) != len([o for o in node.outputs]) or any(o.dtype == object or o.size > FOLD_MAX for o in outs):
        return None
    return outs


@register()
def fold_constants(graph: Graph) -> int:
    """Replace a node whose inputs are all constants (or whose output is a static shape) by its
    value, when that value has at most 65,536 elements; random and quantization ops are never folded."""
    folded = 0
    for node in graph.nodes:
        if not is_default_domain(node.domain) or node.op_type in NO_FOLD or any(True for _ in node.subgraphs()):
            continue
        if any(o in graph.outputs for o in node.outputs):
            continue  # a graph output stays computed by a node
        outs = _fold_one(graph, node)
        if outs is None:
            continue
        graph.remove_node(node.name)
        for t, value in zip(node.outputs, outs):
            if t:
                graph.initializers[t] = value
                graph.values.pop(t, None)
        folded += 1
    return folded
