"""Pooling, channels-last: MaxPool, AveragePool, LpPool and their global forms.

Padding, ``ceil_mode`` and ``count_include_pad`` are resolved at conversion time when the
spatial sizes are static: the window op then runs VALID (or TensorFlow's SAME when that
is the same thing) on an explicitly padded input, with -inf for max pooling and a count
of the real elements for an average that excludes the padding.  Dilated windows and
sizes known only at run time go through helpers.  MaxPool's Indices output is defined on
the channel-first layout, so a MaxPool that returns it keeps that layout.
"""

from __future__ import annotations

from mmconvert.backends.codegen.geometry import auto_pads, ceil_extra, same_pads
from mmconvert.ir.passes.layout import CHANNELS_LAST, to_first, to_last

from ..registry import register
from .common import NodeCtx, lit
from .conv import geometry, pad_input, spatial_sizes


def _window(c: NodeCtx, cl: bool):
    n = len(c.attr("kernel_shape"))
    kernel, strides, dilations = geometry(c, n, None)
    sizes = spatial_sizes(c, cl)
    pads = auto_pads(c.attr("auto_pad", "NOTSET"), c.attr("pads"), sizes, kernel, strides, dilations)
    extra = None
    if pads is not None:
        extra = ceil_extra(sizes, kernel, strides, dilations, *pads) if int(c.attr("ceil_mode", 0)) else [0] * n
    return n, kernel, strides, dilations, pads, extra


def _is_tf_same(sizes, kernel, strides, begin, end) -> bool:
    """Whether (begin, end) padding is what TensorFlow's SAME pads (no dilation), and not none."""
    if sizes is None or None in sizes or not (any(begin) or any(end)):
        return False
    same = [same_pads(s, k, st, 1, True) for s, k, st in zip(sizes, kernel, strides)]
    return [b for b, _ in same] == list(begin) and [e for _, e in same] == list(end)


def _k(values) -> str:
    return lit(values[0]) if len(set(values)) == 1 else lit(values)


def _max_pool(c: NodeCtx, x: str, cl: bool) -> str:
    n, kernel, strides, dilations, pads, extra = _window(c, cl)
    if n not in (1, 2, 3):
        c.fail(f"{n}-D pooling")
    lowest = "-math.inf" if c.dtype(0) in ("float32", "float64", "float16", "bfloat16") else f"{x}.dtype.min"
    if pads is None or any(d != 1 for d in dilations):
        h = c.helper("max_pool_cl")
        p = "None" if pads is None else lit(list(pads[0]) + list(pads[1]))
        return (f"{h}({x}, {lit(kernel)}, {lit(strides)}, {lit(dilations)}, {p}, {bool(c.attr('ceil_mode', 0))}, "
                f"{c.attr('auto_pad', 'NOTSET')!r})")
    begin, end = pads
    end = [e + x_ for e, x_ in zip(end, extra)]
    fn = {1: "tf.nn.max_pool1d", 2: "tf.nn.max_pool2d", 3: "tf.nn.max_pool3d"}[n]
    if _is_tf_same(spatial_sizes(c, cl), kernel, strides, begin, end):
        return f"{fn}({x}, {_k(kernel)}, {_k(strides)}, \"SAME\")"
    if any(begin) or any(end):
        x = pad_input(x, begin, end, lowest)
    return f"{fn}({x}, {_k(kernel)}, {_k(strides)}, \"VALID\")"


