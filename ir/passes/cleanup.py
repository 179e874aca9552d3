"""Clean-up passes."""

from __future__ import annotations

from ..graph import Graph


def remove_unused_initializers(graph: Graph) -> bool:
    """Drop initializers nothing reads (not a node input, a graph input or output, nor an outer-scope use)."""
    used: set[str] = set(graph.inputs) | set(graph.outputs)
    for g in graph.iter_graphs():
        for node in g.nx.nodes.values():
            used.update(node["node"].inputs)
        used.update(g.outputs)
    changed = False
    for g in graph.iter_graphs():
        for name in [n for n in g.initializers if n not in used]:
            del g.initializers[name]
            changed = True
    return changed
