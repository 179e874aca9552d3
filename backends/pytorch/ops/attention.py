"""Attention ops: Attention (as ``F.scaled_dot_product_attention`` when it is the plain
form, else an exact helper), RotaryEmbedding."""

from __future__ import annotations

import numpy as np

from mmconvert.ir import dtypes

from ..dialect import NodeCtx, lit, torch_dtype
from ..registry import register


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


@register("Attention", since=23)
def attention(c: NodeCtx) -> None:
    used = c.used_outputs()
    extra = any(o in used for o in c.node.outputs[1:] if o)
    scale = c.attr("scale")
    plain = (not extra and c.rank(0) == 4 and c.dtype(0) == "float32" and not any(c.has(i) for i in (4, 5, 6)) and not c.attr("softcap")
             and c.attr("softmax_precision") is None and c.attr("left_window_size", -1) == -1
             and c.attr("right_window_size", -1) == -1 and not (c.has(3) and c.attr("is_causal", 0)))
    q_shape, k_shape = c.shape(0), c.shape(1)
    # a mask of Q's dtype is added to the scores and a bool one says where to attend, in ONNX
    # as in F.scaled_dot_product_attention; both broadcast the same way
    mask_ok = not c.has(3) or (c.dtype(3) in ("bool", c.dtype(0)) and c.rank(3) is not None and 2 <= c.rank(3) <= 4)
    if plain and mask_ok and q_shape is not None and k_shape is not None and q_shape[1] == k_shape[1] \
            and not (c.attr("is_causal", 0) and q_shape[2] != k_shape[2]):
        args = [c.x(0), c.x(1), c.x(2)]
        causal = bool(c.attr("is_causal", 0))
        if c.has(3):
            const_mask = c.const(3)
            kind = mask_kind(const_mask) if const_mask is not None else None
            if kind == "causal" and q_shape[2] == k_shape[2]:
                causal = True
            elif kind != "none":
                args.append(f"attn_mask={c.x(3)}")
        if causal:
            args.append("is_causal=True")
        if scale is not None:
            args.append(f"scale={lit(float(scale))}")
        c.out(f"F.scaled_dot_product_attention({', '.join(args)})")
        return
    h = c.helper("attention_onnx")
    args = [c.x(i) if c.has(i) else "None" for i in range(min(c.n_in, 7))]
    while len(args) < 7:
        args.append("None")
    kw = []
    if scale is not None:
        kw.append(f"scale={lit(float(scale))}")
    if c.attr("is_causal", 0):
        kw.append("is_causal=True")
    for name, key in (("q_num_heads", "q_num_heads"), ("kv_num_heads", "kv_num_heads")):
        if c.attr(key) is not None:
            kw.append(f"{name}={int(c.attr(key))}")
    if c.attr("softcap"):
        kw.append(f"softcap={lit(float(c.attr('softcap')))}")
    if c.attr("qk_matmul_output_mode") is not None:
        kw.append(f"qk_mode={int(c.attr('qk_matmul_output_mode'))}")
    if c.attr("softmax_precision") is not None:
        kw.append(f"softmax_dtype={torch_dtype(dtypes.from_onnx(int(c.attr('softmax_precision'))))}")
    if c.attr("left_window_size", -1) != -1:
        kw.append(f"left_window={int(c.attr('left_window_size'))}")
    if c.attr("right_window_size", -1) != -1:
        kw.append(f"right_window={int(c.attr('right_window_size'))}")
    expr = f"{h}({', '.join(args + kw)})"
    if extra:
        c.outs(f"{expr}[:{len(c.node.outputs)}]")
    else:
        c.out(f"{expr}[0]")


@register("RotaryEmbedding", since=23)
def rotary_embedding(c: NodeCtx) -> None:
    h = c.helper("rotary_embedding_onnx")
    pos = c.x(3) if c.has(3) else "None"
    c.out(f"{h}({c.x(0)}, {c.x(1)}, {c.x(2)}, {pos}, {bool(c.attr('interleaved', 0))}, "
          f"{int(c.attr('rotary_embedding_dim', 0))}, {int(c.attr('num_heads', 0))})")


@register("LinearAttention", since=27)
def linear_attention(c: NodeCtx) -> None:
    h = c.helper("linear_attention_onnx")
    args = [c.x(i) if c.has(i) else "None" for i in range(6)]
    scale = float(c.attr("scale", 0.0) or 0.0)
    c.outs(f"{h}({', '.join(args)}, {int(c.attr('q_num_heads'))}, {int(c.attr('kv_num_heads'))}, {lit(scale)}, "
           f"{c.attr('update_rule', 'gated_delta')!r})")


@register("CausalConvWithState", since=27)
def causal_conv(c: NodeCtx) -> None:
    h = c.helper("causal_conv_with_state")
    args = [c.x(i) if c.has(i) else "None" for i in range(4)]
    c.outs(f"{h}({', '.join(args)}, {c.attr('activation', 'none')!r})[:{len(c.node.outputs)}]")


@register("TensorScatter", since=24)
def tensor_scatter(c: NodeCtx) -> None:
    h = c.helper("tensor_scatter")
    wi = c.x(2) if c.has(2) else "None"
    c.out(f"{h}({c.x(0)}, {c.x(1)}, {wi}, {c.attr('mode', 'linear')!r}, {int(c.attr('axis', -2))})")
