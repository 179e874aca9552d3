"""Chain fusions: two nodes in a row that one node can do.

Each pass fuses a node into the next when the value between them has no other reader (and
is no graph output): Reshape/Flatten/Squeeze/Unsqueeze chains into one Reshape, Unsqueeze
into Unsqueeze, Squeeze into Squeeze, Slices on different axes into one Slice, a Concat
into the Concat that reads it along the same axis, a zero Pad into the Conv or pool after
it, and MatMul + Add into Gemm.
"""

from __future__ import annotations

import numpy as np

from ..graph import Graph
from ..node import Node
from . import register
from .match import add_const, const, op, private, rank, replace, reshaped, scalar, shape, uniform


def _default_nodes(graph: Graph, *op_types: str) -> list[Node]:
    return [n for n in graph.nodes if n.op_type in op_types and op(graph, n.outputs[0], n.op_type) is not None]


def _ints(graph: Graph, node: Node, slot: int) -> list[int] | None:
    if len(node.inputs) <= slot or not node.inputs[slot]:
        return None
    c = const(graph, node.inputs[slot])
    return None if c is None or c.ndim != 1 or c.dtype.kind not in "iu" else [int(v) for v in c]


# ---------------------------------------------------------------- reshapes
_RESHAPES = ("Reshape", "Flatten", "Squeeze", "Unsqueeze")


def _target_shape(graph: Graph, first: Node, second: Node) -> list[int] | None:
    """A Reshape target for ``second(first(x))`` that does not depend on the intermediate: the
    second Reshape's own constant shape (without 0 = copy), else the shape computed through
    both ops from ``x``'s (one unknown dim may become -1)."""
    if second.op_type == "Reshape":
        target = _ints(graph, second, 1)
        if target is not None and (0 not in target or second.attrs.get("allowzero", 0)):
            return target
    s = reshaped(graph, second, reshaped(graph, first, shape(graph, first.inputs[0])))
    if s is None:
        return None
    unknown = [i for i, d in enumerate(s) if not isinstance(d, int)]
    if len(unknown) > 1 or any(d == 0 for d in s if isinstance(d, int)):
        return None
    return [d if isinstance(d, int) else -1 for d in s]


@register()
def fuse_reshape_chains(graph: Graph) -> int:
    """A Reshape, Flatten, Squeeze or Unsqueeze read only by a Reshape (or one whose result has a
    known shape) merges with it: ``Reshape(Reshape(x, a), b)`` is ``Reshape(x, b)``."""
    fused = 0
    for second in _default_nodes(graph, *_RESHAPES):
        if second.name not in graph.nx:
            continue
        first = op(graph, second.inputs[0], *_RESHAPES)
        if first is None or not private(graph, second.inputs[0]):
            continue
        target = _target_shape(graph, first, second)
        if target is None:
            continue
        if second.op_type == "Reshape" and first.op_type == "Reshape" and second.attrs.get("allowzero", 0) \
                != first.attrs.get("allowzero", 0) and 0 in target:
            continue
        name = add_const(graph, f"{second.name}.shape", np.array(target, dtype=np.int64))
        new = Node(name=second.name, op_type="Reshape", inputs=[first.inputs[0], name], outputs=list(second.outputs[:1]))
        if second.op_type == "Reshape" and second.attrs.get("allowzero", 0):
            new.set_attr("allowzero", 1)
        replace(graph, [first, second], new)
        fused += 1
    return fused


def _axes(graph: Graph, node: Node) -> list[int] | None:
    if "axes" in node.attrs:
        return [int(a) for a in node.attrs["axes"]]
    return _ints(graph, node, 1)


def _set_axes(graph: Graph, node: Node, axes: list[int]) -> Node:
    name = add_const(graph, f"{node.name}.axes", np.array(sorted(axes), dtype=np.int64))
    return Node(name=node.name, op_type=node.op_type, inputs=[node.inputs[0], name], outputs=list(node.outputs))


def _nonneg(axes: list[int] | None, r: int | None) -> list[int] | None:
    if axes is None:
        return None
    if any(a < 0 for a in axes):
        if r is None:
            return None
        axes = [a + r if a < 0 else a for a in axes]
    return axes


