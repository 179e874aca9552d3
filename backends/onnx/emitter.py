"""Emit an ONNX ModelProto from the IR and write it without a second copy of the weights.

Small tensors are embedded in the proto as usual.  Large initializers are written
after the serialized skeleton, their bytes streamed from the (memory-mapped) arrays;
protobuf parsers accept fields in any order, so the file is an ordinary ONNX model.
Over 2 GB (protobuf's limit) the weights go to ``<file>.data`` as ONNX external data.
"""

from __future__ import annotations

import os

import numpy as np
import onnx

from mmconvert.backends import EmitResult
from mmconvert.ir import dtypes
from mmconvert.ir.errors import InputError, OpsetConversionError
from mmconvert.ir.graph import Graph
from mmconvert.ir.onnx_proto import graph_proto
from mmconvert.ir.onnx_wire import GRAPH_INITIALIZER, MODEL_GRAPH, TENSOR_RAW_DATA, len_field
from mmconvert.ir.opset import CANONICAL_OPSET, get_schema, is_default_domain, schema_versions
from mmconvert.ir.passes.cleanup import remove_unused_initializers
from mmconvert.ir.passes.opset import downgrade, upgrade
from mmconvert.ir.weights import write_array

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
        # the source's opset, else the lowest one every op exists at (a fused Gelu needs 20,
        # not 28): older runtimes can still read the file
        needed = max([source] + [min(schema_versions(n.op_type)) for g in graph.iter_graphs() for n in g.nodes
                                 if is_default_domain(n.domain) and schema_versions(n.op_type)])
        for target in dict.fromkeys((source, needed)):
            if target >= current:
                break
            try:
                work = graph.copy()
                downgrade(work, target)
                remove_unused_initializers(work)
                return work, target
            except OpsetConversionError:
                continue
    return graph, current


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
    model.graph.CopyFrom(graph_proto(graph, big, STREAM_THRESHOLD))
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

    from mmconvert.ir.opset import schema_versions

    names = sorted({s.name for s in onnx.defs.get_all_schemas_with_history() if s.domain == ""})
    out = {}
    for name in names:
        versions = [v for v in schema_versions(name) if v <= CANONICAL_OPSET]
        if versions and get_schema(name, CANONICAL_OPSET) is not None and not get_schema(name, CANONICAL_OPSET).deprecated:
            out[name] = [f"{versions[0]}-{CANONICAL_OPSET}"]
    return out


def preflight(graph: Graph) -> None:
    """Every op passes through (custom domains as they are): nothing to check before writing."""


def emit(graph: Graph, path: str, *, opset: int | None = None, external_data: bool | None = None) -> EmitResult:
    """Write ``graph`` as an ONNX file at ``path`` (a fresh staging path).

    ``external_data=None`` puts weights in ``<path>.data`` only when the model would
    pass protobuf's 2 GB limit; True or False forces the choice.
    """
    folder = os.path.dirname(path)
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

    with open(path, "wb") as f:
        f.write(head)
        f.write(len_field(MODEL_GRAPH, graph_len))
        f.write(graph_bytes)
        for entry, n, arr in entries:
            f.write(len_field(GRAPH_INITIALIZER, n))
            f.write(entry)
            if arr is not None:
                write_array(f, arr)
    if external:
        with open(os.path.join(folder, data_name), "wb") as f:
            for _, arr in big:
                write_array(f, arr)
                f.write(b"\0" * (-int(arr.nbytes) % 64))
    return EmitResult(path=path, target="onnx", opset=written,
                      details={"external_data": data_name if external else None})

