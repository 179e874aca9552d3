"""Emit-time fusions: a few multi-node patterns get the one PyTorch call a person would write.

Exporters spell some PyTorch functions as several ONNX nodes.  Writing them back as
the fused call is both more readable and faster:

- ``Q @ K^T * scale (+ mask) -> Softmax (-> Where(IsNaN)) -> @ V``  ->  ``F.scaled_dot_product_attention``
- ``x * Sigmoid(x)``  ->  ``F.silu(x)``
- ``Reciprocal(Sqrt(x))``  ->  ``torch.rsqrt(x)``
- ``MatMul(x, Transpose(W)) (+ b)``  ->  ``nn.Linear`` holding ``W`` as it is, named after it (how
  the PyTorch frontend and torch.onnx without constant folding write a linear layer)

A fusion only fires when every intermediate value has no other user (and is no graph
output), so nothing else can observe the difference.  The fused statement is written
at the last node of the pattern and named after it; the other nodes emit nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from mmconvert.ir.graph import Graph
from mmconvert.ir.node import Node
from mmconvert.ir.opset import is_default_domain


@dataclass
class Fused:
    inputs: list[str]  # tensors the fused statement reads (for liveness)
    emit: Callable  # emit(ctx) writes the statement for the pattern's last node


class _Matcher:
    def __init__(self, graph: Graph, const_of: Callable[[str], np.ndarray | None]):
        self.g = graph
        self.const_of = const_of
        self.outputs = set(graph.outputs)

    def producer(self, tensor: str, op: str) -> Node | None:
        n = self.g.producer(tensor)
        if n is None or n.op_type != op or not is_default_domain(n.domain):
            return None
        return n

    def private(self, tensor: str, users: int = 1) -> bool:
        """``tensor`` is read by exactly ``users`` nodes and is no graph output."""
        return tensor not in self.outputs and len(self.g.consumers(tensor)) == users

    def scalar(self, tensor: str):
        c = self.const_of(tensor)
        if c is not None and c.size == 1 and c.dtype.kind == "f":
            return float(c.reshape(-1)[0])
        return None


def find(graph: Graph, const_of) -> tuple[dict[str, Fused], set[str]]:
    """(fused statements keyed by the last node's name, names of nodes absorbed into them)."""
    m = _Matcher(graph, const_of)
    fused: dict[str, Fused] = {}
    skip: set[str] = set()
    for node in graph.nodes:
        if not is_default_domain(node.domain) or node.name in skip:
            continue
        if node.op_type == "MatMul":
            _attention(m, node, fused, skip)
            if node.name not in skip and node.name not in fused:
                _linear(m, node, fused, skip)
        elif node.op_type == "Mul":
            _silu(m, node, fused, skip)
        elif node.op_type == "Reciprocal":
            _rsqrt(m, node, fused, skip)
    return fused, skip


def _attention(m: _Matcher, pv: Node, fused, skip) -> None:
    probs, v = pv.inputs[0], pv.inputs[1]
    absorbed = []
    nan_guard = False
    where = m.producer(probs, "Where")
    if where is not None:
        isnan = m.producer(where.inputs[0], "IsNaN")
        zero = m.scalar(where.inputs[1])
        if isnan is None or zero != 0.0 or isnan.inputs[0] != where.inputs[2] or not m.private(probs) \
                or not m.private(where.inputs[0]):
            return
        sm_out = where.inputs[2]
        if not m.private(sm_out, users=2):
            return
        absorbed += [where, isnan]
        nan_guard = True
    else:
        sm_out = probs
        if not m.private(sm_out):
            return
    sm = m.producer(sm_out, "Softmax")
    if sm is None or sm.attrs.get("axis", -1) not in (-1,) and not _last_axis(m, sm):
        return
    absorbed.append(sm)
    scores = sm.inputs[0]
    if not m.private(scores):
        return
    mask = None
    add = m.producer(scores, "Add")
    if add is not None:
        qk_out = None
        for i in (0, 1):
            cand = m.producer(add.inputs[i], "MatMul")
            if cand is not None and m.private(add.inputs[i]):
                qk_out, mask = add.inputs[i], add.inputs[1 - i]
                break
        if qk_out is None:
            return
        absorbed.append(add)
    else:
        qk_out = scores
    qk = m.producer(qk_out, "MatMul")
    if qk is None:
        return
    absorbed.append(qk)
    scale = 1.0
    operands = []
    for t in qk.inputs:
        mul = m.producer(t, "Mul")
        s = None
        if mul is not None and m.private(t):
            for i in (0, 1):
                s = m.scalar(mul.inputs[i])
                if s is not None:
                    operands.append(mul.inputs[1 - i])
                    absorbed.append(mul)
                    scale *= s
                    break
        if s is None:
            operands.append(t)
    q, kt = operands
    rq = _rank(m, q)
    if rq is None or rq < 3 or _rank(m, kt) != rq or _rank(m, v) != rq:
        return
    # F.scaled_dot_product_attention indexes the mask's last two dims: a scalar or a vector
    # added to the scores stays as it is written
    if mask is not None and (_rank(m, mask) is None or not 2 <= _rank(m, mask) <= rq):
        return
    # K^T is often spelled Reshape -> Transpose(last two) -> Reshape, or one Transpose of the
    # last two dims: read K from before it
    k_expr = None
    chain = _k_from_transpose_chain(m, kt)
    swap = m.producer(kt, "Transpose")
    if chain is not None:
        k_src, k_shape, chain_nodes = chain
        absorbed += chain_nodes
        k_expr = (k_src, k_shape)
    elif swap is not None and m.private(kt) and _swaps_last_two(swap):
        absorbed.append(swap)
        k_expr = (swap.inputs[0], None)
    if any(n.name in fused or n.name in skip for n in absorbed):
        return
    for n in absorbed:
        skip.add(n.name)
    inputs = [q, v] + ([mask] if mask else []) + ([k_expr[0]] if k_expr else [kt])

    def emit(c, q=q, kt=kt, v=v, mask=mask, scale=scale, nan_guard=nan_guard, k_expr=k_expr):
        qv, vv = _tensor(c, q), _tensor(c, v)
        if k_expr is not None:
            src, shape = k_expr
            kv = _tensor(c, src) if shape is None else f"{_tensor(c, src)}.reshape({', '.join(map(str, shape))})"
        else:
            kv = f"{_tensor(c, kt)}.transpose(-2, -1)"
        args = [qv, kv, vv]
        const_mask = c.scope.const_of(mask) if mask is not None else None
        if const_mask is not None and const_mask.ndim >= 2:
            if np.isfinite(const_mask).any(axis=-1).all():
                nan_guard = False  # every query sees a key: softmax cannot produce NaN
            kind = mask_kind(const_mask)
            if kind is not None:
                mask = None
                if kind == "causal":
                    args.append("is_causal=True")
        if mask is not None:
            args.append(f"attn_mask={_tensor(c, mask)}")
        args.append(f"scale={scale!r}")
        expr = f"F.scaled_dot_product_attention({', '.join(args)})"
        if nan_guard:
            expr = f"torch.nan_to_num({expr}, nan=0.0)"
        c.out(expr)

    fused[pv.name] = Fused(inputs, emit)


def mask_kind(mask: np.ndarray) -> str | None:
    """What a constant additive attention mask amounts to: "none" (all zero), "causal" (0 on and
    below the diagonal, -inf or float32's lowest above: both give exactly zero weight after the
    softmax), else None (it stays a mask)."""
    if mask.dtype.kind != "f" or mask.ndim < 2:
        return None
    if not mask.any():
        return "none"
    lower = np.tril(np.ones(mask.shape[-2:], dtype=bool))
    if mask.shape[-1] == mask.shape[-2] and np.all(mask[..., lower] == 0) and np.all(mask[..., ~lower] <= -1e30):
        return "causal"
    return None


def _k_from_transpose_chain(m: _Matcher, kt: str):
    """(K tensor, K's shape as (..., S, D), nodes) when ``kt`` is Reshape(Transpose(Reshape(K)))
    swapping the last two dims and every shape is static."""
    r2 = m.producer(kt, "Reshape")
    if r2 is None or not m.private(kt):
        return None
    tr = m.producer(r2.inputs[0], "Transpose")
    if tr is None or not m.private(r2.inputs[0]):
        return None
    perm = list(tr.attrs.get("perm", []))
    if len(perm) < 2 or perm[-2:] != [len(perm) - 1, len(perm) - 2] or perm[:-2] != list(range(len(perm) - 2)):
        return None
    r1 = m.producer(tr.inputs[0], "Reshape")
    if r1 is None or not m.private(tr.inputs[0]):
        return None
    out_t = m.g.type_of(kt)
    src_t = m.g.type_of(r1.inputs[0])
    if out_t is None or src_t is None or not out_t.is_static or not src_t.is_static:
        return None
    shape = list(out_t.shape)
    k_shape = shape[:-2] + [shape[-1], shape[-2]]
    if int(np.prod(src_t.shape)) != int(np.prod(k_shape)) or list(src_t.shape[-1:]) != k_shape[-1:]:
        return None
    return r1.inputs[0], k_shape, [r2, tr, r1]


def _swaps_last_two(tr: Node) -> bool:
    perm = list(tr.attrs.get("perm", []))
    n = len(perm)
    return n >= 2 and perm[-2:] == [n - 1, n - 2] and perm[:-2] == list(range(n - 2))


def _linear(m: _Matcher, mm: Node, fused, skip) -> None:
    tr = m.producer(mm.inputs[1], "Transpose")
    if tr is None or list(tr.attrs.get("perm", [1, 0])) != [1, 0] or not m.private(mm.inputs[1]):
        return
    w = m.const_of(tr.inputs[0])
    if w is None or w.ndim != 2 or w.dtype.kind != "f" or tr.name in skip:
        return
    x = mm.inputs[0]
    last, bias = mm, None
    users = m.g.consumers(mm.outputs[0])
    if len(users) == 1 and users[0].op_type == "Add" and is_default_domain(users[0].domain) and m.private(mm.outputs[0]):
        add = users[0]
        other = add.inputs[1] if add.inputs[0] == mm.outputs[0] else add.inputs[0]
        b = m.const_of(other)
        if b is not None and b.shape == (w.shape[0],) and b.dtype == w.dtype:
            last, bias = add, b
    wname = tr.inputs[0]
    base = next((wname[: -len(s)] for s in (".weight", "_weight") if wname.endswith(s) and len(wname) > len(s)), None)
    skip.add(tr.name)
    if last is not mm:
        skip.add(mm.name)

    def emit(c, x=x, w=w, bias=bias, base=base, wname=wname):
        # a tied weight (an output layer sharing the embedding's) belongs to this layer too
        aliases = c.cg.graph.metadata.get("state_aliases") or {}
        if aliases.get(f"{c.node.name}.weight") == wname:
            base = c.node.name
        extra = "" if w.dtype == np.float32 else f", dtype=torch.{w.dtype.name}"
        ctor = f"nn.Linear({w.shape[1]}, {w.shape[0]}{'' if bias is not None else ', bias=False'}{extra})"
        mod = c.module(ctor, {"weight": w, "bias": bias}, base=base)
        c.out(f"{mod}({_tensor(c, x)})")

    fused[last.name] = Fused([x], emit)


def _last_axis(m: _Matcher, sm: Node) -> bool:
    r = _rank(m, sm.inputs[0])
    return r is not None and sm.attrs.get("axis", -1) == r - 1


def _rank(m: _Matcher, t: str):
    c = m.const_of(t)
    if c is not None:
        return c.ndim
    vt = m.g.type_of(t)
    return None if vt is None or vt.shape is None else len(vt.shape)


def _tensor(c, name: str) -> str:
    """Expression of tensor ``name`` as seen from the node being emitted."""
    v = c.scope.get(name)
    if v.kind == "tensor" and not v.expr and v.const is not None:
        v.expr = c.cg.buffer(v.const, name)
    return v.expr if v.kind == "tensor" else f"torch.tensor({v.expr})"


def _silu(m: _Matcher, mul: Node, fused, skip) -> None:
    for i in (0, 1):
        sig = m.producer(mul.inputs[i], "Sigmoid")
        if sig is not None and sig.inputs[0] == mul.inputs[1 - i] and m.private(mul.inputs[i]):
            skip.add(sig.name)
            x = sig.inputs[0]
            fused[mul.name] = Fused([x], lambda c, x=x: c.out(f"F.silu({_tensor(c, x)})"))
            return


def _rsqrt(m: _Matcher, rec: Node, fused, skip) -> None:
    sq = m.producer(rec.inputs[0], "Sqrt")
    if sq is not None and m.private(rec.inputs[0]):
        skip.add(sq.name)
        x = sq.inputs[0]
        fused[rec.name] = Fused([x], lambda c, x=x: c.out(f"torch.rsqrt({_tensor(c, x)})"))
