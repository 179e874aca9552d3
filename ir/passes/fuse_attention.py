"""Attention fusion: ``softmax(Q @ K^T * scale + mask) @ V`` becomes ONNX Attention (opset 23),
which PyTorch writes as ``F.scaled_dot_product_attention``.

The pattern: ``MatMul(Softmax(Add(MatMul(Q', K'), mask)), V)`` over rank-4 tensors
(batch, heads, sequence, head size), where ``Q'`` and ``K'`` may each be multiplied or
divided by a scalar, or the scores once (all scalars make Attention's ``scale``), the
mask is optional, and ``K'`` is a Transpose that swaps ``K``'s last two axes (a Transpose
that also moves heads, ``[0, 2, 3, 1]`` of a (batch, sequence, heads, size) tensor,
becomes the ``[0, 2, 1, 3]`` Transpose Attention's K needs); any other rank-4 ``K'`` gets
a Transpose of its last two axes as Attention's K.  The Softmax must be over the
last axis.  A mask must be float of the scores' dtype or bool, rank 2 to 4, with its last
two dims certainly the scores' (ONNX Runtime does not broadcast those).  A softmax guarded
against NaN (``Where(IsNaN(p), 0, p)``, how torch.onnx writes scaled_dot_product_attention)
is fused with the guard dropped when no row of the softmax can be NaN for finite Q and K:
without a mask, or with a constant mask that leaves every query at least one key (a finite
entry, or a True one, in each row; a causal mask does).  The guard can then only act on NaN
or infinite Q or K, which the fusion assumes away.  With any other mask a fully masked row
is NaN in Attention where the guard made its weights 0, so the guard moves to the output:
``Where(IsNaN(Attention(...)), 0, Attention(...))`` (the same zero row for finite V).
"""

from __future__ import annotations

import numpy as np

from ..graph import Graph
from ..node import Node
from . import register
from .match import const, dtype, fresh, known_dim, op, private, rank, replace, reshaped, scalar, shape

_FLOAT = ("float32", "float64", "float16", "bfloat16")


def _unscale(graph: Graph, tensor: str) -> tuple[str, float, list[Node]]:
    """(t, s, nodes) when ``tensor`` is ``t * s`` or ``t / s`` for a scalar constant (private),
    else (tensor, 1, [])."""
    n = op(graph, tensor, "Mul", "Div")
    if n is None or not private(graph, tensor):
        return tensor, 1.0, []
    for i in ((0, 1) if n.op_type == "Mul" else (0,)):
        s = scalar(graph, n.inputs[1 - i])
        if s is not None and s != 0 and _rank_kept(graph, n.inputs[i], tensor):
            return n.inputs[i], (s if n.op_type == "Mul" else 1.0 / s), [n]
    return tensor, 1.0, []


def _rank_kept(graph: Graph, a: str, b: str) -> bool:
    return rank(graph, a) is not None and rank(graph, a) == rank(graph, b)


def _key(graph: Graph, kt: str):
    """(K source, perm for K or None, the nodes spelling K^T) when ``kt`` is a Transpose whose
    last two output axes are swapped with respect to a (batch, heads, seq, size) K, or the
    3-D spelling ``Reshape(Transpose(Reshape(K, (b*h, s, d)), (0, 2, 1)), (b, h, d, s))``."""
    tr = op(graph, kt, "Transpose")
    if tr is None or not private(graph, kt):
        return _key_3d(graph, kt)
    perm = tr.attrs.get("perm")
    if perm is None or len(perm) != 4:
        return None
    perm = list(perm)
    k_perm = perm[:2] + [perm[3], perm[2]]
    return tr.inputs[0], (None if k_perm == [0, 1, 2, 3] else k_perm), [tr]


def _key_3d(graph: Graph, kt: str):
    r2 = op(graph, kt, "Reshape")
    tr = op(graph, r2.inputs[0], "Transpose") if r2 is not None and private(graph, kt) else None
    r1 = op(graph, tr.inputs[0], "Reshape") if tr is not None and private(graph, r2.inputs[0]) else None
    if r1 is None or list(tr.attrs.get("perm", [])) != [0, 2, 1] or not private(graph, tr.inputs[0]):
        return None
    k = r1.inputs[0]
    ks = shape(graph, k)
    if ks is None or len(ks) != 4 or not all(isinstance(d, int) for d in ks):
        return None
    mid = reshaped(graph, r1, ks)
    if mid is None or len(mid) != 3 or tuple(mid[1:]) != tuple(ks[2:]):
        return None
    out = reshaped(graph, r2, (mid[0], mid[2], mid[1]))
    if out is None or tuple(out) != (ks[0], ks[1], ks[3], ks[2]):
        return None
    return k, None, [r2, tr, r1]


def _same_dim(a, b) -> bool:
    return known_dim(a) and a == b


def _nan_guard(graph: Graph, probs: str):
    """(softmax output, [Where, IsNaN]) when ``probs`` is ``Where(IsNaN(p), 0, p)``."""
    where = op(graph, probs, "Where")
    if where is None or not private(graph, probs):
        return None
    isnan = op(graph, where.inputs[0], "IsNaN")
    p = where.inputs[2]
    if isnan is None or isnan.inputs[0] != p or scalar(graph, where.inputs[1]) != 0.0 \
            or not private(graph, where.inputs[0]) or not private(graph, p, users=2):
        return None
    return p, [where, isnan]


