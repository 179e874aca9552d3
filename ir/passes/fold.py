"""Constant folding: a node whose inputs are all known at conversion time becomes a constant."""

from __future__ import annotations

import warnings

import numpy as np

from ..graph import Graph
from ..node import Node
from ..opset import is_default_domain
from . import register

FOLD_MAX = 1 << 16  # elements: a larger result stays a computation (the model file stays small)
# never folded: random ops (each run differs), quantization (Q/DQ pairs are the model's meaning),
# and ops that make or consume sequences/optionals (no constant form)
NO_FOLD = frozenset({
    "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli",
    "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "Constant", "If", "Loop", "Scan",
    "SequenceConstruct", "SequenceEmpty", "SequenceInsert", "SequenceAt", "SequenceErase", "SequenceLength",
    "SplitToSequence", "ConcatFromSequence", "Optional", "OptionalGetElement", "OptionalHasElement",
})


def _single_node_model(node: Node, consts: list, opset_imports: dict[str, int]):
    import onnx

    from ..onnx_proto import attribute_proto, tensor_proto

    names = [f"i{k}" if c is not None else "" for k, c in enumerate(consts)]
    outs = [f"o{k}" for k in range(len(node.outputs))]
    n = onnx.helper.make_node(node.op_type, names, outs, domain=node.domain)
    n.attribute.extend(attribute_proto(k, node.attr_types[k], v) for k, v in sorted(node.attrs.items()))
    inits = [tensor_proto(nm, np.asarray(c)) for nm, c in zip(names, consts) if nm]
    g = onnx.helper.make_graph([n], "fold", [], [onnx.ValueInfoProto(name=o) for o in outs], inits)
    imports = [onnx.helper.make_opsetid(d, v) for d, v in opset_imports.items()]
    return onnx.helper.make_model(g, opset_imports=imports), names


