"""Fusions: an exporter's decomposition of a known op written back as that op."""

from __future__ import annotations

import math

import numpy as np

from ..graph import Graph
from ..node import Node
from ..opset import is_default_domain
from . import register


def _scalar(graph: Graph, tensor: str) -> float | None:
    c = graph.constant(tensor)
    if c is None or c.size != 1 or c.dtype.kind != "f":
        return None
    return float(np.asarray(c).reshape(-1)[0])


def _only_reader(graph: Graph, tensor: str, op: str) -> Node | None:
    """The single node reading ``tensor`` when it is a default-domain ``op`` (and ``tensor`` is no output)."""
    if tensor in graph.outputs:
        return None
    readers = graph.consumers(tensor)
    if len(readers) != 1 or readers[0].op_type != op or not is_default_domain(readers[0].domain):
        return None
    return readers[0]


def _other(node: Node, tensor: str) -> str | None:
    """The other input of a binary node that reads ``tensor`` once."""
    if len(node.inputs) != 2 or node.inputs.count(tensor) != 1:
        return None
    return node.inputs[1] if node.inputs[0] == tensor else node.inputs[0]


def _near(value: float | None, target: float) -> bool:
    return value is not None and math.isclose(value, target, rel_tol=1e-4)


def _gelu_from(graph: Graph, erf: Node) -> tuple[str, list[Node]] | None:
    """(x, the nodes of x * 0.5 * (1 + erf(x / sqrt 2)) ending the pattern) around ``erf``."""
    scaled = graph.producer(erf.inputs[0])
    if scaled is None or not is_default_domain(scaled.domain) or scaled.op_type not in ("Div", "Mul") \
            or _only_reader(graph, erf.inputs[0], "Erf") is None:
        return None
    x, k = scaled.inputs
    if not (_near(_scalar(graph, k), math.sqrt(2)) if scaled.op_type == "Div" else _near(_scalar(graph, k), 1 / math.sqrt(2))):
        return None
    add = _only_reader(graph, erf.outputs[0], "Add")
    if add is None or not _near(_scalar(graph, _other(add, erf.outputs[0]) or ""), 1.0):
        return None
    mul = _only_reader(graph, add.outputs[0], "Mul")
    if mul is None:
        return None
    other = _other(mul, add.outputs[0])
    if other == x:  # (x * (1 + erf)) * 0.5
        half = _only_reader(graph, mul.outputs[0], "Mul")
        if half is None or not _near(_scalar(graph, _other(half, mul.outputs[0]) or ""), 0.5):
            return None
        return x, [scaled, erf, add, mul, half]
    if _near(_scalar(graph, other or ""), 0.5):  # ((1 + erf) * 0.5) * x
        last = _only_reader(graph, mul.outputs[0], "Mul")
        if last is None or _other(last, mul.outputs[0]) != x:
            return None
        return x, [scaled, erf, add, mul, last]
    pre = graph.producer(other) if other else None  # (x * 0.5) * (1 + erf)
    if pre is None or pre.op_type != "Mul" or not is_default_domain(pre.domain) or _other(pre, x) is None \
            or not _near(_scalar(graph, _other(pre, x)), 0.5) or _only_reader(graph, other, "Mul") is None:
        return None
    return x, [scaled, erf, add, pre, mul]


@register()
def fuse_gelu(graph: Graph) -> int:
    """x * 0.5 * (1 + erf(x / sqrt(2))), in any order of its products (and x * (1/sqrt 2) for the
    division), becomes one Gelu when no other node reads its intermediate values."""
    fused = 0
    for g in graph.iter_graphs():
        if g.opset_imports.get("", 0) < 20:
            continue
        for erf in [n for n in g.nodes if n.op_type == "Erf" and is_default_domain(n.domain)]:
            if erf.name not in g.nx:
                continue
            found = _gelu_from(g, erf)
            if found is None:
                continue
            x, nodes = found
            out, name = nodes[-1].outputs[0], nodes[-1].name
            for n in nodes:
                g.remove_node(n.name)
            g.make_node("Gelu", [x], [out], name=name)
            fused += 1
    return fused
