"""scaled_dot_product_attention, written as ONNX computes it (and as the PyTorch backend
recognizes it again): ``Softmax(q * scale @ K^T (+ mask)) @ V``."""

from __future__ import annotations

import math

import numpy as np

from . import aten, unmapped
from ..tensors import np_dtype


@aten("scaled_dot_product_attention.default", "_scaled_dot_product_flash_attention_for_cpu.default")
def sdpa(c):
    q, k, v = c["query"], c["key"], c["value"]
    if c.get("dropout_p", 0.0):
        unmapped(c, "attention dropout (call .eval() first)")
    dt = c.dtype(q)
    qs, ks, vs = c.shape(q), c.shape(k), c.shape(v)
    r = len(qs)
    if len(ks) != r or len(vs) != r:
        unmapped(c, "query, key and value of different ranks")
    if c.get("enable_gqa") and not _eq(qs[-3], ks[-3]):
        unmapped(c, "grouped-query attention")
    e = qs[-1]
    if not isinstance(e, int) and not e.node.expr.is_Integer:
        unmapped(c, "a dynamic head size")
    scale = c.get("scale")
    scale = float(scale) if scale is not None else 1.0 / math.sqrt(int(e))
    perm = list(range(r))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    kt = c.op("Transpose", [c.x(k)], perm=perm, _type=c.vtype(dt, [*ks[:-2], ks[-1], ks[-2]]))
    qscaled = c.op("Mul", [c.x(q), c.x(scale, dt)], _type=c.vtype(dt, qs))
    score_dims = [*qs[:-1], ks[-2]]
    scores = c.op("MatMul", [qscaled, kt], _type=c.vtype(dt, score_dims))
    mask = c.get("attn_mask")
    if c.get("is_causal"):
        if mask is not None:
            unmapped(c, "a causal attention with a mask")
        L, S = qs[-2], ks[-2]
        if not (isinstance(L, int) or L.node.expr.is_Integer) or not (isinstance(S, int) or S.node.expr.is_Integer):
            causal = _dynamic_causal(c, scores, dt)
        else:
            L, S = int(L), int(S)
            arr = np.triu(np.full((L, S), -np.inf, dtype=np_dtype(dt)), k=1)
            causal = c.const(arr, "causal_mask")
        scores = c.op("Add", [scores, causal], _type=c.vtype(dt, score_dims))
    if mask is not None:
        m = c.x(mask)
        if c.dtype(mask) == "bool":
            m = c.op("Where", [m, c.x(0.0, dt), c.x(-math.inf, dt)])
        elif c.dtype(mask) != dt:
            m = c.cast(m, dt)
        scores = c.op("Add", [scores, m], _type=c.vtype(dt, score_dims))
    probs = c.op("Softmax", [scores], axis=r - 1, _type=c.vtype(dt, score_dims))
    if mask is not None:
        # a fully masked row: torch returns zeros where the softmax gives NaN
        probs = c.op("Where", [c.op("IsNaN", [probs]), c.x(0.0, dt), probs], _type=c.vtype(dt, score_dims))
    return c.out("MatMul", [probs, c.x(v)])


def _eq(a, b) -> bool:
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    return not isinstance(a, int) and not isinstance(b, int) and a.node.expr == b.node.expr


def _dynamic_causal(c, scores: str, dt: str) -> str:
    """-inf above the diagonal of the last two dims of ``scores`` (sizes known only at run time)."""
    shape = c.op("Shape", [scores], start=-2)
    ones = c.op("ConstantOfShape", [shape], value=np.array([True]))
    lower = c.op("Trilu", [ones], upper=0)
    return c.op("Where", [lower, c.x(0.0, dt), c.x(-math.inf, dt)])
