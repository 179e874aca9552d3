"""Shape and type inference: every tensor gets the dtype and shape ONNX can infer for it.

ONNX's shape inference (with data propagation, so a Reshape fed by ``Shape -> Gather ->
Concat`` gets its real shape) runs on the graph's skeleton: weights of 4 KiB or more become
typed inputs without data, so the model is never copied.  It runs isolated
(``ir.sandbox``): it is native code that a hostile model could crash or make allocate
terabytes.  Symbolic dims keep their names (``batch``, ``seq``); a dim ONNX names itself
(``unk__3``) stays as that name, which still says "equal to every other ``unk__3``".
"""

from __future__ import annotations

import onnx

from ..graph import Graph
from ..onnx_proto import graph_proto, value_type
from ..sandbox import run_isolated
from ..types import ValueType
from . import register

SKELETON_THRESHOLD = 4096  # bytes: larger weights reach shape inference as typed inputs only


def infer_model(model: onnx.ModelProto, *, timeout: float = 60) -> onnx.ModelProto | None:
    """ONNX shape inference on ``model``, isolated; with data propagation first, then without.
    None when ONNX cannot type it (or crashed, or ran out of memory or time)."""
    memory = (2 << 30) + 8 * model.ByteSize()  # ample for any real model's skeleton
    for data_prop in (True, False):
        def step(prop=data_prop) -> bytes:
            return onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False,
                                                     data_prop=prop).SerializeToString()

        data = run_isolated(step, memory=memory, timeout=timeout)
        if data is not None:
            inferred = onnx.ModelProto()
            try:
                inferred.ParseFromString(data)
            except Exception:  # noqa: BLE001 - a truncated answer: try the next way
                continue
            return inferred
    return None


def skeleton(graph: Graph) -> onnx.ModelProto:
    """The graph as a ModelProto whose large weights are typed graph inputs without data."""
    from .. import dtypes

    big: list = []
    gp = graph_proto(graph, big, SKELETON_THRESHOLD)
    declared = set(graph.inputs)
    for name, arr in big:
        if name not in declared:
            gp.input.append(onnx.helper.make_tensor_value_info(name, dtypes.to_onnx(dtypes.of_array(arr)), arr.shape))
    imports = [onnx.helper.make_opsetid(d, v) for d, v in sorted(graph.opset_imports.items())]
    return onnx.helper.make_model(gp, opset_imports=imports)


def _refine(old: ValueType, new: ValueType) -> ValueType | None:
    """``old`` with what ``new`` adds (a rank, an unknown dim made known); None if nothing."""
    if old.kind != "tensor" or new.kind != "tensor":
        return None
    dtype = old.dtype or new.dtype
    if old.shape is None:
        return ValueType.tensor(dtype, new.shape) if new.shape is not None else (
            ValueType.tensor(dtype, None) if dtype != old.dtype else None)
    if new.shape is None or len(new.shape) != len(old.shape):
        return ValueType.tensor(dtype, old.shape) if dtype != old.dtype else None
    dims = tuple(o if o is not None else n for o, n in zip(old.shape, new.shape))
    if dims == old.shape and dtype == old.dtype:
        return None
    return ValueType.tensor(dtype, dims)


@register()
def infer_shapes(graph: Graph) -> int:
    """Give every tensor the dtype and shape ONNX shape inference finds (symbolic dims kept);
    a known type is only ever refined (an unknown dim made known), never replaced, and the
    graph's inputs and outputs keep theirs.  Types of tensors that no longer exist are dropped."""
    changed = 0
    defined = graph.defined_names()
    for name in [n for n in graph.values if n not in defined and n not in graph.outputs]:
        del graph.values[name]
        changed += 1
    inferred = infer_model(skeleton(graph))
    if inferred is None:
        return changed
    fixed = set(graph.inputs) | set(graph.outputs) | set(graph.initializers)
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        name = vi.name
        if name in fixed or name not in defined or not vi.HasField("type"):
            continue
        try:
            vt = value_type(vi.type)
        except ValueError:
            continue
        if vt is None:
            continue
        old = graph.values.get(name)
        if old is None:
            graph.values[name] = vt
            changed += 1
            continue
        better = _refine(old, vt)
        if better is not None:
            graph.values[name] = better
            changed += 1
    return changed
