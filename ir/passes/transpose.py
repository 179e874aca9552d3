"""Transposes sink and cancel: a Transpose moves past the ops that do not care about layout
until it meets its inverse.

tf2onnx wraps each NHWC convolution in ``Transpose(NHWC->NCHW) Conv Transpose(NCHW->NHWC)``
and leaves the second one in place when the next op reads a tensor it cannot rearrange
(a BatchNorm scale computed from weights).  :func:`sink_transposes` moves such a Transpose
below element-wise ops, reductions, Concat, Pad and Softmax, rearranging their other
operands; what each op allows and how its axes follow is the one table of
``ir/passes/op_traits.py``, which the TensorFlow backend's ``push_transposes`` reads too;
:func:`cancel_transposes` (``ir/passes/layout.py``, shared) merges two Transposes in a
row and drops the pair when they undo each other.  What is left sits where the layout really changes: the
model's inputs and outputs, or a Reshape.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ..graph import Graph
from ..node import Node
from ..opset import is_default_domain
from ..types import ValueType
from . import register
from .fold import static_shape as _shape
from .layout import cancel_transposes  # noqa: F401 - one cancelling pass for every transpose user
from .match import source_state
from .op_traits import BROADCAST, ELEMENTWISE, REDUCE, UNARY, inverse, kind, moved_axis, moved_pads, reduced

# the readers this pass moves a Transpose below, besides element-wise ops and reductions (the
# TensorFlow backend's push_transposes takes every op of the op_traits table)
_SINKS_INTO = ("Concat", "Pad", "Softmax", "LogSoftmax")


def _perm(node: Node) -> list[int] | None:
    p = node.attr("perm")
    return None if p is None else [int(i) for i in p]


def _is_transpose(node: Node | None) -> bool:
    return (node is not None and node.op_type == "Transpose" and is_default_domain(node.domain)
            and _perm(node) is not None)


def _reshape_perm(graph: Graph, node: Node) -> list[int] | None:
    """The permutation a Reshape amounts to when it only moves size-1 axes (same rank, the
    other axes in the same order: ``(N, C, 1, 1) -> (N, 1, 1, C)``), else None."""
    if node.op_type != "Reshape" or not is_default_domain(node.domain) or len(node.inputs) < 2:
        return None
    target = graph.constant(node.inputs[1])
    src = graph.type_of(node.inputs[0])
    if target is None or src is None or not src.is_tensor or src.shape is None:
        return None
    target = [int(d) for d in np.asarray(target).reshape(-1)]
    shape = list(src.shape)
    if len(target) != len(shape) or node.attr("allowzero", 0):
        return None
    big_in = [i for i, d in enumerate(shape) if d != 1]  # a symbolic dim counts as big
    big_out = [o for o, t in enumerate(target) if t != 1]
    if len(big_in) != len(big_out):
        return None
    for i, o in zip(big_in, big_out):
        # the same size, or the one inferred dim (-1), or a copied dim (0) in place
        if not (target[o] == shape[i] or target[o] == -1 or (target[o] == 0 and i == o)):
            return None
    perm = [0] * len(shape)
    for i, o in zip(big_in, big_out):
        perm[o] = i
    for i, o in zip([i for i, d in enumerate(shape) if d == 1], [o for o, t in enumerate(target) if t == 1]):
        perm[o] = i
    return perm


def _layout_perm(graph: Graph, node: Node | None) -> list[int] | None:
    """The permutation ``node`` applies if it only rearranges axes: a Transpose, or a Reshape
    that moves size-1 axes."""
    if node is None:
        return None
    if _is_transpose(node):
        return _perm(node)
    return _reshape_perm(graph, node)


def _operand_ok(graph: Graph, tensor: str, source: str, p: list[int], depth: int) -> bool:
    """``tensor`` (an input of the op the Transpose sinks into) can be brought to the
    pre-transpose layout: it is the transposed tensor, another Transpose by ``p``, a tensor
    of known shape and rank <= len(p) (it is rearranged), or (``depth`` > 0) the output of
    element-wise ops on such tensors, which the Transpose reaches first (``x * sigmoid(x)``,
    ``x * relu6(x + 3) / 6``)."""
    if not tensor or tensor == source:
        return True
    producer = graph.producer(tensor)
    if _layout_perm(graph, producer) == p:
        return True
    shape = _shape(graph, tensor)
    if shape is not None and len(shape) <= len(p):
        return True
    if depth <= 0 or producer is None or not is_default_domain(producer.domain) or len(producer.outputs) != 1:
        return False
    if producer.op_type not in ELEMENTWISE:
        return False
    return all(_operand_ok(graph, t, source, p, depth - 1) for t in producer.inputs)


def _axes(graph: Graph, node: Node) -> list[int] | None:
    if len(node.inputs) > 1 and node.inputs[1]:
        c = graph.constant(node.inputs[1])
        return None if c is None else [int(a) for a in np.asarray(c).reshape(-1)]
    a = node.attr("axes")
    return None if a is None else [int(i) for i in a]


def _sinkable(graph: Graph, node: Node, tensor: str, p: list[int], depth: int = 4) -> bool:
    """Whether the Transpose producing ``tensor`` can move below ``node``; ``depth`` > 0 also
    accepts operands that become transposed once the Transpose moved below the element-wise
    ops between it and them (``depth=0``: ``node`` can take it now)."""
    if not is_default_domain(node.domain) or any(True for _ in node.subgraphs()) or len(node.outputs) != 1:
        return False
    r = len(p)
    op = node.op_type
    if op in ("Transpose", "Reshape"):
        return _layout_perm(graph, node) is not None and node.inputs[0] == tensor
    trait = kind(op)
    if trait == "unary":
        return node.inputs[0] == tensor and all(_shape(graph, t) == () for t in node.inputs[1:] if t)
    if trait == "broadcast":
        return all(_operand_ok(graph, t, tensor, p, depth) for t in node.inputs)
    if trait == "reduce":
        axes = _axes(graph, node)
        return node.inputs[0] == tensor and bool(axes) and all(-r <= a < r for a in axes)
    if op not in _SINKS_INTO:
        return False
    if op == "Concat":
        return all(t == tensor or _layout_perm(graph, graph.producer(t)) == p for t in node.inputs)
    if op == "Pad":
        return (node.inputs[0] == tensor and len(node.inputs) > 1 and graph.constant(node.inputs[1]) is not None
                and (len(node.inputs) < 4 or not node.inputs[3]) and all(t != tensor for t in node.inputs[1:]))
    # Softmax, LogSoftmax: one axis since opset 13
    return node.inputs[0] == tensor and graph.opset_imports.get("", 13) >= 13


def _rearranged(graph: Graph, tensor: str, p: list[int], near: str) -> str:
    """``tensor`` (broadcast against a tensor in the transposed layout) in the layout before
    the transpose: constants are rearranged in place, others get a Reshape (+ Transpose)."""
    shape = _shape(graph, tensor)
    r = len(p)
    if shape is None:  # _sinkable admits only operands of known shape here
        raise ValueError(f"cannot rearrange '{tensor}': its shape is unknown")
    if not shape:
        return tensor
    full = (1,) * (r - len(shape)) + tuple(shape)
    inv = inverse(p)
    target = [full[inv[i]] for i in range(r)]  # target[j] = full[i] where p[i] == j
    # a source's own parameter keeps its name and shape (its state dict still loads): it is
    # rearranged at run time like any other tensor
    value = None if source_state(graph, tensor) else graph.constant(tensor)
    if value is not None:
        new = np.ascontiguousarray(np.transpose(np.asarray(value).reshape(full), inv))
        if tensor in graph.initializers and len(graph.consumers(tensor)) == 1 and tensor not in graph.outputs:
            graph.initializers[tensor] = new  # the weight keeps its name
            graph.values.pop(tensor, None)
            return tensor
        return graph.add_initializer(tensor, new)
    vt = graph.type_of(tensor)
    dtype = vt.dtype if vt is not None else None
    moved = [p[i] for i in range(r) if full[i] != 1]  # where each non-1 axis lands
    direct = moved == sorted(moved)  # the elements keep their order: a Reshape is enough
    shape_name = graph.add_initializer(f"{tensor}/shape", np.array(target if direct else full, dtype=np.int64))
    out = graph.unique_tensor_name(f"{tensor}/rearranged")
    graph.make_node("Reshape", [tensor, shape_name], [out], name=out)
    graph.values[out] = ValueType.tensor(dtype, target if direct else full)
    if not direct:
        t_out = graph.unique_tensor_name(f"{out}/transpose")
        graph.make_node("Transpose", [out], [t_out], name=t_out, perm=inv)
        graph.values[t_out] = ValueType.tensor(dtype, target)
        out = t_out
    return out


def _sink(graph: Graph, transpose: Node, node: Node) -> str | None:
    """Move ``transpose`` below ``node``: node reads the untransposed tensor, a new
    Transpose after it produces node's old output (its name is returned)."""
    p = _perm(transpose)
    r = len(p)
    source, tensor = transpose.inputs[0], transpose.outputs[0]
    op = node.op_type
    out = node.outputs[0]
    if op in ("Transpose", "Reshape"):  # two in a row: one Transpose (or none) by the composed permutation
        composed = [p[i] for i in _layout_perm(graph, node)]
        graph.remove_node(node.name)
        if composed == list(range(r)):
            if out in graph.outputs:  # the output keeps its name
                graph.make_node("Identity", [source], [out], name=node.name)
            else:
                graph.rename_tensor_uses(out, source)
            return None
        return graph.make_node("Transpose", [source], [out], name=node.name, perm=composed).name
    inputs = []
    for t in node.inputs:
        producer = graph.producer(t) if t else None
        if t == tensor:
            inputs.append(source)
        elif op not in UNARY and t and _layout_perm(graph, producer) == p:
            inputs.append(producer.inputs[0])
        elif op in BROADCAST and t:
            inputs.append(_rearranged(graph, t, p, node.name))
        else:
            inputs.append(t)
    attrs = dict(node.attrs)
    after = p
    if op in REDUCE:
        axes, after = reduced(p, _axes(graph, node), node.attr("keepdims", 1))
        if len(node.inputs) > 1 and node.inputs[1]:
            inputs[1] = graph.add_initializer(f"{node.name}/axes", np.array(axes, dtype=np.int64))
        else:
            attrs["axes"] = axes
    elif op == "Concat":
        attrs["axis"] = moved_axis(p, node.attr("axis"))
    elif op in ("Softmax", "LogSoftmax"):
        attrs["axis"] = moved_axis(p, node.attr("axis", -1))
    elif op == "Pad":
        pads = [int(v) for v in np.asarray(graph.constant(node.inputs[1])).reshape(-1)]
        inputs[1] = graph.add_initializer(f"{node.name}/pads", np.array(moved_pads(p, pads), dtype=np.int64))
    graph.remove_node(node.name)
    identity = after == list(range(len(after)))
    mid = out if identity else graph.unique_tensor_name(f"{out}/untransposed")
    moved = Node(name=node.name, op_type=op, inputs=inputs, outputs=[mid], domain=node.domain)
    for k, v in attrs.items():
        moved.set_attr(k, v, node.attr_types.get(k) if k not in ("axes",) else "INTS")
    graph.add_node(moved)
    if identity:
        return None
    vt = graph.type_of(out)
    if vt is not None and vt.is_tensor and vt.shape is not None and len(vt.shape) == len(after):
        shape = [None] * len(after)
        for i, a in enumerate(after):
            shape[a] = vt.shape[i]
        graph.values[mid] = ValueType.tensor(vt.dtype, shape)
    return graph.make_node("Transpose", [mid], [out], name=f"{node.name}/transpose", perm=after).name


