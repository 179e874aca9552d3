"""IR <-> ONNX protobuf, in one place: the ONNX frontend reads with :func:`graph_from_proto`,
the ONNX backend (and anything else that needs a proto: folding, runners) writes with
:func:`graph_proto` / :func:`node_proto`.

Reading tensors is left to the caller (``read_tensor``), because where a tensor's bytes
live (memory-mapped file, external data, a model in memory) is the frontend's business.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import onnx
from onnx import numpy_helper

from . import dtypes
from .errors import GraphValidationError
from .graph import Graph
from .node import Node
from .types import ValueType

ATTR_KIND = {v: k for k, v in onnx.AttributeProto.AttributeType.items()}
# element types whose bytes are packed or not fixed-size: never viewed in place
PACKED_TYPES = frozenset({"int4", "uint4", "float4e2m1", "int2", "uint2"})

TensorReader = Callable[[onnx.TensorProto], np.ndarray]


# ------------------------------------------------------------------ reading
MAX_DIM = 1 << 40  # no real tensor has a dim this large; ONNX's shape inference would try to use it


def _check_dims(dims, what: str) -> None:
    for d in dims:
        if d > MAX_DIM or d < -1:
            raise GraphValidationError(f"{what} has an impossible dim {d}")


def _names(values, what: str) -> list[str]:
    """Names from a proto, which must be text (protobuf hands invalid UTF-8 over as bytes)."""
    out = list(values)
    for v in out:
        if not isinstance(v, str):
            raise GraphValidationError(f"a {what} name is not UTF-8 text: {v!r:.60}")
    return out


def graph_from_proto(gp: onnx.GraphProto, read_tensor: TensorReader,
                     initializers: dict[int, np.ndarray] | None = None) -> Graph:
    """An IR graph from ``gp``; ``initializers`` gives arrays already read for some of its
    initializers (by index), ``read_tensor`` reads every other tensor."""
    _names([gp.name], "graph")
    for t in gp.initializer:
        _check_dims(t.dims, f"initializer '{t.name}'")
    _names([vi.name for vi in (*gp.input, *gp.output, *gp.value_info)], "value")
    _names([t.name for t in gp.initializer], "initializer")
    for np_ in gp.node:
        _names([np_.name, np_.op_type, np_.domain, *(a.name for a in np_.attribute)], "node, op, domain or attribute")
        _names([*np_.input, *np_.output], "tensor")
    g = Graph(gp.name or "main")
    g.doc_string = info_text(gp.doc_string)
    for vi in gp.input:
        g.inputs.append(vi.name)
        _value(g, vi)
    for vi in gp.output:
        g.outputs.append(vi.name)
        _value(g, vi)
    for vi in gp.value_info:
        _value(g, vi)
    for i, t in enumerate(gp.initializer):
        g.initializers[t.name] = initializers[i] if initializers and i in initializers else read_tensor(t)
    for st in gp.sparse_initializer:
        g.initializers[st.values.name] = _dense(st, read_tensor)
    for np_ in gp.node:
        node = Node(name=np_.name, op_type=np_.op_type, inputs=list(np_.input), outputs=list(np_.output),
                    domain="" if np_.domain == "ai.onnx" else np_.domain, doc_string=info_text(np_.doc_string),
                    metadata={info_text(p.key): info_text(p.value) for p in getattr(np_, "metadata_props", [])})
        for a in np_.attribute:
            if a.ref_attr_name:
                raise GraphValidationError(f"attribute '{a.name}' refers to a function attribute", node=np_.name)
            kind = ATTR_KIND.get(a.type)
            if kind is None or kind == "UNDEFINED":
                raise GraphValidationError(f"attribute '{a.name}' has no type", node=np_.name)
            node.attrs[a.name] = _attr_value(a, kind, read_tensor)
            node.attr_types[a.name] = kind
        g.add_node(node)
    return g


def _attr_value(a: onnx.AttributeProto, kind: str, read_tensor: TensorReader) -> Any:
    if kind == "TENSOR":
        return read_tensor(a.t)
    if kind == "TENSORS":
        return [read_tensor(t) for t in a.tensors]
    if kind == "GRAPH":
        return graph_from_proto(a.g, read_tensor)
    if kind == "GRAPHS":
        return [graph_from_proto(x, read_tensor) for x in a.graphs]
    if kind == "STRING":
        return _text(a.s)
    if kind == "STRINGS":
        return [_text(s) for s in a.strings]
    if kind == "FLOATS":
        return list(a.floats)
    if kind == "INTS":
        return list(a.ints)
    if kind == "FLOAT":
        return a.f
    if kind == "INT":
        return a.i
    if kind == "SPARSE_TENSOR":
        return a.sparse_tensor
    if kind == "SPARSE_TENSORS":
        return list(a.sparse_tensors)
    if kind == "TYPE_PROTO":
        return a.tp
    if kind == "TYPE_PROTOS":
        return list(a.type_protos)
    return onnx.helper.get_attribute_value(a)


def info_text(v) -> str:
    """An informational string from a proto (doc string, producer, metadata): text, with
    invalid UTF-8 replaced (protobuf hands it over as bytes)."""
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


def _text(s: bytes):
    try:
        return s.decode("utf-8")
    except UnicodeDecodeError:
        return s


def _value(g: Graph, vi: onnx.ValueInfoProto) -> None:
    if vi.doc_string:
        g.value_docs[vi.name] = info_text(vi.doc_string)
    if vi.HasField("type"):
        try:
            vt = value_type(vi.type)
        except ValueError as e:
            raise GraphValidationError(f"value '{vi.name}': {e}") from None
        if vt is not None:
            g.values[vi.name] = vt


def _dense(st: onnx.SparseTensorProto, read_tensor: TensorReader) -> np.ndarray:
    values = read_tensor(st.values)
    indices = read_tensor(st.indices).astype(np.int64)
    dims = tuple(st.dims)
    dense = np.zeros(dims, dtype=values.dtype)
    try:
        if indices.ndim == 1:
            dense.reshape(-1)[indices] = values
        else:
            dense[tuple(indices.T)] = values
    except (IndexError, ValueError) as e:
        raise GraphValidationError(f"sparse initializer '{st.values.name}' does not fit its shape {list(dims)}: {e}") from None
    return dense


def value_type(tp: onnx.TypeProto) -> ValueType | None:
    which = tp.WhichOneof("value")
    if which in ("tensor_type", "sparse_tensor_type"):
        tt = getattr(tp, which)
        shape = None
        if tt.HasField("shape"):
            dims = []
            for d in tt.shape.dim:
                if d.HasField("dim_value"):
                    _check_dims([d.dim_value], "a value")
                    dims.append(d.dim_value if d.dim_value >= 0 else None)  # -1: an exporter's "unknown"
                elif not isinstance(d.dim_param, str):
                    raise ValueError(f"a symbolic dim name is not UTF-8 text: {d.dim_param!r:.40}")
                else:
                    dims.append(d.dim_param or None)
            shape = tuple(dims)
        return ValueType("tensor" if which == "tensor_type" else "sparse_tensor", dtypes.from_onnx(tt.elem_type), shape)
    if which == "sequence_type":
        return ValueType("sequence", elem=value_type(tp.sequence_type.elem_type))
    if which == "optional_type":
        return ValueType("optional", elem=value_type(tp.optional_type.elem_type))
    if which == "map_type":
        return ValueType("map", key_dtype=dtypes.from_onnx(tp.map_type.key_type), elem=value_type(tp.map_type.value_type))
    return None


# ------------------------------------------------------------------ writing
def type_proto(vt: ValueType) -> onnx.TypeProto:
    tp = onnx.TypeProto()
    if vt.kind in ("tensor", "sparse_tensor"):
        tt = tp.tensor_type if vt.kind == "tensor" else tp.sparse_tensor_type
        tt.elem_type = dtypes.to_onnx(vt.dtype)
        if vt.shape is not None:
            shape = tt.shape
            shape.SetInParent()
            for d in vt.shape:
                dim = shape.dim.add()
                if isinstance(d, int):
                    dim.dim_value = d
                elif d:
                    dim.dim_param = d
    elif vt.kind == "sequence":
        tp.sequence_type.SetInParent()
        if vt.elem is not None:
            tp.sequence_type.elem_type.CopyFrom(type_proto(vt.elem))
    elif vt.kind == "optional":
        tp.optional_type.SetInParent()
        if vt.elem is not None:
            tp.optional_type.elem_type.CopyFrom(type_proto(vt.elem))
    elif vt.kind == "map":
        tp.map_type.key_type = dtypes.to_onnx(vt.key_dtype)
        tp.map_type.value_type.CopyFrom(type_proto(vt.elem))
    return tp


def value_info(graph: Graph, name: str) -> onnx.ValueInfoProto:
    vi = onnx.ValueInfoProto(name=name)
    vt = graph.values.get(name)
    if vt is not None:
        vi.type.CopyFrom(type_proto(vt))
    if name in graph.value_docs:
        vi.doc_string = graph.value_docs[name]
    return vi


def tensor_proto(name: str, array: np.ndarray) -> onnx.TensorProto:
    if array.dtype == object:
        return onnx.helper.make_tensor(name, onnx.TensorProto.STRING, array.shape,
                                       [x if isinstance(x, bytes) else str(x).encode() for x in array.reshape(-1)])
    return numpy_helper.from_array(np.asarray(array), name)


def _bytes(v) -> bytes:
    return v if isinstance(v, bytes) else str(v).encode("utf-8")


def attribute_proto(name: str, kind: str, value: Any) -> onnx.AttributeProto:
    a = onnx.AttributeProto(name=name, type=getattr(onnx.AttributeProto, kind))
    if kind == "FLOAT":
        a.f = float(value)
    elif kind == "INT":
        a.i = int(value)
    elif kind == "STRING":
        a.s = _bytes(value)
    elif kind == "TENSOR":
        a.t.CopyFrom(tensor_proto("", value))
    elif kind == "GRAPH":
        a.g.CopyFrom(graph_proto(value))
    elif kind == "FLOATS":
        a.floats.extend(float(v) for v in value)
    elif kind == "INTS":
        a.ints.extend(int(v) for v in value)
    elif kind == "STRINGS":
        a.strings.extend(_bytes(v) for v in value)
    elif kind == "TENSORS":
        a.tensors.extend(tensor_proto("", v) for v in value)
    elif kind == "GRAPHS":
        a.graphs.extend(graph_proto(g) for g in value)
    elif kind == "SPARSE_TENSOR":
        a.sparse_tensor.CopyFrom(value)
    elif kind == "SPARSE_TENSORS":
        a.sparse_tensors.extend(value)
    elif kind == "TYPE_PROTO":
        a.tp.CopyFrom(value)
    elif kind == "TYPE_PROTOS":
        a.type_protos.extend(value)
    return a


def node_proto(node: Node) -> onnx.NodeProto:
    n = onnx.NodeProto(op_type=node.op_type, domain=node.domain, name=node.name,
                       input=node.inputs, output=node.outputs, doc_string=node.doc_string)
    n.attribute.extend(attribute_proto(k, node.attr_types[k], v) for k, v in sorted(node.attrs.items()))
    for k, v in node.metadata.items():
        n.metadata_props.add(key=k, value=v)
    return n


def graph_proto(graph: Graph, big: list | None = None, threshold: int = 1 << 20) -> onnx.GraphProto:
    """GraphProto of ``graph``; initializers of ``threshold`` bytes or more go to ``big``
    as (name, array) instead, when a list is given (the caller streams them)."""
    gp = onnx.GraphProto(name=graph.name, doc_string=graph.doc_string)
    gp.node.extend(node_proto(n) for n in graph.nodes)
    gp.input.extend(value_info(graph, n) for n in graph.inputs)
    gp.output.extend(value_info(graph, n) for n in graph.outputs)
    skip = set(graph.inputs) | set(graph.outputs) | set(graph.initializers)
    gp.value_info.extend(value_info(graph, n) for n in graph.values if n not in skip)
    for name, arr in graph.initializers.items():
        if big is not None and arr.dtype != object and arr.nbytes >= threshold and dtypes.of_array(arr) not in PACKED_TYPES:
            big.append((name, arr))
        else:
            gp.initializer.append(tensor_proto(name, arr))
    return gp
