"""Emit an ONNX ModelProto from the IR and write it without a second copy of the weights.

Small tensors are embedded in the proto as usual.  Large initializers are written
after the serialized skeleton, their bytes streamed from the (memory-mapped) arrays;
protobuf parsers accept fields in any order, so the file is an ordinary ONNX model.
Over 2 GB (protobuf's limit) the weights go to ``<file>.data`` as ONNX external data.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from backends import EmitResult
from ir import dtypes
from ir.errors import InputError, OpsetConversionError
from ir.graph import Graph
from ir.node import Node
from ir.onnx_wire import GRAPH_INITIALIZER, MODEL_GRAPH, TENSOR_RAW_DATA, len_field
from ir.opset import CANONICAL_OPSET, get_schema
from ir.passes.cleanup import remove_unused_initializers
from ir.passes.opset import downgrade, upgrade
from ir.types import ValueType
from ir.weights import write_array

STREAM_THRESHOLD = 1 << 20  # initializers this large are streamed, not embedded
PROTOBUF_LIMIT = (2 << 30) - (64 << 20)  # leave room for the skeleton under 2 GB
PRODUCER = "mmconvert"


def choose_opset(graph: Graph, opset: int | None = None) -> tuple[Graph, int]:
    """A copy of ``graph`` expressed at ``opset``.

    Default: the source model's opset when every node can be written there (a round
    trip keeps the opset it came with), else the canonical opset.
    """
    current = graph.opset_imports.get("", CANONICAL_OPSET)
    if opset is not None:
        if not 1 <= opset <= CANONICAL_OPSET:
            raise InputError(f"--opset must be between 1 and {CANONICAL_OPSET}, got {opset}")
        work = graph.copy()
        if opset > current:  # a graph loaded without normalization (upgrade_opset=False)
            upgrade(work, opset)
        else:
            downgrade(work, opset)
        remove_unused_initializers(work)
        return work, opset
    source = graph.metadata.get("source_opset")
    if source and source < current:
        try:
            work = graph.copy()
            downgrade(work, source)
            remove_unused_initializers(work)
            return work, source
        except OpsetConversionError:
            pass
    return graph, current


# ---------------------------------------------------------------- protos
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
        t = onnx.helper.make_tensor(name, onnx.TensorProto.STRING, array.shape,
                                    [x if isinstance(x, bytes) else str(x).encode() for x in array.reshape(-1)])
        return t
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


def graph_proto(graph: Graph, big: list | None = None) -> onnx.GraphProto:
    """GraphProto of ``graph``; initializers of ``STREAM_THRESHOLD`` bytes or more go
    to ``big`` (name, array) instead when a list is given."""
    gp = onnx.GraphProto(name=graph.name, doc_string=graph.doc_string)
    gp.node.extend(node_proto(n) for n in graph.nodes)
    gp.input.extend(value_info(graph, n) for n in graph.inputs)
    gp.output.extend(value_info(graph, n) for n in graph.outputs)
    skip = set(graph.inputs) | set(graph.outputs) | set(graph.initializers)
    gp.value_info.extend(value_info(graph, n) for n in graph.values if n not in skip)
    for name, arr in graph.initializers.items():
        if big is not None and arr.dtype != object and arr.nbytes >= STREAM_THRESHOLD and dtypes.of_array(arr) not in _PACKED:
            big.append((name, arr))
        else:
            gp.initializer.append(tensor_proto(name, arr))
    return gp


_PACKED = {"int4", "uint4", "float4e2m1", "int2", "uint2"}


def _ir_version(graph: Graph, opsets: list) -> int:
    need = onnx.helper.find_min_ir_version_for(opsets, ignore_unknown=True)
    return min(max(int(graph.metadata.get("ir_version") or 0), need), onnx.IR_VERSION)


def to_model(graph: Graph, opset: int | None = None, big: list | None = None) -> onnx.ModelProto:
    """The ModelProto (weights over ``STREAM_THRESHOLD`` go to ``big`` when given)."""
    graph, target = choose_opset(graph, opset)
    imports = [onnx.helper.make_opsetid("", target)]
    imports += [onnx.helper.make_opsetid(d, v) for d, v in sorted(graph.opset_imports.items()) if d not in ("", "ai.onnx")]
    meta = graph.metadata
    model = onnx.ModelProto(
        ir_version=_ir_version(graph, imports), producer_name=PRODUCER, producer_version=_version(),
        domain=meta.get("domain") or "", model_version=int(meta.get("model_version") or 0),
        doc_string=meta.get("doc_string") or "")
    model.opset_import.extend(imports)
    for k, v in (meta.get("metadata_props") or {}).items():
        model.metadata_props.add(key=k, value=v)
    model.graph.CopyFrom(graph_proto(graph, big))
    return model


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("mmconvert")
    except Exception:
        return "0"


def supported_ops() -> dict[str, list[str]]:
    """Every default-domain op of the canonical opset (custom domains pass through as they are)."""
    import onnx.defs

    from ir.opset import schema_versions

    names = sorted({s.name for s in onnx.defs.get_all_schemas_with_history() if s.domain == ""})
    out = {}
    for name in names:
        versions = [v for v in schema_versions(name) if v <= CANONICAL_OPSET]
        if versions and get_schema(name, CANONICAL_OPSET) is not None and not get_schema(name, CANONICAL_OPSET).deprecated:
            out[name] = [f"{versions[0]}-{CANONICAL_OPSET}"]
    return out


def save(graph: Graph, path: str, *, opset: int | None = None, external_data: bool | None = None, **_ignored) -> EmitResult:
    """Write ``graph`` as an ONNX file at ``path`` (atomically).

    ``external_data=None`` puts weights in ``<path>.data`` only when the model would
    pass protobuf's 2 GB limit; True or False forces the choice.
    """
    path = os.path.abspath(os.fspath(path))
    folder = os.path.dirname(path)
    if os.path.isdir(path):
        raise InputError(f"{path} is a folder; give the path of the .onnx file to write")
    os.makedirs(folder, exist_ok=True)
    big: list[tuple[str, np.ndarray]] = []
    model = to_model(graph, opset, big)
    written = next(o.version for o in model.opset_import if o.domain == "")
    skeleton = model.graph.ByteSize()
    total = skeleton + sum(int(a.nbytes) for _, a in big)
    external = total > PROTOBUF_LIMIT if external_data is None else external_data
    data_name = os.path.basename(path) + ".data"
    graph_bytes = model.graph.SerializeToString()
    model.ClearField("graph")
    head = model.SerializeToString()

    entries = []
    offset = 0
    for name, arr in big:
        t = onnx.TensorProto(name=name, data_type=dtypes.to_onnx(dtypes.of_array(arr)), dims=arr.shape)
        if external:
            t.data_location = onnx.TensorProto.EXTERNAL
            for k, v in (("location", data_name), ("offset", str(offset)), ("length", str(arr.nbytes))):
                t.external_data.add(key=k, value=v)
            offset += int(arr.nbytes) + (-int(arr.nbytes) % 64)
            entry = t.SerializeToString()
            entries.append((entry, len(entry), None))
        else:
            entry = t.SerializeToString()
            raw_head = len_field(TENSOR_RAW_DATA, int(arr.nbytes))
            entries.append((entry + raw_head, len(entry) + len(raw_head) + int(arr.nbytes), arr))
    graph_len = len(graph_bytes) + sum(len(len_field(GRAPH_INITIALIZER, n)) + n for _, n, _ in entries)

    tmp_model = tempfile.NamedTemporaryFile(dir=folder, prefix=".mmconvert-", suffix=".onnx", delete=False)
    tmp_data = None
    try:
        with tmp_model as f:
            f.write(head)
            f.write(len_field(MODEL_GRAPH, graph_len))
            f.write(graph_bytes)
            for entry, n, arr in entries:
                f.write(len_field(GRAPH_INITIALIZER, n))
                f.write(entry)
                if arr is not None:
                    write_array(f, arr)
        if external:
            tmp_data = tempfile.NamedTemporaryFile(dir=folder, prefix=".mmconvert-", suffix=".data", delete=False)
            with tmp_data as f:
                for _, arr in big:
                    write_array(f, arr)
                    f.write(b"\0" * (-int(arr.nbytes) % 64))
            os.replace(tmp_data.name, os.path.join(folder, data_name))
        os.replace(tmp_model.name, path)
    except BaseException:
        for t in (tmp_model, tmp_data):
            if t is not None and os.path.exists(t.name):
                os.unlink(t.name)
        raise
    return EmitResult(path=path, target="onnx", opset=written,
                      details={"external_data": os.path.join(folder, data_name) if external else None})
