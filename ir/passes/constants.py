"""Constants: Constant nodes become initializers, and equal initializers become one."""

from __future__ import annotations

import hashlib

import numpy as np

from ..graph import Graph
from ..opset import is_default_domain
from . import register
from .match import overridable, read_by_subgraph

_VALUE_ATTRS = {"value": None, "value_float": np.float32, "value_floats": np.float32,
                "value_int": np.int64, "value_ints": np.int64}


@register()
def constants_to_initializers(graph: Graph) -> int:
    """A Constant node holding a tensor, a float(s) or an int(s) becomes an initializer of the same
    name (not when that name is a graph output: an output stays produced by a node)."""
    moved = 0
    for g in graph.iter_graphs():
        for node in g.nodes:
            if node.op_type != "Constant" or not is_default_domain(node.domain) or len(node.attrs) != 1:
                continue
            (key, value), = node.attrs.items()
            out = node.outputs[0] if node.outputs else ""
            if key not in _VALUE_ATTRS or not out or out in g.outputs:
                continue
            arr = np.asarray(value, dtype=_VALUE_ATTRS[key]) if _VALUE_ATTRS[key] else np.asarray(value)
            if arr.dtype == object:
                continue
            g.remove_node(node.name)
            g.initializers[out] = arr
            g.values.pop(out, None)
            moved += 1
    return moved


def _bytes(arr: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(arr).reshape(-1).view(np.uint8)


def _digest(arr: np.ndarray) -> bytes:
    return hashlib.blake2b(_bytes(arr).data, digest_size=16).digest()


@register()
def dedupe_initializers(graph: Graph) -> int:
    """Initializers with the same dtype, shape and bytes become one (the first keeps its name);
    graph outputs, overridable graph inputs and weights a subgraph reads are left alone."""
    merged = 0
    groups: dict[tuple, list[str]] = {}
    for name, arr in graph.initializers.items():
        if name in graph.outputs or overridable(graph, name) or arr.dtype == object:
            continue
        groups.setdefault((str(arr.dtype), arr.shape), []).append(name)
    for names in groups.values():
        if len(names) < 2:
            continue
        seen: dict[bytes, str] = {}
        for name in names:
            arr = graph.initializers[name]
            key = _digest(arr)
            first = seen.get(key)
            if first is None or not np.array_equal(_bytes(graph.initializers[first]), _bytes(arr)):
                seen.setdefault(key, name)
                continue
            readers = graph.consumers(name)
            if any(read_by_subgraph(r, name) for r in readers):
                continue
            for r in readers:
                graph.set_inputs(r, [first if t == name else t for t in r.inputs])
            del graph.initializers[name]
            if name in graph.inputs:  # a weight listed among the inputs (IR version < 4)
                graph.inputs.remove(name)
            graph.values.pop(name, None)
            merged += 1
    return merged