@register()
def sink_transposes(graph: Graph) -> int:
    """A Transpose (or a Reshape that only moves size-1 axes) whose every reader ignores layout
    (element-wise, broadcast with operands of known shape, Reduce*, Concat of tensors
    transposed alike, Pad, Softmax, another Transpose) moves below them: each reader takes
    the untransposed tensor and is followed by the Transpose."""
    work = deque(n.name for n in graph.nodes)
    moved = 0
    while work:
        moved += _drain(graph, work.popleft(), work, 0)
    return moved


def _drain(graph: Graph, name: str, work: deque, level: int) -> int:
    """Sink the Transpose (or size-1 Reshape) ``name`` below all its readers, and each
    Transpose that makes below its own readers, depth first: a reader whose other operand
    comes from the transposed tensor through element-wise ops finds it transposed by then."""
    if name not in graph.nx:
        return 0
    node = graph.node(name)
    if not node.outputs or node.outputs[0] in graph.outputs:
        return 0
    perm = _layout_perm(graph, node)
    if perm is None or perm == list(range(len(perm))):
        return 0
    tensor = node.outputs[0]
    readers = graph.consumers(tensor)
    if not readers or not all(_sinkable(graph, r, tensor, perm) for r in readers):
        return 0
    if not _is_transpose(node):  # a Reshape moving size-1 axes: the Transpose it is
        graph.remove_node(node.name)
        node = graph.make_node("Transpose", [node.inputs[0]], [tensor], name=node.name, perm=perm)
    moved = 1
    # readers that can take the untransposed tensor now go first; the others wait for them
    for reader in sorted(readers, key=lambda r: not _sinkable(graph, r, tensor, perm, 0)):
        if reader.name not in graph.nx:
            continue
        reader = graph.node(reader.name)
        if tensor not in reader.inputs or not _sinkable(graph, reader, tensor, perm, 0):
            continue
        new = _sink(graph, node, reader)
        if new is not None:
            if level < 64:
                moved += _drain(graph, new, work, level + 1)
            else:
                work.append(new)
    if not graph.consumers(tensor) and tensor not in graph.outputs:
        graph.remove_node(node.name)
    return moved


