"""Moving nodes between default-domain opset versions.

Most version bumps only widen type constraints; a node is then valid at either
version as it is.  The bumps that change a signature or a meaning are registered
here, one adapter per (op, version), each able to move a node across that version
boundary: ``up`` (from below ``version`` to ``version``) and, where possible, ``down``.
A node that crosses a registered boundary with no adapter for that direction raises
OpsetConversionError naming the node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import GraphValidationError, OpsetConversionError
from ..graph import Graph
from ..node import Node
from ..opset import CANONICAL_OPSET, get_schema, is_default_domain

Adapter = Callable[[Graph, Node], None]


@dataclass
class _Step:
    up: Adapter | None
    down: Adapter | None


_ADAPTERS: dict[str, dict[int, _Step]] = {}


def register(op_type: str, version: int, up: Adapter | None = None, down: Adapter | None = None) -> None:
    _ADAPTERS.setdefault(op_type, {})[version] = _Step(up, down)


def registered() -> dict[str, list[int]]:
    return {op: sorted(steps) for op, steps in sorted(_ADAPTERS.items())}


# --------------------------------------------------------------------- driver
def upgrade(graph: Graph, target: int = CANONICAL_OPSET) -> bool:
    """Bring every default-domain node of ``graph`` (subgraphs included) to ``target``."""
    source = graph.opset_imports.get("", graph.opset_imports.get("ai.onnx"))
    if source is None or source == target:
        _set_opset(graph, target)
        return False
    if source > target:
        return downgrade(graph, target)
    for g in reversed(list(graph.iter_graphs())):  # bodies first: an adapter may copy a body
        for node in g.nodes:
            if not is_default_domain(node.domain):
                continue
            schema = get_schema(node.op_type, source)
            if schema is None:
                raise GraphValidationError(f"unknown op '{node.op_type}' in opset {source}", node=node.name)
            for version, step in sorted(_ADAPTERS.get(node.op_type, {}).items()):
                if schema.since_version < version <= target:
                    if step.up is None:
                        raise OpsetConversionError(
                            f"{node.op_type} cannot be upgraded past opset {version - 1}", node=node.name)
                    step.up(g, node)
    _set_opset(graph, target)
    return True


def downgrade(graph: Graph, target: int) -> bool:
    """Express every default-domain node at opset ``target`` (lower than the graph's)."""
    current = graph.opset_imports.get("", CANONICAL_OPSET)
    if target >= current:
        _set_opset(graph, target)
        return False
    for g in list(graph.iter_graphs()):
        for node in g.nodes:
            if not is_default_domain(node.domain):
                continue
            schema = get_schema(node.op_type, current)
            for version, step in sorted(_ADAPTERS.get(node.op_type, {}).items(), reverse=True):
                if target < version <= (schema.since_version if schema else current):
                    if step.down is None:
                        raise OpsetConversionError(
                            f"{node.op_type} cannot be expressed below opset {version}", node=node.name)
                    step.down(g, node)
            if get_schema(node.op_type, target) is None:
                raise OpsetConversionError(f"{node.op_type} does not exist in opset {target}", node=node.name)
    _set_opset(graph, target)
    return True


def _set_opset(graph: Graph, version: int) -> None:
    graph.opset_imports.pop("ai.onnx", None)
    graph.opset_imports[""] = version
    for g in graph.iter_graphs():
        g.opset_imports = graph.opset_imports


# ------------------------------------------------------------- helper pieces
def _constant_input(graph: Graph, node: Node, slot: int) -> np.ndarray | None:
    if slot >= len(node.inputs) or not node.inputs[slot]:
        return None
    value = graph.constant(node.inputs[slot])
    if value is None:
        raise OpsetConversionError(
            f"input {slot} of {node.op_type} must be a constant to become an attribute", node=node.name)
    return value


def _dtype_of(graph: Graph, tensor: str, fallback=np.float32):
    vt = graph.type_of(tensor)
    if vt is not None and vt.dtype:
        from ..dtypes import to_numpy

        return to_numpy(vt.dtype)
    return np.dtype(fallback)


def _attrs_to_inputs(specs: list[tuple]) -> tuple[Adapter, Adapter]:
    """Adapters for a bump that turned attributes into inputs.

    ``specs``: (attribute, input slot, dtype or "like0", scalar?, old default).
    """

    def up(graph: Graph, node: Node) -> None:
        inputs = list(node.inputs)
        for attr, slot, dtype, scalar, old_default in specs:
            value = node.del_attr(attr)
            if value is None:
                value = old_default
            if value is None:
                continue
            dt = _dtype_of(graph, node.inputs[0]) if dtype == "like0" else np.dtype(dtype)
            arr = np.array(value, dtype=dt)
            if not scalar:
                arr = arr.reshape(-1)
            while len(inputs) <= slot:
                inputs.append("")
            inputs[slot] = graph.add_initializer(f"{node.name}_{attr}", arr)
        graph.set_inputs(node, inputs)

    def down(graph: Graph, node: Node) -> None:
        inputs = list(node.inputs)
        for attr, slot, dtype, scalar, old_default in specs:
            value = _constant_input(graph, node, slot)
            if value is None:
                continue
            if scalar:
                value = value.reshape(()).item()
            else:
                value = [v.item() for v in value.reshape(-1)]
            if attr == "k":  # TopK's k was an int attribute
                value = int(value[0])
            if dtype in ("like0", "float32"):  # Clip, Pad and Dropout took float attributes
                value = float(value)
            node.set_attr(attr, value)
            inputs[slot] = ""
        while inputs and not inputs[-1]:
            inputs.pop()
        graph.set_inputs(node, inputs)

    return up, down


def _int_list(spec_attr: str, slot: int, old_default=None) -> tuple:
    return (spec_attr, slot, "int64", False, old_default)


for _op in ("Squeeze", "Unsqueeze", "ReduceSum"):
    register(_op, 13, *_attrs_to_inputs([_int_list("axes", 1)]))
for _op in ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
            "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"):
    register(_op, 18, *_attrs_to_inputs([_int_list("axes", 1)]))