def _merge_axes_chains(graph: Graph, op_type: str) -> int:
    """Two Squeezes (Unsqueezes) in a row become one with both sets of axes: the axes the outer
    set names in the larger tensor stay, and each axis of the inner set is the matching axis
    among the others (Unsqueeze: the result's axes ``b`` did not insert; Squeeze: ``x``'s axes
    ``a`` did not remove)."""
    fused = 0
    for second in _default_nodes(graph, op_type):
        if second.name not in graph.nx:
            continue
        first = op(graph, second.inputs[0], op_type)
        if first is None or not private(graph, second.inputs[0]):
            continue
        if op_type == "Unsqueeze":
            r0 = rank(graph, first.inputs[0])
            a1 = _nonneg(_axes(graph, first), None if r0 is None else r0 + len(_axes(graph, first) or ()))
            a2 = _nonneg(_axes(graph, second), rank(graph, second.outputs[0]))
            outer, inner = a2, a1
        else:
            a1 = _nonneg(_axes(graph, first), rank(graph, first.inputs[0]))
            a2 = _nonneg(_axes(graph, second), rank(graph, second.inputs[0]))
            outer, inner = a1, a2
        if a1 is None or a2 is None:
            continue
        kept = [i for i in range(max(a1 + a2, default=0) + len(a1) + len(a2) + 1) if i not in set(outer)]
        merged = _set_axes(graph, second, sorted(set(outer) | {kept[i] for i in inner}))
        merged.inputs[0] = first.inputs[0]
        replace(graph, [first, second], merged)
        fused += 1
    return fused


@register()
def fuse_unsqueeze_chains(graph: Graph) -> int:
    """``Unsqueeze(Unsqueeze(x, a), b)`` is one Unsqueeze with both sets of axes."""
    return _merge_axes_chains(graph, "Unsqueeze")


@register()
def fuse_squeeze_chains(graph: Graph) -> int:
    """``Squeeze(Squeeze(x, a), b)`` is one Squeeze with both sets of axes (axes given)."""
    return _merge_axes_chains(graph, "Squeeze")


# ---------------------------------------------------------------- slices and concats
def _slice_params(graph: Graph, node: Node, r: int | None):
    """{axis: (start, end, step)} of a Slice with constant parameters, axes made non-negative."""
    starts, ends = _ints(graph, node, 1), _ints(graph, node, 2)
    axes = _ints(graph, node, 3) if len(node.inputs) > 3 and node.inputs[3] else None
    steps = _ints(graph, node, 4) if len(node.inputs) > 4 and node.inputs[4] else None
    if starts is None or ends is None or (len(node.inputs) > 3 and node.inputs[3] and axes is None) \
            or (len(node.inputs) > 4 and node.inputs[4] and steps is None):
        return None
    axes = list(range(len(starts))) if axes is None else _nonneg(axes, r)
    if axes is None or len(set(axes)) != len(axes):
        return None
    steps = steps or [1] * len(starts)
    return {a: (s, e, st) for a, s, e, st in zip(axes, starts, ends, steps)}


@register()
def fuse_slice_chains(graph: Graph) -> int:
    """``Slice(Slice(x))`` on different axes (constant parameters) is one Slice."""
    fused = 0
    for second in _default_nodes(graph, "Slice"):
        if second.name not in graph.nx:
            continue
        first = op(graph, second.inputs[0], "Slice")
        if first is None or not private(graph, second.inputs[0]):
            continue
        r = rank(graph, first.inputs[0])
        p1, p2 = _slice_params(graph, first, r), _slice_params(graph, second, r)
        if p1 is None or p2 is None or set(p1) & set(p2):
            continue
        params = dict(sorted({**p1, **p2}.items()))
        names = []
        for k, label in enumerate(("starts", "ends", "axes", "steps")):
            values = list(params) if label == "axes" else [v[k if k < 2 else 2] for v in params.values()]
            names.append(add_const(graph, f"{second.name}.{label}", np.array(values, dtype=np.int64)))
        new = Node(name=second.name, op_type="Slice", inputs=[first.inputs[0]] + names, outputs=list(second.outputs))
        replace(graph, [first, second], new)
        fused += 1
    return fused


