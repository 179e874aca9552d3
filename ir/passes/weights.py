"""Weights keep their names: a layout op applied to a weight is folded into the weight."""

from __future__ import annotations

import numpy as np

from ..graph import Graph
from ..opset import is_default_domain
from . import register

# ops that only rearrange a tensor's elements (no arithmetic): folding one into a weight
# stores the same numbers in the layout its reader wants
LAYOUT_OPS = frozenset({"Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Identity"})


@register()
def fold_weight_layout(graph: Graph) -> int:
    """A Transpose, Reshape, Squeeze, Unsqueeze, Flatten or Identity that is the only reader of
    an initializer (its other inputs constant) is folded into it: the initializer keeps its
    name and holds the rearranged values (e.g. a Keras HWIO kernel stored as the OIHW one Conv reads)."""
    from .fold import evaluate_node

    folded = 0
    for node in graph.nodes:
        if node.op_type not in LAYOUT_OPS or not is_default_domain(node.domain) or not node.inputs:
            continue
        weight, out = node.inputs[0], node.outputs[0]
        if (weight not in graph.initializers or weight in graph.inputs or weight in graph.outputs
                or out in graph.outputs or len(graph.consumers(weight)) != 1):
            continue
        rest = [graph.constant(t) if t else None for t in node.inputs[1:]]
        if any(c is None for c, t in zip(rest, node.inputs[1:]) if t):
            continue
        try:
            value = evaluate_node(node, [graph.initializers[weight]] + rest)[0]
        except Exception:  # noqa: BLE001 - the reference evaluator cannot run it: leave it
            continue
        graph.remove_node(node.name)
        graph.initializers[weight] = np.ascontiguousarray(value)
        graph.values.pop(weight, None)
        graph.values.pop(out, None)
        graph.rename_tensor_uses(out, weight)
        folded += 1
    return folded