register("Slice", 10, *_attrs_to_inputs([_int_list("starts", 1), _int_list("ends", 2), _int_list("axes", 3)]))
register("TopK", 10, *_attrs_to_inputs([("k", 1, "int64", False, None)]))
register("Reshape", 5, *_attrs_to_inputs([_int_list("shape", 1)]))
register("Clip", 11, *_attrs_to_inputs([("min", 1, "like0", True, None), ("max", 2, "like0", True, None)]))
register("Pad", 11, *_attrs_to_inputs([_int_list("pads", 1), ("value", 2, "like0", True, None)]))
register("DFT", 20, *_attrs_to_inputs([("axis", 2, "int64", True, 1)]))

register("Dropout", 12, *_attrs_to_inputs([("ratio", 1, "float32", True, None)]))


def _drop_attrs(*names: str) -> Adapter:
    def adapter(graph: Graph, node: Node) -> None:
        for name in names:
            node.del_attr(name)
    return adapter


def _noop(graph: Graph, node: Node) -> None:
    return None


register("Dropout", 7, _drop_attrs("is_test"), _noop)
register("Gemm", 7, _drop_attrs("broadcast"), _noop)


def _concat_axis_up(graph: Graph, node: Node) -> None:
    if "axis" not in node.attrs:
        node.set_attr("axis", 1)


register("Concat", 4, _concat_axis_up, _noop)


# Split: 13 moved `split` to an input; 18 added `num_outputs` for equal splits.
_split13_up, _split13_down = _attrs_to_inputs([_int_list("split", 1)])
register("Split", 13, _split13_up, _split13_down)


def _split18_up(graph: Graph, node: Node) -> None:
    if len(node.inputs) < 2 or not node.inputs[1]:
        node.set_attr("num_outputs", len(node.outputs))