@register()
def fuse_concat_chains(graph: Graph) -> int:
    """A Concat read only by a Concat along the same axis is spliced into it."""
    fused = 0
    for outer in _default_nodes(graph, "Concat"):
        if outer.name not in graph.nx:
            continue
        r = rank(graph, outer.outputs[0])
        axis = _nonneg([int(outer.attrs.get("axis", 0))], r)
        inputs, absorbed = [], []
        for t in outer.inputs:
            inner = op(graph, t, "Concat")
            if inner is not None and inner.name not in {n.name for n in absorbed} and private(graph, t) \
                    and axis is not None \
                    and _nonneg([int(inner.attrs.get("axis", 0))], r) == axis:
                inputs += inner.inputs
                absorbed.append(inner)
            else:
                inputs.append(t)
        if not absorbed:
            continue
        new = Node(name=outer.name, op_type="Concat", inputs=inputs, outputs=list(outer.outputs))
        new.set_attr("axis", int(outer.attrs.get("axis", 0)))
        replace(graph, absorbed + [outer], new)
        fused += 1
    return fused


# ---------------------------------------------------------------- pad into conv / pool
@register()
def fuse_pad_into_conv(graph: Graph) -> int:
    """A constant-mode Pad of the spatial axes only, read only by a Conv (pad value 0), an
    AveragePool counting pads (0) or a MaxPool (-inf), becomes that node's ``pads``."""
    fused = 0
    for node in _default_nodes(graph, "Conv", "AveragePool", "MaxPool"):
        if node.name not in graph.nx:
            continue
        pad = op(graph, node.inputs[0], "Pad")
        if pad is None or not private(graph, node.inputs[0]) or node.attrs.get("auto_pad", "NOTSET") != "NOTSET":
            continue
        if pad.attrs.get("mode", "constant") != "constant" or len(node.outputs) > 1 and node.outputs[1]:
            continue
        pads = _ints(graph, pad, 1)
        r = rank(graph, pad.inputs[0])
        if pads is None or r is None or len(pads) % 2 or any(p < 0 for p in pads):
            continue
        if len(pad.inputs) > 3 and pad.inputs[3]:  # axes: spell the pads out for every axis
            axes = _nonneg(_ints(graph, pad, 3), r)
            if axes is None:
                continue
            full = [0] * (2 * r)
            for k, a in enumerate(axes):
                full[a], full[a + r] = pads[k], pads[k + len(axes)]
            pads = full
        if len(pads) != 2 * r or any(pads[i] or pads[i + r] for i in (0, 1)):
            continue
        value = 0.0
        if len(pad.inputs) > 2 and pad.inputs[2]:
            value = scalar(graph, pad.inputs[2])
            if value is None:
                continue
        if node.op_type == "Conv" and value != 0.0:
            continue
        if node.op_type == "AveragePool" and (value != 0.0 or not node.attrs.get("count_include_pad", 0)):
            continue
        if node.op_type == "MaxPool" and value != -np.inf:
            continue
        spatial = r - 2
        kernel = list(node.attrs.get("kernel_shape", []))
        old = list(node.attrs.get("pads", [0] * (2 * spatial)))
        new_pads = [old[i] + pads[2 + i] for i in range(spatial)] + [old[spatial + i] + pads[r + 2 + i] for i in range(spatial)]
        if node.op_type != "Conv" and (len(kernel) != spatial or any(
                p >= kernel[i % spatial] for i, p in enumerate(new_pads))):
            continue  # ONNX Runtime's pools take pads smaller than the kernel only
        new = Node(name=node.name, op_type=node.op_type, inputs=[pad.inputs[0]] + node.inputs[1:],
                   outputs=list(node.outputs), attrs=dict(node.attrs), attr_types=dict(node.attr_types),
                   domain=node.domain, doc_string=node.doc_string, metadata=dict(node.metadata))
        new.set_attr("pads", new_pads)
        replace(graph, [pad, node], new)
        fused += 1
    return fused


# ---------------------------------------------------------------- matmul + add
@register()
def fuse_matmul_add(graph: Graph) -> int:
    """``MatMul(a, B) + c`` with a 2-D ``a``, a constant 2-D ``B`` and a constant ``c`` of shape (N,)
    or (1, N) becomes ``Gemm(a, B, c)`` (the MatMul read by nothing else)."""
    fused = 0
    for add in _default_nodes(graph, "Add"):
        if add.name not in graph.nx:
            continue
        for i in (0, 1):
            mm = op(graph, add.inputs[i], "MatMul")
            if mm is None or not private(graph, add.inputs[i]):
                continue
            b = const(graph, mm.inputs[1])
            c = const(graph, add.inputs[1 - i])
            if b is None or c is None or b.ndim != 2 or rank(graph, mm.inputs[0]) != 2 or b.dtype.kind != "f" \
                    or c.dtype != b.dtype or rank(graph, add.outputs[0]) != 2:
                continue
            n = b.shape[1]
            if c.shape not in ((n,), (1, n)) and not (c.size == 1 and uniform(graph, add.inputs[1 - i]) is not None):
                continue
            new = Node(name=mm.name, op_type="Gemm", inputs=[mm.inputs[0], mm.inputs[1], add.inputs[1 - i]],
                       outputs=list(add.outputs))
            replace(graph, [mm, add], new)
            fused += 1
            break
    return fused


