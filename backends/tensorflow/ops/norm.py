"""Normalization: BatchNormalization, InstanceNormalization, LRN (channel-first, and their
channels-last forms from the layout pass), LayerNormalization, LpNormalization.

GroupNormalization, RMSNormalization and MeanVarianceNormalization are emitted through
their ONNX function bodies (see ``ir/passes/expand.py``).
"""

from __future__ import annotations

from mmconvert.ir.passes.layout import CHANNELS_LAST, to_first, to_last

from ..registry import register
from .common import NodeCtx, lit, norm_axis


def _per_channel(c: NodeCtx, i: int, cl: bool) -> str:
    """A per-channel parameter shaped to broadcast against the data (channels last: as it is)."""
    r = c.need_rank(0)
    if cl or r <= 2:
        return c.x(i)
    v = c.const(i)
    if v is not None:
        return c.buffer(v.reshape(v.shape + (1,) * (r - 2)), c.node.inputs[i])
    return f"tf.reshape({c.x(i)}, [-1{', 1' * (r - 2)}])"


def _batch_norm(cl: bool):
    def handler(c: NodeCtx) -> None:
        if int(c.attr("training_mode", 0)):
            if cl:
                c.fail("BatchNormalization in training mode is emitted channel-first")
            args = ", ".join(c.x(i) for i in range(5))
            c.outs(f"{c.helper('batch_norm_training')}({args}, {lit(float(c.attr('epsilon', 1e-5)))}, "
                   f"{lit(float(c.attr('momentum', 0.9)))})[:{len(c.node.outputs)}]")
            return
        eps = lit(float(c.attr("epsilon", 1e-5)))
        scale, bias, mean, var = (_per_channel(c, i, cl) for i in (1, 2, 3, 4))
        c.out(f"tf.nn.batch_normalization({c.x(0)}, {mean}, {var}, {bias}, {scale}, {eps})")
    return handler


register("BatchNormalization", domain=CHANNELS_LAST)(_batch_norm(True))
register("BatchNormalization")(_batch_norm(False))


def _instance_norm(cl: bool):
    def handler(c: NodeCtx) -> None:
        r = c.need_rank(0)
        axes = list(range(1, r - 1)) if cl else list(range(2, r))
        eps = lit(float(c.attr("epsilon", 1e-5)))
        x = c.x(0)
        mean, var = c.tmp("mean"), c.tmp("var")
        c.line(f"{mean}, {var} = tf.nn.moments({x}, {axes}, keepdims=True)")
        c.out(f"tf.nn.batch_normalization({x}, {mean}, {var}, {_per_channel(c, 2, cl)}, {_per_channel(c, 1, cl)}, {eps})")
        c.line(f"del {mean}, {var}")
    return handler


register("InstanceNormalization", domain=CHANNELS_LAST)(_instance_norm(True))
register("InstanceNormalization")(_instance_norm(False))


def _lrn(c: NodeCtx, x: str) -> str:
    size = int(c.attr("size"))
    alpha, beta, bias = float(c.attr("alpha", 1e-4)), float(c.attr("beta", 0.75)), float(c.attr("bias", 1.0))
    if size % 2 == 1 and c.rank(0) == 4 and c.dtype(0) in ("float32", "float16", "bfloat16"):
        return (f"tf.nn.local_response_normalization({x}, depth_radius={(size - 1) // 2}, bias={lit(bias)}, "
                f"alpha={lit(alpha / size)}, beta={lit(beta)})")
    return f"{c.helper('lrn_cl')}({x}, {size}, {lit(alpha)}, {lit(beta)}, {lit(bias)})"


@register("LRN", domain=CHANNELS_LAST)
def lrn_cl(c: NodeCtx) -> None:
    c.out(_lrn(c, c.x(0)))


@register("LRN")
def lrn(c: NodeCtx) -> None:
    r = c.need_rank(0)
    c.out(f"tf.transpose({_lrn(c, f'tf.transpose({c.x(0)}, {to_last(r)})')}, {to_first(r)})")


@register("LayerNormalization", since=17)
def layer_norm(c: NodeCtx) -> None:
    r = c.need_rank(0)
    axis = norm_axis(int(c.attr("axis", -1)), r)
    eps = lit(float(c.attr("epsilon", 1e-5)))
    axes = list(range(axis, r))
    x = c.x(0)
    stash = int(c.attr("stash_type", 1))
    dt = c.dtype(0)
    wide = stash == 1 and dt in ("float16", "bfloat16")
    xin = f"tf.cast({x}, tf.float32)" if wide else x
    used = c.used_outputs()
    extra = [j for j in (1, 2) if len(c.node.outputs) > j and c.node.outputs[j] in used]
    mean, var = c.tmp("mean"), c.tmp("var")
    c.line(f"{mean}, {var} = tf.nn.moments({xin}, {axes}, keepdims=True)")
    bias = c.x(2) if c.has(2) else "None"
    y = f"tf.nn.batch_normalization({xin}, {mean}, {var}, {bias}, {c.x(1)}, {eps})"
    if wide:
        y = f"tf.cast(tf.nn.batch_normalization({xin}, {mean}, {var}, None, None, {eps}), {x}.dtype) * {c.x(1)}" \
            + (f" + {bias}" if c.has(2) else "")
    c.out(y, 0)
    if 1 in extra:
        c.out(f"tf.identity({mean})", 1)
    if 2 in extra:
        c.out(f"tf.math.rsqrt({var} + {eps})", 2)
    c.line(f"del {mean}, {var}")


@register("LpNormalization")
def lp_norm(c: NodeCtx) -> None:
    p = int(c.attr("p", 2))
    axis = int(c.attr("axis", -1))
    x = c.x(0)
    norm = f"tf.math.reduce_sum(tf.math.abs({x}), {axis}, keepdims=True)" if p == 1 else \
        f"tf.math.sqrt(tf.math.reduce_sum(tf.math.square({x}), {axis}, keepdims=True))"
    c.out(f"tf.math.divide_no_nan({x}, {norm})")