def _avg_pool(c: NodeCtx, x: str, cl: bool) -> str:
    n, kernel, strides, dilations, pads, extra = _window(c, cl)
    if n not in (1, 2, 3):
        c.fail(f"{n}-D pooling")
    include = bool(int(c.attr("count_include_pad", 0)))
    fn = {1: "tf.nn.avg_pool1d", 2: "tf.nn.avg_pool2d", 3: "tf.nn.avg_pool3d"}[n]
    if pads is not None and all(d == 1 for d in dilations):
        begin, end = pads
        if not any(begin) and not any(end) and not any(extra):
            return f"{fn}({x}, {_k(kernel)}, {_k(strides)}, \"VALID\")"
        if not include and _is_tf_same(spatial_sizes(c, cl), kernel, strides, begin,
                                       [e + x_ for e, x_ in zip(end, extra)]):
            return f"{fn}({x}, {_k(kernel)}, {_k(strides)}, \"SAME\")"
    h = c.helper("avg_pool_cl")
    p = "None" if pads is None else lit(list(pads[0]) + list(pads[1]))
    return (f"{h}({x}, {lit(kernel)}, {lit(strides)}, {lit(dilations)}, {p}, {bool(int(c.attr('ceil_mode', 0)))}, "
            f"{include}, {c.attr('auto_pad', 'NOTSET')!r})")


def _lp_pool(c: NodeCtx, x: str, cl: bool) -> str:
    n, kernel, strides, dilations, pads, extra = _window(c, cl)
    h = c.helper("lp_pool_cl")
    p = "None" if pads is None else lit(list(pads[0]) + list(pads[1]))
    return (f"{h}({x}, {int(c.attr('p', 2))}, {lit(kernel)}, {lit(strides)}, {lit(dilations)}, {p}, "
            f"{bool(int(c.attr('ceil_mode', 0)))}, {c.attr('auto_pad', 'NOTSET')!r})")


def _both(op: str, body, since: int = 1):
    """Register ``body`` for the channels-last op and, with transposes around it, the ONNX op."""
    register(op, domain=CHANNELS_LAST)(lambda c: c.out(body(c, c.x(0), True)))

    def channel_first(c: NodeCtx) -> None:
        r = c.need_rank(0)
        c.out(f"tf.transpose({body(c, f'tf.transpose({c.x(0)}, {to_last(r)})', False)}, {to_first(r)})")
    register(op, since=since)(channel_first)


_both("AveragePool", _avg_pool)
_both("LpPool", _lp_pool, since=11)


@register("MaxPool", domain=CHANNELS_LAST)
def max_pool_cl(c: NodeCtx) -> None:
    c.out(_max_pool(c, c.x(0), True))


@register("MaxPool")
def max_pool(c: NodeCtx) -> None:
    r = c.need_rank(0)
    if len(c.node.outputs) > 1 and c.node.outputs[1] and c.node.outputs[1] in c.used_outputs():
        n, kernel, strides, dilations, pads, extra = _window(c, False)
        if n != 2 or pads is None or any(d != 1 for d in dilations):
            c.fail("MaxPool's Indices output is emitted for 2-D windows without dilation on static sizes")
        end = [e + x for e, x in zip(pads[1], extra)]
        c.outs(f"{c.helper('max_pool_indices')}({c.x(0)}, {lit(kernel)}, {lit(strides)}, {lit(pads[0])}, {lit(end)}, "
               f"{int(c.attr('storage_order', 0))})")
        return
    c.out(f"tf.transpose({_max_pool(c, f'tf.transpose({c.x(0)}, {to_last(r)})', False)}, {to_first(r)})")


def _global(template: str):
    def cl(c: NodeCtx) -> None:
        r = c.need_rank(0)
        c.out(template.format(x=c.x(0), axes=lit(list(range(1, r - 1))), p=int(c.attr("p", 2))))

    def cf(c: NodeCtx) -> None:
        r = c.need_rank(0)
        c.out(template.format(x=c.x(0), axes=lit(list(range(2, r))), p=int(c.attr("p", 2))))
    return cl, cf


for _op, _tpl in (("GlobalAveragePool", "tf.math.reduce_mean({x}, {axes}, keepdims=True)"),
                  ("GlobalMaxPool", "tf.math.reduce_max({x}, {axes}, keepdims=True)"),
                  ("GlobalLpPool", "tf.math.pow(tf.math.reduce_sum(tf.math.pow(tf.math.abs({x}), {p}), {axes}, "
                                  "keepdims=True), 1 / {p})")):
    _cl, _cf = _global(_tpl)
    register(_op, domain=CHANNELS_LAST)(_cl)
    register(_op, since=2 if _op == "GlobalLpPool" else 1)(_cf)