# ---------------------------------------------------------------- flatten -> softmax -> reshape
@register()
def fuse_flatten_softmax(graph: Graph) -> int:
    """``Reshape(Softmax(Flatten(x, a)), shape(x))`` is ``Softmax(x, axis=a)`` when every dim of
    ``x`` after ``a`` is 1 (how an opset < 13 Softmax reads after moving to opset 13; the same
    for LogSoftmax and Hardmax)."""
    fused = 0
    for sm in _default_nodes(graph, "Softmax", "LogSoftmax", "Hardmax"):
        if sm.name not in graph.nx or sm.attrs.get("axis", -1) not in (-1, 1):
            continue
        flat = op(graph, sm.inputs[0], "Flatten")
        back = graph.consumers(sm.outputs[0])
        if flat is None or not private(graph, sm.inputs[0]) or not private(graph, sm.outputs[0]) \
                or back[0].op_type != "Reshape" or op(graph, back[0].outputs[0], "Reshape") is None:
            continue
        reshape = back[0]
        s_in, s_out = shape(graph, flat.inputs[0]), shape(graph, reshape.outputs[0])
        axis = _nonneg([int(flat.attrs.get("axis", 1))], None if s_in is None else len(s_in))
        if s_in is None or axis is None or not all(isinstance(d, int) for d in s_in) or tuple(s_in) != tuple(s_out or ()):
            continue
        a = axis[0]
        if a >= len(s_in) or any(d != 1 for d in s_in[a + 1:]):
            continue
        new = Node(name=sm.name, op_type=sm.op_type, inputs=[flat.inputs[0]], outputs=list(reshape.outputs))
        new.set_attr("axis", a)
        replace(graph, [flat, sm, reshape], new)
        fused += 1
    return fused


# ---------------------------------------------------------------- reshape -> transpose -> reshape
@register()
def fuse_reshaped_transpose(graph: Graph) -> int:
    """``Reshape(Transpose(Reshape(x, merge the first k axes), perm keeping axis 0), split them
    back)`` is one Transpose of ``x`` (how exporters write ``k.transpose(-2, -1)`` on 4-D
    attention tensors through 3-D ones); static shapes only."""
    fused = 0
    for r2 in _default_nodes(graph, "Reshape"):
        if r2.name not in graph.nx:
            continue
        tr = op(graph, r2.inputs[0], "Transpose")
        r1 = op(graph, tr.inputs[0], "Reshape") if tr is not None else None
        if r1 is None or not private(graph, r2.inputs[0]) or not private(graph, tr.inputs[0]):
            continue
        xs = shape(graph, r1.inputs[0])
        perm = list(tr.attrs.get("perm") or [])
        if xs is None or not all(isinstance(d, int) for d in xs) or not perm or perm[0] != 0:
            continue
        mid = reshaped(graph, r1, xs)
        if mid is None or not all(isinstance(d, int) for d in mid) or len(perm) != len(mid):
            continue
        k = len(xs) - len(mid) + 1  # axes of x merged into the first
        if k < 1 or tuple(mid[1:]) != tuple(xs[k:]) or mid[0] != int(np.prod(xs[:k])):
            continue
        moved = tuple(mid[p] for p in perm)
        out = reshaped(graph, r2, moved)
        new_perm = list(range(k)) + [k - 1 + p for p in perm[1:]]
        if out is None or tuple(out) != tuple(xs[:k]) + tuple(xs[p] for p in new_perm[k:]):
            continue
        new = Node(name=tr.name, op_type="Transpose", inputs=[r1.inputs[0]], outputs=list(r2.outputs))
        new.set_attr("perm", new_perm)
        replace(graph, [r1, tr, r2], new)
        fused += 1
    return fused
