"""Constants: Constant nodes become initializers, and equal initializers become one."""

from __future__ import annotations

import hashlib

import numpy as np

from ..graph import Graph
from ..opset import is_default_domain
from . import register
from .match import overridable, read_by_subgraph, state_names

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


@register()
def initializers_out_of_inputs(graph: Graph) -> int:
    """In a model of ONNX IR version < 4 every weight is also listed among the graph inputs: there
    it is a constant, so it leaves the input list (written at a newer IR version it would be an
    input a caller may override, which ONNX Runtime can neither fold nor pre-pack)."""
    if int(graph.metadata.get("ir_version") or 4) >= 4:
        return 0
    listed = [n for n in graph.inputs if n in graph.initializers]
    graph.inputs = [n for n in graph.inputs if n not in graph.initializers]
    return len(listed)


_CHUNK = 1 << 24  # bytes


def _blocks(arr: np.ndarray):
    """``arr``'s bytes in C order, in blocks of about 16 MB: a view (a transposed or broadcast
    weight) is never copied whole."""
    if arr.flags.c_contiguous:
        raw = arr.reshape(-1).view(np.uint8)
        for start in range(0, raw.size, _CHUNK):
            yield raw[start:start + _CHUNK]
        return
    if arr.ndim == 0 or arr.shape[0] == 0:
        yield np.ascontiguousarray(arr).reshape(-1).view(np.uint8)
        return
    step = max(1, _CHUNK // max(arr.nbytes // arr.shape[0], 1))
    for start in range(0, arr.shape[0], step):
        block = arr[start:start + step]
        if block.ndim > 1 and block.nbytes > 4 * _CHUNK:
            for sub in block:
                yield from _blocks(sub)
        else:
            yield np.ascontiguousarray(block).reshape(-1).view(np.uint8)


def _digest(arr: np.ndarray) -> bytes:
    if arr.size > 1 and all(s == 0 for s in arr.strides):  # a broadcast value: its one element says it all
        return b"uniform" + np.ascontiguousarray(arr.reshape(-1)[:1]).tobytes()
    h = hashlib.blake2b(digest_size=16)
    for block in _blocks(arr):
        h.update(block.data)
    return h.digest()


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Same bytes (NaNs and -0.0 compared as stored), block by block."""
    x = y = b""
    ia, ib = _blocks(a), _blocks(b)
    while True:
        if not x:
            x = bytes(next(ia, b""))
        if not y:
            y = bytes(next(ib, b""))
        if not x or not y:
            return not x and not y
        n = min(len(x), len(y))
        if x[:n] != y[:n]:
            return False
        x, y = x[n:], y[n:]


@register()
def dedupe_initializers(graph: Graph) -> int:
    """Initializers with the same dtype, shape and bytes become one (the first keeps its name);
    graph outputs, overridable graph inputs, weights a subgraph reads and a source's own
    parameters (its state dict keeps every name) are left alone."""
    merged = 0
    groups: dict[tuple, list[str]] = {}
    state = state_names(graph)
    for name, arr in graph.initializers.items():
        if name in graph.outputs or overridable(graph, name) or arr.dtype == object or name in state:
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
            if first is None or not _equal(graph.initializers[first], arr):
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