def evaluate_node(node: Node, consts: list, opset_imports: dict[str, int] | None = None) -> list[np.ndarray]:
    """Run one node on constant inputs (``None`` for an omitted input) with ONNX's reference
    evaluator, or with ONNX Runtime where the reference evaluator fails (it has bugs, e.g.
    GatherElements on 2-D inputs) and ``opset_imports`` is given."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    from ..onnx_proto import attribute_proto

    names = [f"i{k}" if c is not None else "" for k, c in enumerate(consts)]
    n = onnx.helper.make_node(node.op_type, names, [f"o{k}" for k in range(len(node.outputs))])
    n.attribute.extend(attribute_proto(k, node.attr_types[k], v) for k, v in sorted(node.attrs.items()))
    feeds = {nm: c for nm, c in zip(names, consts) if nm}
    try:
        ev = ReferenceEvaluator(n)
        return [np.asarray(o) for o in ev.run(None, feeds)]
    except Exception:  # noqa: BLE001
        if opset_imports is None:
            raise
    import onnxruntime as ort

    model, _ = _single_node_model(node, consts, opset_imports)
    del model.graph.initializer[:]  # fed instead (no second copy in the proto)
    model.graph.input.extend(onnx.helper.make_tensor_value_info(nm, onnx.helper.np_dtype_to_tensor_dtype(c.dtype), c.shape)
                             for nm, c in zip(names, consts) if nm)
    so = ort.SessionOptions()
    so.log_severity_level = 4
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return [np.asarray(o) for o in sess.run(None, feeds)]


def output_elements(node: Node, consts: list, opset_imports: dict[str, int]) -> int | None:
    """How many elements the node's outputs would have, from ONNX shape inference on the
    node alone with its constant inputs (None when that is not known): checked before
    evaluating, so that folding never allocates what a hostile model asks for."""
    import onnx

    try:
        model, _ = _single_node_model(node, consts, opset_imports)
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=False)
    except Exception:  # noqa: BLE001 - ONNX cannot tell: do not fold
        return None
    total = 0
    for vi in inferred.graph.output:
        tt = vi.type.tensor_type
        if not vi.type.HasField("tensor_type") or not tt.HasField("shape"):
            return None
        n = 1
        for d in tt.shape.dim:
            if not d.HasField("dim_value") or d.dim_value < 0:
                return None
            n *= d.dim_value
        total += n
    return total


def static_shape(graph: Graph, tensor: str):
    c = graph.constant(tensor)
    if c is not None:
        return tuple(c.shape)
    vt = graph.type_of(tensor)
    if vt is None or not vt.is_tensor or vt.shape is None or not all(isinstance(d, int) for d in vt.shape):
        return None
    return tuple(vt.shape)


def fold_node(node: Node, const_of, shape_of, opset_imports: dict[str, int]) -> list[np.ndarray] | None:
    """The values of ``node``'s outputs if they can be known now, else None: ``Shape``/``Size``
    of a static shape, or any node whose inputs are all constants of at most ``FOLD_MAX``
    elements and whose outputs have at most ``FOLD_MAX`` (checked before evaluating).
    ``const_of(tensor)`` gives a constant's value, ``shape_of(tensor)`` a static shape."""
    if node.op_type in ("Shape", "Size"):
        shape = shape_of(node.inputs[0])
        if shape is None or not all(isinstance(d, int) for d in shape):
            return None
        if node.op_type == "Size":
            return [np.array(int(np.prod(shape, dtype=np.int64)), dtype=np.int64)]
        start, end = node.attrs.get("start", 0), node.attrs.get("end", None)
        return [np.array(shape[start:end] if end is not None else shape[start:], dtype=np.int64)]
    consts = []
    for t in node.inputs:
        if not t:
            consts.append(None)
            continue
        c = const_of(t)
        if c is None or c.dtype == object or c.size > FOLD_MAX:
            return None
        consts.append(c)
    if not any(c is not None for c in consts):
        return None
    size = output_elements(node, consts, opset_imports)
    if size is None or size > FOLD_MAX:
        return None
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # log(0), casts of inf: the value is what the node computes
            outs = evaluate_node(node, consts, opset_imports)
    except Exception:  # noqa: BLE001 - the reference evaluator cannot run it: leave it
        return None
    if len(outs) != len(node.outputs) or any(o.dtype == object or o.size > FOLD_MAX for o in outs):
        return None
    return outs


@register()
def fold_constants(graph: Graph) -> int:
    """Replace a node whose inputs are all constants (or whose output is a static shape) by its
    value, when that value has at most 65,536 elements; random and quantization ops, and nodes
    reading a source's own parameters (``metadata["state_dict"]``), are never folded."""
    from .match import state_names

    folded = 0
    state = state_names(graph)  # a source's own parameters stay parameters
    for node in graph.nodes:
        if not is_default_domain(node.domain) or node.op_type in NO_FOLD or any(True for _ in node.subgraphs()):
            continue
        if state and any(t in state for t in node.inputs):
            continue
        if any(o in graph.outputs for o in node.outputs):
            continue  # a graph output stays computed by a node
        outs = fold_node(node, graph.constant, lambda t: static_shape(graph, t), graph.opset_imports)
        if outs is None:
            continue
        graph.remove_node(node.name)
        for t, value in zip(node.outputs, outs):
            if t:
                graph.initializers[t] = value
                graph.values.pop(t, None)
        folded += 1
    return folded


BROADCAST_MAX = 1 << 27  # elements (512 MiB of float32): a larger ConstantOfShape stays a node
BROADCAST_TOTAL = 1 << 28  # elements held as broadcast views in one graph: what a tiny file can make us write


def _is_broadcast(arr: np.ndarray) -> bool:
    return arr.size > 1 and all(s == 0 for s in arr.strides)


