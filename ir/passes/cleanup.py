"""Clean-up passes: what no output depends on goes."""

from __future__ import annotations

from ..graph import Graph
from . import register

# ops whose effect is not only their outputs: never removed as dead
_SIDE_EFFECTS = frozenset()


@register()
def remove_unused_initializers(graph: Graph) -> int:
    """Drop initializers nothing reads (not a node input, a graph input or output, nor an outer-scope use)."""
    used: set[str] = set(graph.inputs) | set(graph.outputs)
    for g in graph.iter_graphs():
        for node in g.nx.nodes.values():
            used.update(node["node"].inputs)
        used.update(g.outputs)
    changed = 0
    for g in graph.iter_graphs():
        for name in [n for n in g.initializers if n not in used]:
            del g.initializers[name]
            changed += 1
    return changed


@register()
def remove_dead_nodes(graph: Graph) -> int:
    """Drop nodes none of whose outputs reaches a graph output (subgraph bodies included)."""
    removed = 0
    for g in graph.iter_graphs():
        needed = set(t for t in g.outputs if t)
        live: set[str] = set()
        for node in reversed(g.nodes):
            if not node.outputs or any(o in needed for o in node.outputs if o) or node.op_type in _SIDE_EFFECTS:
                live.add(node.name)
                needed.update(t for t in node.inputs if t)
                for _, sub in node.subgraphs():
                    needed |= sub.free_names()
        for node in list(g.nodes):
            if node.name not in live:
                g.remove_node(node.name)
                removed += 1
    return removed