def cancelling_pairs(graph: Graph, depth: int = 8) -> list[tuple[str, str]]:
    """Pairs (first, second) of Transposes that undo each other with only element-wise ops
    of one varying input between them (activations, or a broadcast op whose other operands
    are constants, which can be rearranged): what sink/cancel leave behind when they miss one.  Subgraph bodies
    included.  An analysis, not a pass: the emitted code of a model should have none."""
    pairs = []
    for g in graph.iter_graphs():
        for second in g.nodes:
            if not _is_transpose(second) or _perm(second) is None:
                continue
            tensor, steps = second.inputs[0], 0
            while steps <= depth:
                node = g.producer(tensor)
                if node is None or not is_default_domain(node.domain):
                    break
                if _is_transpose(node):
                    p1, p2 = _perm(node), _perm(second)
                    if p1 is not None and len(p1) == len(p2) and [p1[i] for i in p2] == list(range(len(p2))):
                        pairs.append((node.name, second.name))
                    break
                varying = [t for t in node.inputs if t and g.constant(t) is None and not _one_element(g, t)]
                if len(node.outputs) != 1 or len(varying) != 1 or node.op_type not in ELEMENTWISE:
                    break
                tensor, steps = varying[0], steps + 1
    return pairs


def _one_element(graph: Graph, tensor: str) -> bool:
    shape = _shape(graph, tensor)
    return shape is not None and all(d == 1 for d in shape)
