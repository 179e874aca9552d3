"""Reductions, ArgMax/ArgMin, TopK, CumSum/CumProd.

ONNX's empty ``axes`` means every axis (unless ``noop_with_empty_axes``); TensorFlow's
empty axis list means none, so axes known only at run time go through a helper.
"""

from __future__ import annotations

from ..registry import register
from .common import NodeCtx, lit, norm_axis

_REDUCE = {
    "ReduceSum": "tf.math.reduce_sum({x}, {axes}keepdims={keep})",
    "ReduceMean": "tf.math.reduce_mean({x}, {axes}keepdims={keep})",
    "ReduceMax": "tf.math.reduce_max({x}, {axes}keepdims={keep})",
    "ReduceMin": "tf.math.reduce_min({x}, {axes}keepdims={keep})",
    "ReduceProd": "tf.math.reduce_prod({x}, {axes}keepdims={keep})",
    "ReduceL1": "tf.math.reduce_sum(tf.math.abs({x}), {axes}keepdims={keep})",
    "ReduceL2": "tf.math.sqrt(tf.math.reduce_sum(tf.math.square({x}), {axes}keepdims={keep}))",
    "ReduceSumSquare": "tf.math.reduce_sum(tf.math.square({x}), {axes}keepdims={keep})",
    "ReduceLogSum": "tf.math.log(tf.math.reduce_sum({x}, {axes}keepdims={keep}))",
    "ReduceLogSumExp": "tf.math.reduce_logsumexp({x}, {axes}keepdims={keep})",
}


def _reducer(template: str):
    def handler(c: NodeCtx) -> None:
        keep = bool(int(c.attr("keepdims", 1)))
        noop = int(c.attr("noop_with_empty_axes", 0))
        x = c.x(0)
        if c.has(1) and c.int_list(1) is None:
            c.out(f"{c.helper('reduce_onnx')}({x}, {c.x(1)}, {keep}, {bool(noop)}, {c.node.op_type!r})")
            return
        axes = c.int_list(1) if c.has(1) else None
        if not axes:
            if noop:
                c.alias(0, 0)
                return
            axes_arg = ""
        else:
            axes_arg = f"{lit(axes[0]) if len(axes) == 1 else lit(axes)}, "
        if c.dtype(0) == "bool" and c.node.op_type in ("ReduceMax", "ReduceMin"):
            template_ = template.replace("reduce_max", "reduce_any").replace("reduce_min", "reduce_all")
            c.out(template_.format(x=x, axes=axes_arg, keep=keep))
            return
        c.out(template.format(x=x, axes=axes_arg, keep=keep))
    return handler


for _op, _tpl in _REDUCE.items():
    register(_op, since=18 if _op != "ReduceSum" else 13)(_reducer(_tpl))


def _arg(fn: str):
    def handler(c: NodeCtx) -> None:
        axis = norm_axis(int(c.attr("axis", 0)), c.rank(0))
        keep = int(c.attr("keepdims", 1))
        x = c.x(0)
        if int(c.attr("select_last_index", 0)):
            expr = f"tf.shape({x}, out_type=tf.int64)[{axis}] - 1 - {fn}(tf.reverse({x}, [{axis}]), axis={axis})"
        else:
            expr = f"{fn}({x}, axis={axis})"
        c.out(f"tf.expand_dims({expr}, {axis})" if keep else expr)
    return handler


register("ArgMax", since=13)(_arg("tf.math.argmax"))
register("ArgMin", since=13)(_arg("tf.math.argmin"))


@register("TopK", since=11)
def topk(c: NodeCtx) -> None:
    axis = norm_axis(int(c.attr("axis", -1)), c.need_rank(0))
    largest = bool(int(c.attr("largest", 1)))
    c.outs(f"{c.helper('topk_onnx')}({c.x(0)}, {c.x(1)}, {axis}, {largest})")


@register("CumSum", since=11)
def cumsum(c: NodeCtx) -> None:
    _cum(c, "tf.math.cumsum")


@register("CumProd", since=26)
def cumprod(c: NodeCtx) -> None:
    _cum(c, "tf.math.cumprod")


def _cum(c: NodeCtx, fn: str) -> None:
    s = c.scalar(1)
    axis = str(int(s)) if s is not None else f"tf.reshape({c.x(1)}, [])"
    args = [c.x(0), f"axis={axis}"]
    if int(c.attr("exclusive", 0)):
        args.append("exclusive=True")
    if int(c.attr("reverse", 0)):
        args.append("reverse=True")
    c.out(f"{fn}({', '.join(args)})")