def _split18_down(graph: Graph, node: Node) -> None:
    n = node.del_attr("num_outputs")
    if n is None:
        return
    vt = graph.type_of(node.inputs[0])
    axis = node.attr("axis", 0)
    dim = vt.shape[axis] if vt is not None and vt.shape is not None else None
    if isinstance(dim, int) and dim % n:
        chunk = -(-dim // n)
        sizes = [chunk] * (dim // chunk) + ([dim % chunk] if dim % chunk else [])
        graph.set_inputs(node, [node.inputs[0], graph.add_initializer(f"{node.name}_split", np.array(sizes, np.int64))])
    elif not isinstance(dim, int):
        raise OpsetConversionError("Split with num_outputs over an unknown dim has no exact older form", node=node.name)


register("Split", 18, _split18_up, _split18_down)


# Softmax family: before 13 the input was coerced to 2-D at `axis`; from 13 it is per-axis.
def _softmax_up(graph: Graph, node: Node) -> None:
    axis = node.attr("axis", 1)
    vt = graph.type_of(node.inputs[0])
    rank = vt.rank if vt is not None else None
    if axis == -1 or (rank is not None and axis % max(rank, 1) == rank - 1):
        node.set_attr("axis", axis)
        return
    # y = reshape(op(flatten(x, axis), axis=-1), shape(x))
    x, y = node.inputs[0], node.outputs[0]
    flat = graph.unique_tensor_name(f"{node.name}_flat")
    soft = graph.unique_tensor_name(f"{node.name}_2d")
    shape = graph.unique_tensor_name(f"{node.name}_shape")
    graph.make_node("Flatten", [x], [flat], name=f"{node.name}_flatten", axis=axis)
    graph.make_node("Shape", [x], [shape], name=f"{node.name}_shape")
    node.set_attr("axis", -1)
    graph.set_inputs(node, [flat])
    graph.remove_node(node.name)
    node.outputs = [soft]
    graph.add_node(node)
    graph.make_node("Reshape", [soft, shape], [y], name=f"{node.name}_reshape")


def _softmax_down(graph: Graph, node: Node) -> None:
    axis = node.attr("axis", -1)
    vt = graph.type_of(node.inputs[0])
    rank = vt.rank if vt is not None else None
    if axis == -1 or (rank is not None and axis % max(rank, 1) == rank - 1):
        node.set_attr("axis", axis)
        return
    if rank is not None and vt.shape is not None and all(d == 1 for d in vt.shape[axis % rank + 1:]):
        node.set_attr("axis", axis)  # every later dim is 1: the 2-D coercion covers the same elements
        return
    raise OpsetConversionError(f"{node.op_type} over a non-last axis has no pre-13 form", node=node.name)


for _op in ("Softmax", "LogSoftmax", "Hardmax"):
    register(_op, 13, _softmax_up, _softmax_down)


# BatchNormalization: 9 dropped `spatial`; 14 replaced the training outputs.
def _bn9_up(graph: Graph, node: Node) -> None:
    if node.del_attr("spatial") not in (None, 1):
        raise OpsetConversionError("BatchNormalization with spatial=0 is not supported", node=node.name)
    node.del_attr("is_test")
    node.del_attr("consumed_inputs")


def _bn14_up(graph: Graph, node: Node) -> None:
    extra = [o for o in node.outputs[1:] if o]
    used = [o for o in extra if graph.consumers(o) or o in graph.outputs]
    if used:
        raise OpsetConversionError("BatchNormalization training outputs are not supported", node=node.name)
    graph.remove_node(node.name)
    node.outputs = node.outputs[:1]
    graph.add_node(node)


def _bn14_down(graph: Graph, node: Node) -> None:
    if node.del_attr("training_mode") not in (None, 0):
        raise OpsetConversionError("BatchNormalization in training mode has no pre-14 form", node=node.name)


register("BatchNormalization", 9, _bn9_up, _noop)
register("BatchNormalization", 14, _bn14_up, _bn14_down)


# Resize 10 -> 11: roi input added, coordinate modes spelled out.
def _resize11_up(graph: Graph, node: Node) -> None:
    node.set_attr("coordinate_transformation_mode", "asymmetric")
    if node.attr("mode", "nearest") == "nearest":
        node.set_attr("nearest_mode", "floor")
    graph.set_inputs(node, [node.inputs[0], "", node.inputs[1]])


def _resize11_down(graph: Graph, node: Node) -> None:
    ok = (node.attr("coordinate_transformation_mode", "half_pixel") == "asymmetric"
          and (node.attr("mode", "nearest") != "nearest" or node.attr("nearest_mode", "round_prefer_floor") == "floor")
          and node.attr("mode", "nearest") in ("nearest", "linear")
          and len(node.inputs) >= 3 and node.inputs[2] and (len(node.inputs) < 4 or not node.inputs[3])
          and all(k in ("mode", "coordinate_transformation_mode", "nearest_mode") for k in node.attrs))
    if not ok:
        raise OpsetConversionError("this Resize has no opset-10 form", node=node.name)
    node.del_attr("coordinate_transformation_mode")
    node.del_attr("nearest_mode")
    graph.set_inputs(node, [node.inputs[0], node.inputs[2]])


register("Resize", 11, _resize11_up, _resize11_down)


# Upsample (deprecated in 10) becomes Resize.
def _upsample_up(graph: Graph, node: Node) -> None:
    scales = node.del_attr("scales")
    inputs = [node.inputs[0], "", node.inputs[1] if len(node.inputs) > 1 else
              graph.add_initializer(f"{node.name}_scales", np.array(scales, np.float32))]
    mode = node.attr("mode", "nearest")
    node.op_type = "Resize"
    node.set_attr("mode", "linear" if mode in ("linear", "bilinear") else mode)
    node.set_attr("coordinate_transformation_mode", "asymmetric")
    if mode == "nearest":
        node.set_attr("nearest_mode", "floor")
    graph.set_inputs(node, inputs)


register("Upsample", 10, _upsample_up, None)


def _resize_to_upsample(graph: Graph, node: Node) -> None:
    """Resize-10 form ([X, scales]) -> Upsample-9, for targets below opset 10."""
    if node.attr("mode", "nearest") not in ("nearest", "linear") or len(node.inputs) != 2:
        raise OpsetConversionError("this Resize has no Upsample form", node=node.name)
    node.op_type = "Upsample"


register("Resize", 10, None, _resize_to_upsample)


def _scatter_up(graph: Graph, node: Node) -> None:
    node.op_type = "ScatterElements"


register("Scatter", 11, _scatter_up, None)


def _scatter_down(graph: Graph, node: Node) -> None:
    if node.attr("reduction", "none") != "none":
        raise OpsetConversionError("ScatterElements with a reduction has no Scatter form", node=node.name)
    node.del_attr("reduction")
    node.op_type = "Scatter"


register("ScatterElements", 11, None, _scatter_down)


# GroupNormalization 21: scale and bias became per channel instead of per group.
def _groupnorm21_up(graph: Graph, node: Node) -> None:
    groups = node.attr("num_groups")
    vt = graph.type_of(node.inputs[0])
    channels = vt.shape[1] if vt is not None and vt.shape is not None and len(vt.shape) > 1 else None
    if not isinstance(channels, int):
        raise OpsetConversionError("GroupNormalization-18 needs a known channel count to upgrade", node=node.name)
    inputs = list(node.inputs)
    for slot in (1, 2):
        value = _constant_input(graph, node, slot)
        inputs[slot] = graph.add_initializer(f"{node.name}_{'scale' if slot == 1 else 'bias'}",
                                             np.repeat(value, channels // groups))
    graph.set_inputs(node, inputs)


def _groupnorm21_down(graph: Graph, node: Node) -> None:
    groups = node.attr("num_groups")
    inputs = list(node.inputs)
    for slot in (1, 2):
        value = _constant_input(graph, node, slot)
        per_group = value.reshape(groups, -1)
        if not (per_group == per_group[:, :1]).all():
            raise OpsetConversionError("GroupNormalization with per-channel scale has no pre-21 form", node=node.name)
        inputs[slot] = graph.add_initializer(f"{node.name}_{'scale' if slot == 1 else 'bias'}", per_group[:, 0].copy())
    graph.set_inputs(node, inputs)


register("GroupNormalization", 21, _groupnorm21_up, _groupnorm21_down)
# Scan 9 dropped Scan-8's batch axis (and sequence_lens): with a static batch size the
# batched scan becomes one Scan per batch item, fed by Gather and joined by Concat.
def _scan9_up(graph: Graph, node: Node) -> None:
    if node.inputs and node.inputs[0]:
        raise OpsetConversionError("Scan-8 with sequence_lens has no Scan-9 form", node=node.name)
    m = node.attr("num_scan_inputs")
    states = node.inputs[1:len(node.inputs) - m]
    scans = node.inputs[len(node.inputs) - m:]
    vt = graph.type_of((states or scans)[0])
    batch = vt.shape[0] if vt is not None and vt.shape else None
    if not isinstance(batch, int):
        raise OpsetConversionError("Scan-8 needs a static batch size to upgrade", node=node.name)
    body = node.attrs["body"]
    directions = node.attr("directions")
    graph.remove_node(node.name)
    per_output: list[list[str]] = [[] for _ in node.outputs]
    for b in range(batch):
        index = graph.add_initializer(f"{node.name}_b{b}", np.array(b, np.int64))
        items = []
        for t in states + scans:
            item = graph.unique_tensor_name(f"{t}_b{b}")
            graph.make_node("Gather", [t, index], [item], name=f"{node.name}_gather_{t}_b{b}", axis=0)
            items.append(item)
        outs = [graph.unique_tensor_name(f"{o}_b{b}") for o in node.outputs]
        scan = Node(name=f"{node.name}_b{b}", op_type="Scan", inputs=items, outputs=outs)
        scan.set_attr("body", body if b == 0 else body.copy(), "GRAPH")
        scan.set_attr("num_scan_inputs", m)
        if directions is not None:
            scan.set_attr("scan_input_directions", list(directions))
        graph.add_node(scan)
        for k, o in enumerate(outs):
            per_output[k].append(o)
    axis0 = graph.add_initializer(f"{node.name}_axis0", np.array([0], np.int64))
    for final, parts in zip(node.outputs, per_output):
        lifted = []
        for part in parts:
            u = final if batch == 1 else graph.unique_tensor_name(f"{part}_unsq")
            graph.make_node("Unsqueeze", [part, axis0], [u], name=f"{node.name}_unsqueeze_{part}")
            lifted.append(u)
        if batch > 1:
            graph.make_node("Concat", lifted, [final], name=f"{node.name}_concat_{final}", axis=0)


register("Scan", 9, _scan9_up, None)
