"""Common subexpression elimination: two nodes computing the same thing from the same inputs
become one."""

from __future__ import annotations

import numpy as np

from ..graph import Graph
from ..node import Node
from ..opset import is_default_domain
from . import register
from .fold import NO_FOLD
from .match import bypass

# computing twice is not computing once: random ops draw new numbers each time
_NEVER = NO_FOLD - {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "Constant"} | {"Dropout"}


def _attr_key(value):
    if isinstance(value, np.ndarray):
        return ("tensor", str(value.dtype), value.shape, np.ascontiguousarray(value).tobytes())
    if isinstance(value, (list, tuple)):
        return tuple(_attr_key(v) for v in value)
    if isinstance(value, float):
        return ("f", value.hex()) if value == value else ("f", "nan")
    return value


def _key(node: Node):
    attrs = tuple(sorted((k, node.attr_types[k], _attr_key(v)) for k, v in node.attrs.items()))
    return (node.domain, node.op_type, tuple(node.inputs), len(node.outputs), attrs)


@register()
def eliminate_common_subexpressions(graph: Graph) -> int:
    """A default-domain node with the same op, inputs and attributes as an earlier one reads the
    earlier one's outputs instead and goes (random ops, Dropout and nodes with subgraphs never)."""
    removed = 0
    for g in graph.iter_graphs():
        seen: dict[tuple, Node] = {}
        for node in g.nodes:
            if node.name not in g.nx or not is_default_domain(node.domain) or node.op_type in _NEVER \
                    or any(True for _ in node.subgraphs()) or not node.outputs:
                continue
            key = _key(node)
            first = seen.get(key)
            if first is None:
                seen[key] = node
                continue
            if len(node.outputs) > 1 and any(o in g.outputs for o in node.outputs):
                continue
            done = True
            for dup, orig in zip(node.outputs, first.outputs):
                if dup and orig and dup != orig:
                    done = bypass(g, dup, orig) and done
                elif dup and not orig:
                    done = False
            if done:
                if node.name in g.nx:
                    g.remove_node(node.name)
                removed += 1
    return removed
