"""ONNX frontend: an ``.onnx`` file, bytes or ``onnx.ModelProto`` -> ``ir.Graph``.

Reads every part of a real ONNX file: raw and typed initializers, external data,
sparse initializers (made dense), value_info shapes, symbolic dims, subgraphs,
model-local functions (inlined), custom domains (kept as they are) and metadata.
Large weights stay memory-mapped from the file (see ``ir.onnx_wire``).  The graph is
then normalized to the IR's canonical opset.
"""

from __future__ import annotations

import mmap
import os
import sys
import warnings
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from ir import dtypes
from ir.errors import GraphValidationError, InputError, ModelLoadError
from ir.graph import Graph
from ir.node import Node
from ir.opset import CANONICAL_OPSET
from ir.onnx_wire import WireError, strip_raw_data
from ir.passes.opset import upgrade
from ir.types import ValueType

_LIFT_THRESHOLD = 1024  # bytes; smaller raw_data stays in the parsed skeleton
_PACKED = frozenset({onnx.TensorProto.STRING, onnx.TensorProto.INT4, onnx.TensorProto.UINT4,
                     onnx.TensorProto.FLOAT4E2M1, getattr(onnx.TensorProto, "INT2", -1),
                     getattr(onnx.TensorProto, "UINT2", -1)})
_ATTR_KIND = {v: k for k, v in onnx.AttributeProto.AttributeType.items()}


def load(source, *, upgrade_opset: bool = True, infer_shapes: bool = True, **_options) -> Graph:
    """Parse ``source`` (path, bytes or ModelProto) into a validated IR graph."""
    reader = _Reader()
    if isinstance(source, onnx.ModelProto):
        model = source
    elif isinstance(source, (bytes, bytearray)):
        model = _parse(bytes(source), "<bytes>")
    else:
        model = reader.open(os.fspath(source))
    return reader.build(model, upgrade_opset=upgrade_opset, infer=infer_shapes)


def _parse(data: bytes, where: str) -> onnx.ModelProto:
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception:
        raise ModelLoadError(f"{where}: not an ONNX model, or the file is truncated") from None
    if model.ir_version <= 0 or not model.HasField("graph"):
        raise ModelLoadError(f"{where}: not an ONNX model (no IR version or no graph)")
    return model


