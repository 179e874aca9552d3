"""IR folder format: ``graph.json`` (structure) + ``weights.safetensors`` (every array).

Round trips are bit-exact: attribute types, tensor dtypes (bfloat16, float8, int4 ...),
symbolic dims, subgraphs and metadata all come back as they were.  No pickle anywhere.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import numpy as np

from . import dtypes
from .errors import MMConvertError, ModelLoadError
from .graph import Graph
from .node import Node
from .types import ValueType

FORMAT = "mmconvert-ir"
VERSION = 1
GRAPH_FILE = "graph.json"
WEIGHTS_FILE = "weights.safetensors"


class _Arrays:
    """Collects arrays while encoding and hands out unique safetensors keys."""

    def __init__(self):
        self.items: list[tuple[str, np.ndarray]] = []
        self.keys: set[str] = set()

    def add(self, key: str, array: np.ndarray) -> dict[str, Any]:
        shape = list(array.shape)
        name = dtypes.of_array(array)
        if name == "string":
            flat = [x if isinstance(x, bytes) else str(x).encode() for x in array.reshape(-1)]
            return {"strings": [base64.b64encode(x).decode() for x in flat], "shape": shape}
        base, i = key, 1
        while key in self.keys:
            key, i = f"{base}#{i}", i + 1
        self.keys.add(key)
        self.items.append((key, array))
        return {"tensor": key, "dtype": name, "shape": shape}


def _decode_array(ref: dict[str, Any], weights: dict[str, np.ndarray]) -> np.ndarray:
    if "strings" in ref:
        flat = np.array([base64.b64decode(s) for s in ref["strings"]] or [], dtype=object)
        return flat.reshape(ref["shape"])
    arr = weights[ref["tensor"]]
    want = dtypes.to_numpy(ref["dtype"])
    if arr.dtype != want:
        arr = arr.view(want)
    return arr.reshape(ref["shape"])


def _proto_b64(value) -> dict[str, Any]:
    return {"proto": type(value).__name__, "b64": base64.b64encode(value.SerializeToString()).decode()}


def _proto_from(d: dict[str, Any]):
    import onnx

    cls = getattr(onnx, d["proto"])
    obj = cls()
    obj.ParseFromString(base64.b64decode(d["b64"]))
    return obj


def _encode_str(v):
    return {"b64": base64.b64encode(v).decode()} if isinstance(v, bytes) else v


def _decode_str(v):
    return base64.b64decode(v["b64"]) if isinstance(v, dict) else v


def _encode_attr(kind: str, value: Any, key: str, arrays: _Arrays) -> Any:
    if kind == "TENSOR":
        return arrays.add(key, value)
    if kind == "TENSORS":
        return [arrays.add(f"{key}.{i}", v) for i, v in enumerate(value)]
    if kind == "GRAPH":
        return graph_to_dict(value, arrays, prefix=key + "/")
    if kind == "GRAPHS":
        return [graph_to_dict(g, arrays, prefix=f"{key}.{i}/") for i, g in enumerate(value)]
    if kind == "STRING":
        return _encode_str(value)
    if kind == "STRINGS":
        return [_encode_str(v) for v in value]
    if kind in ("SPARSE_TENSOR", "TYPE_PROTO"):
        return _proto_b64(value)
    if kind in ("SPARSE_TENSORS", "TYPE_PROTOS"):
        return [_proto_b64(v) for v in value]
    if kind in ("INTS", "FLOATS"):
        return list(value)
    return value


def _decode_attr(kind: str, value: Any, weights) -> Any:
    if kind == "TENSOR":
        return _decode_array(value, weights)
    if kind == "TENSORS":
        return [_decode_array(v, weights) for v in value]
    if kind == "GRAPH":
        return graph_from_dict(value, weights)
    if kind == "GRAPHS":
        return [graph_from_dict(v, weights) for v in value]
    if kind == "STRING":
        return _decode_str(value)
    if kind == "STRINGS":
        return [_decode_str(v) for v in value]
    if kind in ("SPARSE_TENSOR", "TYPE_PROTO"):
        return _proto_from(value)
    if kind in ("SPARSE_TENSORS", "TYPE_PROTOS"):
        return [_proto_from(v) for v in value]
    return value


def graph_to_dict(graph: Graph, arrays: _Arrays, prefix: str = "") -> dict[str, Any]:
    nodes = []
    for node in graph.nodes:
        attrs = {k: {"type": node.attr_types[k], "value": _encode_attr(node.attr_types[k], v, f"{prefix}{node.name}.{k}", arrays)}
                 for k, v in node.attrs.items()}
        entry: dict[str, Any] = {"name": node.name, "op_type": node.op_type, "inputs": node.inputs, "outputs": node.outputs}
        if node.domain:
            entry["domain"] = node.domain
        if attrs:
            entry["attrs"] = attrs
        if node.doc_string:
            entry["doc_string"] = node.doc_string
        if node.metadata:
            entry["metadata"] = node.metadata
        nodes.append(entry)
    return {
        "name": graph.name,
        "doc_string": graph.doc_string,
        "inputs": graph.inputs,
        "outputs": graph.outputs,
        "initializers": [{"name": k, **arrays.add(prefix + k, v)} for k, v in graph.initializers.items()],
        "values": {k: v.to_dict() for k, v in graph.values.items()},
        "value_docs": graph.value_docs,
        "nodes": nodes,
    }


def graph_from_dict(d: dict[str, Any], weights: dict[str, np.ndarray]) -> Graph:
    g = Graph(d["name"])
    g.doc_string = d.get("doc_string", "")
    g.inputs = list(d["inputs"])
    g.outputs = list(d["outputs"])
    for entry in d["initializers"]:
        g.initializers[entry["name"]] = _decode_array(entry, weights)
    g.values = {k: ValueType.from_dict(v) for k, v in d["values"].items()}
    g.value_docs = dict(d.get("value_docs", {}))
    for e in d["nodes"]:
        node = Node(name=e["name"], op_type=e["op_type"], inputs=list(e["inputs"]), outputs=list(e["outputs"]),
                    domain=e.get("domain", ""), doc_string=e.get("doc_string", ""), metadata=dict(e.get("metadata", {})))
        for k, a in e.get("attrs", {}).items():
            node.attrs[k] = _decode_attr(a["type"], a["value"], weights)
            node.attr_types[k] = a["type"]
        g.add_node(node)
    return g


def to_document(graph: Graph) -> tuple[dict[str, Any], list[tuple[str, np.ndarray]]]:
    arrays = _Arrays()
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "opset_imports": graph.opset_imports,
        "metadata": graph.metadata,
        "graph": graph_to_dict(graph, arrays),
    }
    if graph.layouts:  # tensors a layout pass moved (ir/passes/layout.py)
        doc["layouts"] = {t: [h, list(p)] for t, (h, p) in graph.layouts.items()}
    return doc, arrays.items


def save(graph: Graph, folder: str, *, force: bool = False, sources=()) -> str:
    """Write ``graph`` to ``folder``: claimed (an existing folder is replaced only with
    ``force`` and only when mmconvert wrote it), staged, moved into place."""
    from .output import claim, os_error
    from .weights import save_safetensors

    doc, items = to_document(graph)
    with claim(folder, "folder", force=force, sources=sources) as out:
        try:
            os.makedirs(out.staging)
            with open(os.path.join(out.staging, GRAPH_FILE), "w", encoding="utf-8") as f:
                json.dump(doc, f, indent=1)
            save_safetensors(os.path.join(out.staging, WEIGHTS_FILE), items, {"format": FORMAT})
        except OSError as e:
            raise os_error(out.path, e) from None
        return out.commit()


def load(folder: str) -> Graph:
    """Read an IR folder; weights are memory-mapped."""
    from .weights import load_safetensors

    path = os.path.join(folder, GRAPH_FILE)
    if not os.path.isfile(path):
        raise ModelLoadError(f"{folder}: not an mmconvert IR folder (no {GRAPH_FILE})")
    try:
        with open(path) as f:
            doc = json.load(f)
    except ValueError as e:
        raise ModelLoadError(f"{path}: invalid JSON ({e})") from None
    if doc.get("format") != FORMAT:
        raise ModelLoadError(f"{path}: not an mmconvert IR file")
    if doc.get("version", 0) > VERSION:
        raise ModelLoadError(f"{path}: IR format version {doc['version']} is newer than this mmconvert reads ({VERSION})")
    weights_path = os.path.join(folder, WEIGHTS_FILE)
    weights = load_safetensors(weights_path)[0] if os.path.exists(weights_path) else {}
    try:
        graph = graph_from_dict(doc["graph"], weights)
        graph.opset_imports = {str(k): int(v) for k, v in doc["opset_imports"].items()}
        metadata = doc.get("metadata", {})
        if not isinstance(metadata, dict):
            raise TypeError("metadata is not an object")
    except MMConvertError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        raise ModelLoadError(f"{path}: malformed IR document ({type(e).__name__}: {e})") from None
    for g in graph.iter_graphs():
        g.opset_imports = graph.opset_imports
    graph.metadata = metadata
    graph.layouts = {t: (h, [int(v) for v in p]) for t, (h, p) in doc.get("layouts", {}).items()}
    graph.validate()
    return graph