def _every_row_attends(graph: Graph, mask: str) -> bool:
    """``mask`` is a constant that lets every query see at least one key (a finite entry, or a
    True one, in each row of its last axis): a softmax of finite scores plus it is never NaN."""
    m = const(graph, mask)
    if m is None or m.ndim < 1 or m.size == 0:
        return False
    seen = m if m.dtype == np.bool_ else np.isfinite(m) if m.dtype.kind == "f" else None
    return seen is not None and bool(seen.any(axis=-1).all())


def _match(graph: Graph, pv: Node):
    probs, v = pv.inputs
    guard = _nan_guard(graph, probs)
    guarded = []
    if guard is not None:
        probs, guarded = guard
    sm = op(graph, probs, "Softmax")
    if sm is None or not (private(graph, probs) or guard is not None):
        return None
    r = rank(graph, probs)
    if r != 4 or sm.attrs.get("axis", -1) not in (-1, 3):
        return None
    scores = sm.inputs[0]
    if not private(graph, scores):
        return None
    pattern = [sm, pv] + guarded
    qk_out, scale, nodes = _unscale(graph, scores)
    pattern += nodes
    mask = None
    guard_out = False  # the guard moves to Attention's output: a fully masked row is 0, not NaN
    add = op(graph, qk_out, "Add")
    if add is not None and private(graph, qk_out):
        for i in (0, 1):
            cand = add.inputs[i]
            if op(graph, cand, "MatMul", "Mul", "Div") is not None and private(graph, cand):
                mask = add.inputs[1 - i]
                qk_out = cand
                break
        if mask is None or nodes:  # (QK^T + mask) * s would scale the mask too
            return None
        if guarded and not _every_row_attends(graph, mask):
            guard_out = True
        pattern.append(add)
        qk_out, s, nodes = _unscale(graph, qk_out)
        scale *= s
        pattern += nodes
    qk = op(graph, qk_out, "MatMul")
    if qk is None or not private(graph, qk_out):
        return None
    pattern.append(qk)
    q, sq, nodes = _unscale(graph, qk.inputs[0])
    pattern += nodes
    kt, sk, nodes = _unscale(graph, qk.inputs[1])
    pattern += nodes
    scale *= sq * sk
    key = _key(graph, kt)
    if key is None:  # K^T computed some other way (reshaped heads, dynamic dims): K is its transpose
        key = (kt, [0, 1, 3, 2], []) if rank(graph, kt) == 4 else None
    if key is None:
        return None
    k_src, k_perm, k_nodes = key
    pattern += k_nodes
    if any(rank(graph, t) != 4 for t in (q, v)) or rank(graph, k_src) != 4:
        return None
    dt = dtype(graph, q)
    if dt not in _FLOAT or dtype(graph, v) != dt or dtype(graph, k_src) != dt or dtype(graph, pv.outputs[0]) != dt:
        return None
    if mask is not None:
        ms, ss = shape(graph, mask), shape(graph, scores)
        mdt = dtype(graph, mask)
        if ms is None or ss is None or not 2 <= len(ms) <= 4 or mdt not in (dt, "bool"):
            return None
        if not (_same_dim(ms[-1], ss[-1]) and _same_dim(ms[-2], ss[-2])):
            return None
    return q, k_src, k_perm, v, mask, scale, pattern, (guarded[0].inputs[1] if guard_out else None)


@register()
def fuse_attention(graph: Graph) -> int:
    """``softmax(Q K^T * s + mask) V`` on rank-4 (batch, heads, seq, size) tensors becomes Attention
    (scale ``s``), the scalars and the K Transpose absorbed."""
    if graph.opset_imports.get("", 0) < 23:
        return 0
    fused = 0
    for pv in [n for n in graph.nodes if n.op_type == "MatMul"]:
        if pv.name not in graph.nx or op(graph, pv.outputs[0], "MatMul") is None:
            continue
        found = _match(graph, pv)
        if found is None:
            continue
        q, k_src, k_perm, v, mask, scale, pattern, zero = found
        k = k_src
        if k_perm is not None:
            k = fresh(graph, f"{k_src}.bhsd")
            tr = next((n for n in pattern if n.op_type == "Transpose" and n.inputs[0] == k_src), None)
            t = Node(name=tr.name if tr is not None else f"{pv.name}_key", op_type="Transpose", inputs=[k_src],
                     outputs=[k])
            t.set_attr("perm", k_perm)
        inputs = [q, k, v] + ([mask] if mask is not None else [])
        out = pv.outputs[0] if zero is None else fresh(graph, f"{pv.outputs[0]}.unguarded")
        new = Node(name=pv.name, op_type="Attention", inputs=inputs, outputs=[out])
        new.set_attr("scale", float(scale))
        seen: dict[str, Node] = {}
        for n in pattern:
            seen.setdefault(n.name, n)
        replace(graph, [n for n in seen.values() if n.name != pv.name] + [pv], new)
        if k_perm is not None:
            graph.add_node(t)
            graph.nx.nodes[t.name]["order"] = graph.nx.nodes[new.name]["order"] - 0.5
        if zero is not None:  # Where(IsNaN(attention), 0, attention): what the guard made of a masked row
            nan = fresh(graph, f"{pv.outputs[0]}.isnan")
            checks = [Node(name=f"{pv.name}_isnan", op_type="IsNaN", inputs=[out], outputs=[nan]),
                      Node(name=f"{pv.name}_guard", op_type="Where", inputs=[nan, zero, out], outputs=[pv.outputs[0]])]
            for step, n in enumerate(checks, 1):
                graph.add_node(n)
                graph.nx.nodes[n.name]["order"] = graph.nx.nodes[new.name]["order"] + 0.1 * step
        fused += 1
    return fused