@register()
def fold_large_constants(graph: Graph) -> int:
    """A ConstantOfShape with a constant shape of more than 65,536 and at most 2^27 elements becomes
    an initializer, held as a broadcast view of its one value: nothing is allocated here (the
    written file holds the full tensor, so only the optimizer runs this, and at most 2^28
    elements in all per graph: a tiny hostile file cannot make us write gigabytes)."""
    folded = 0
    budget = BROADCAST_TOTAL - sum(a.size for a in graph.initializers.values() if _is_broadcast(a))
    for node in graph.nodes:
        if node.op_type != "ConstantOfShape" or not is_default_domain(node.domain) or node.outputs[0] in graph.outputs:
            continue
        dims = graph.constant(node.inputs[0])
        if dims is None or dims.dtype.kind not in "iu" or dims.ndim != 1 or np.any(dims < 0):
            continue
        count = int(np.prod(dims.astype(object))) if dims.size else 1
        if count <= FOLD_MAX or count > min(BROADCAST_MAX, budget):
            continue
        value = node.attrs.get("value")
        one = np.zeros(1, np.float32) if value is None else np.asarray(value).reshape(-1)[:1]
        if one.size != 1 or one.dtype == object:
            continue
        graph.remove_node(node.name)
        graph.initializers[node.outputs[0]] = np.broadcast_to(one.reshape(()), tuple(int(d) for d in dims))
        graph.values.pop(node.outputs[0], None)
        budget -= count
        folded += 1
    return folded


def _layout_view(node: Node, x: np.ndarray, const_of) -> np.ndarray | None:
    """``node`` applied to ``x`` as a numpy view (nothing allocated), or None."""
    op = node.op_type
    if op == "Identity":
        return x
    if op == "Transpose":
        perm = node.attrs.get("perm")
        return np.transpose(x, None if perm is None else list(perm)) if perm is None or len(perm) == x.ndim else None
    if op == "Flatten":
        axis = int(node.attrs.get("axis", 1))
        axis = axis + x.ndim if axis < 0 else axis
        return x.reshape(int(np.prod(x.shape[:axis], dtype=np.int64)), -1) if 0 <= axis <= x.ndim and x.size else None
    if op in ("Squeeze", "Unsqueeze", "Reshape"):
        arg = const_of(node.inputs[1]) if len(node.inputs) > 1 and node.inputs[1] else None
        if arg is None and op != "Squeeze":
            return None
        values = [] if arg is None else [int(v) for v in np.asarray(arg).reshape(-1)]
        try:
            if op == "Squeeze":
                return np.squeeze(x, axis=tuple(values) if arg is not None else None)
            if op == "Unsqueeze":
                return np.expand_dims(x, tuple(values))
            if not node.attrs.get("allowzero", 0):
                values = [x.shape[i] if v == 0 else v for i, v in enumerate(values)]
            return x.reshape(values)
        except (ValueError, IndexError, np.exceptions.AxisError):
            return None
    return None


@register()
def fold_layout_constants(graph: Graph) -> int:
    """A Transpose, Reshape, Flatten, Squeeze, Unsqueeze or Identity of a constant of any size
    becomes a constant (a numpy view: nothing is copied); when it is the weight's only reader the
    weight keeps its name (``fc.weight`` transposed is still ``fc.weight``).  A source's own
    parameter (``metadata["state_dict"]``) is left as it is: its state dict must still load."""
    from .match import bypass, const, private, read_by_subgraph, source_state

    folded = 0
    for node in graph.nodes:
        if node.op_type not in ("Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity") \
                or not is_default_domain(node.domain) or not node.inputs or node.outputs[0] in graph.outputs:
            continue
        src = node.inputs[0]
        x = None if source_state(graph, src) else const(graph, src)
        if x is None or x.dtype == object:
            continue
        value = _layout_view(node, x, lambda t: const(graph, t))
        if value is None:
            continue
        out = node.outputs[0]
        if src in graph.initializers and private(graph, src) and src not in graph.inputs \
                and not any(read_by_subgraph(r, out) for r in graph.consumers(out)):
            graph.remove_node(node.name)
            graph.initializers[src] = value
            graph.values.pop(src, None)
            bypass(graph, out, src)
        else:
            graph.remove_node(node.name)
            graph.initializers[out] = value
            graph.values.pop(out, None)
        folded += 1
    return folded
