"""Selects to Split: ``x[0], x[1], ..., x[n-1]`` along one axis, each a Gather with a constant
scalar index, become one Split and a Squeeze per part.

This is how a PyTorch module reads ``q, k, v = proj[0], proj[1], proj[2]`` (torch.export's
``select.int``, as ``nn.MultiheadAttention`` writes it).  The Split form is one kernel instead
of n, and ONNX Runtime's own rewrite of the Gather form (``GatherSliceToSplitFusion``, an
extended-level optimization in 1.32) fails to load a graph holding two such groups ("Attempt
to replace the existing tensor"), so the PyTorch frontend writes the Split form.
"""

from __future__ import annotations

import numpy as np

from ..graph import Graph
from ..opset import is_default_domain
from . import register
from .match import const, shape


def _index(graph: Graph, node, size: int) -> int | None:
    """The constant scalar index of a Gather on an axis of ``size`` elements (negative counted back)."""
    c = const(graph, node.inputs[1]) if len(node.inputs) > 1 else None
    if c is None or c.ndim != 0 or c.dtype.kind not in "iu":
        return None
    i = int(c)
    i = i + size if i < 0 else i
    return i if 0 <= i < size else None


@register()
def gathers_to_split(graph: Graph) -> int:
    """Gathers reading one tensor along the same axis with constant scalar indices that cover
    every index of that axis (of known size, at least 2), once each, become one Split and a
    Squeeze per part; each part keeps its Gather's output name."""
    changed = 0
    for g in graph.iter_graphs():
        for tensor in list(dict.fromkeys(t for n in g.nodes for t in n.inputs[:1] if t)):
            s = shape(g, tensor)
            gathers = [n for n in g.consumers(tensor) if n.op_type == "Gather" and is_default_domain(n.domain)
                       and n.inputs[0] == tensor and len(n.outputs) == 1]
            if s is None or len(gathers) < 2:
                continue
            by_axis: dict[int, list] = {}
            for n in gathers:
                axis = int(n.attrs.get("axis", 0))
                by_axis.setdefault(axis + len(s) if axis < 0 else axis, []).append(n)
            for axis, group in by_axis.items():
                size = s[axis] if 0 <= axis < len(s) else None
                if not isinstance(size, int) or size < 2 or len(group) != size:
                    continue
                index = {}
                for n in group:
                    i = _index(g, n, size)
                    if i is None or i in index:
                        break
                    index[i] = n
                else:
                    _rewrite(g, tensor, axis, [index[i] for i in range(size)])
                    changed += 1
    return changed


def _rewrite(g: Graph, tensor: str, axis: int, parts: list) -> None:
    base = parts[0].name
    split = g.add_initializer(f"{base}_split_sizes", np.ones(len(parts), dtype=np.int64))
    axes = g.add_initializer(f"{base}_axes", np.array([axis], dtype=np.int64))
    pieces = [g.unique_tensor_name(f"{n.outputs[0]}_part") for n in parts]
    for n in parts:
        g.remove_node(n.name)
    name, k = f"{base}_split", 1
    while name in g.nx:
        name, k = f"{base}_split_{k}", k + 1
    g.make_node("Split", [tensor, split], pieces, name=name, axis=axis)
    for n, piece in zip(parts, pieces):
        g.make_node("Squeeze", [piece, axes], [n.outputs[0]], name=n.name)
