"""Emit-time fusions: the multi-node patterns that get one PyTorch call ONNX has no op for.

A fusion ONNX can express belongs to the IR passes (``ir/passes/``), where every backend
profits from it: attention is ``fuse_attention`` (ONNX Attention, written here as
``F.scaled_dot_product_attention`` by ``ops/attention.py``) and SiLU is ``fuse_silu`` (ONNX
Swish, written as ``F.silu`` by ``ops/activation.py``).  What stays here is what ONNX cannot
say, so only the PyTorch backend can write it:

- ``Reciprocal(Sqrt(x))``  ->  ``torch.rsqrt(x)``: ONNX has no reciprocal square root op.
- ``MatMul(x, Transpose(W)) (+ b)``  ->  ``nn.Linear`` holding ``W`` as it is, named after it
  (how the PyTorch frontend and torch.onnx without constant folding write a linear layer):
  Gemm is 2-D only, so it cannot hold a batched ``x``, and folding the Transpose into the
  weight would store ``W^T`` under a name that is no longer the source's parameter.

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


def find(graph: Graph, const_of) -> tuple[dict[str, Fused], set[str]]:
    """(fused statements keyed by the last node's name, names of nodes absorbed into them)."""
    m = _Matcher(graph, const_of)
    fused: dict[str, Fused] = {}
    skip: set[str] = set()
    for node in graph.nodes:
        if not is_default_domain(node.domain) or node.name in skip:
            continue
        if node.op_type == "MatMul":
            _linear(m, node, fused, skip)
        elif node.op_type == "Reciprocal":
            _rsqrt(m, node, fused, skip)
    return fused, skip


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


def _tensor(c, name: str) -> str:
    """Expression of tensor ``name`` as seen from the node being emitted."""
    v = c.scope.get(name)
    if v.kind == "tensor" and not v.expr and v.const is not None:
        v.expr = c.cg.buffer(v.const, name)
    return v.expr if v.kind == "tensor" else f"torch.tensor({v.expr})"


def _rsqrt(m: _Matcher, rec: Node, fused, skip) -> None:
    sq = m.producer(rec.inputs[0], "Sqrt")
    if sq is not None and m.private(rec.inputs[0]):
        skip.add(sq.name)
        x = sq.inputs[0]
        fused[rec.name] = Fused([x], lambda c, x=x: c.out(f"torch.rsqrt({_tensor(c, x)})"))