class _Reader:
    def __init__(self):
        self.base_dir = ""
        self.path = "<memory>"
        self.lifted: dict[int, np.ndarray] = {}  # index of top-level initializer -> array
        self._maps: dict[str, mmap.mmap] = {}

    # ------------------------------------------------------------ reading
    def open(self, path: str) -> onnx.ModelProto:
        self.path, self.base_dir = path, os.path.dirname(os.path.abspath(path))
        if not os.path.exists(path):
            raise InputError(f"{path}: no such file")
        if os.path.isdir(path):
            raise InputError(f"{path}: is a folder, not an ONNX file")
        size = os.path.getsize(path)
        if size == 0:
            raise ModelLoadError(f"{path}: empty file")
        mm = self._map(path)
        if sys.byteorder != "little":  # raw_data is little endian; view it in place only here
            return _parse(mm[:], path)
        try:
            skeleton, spans = strip_raw_data(mm, size, _LIFT_THRESHOLD, _PACKED)
        except WireError as e:
            raise ModelLoadError(f"{path}: not an ONNX model, or the file is truncated ({e})") from None
        model = _parse(skeleton, path)
        inits = model.graph.initializer
        for i, span in enumerate(spans):
            if span is not None:
                t = inits[i]
                dt = dtypes.to_numpy(dtypes.from_onnx(t.data_type))
                count = span[1] // dt.itemsize
                if count != int(np.prod(t.dims, dtype=np.int64)):
                    raise ModelLoadError(f"{path}: initializer '{t.name}' has {span[1]} bytes for shape {list(t.dims)}")
                self.lifted[i] = np.frombuffer(mm, dtype=dt, count=count, offset=span[0]).reshape(tuple(t.dims))
        return model

    def _map(self, path: str) -> mmap.mmap:
        if path not in self._maps:
            with open(path, "rb") as f:
                self._maps[path] = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        return self._maps[path]

    def array(self, t: onnx.TensorProto) -> np.ndarray:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            return self._external(t)
        try:
            return numpy_helper.to_array(t)
        except Exception as e:
            raise ModelLoadError(f"{self.path}: cannot read tensor '{t.name}': {e}") from None

    def _external(self, t: onnx.TensorProto) -> np.ndarray:
        info = {e.key: e.value for e in t.external_data}
        location = info.get("location")
        if not location:
            raise ModelLoadError(f"{self.path}: tensor '{t.name}' is external but names no file")
        full = os.path.normpath(os.path.join(self.base_dir, location))
        if not os.path.isfile(full):
            raise ModelLoadError(f"{self.path}: external data file '{location}' of tensor '{t.name}' is missing")
        dt = dtypes.to_numpy(dtypes.from_onnx(t.data_type))
        shape = tuple(t.dims)
        if t.data_type in _PACKED:
            return numpy_helper.to_array(t, base_dir=self.base_dir)
        offset = int(info.get("offset", 0))
        count = int(np.prod(shape, dtype=np.int64))
        length = int(info.get("length", count * dt.itemsize))
        if offset + length > os.path.getsize(full) or length < count * dt.itemsize:
            raise ModelLoadError(f"{self.path}: external data of tensor '{t.name}' is truncated")
        if count == 0:
            return np.zeros(shape, dt)
        return np.frombuffer(self._map(full), dtype=dt, count=count, offset=offset).reshape(shape)

    # ----------------------------------------------------------- building
    def build(self, model: onnx.ModelProto, *, upgrade_opset: bool, infer: bool) -> Graph:
        opsets = {("" if o.domain == "ai.onnx" else o.domain): o.version for o in model.opset_import}
        if model.functions:
            import onnx.inliner

            model = onnx.inliner.inline_local_functions(model)
        if infer:
            model = _infer(model)
        graph = self.graph(model.graph, top=True)
        graph.opset_imports = dict(opsets)
        graph.opset_imports.setdefault("", CANONICAL_OPSET)  # no default-domain import: no default-domain ops
        for g in graph.iter_graphs():
            g.opset_imports = graph.opset_imports
        graph.metadata = {
            "source_format": "onnx",
            "source_opset": opsets.get("", None),
            "ir_version": model.ir_version,
            "producer_name": model.producer_name,
            "producer_version": model.producer_version,
            "domain": model.domain,
            "model_version": model.model_version,
            "doc_string": model.doc_string,
            "metadata_props": {p.key: p.value for p in model.metadata_props},
        }
        if model.training_info:
            warnings.warn("training_info in the ONNX model is dropped", stacklevel=2)
        if upgrade_opset:
            upgrade(graph)
        graph.validate()
        return graph

    def graph(self, gp: onnx.GraphProto, top: bool = False) -> Graph:
        g = Graph(gp.name or "main")
        g.doc_string = gp.doc_string
        for vi in gp.input:
            g.inputs.append(vi.name)
            self._value(g, vi)
        for vi in gp.output:
            g.outputs.append(vi.name)
            self._value(g, vi)
        for vi in gp.value_info:
            self._value(g, vi)
        for i, t in enumerate(gp.initializer):
            g.initializers[t.name] = self.lifted[i] if top and i in self.lifted else self.array(t)
        for st in gp.sparse_initializer:
            g.initializers[st.values.name] = self._dense(st)
        for i, np_ in enumerate(gp.node):
            node = Node(name=np_.name, op_type=np_.op_type, inputs=list(np_.input), outputs=list(np_.output),
                        domain="" if np_.domain == "ai.onnx" else np_.domain, doc_string=np_.doc_string,
                        metadata={p.key: p.value for p in getattr(np_, "metadata_props", [])})
            for a in np_.attribute:
                if a.ref_attr_name:
                    raise GraphValidationError(f"attribute '{a.name}' refers to a function attribute", node=np_.name)
                kind = _ATTR_KIND[a.type]
                node.attrs[a.name] = self._attr_value(a, kind)
                node.attr_types[a.name] = kind
            g.add_node(node)
        return g

    def _attr_value(self, a: onnx.AttributeProto, kind: str) -> Any:
        if kind == "TENSOR":
            return self.array(a.t)
        if kind == "TENSORS":
            return [self.array(t) for t in a.tensors]
        if kind == "GRAPH":
            return self.graph(a.g)
        if kind == "GRAPHS":
            return [self.graph(x) for x in a.graphs]
        if kind == "STRING":
            return _text(a.s)
        if kind == "STRINGS":
            return [_text(s) for s in a.strings]
        if kind == "FLOATS":
            return list(a.floats)
        if kind == "INTS":
            return list(a.ints)
        if kind == "SPARSE_TENSOR":
            return a.sparse_tensor
        if kind == "SPARSE_TENSORS":
            return list(a.sparse_tensors)
        if kind == "TYPE_PROTO":
            return a.tp
        if kind == "TYPE_PROTOS":
            return list(a.type_protos)
        return onnx.helper.get_attribute_value(a)

    def _value(self, g: Graph, vi: onnx.ValueInfoProto) -> None:
        if vi.doc_string:
            g.value_docs[vi.name] = vi.doc_string
        if vi.HasField("type"):
            vt = value_type(vi.type)
            if vt is not None:
                g.values[vi.name] = vt

    def _dense(self, st: onnx.SparseTensorProto) -> np.ndarray:
        values = self.array(st.values)
        indices = self.array(st.indices).astype(np.int64)
        dense = np.zeros(tuple(st.dims), dtype=values.dtype)
        if indices.ndim == 1:
            dense.reshape(-1)[indices] = values
        else:
            dense[tuple(indices.T)] = values
        return dense


def _text(s: bytes):
    try:
        return s.decode("utf-8")
    except UnicodeDecodeError:
        return s


def value_type(tp: onnx.TypeProto) -> ValueType | None:
    which = tp.WhichOneof("value")
    if which in ("tensor_type", "sparse_tensor_type"):
        tt = getattr(tp, which)
        shape = None
        if tt.HasField("shape"):
            shape = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim)
        return ValueType("tensor" if which == "tensor_type" else "sparse_tensor", dtypes.from_onnx(tt.elem_type), shape)
    if which == "sequence_type":
        return ValueType("sequence", elem=value_type(tp.sequence_type.elem_type))
    if which == "optional_type":
        return ValueType("optional", elem=value_type(tp.optional_type.elem_type))
    if which == "map_type":
        return ValueType("map", key_dtype=dtypes.from_onnx(tp.map_type.key_type), elem=value_type(tp.map_type.value_type))
    return None


def _infer(model: onnx.ModelProto) -> onnx.ModelProto:
    """ONNX shape inference, best effort: a model it cannot type is kept as it is."""
    try:
        return onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
    except Exception:
        return model
