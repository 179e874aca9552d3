"""Convolutions: Conv and ConvTranspose, channels-last (``tf.nn.conv2d``,
``tf.nn.depthwise_conv2d``, ``tf.nn.conv2d_transpose`` ...).

The layout pass (``ir/passes/layout.py``) turns ONNX's channel-first Conv into its
channels-last form with the kernel already spatial-first (HWIO), so the handlers of
domain ``mmconvert.channels_last`` are the ones a model normally reaches.  A plain ONNX
Conv (rank unknown to the pass, or the pass not run) is emitted through the same code
with a transpose on each side.

ONNX semantics kept: explicit asymmetric pads (``tf.nn.conv2d`` takes them; the 1-D and
3-D forms pad first), SAME_UPPER (TensorFlow's SAME) and SAME_LOWER, dilations, groups
(depthwise when every group is one input channel), ConvTranspose's output padding,
output shape and crops.
"""

from __future__ import annotations

import numpy as np

from mmconvert.backends.codegen.geometry import auto_pads, transpose_pads
from mmconvert.ir.passes.layout import CHANNELS_LAST, to_first, to_last

from ..registry import register
from .common import NodeCtx, lit


def spatial_sizes(c: NodeCtx, channels_last: bool) -> list | None:
    s = c.shape(0)
    if s is None:
        return None
    dims = list(s[1:-1]) if channels_last else list(s[2:])
    return [d if isinstance(d, int) else None for d in dims]


def geometry(c: NodeCtx, n: int, kernel_default):
    kernel = list(c.attr("kernel_shape", kernel_default))
    strides = list(c.attr("strides", [1] * n))
    dilations = list(c.attr("dilations", [1] * n))
    return kernel, strides, dilations


def tf_padding(begin, end) -> str:
    """A padding argument for the channels-last tf.nn ops: VALID, or explicit pairs."""
    if not any(begin) and not any(end):
        return '"VALID"'
    return lit([[0, 0]] + [[b, e] for b, e in zip(begin, end)] + [[0, 0]])


def pad_input(x: str, begin, end, value: str = "") -> str:
    pairs = lit([[0, 0]] + [[b, e] for b, e in zip(begin, end)] + [[0, 0]])
    return f"tf.pad({x}, {pairs}{', constant_values=' + value if value else ''})"


def _kernel_shape(c: NodeCtx, wshape, n: int, cl: bool):
    """The spatial kernel size: from the constant kernel, or the kernel input's static type."""
    if wshape is not None:
        return wshape[:n]
    s = c.shape(1)
    if s is None:
        return None
    dims = list(s[:n]) if cl else list(s[2:])
    return dims if all(isinstance(d, int) for d in dims) else None


def _kernel(c: NodeCtx, cl: bool, what: str):
    """(constant kernel spatial-first or None, spatial rank, kernel rank) of a (transposed)
    convolution; an ONNX OI... constant kernel is transposed here, at conversion time."""
    w_const = c.const(1)
    wrank = w_const.ndim if w_const is not None else c.rank(1)
    if wrank is None:
        c.fail("the kernel's rank is unknown")
    n = wrank - 2
    if n not in (1, 2, 3):
        c.fail(f"{n}-D {what}")
    if w_const is not None and not cl:
        w_const = np.ascontiguousarray(np.transpose(w_const, [*range(2, wrank), 1, 0]))
    return w_const, n, wrank


def _kernel_expr(c: NodeCtx, w_const, wrank: int, cl: bool) -> str:
    """The spatial-first kernel as an expression: stored, as given, or transposed at run time."""
    if w_const is not None:
        return c.buffer(w_const, c.node.inputs[1])
    return c.x(1) if cl else f"tf.transpose({c.x(1)}, {[*range(2, wrank), 1, 0]})"


def _conv_body(c: NodeCtx, x: str, cl: bool) -> str:
    """The expression of a channels-last convolution of ``x``; ``cl``: the kernel input is
    already spatial-first (the layout pass's form), else it is ONNX's OI... kernel."""
    w_const, n, wrank = _kernel(c, cl, "convolution")
    wshape = list(w_const.shape) if w_const is not None else None
    kernel, strides, dilations = geometry(c, n, _kernel_shape(c, wshape, n, cl))
    group = int(c.attr("group", 1))
    sizes = spatial_sizes(c, True) if cl else spatial_sizes(c, False)
    pads = auto_pads(c.attr("auto_pad", "NOTSET"), c.attr("pads"), sizes, kernel, strides, dilations)
    w = _kernel_expr(c, w_const, wrank, cl)
    if pads is None:
        if c.attr("auto_pad") == "SAME_UPPER":
            padding = '"SAME"'
        else:
            x = f"{c.helper('pad_same_cl')}({x}, {kernel}, {strides}, {dilations})"
            padding = '"VALID"'
    elif n == 2:
        padding = tf_padding(*pads)
    else:
        if any(pads[0]) or any(pads[1]):
            x = pad_input(x, *pads)
        padding = '"VALID"'
    cin = None
    xs = c.shape(0)
    if xs is not None:
        cin = xs[-1] if cl else xs[1]
    depthwise = (group > 1 and n == 2 and wshape is not None and wshape[2] == 1 and cin == group
                 and not (any(s > 1 for s in strides) and any(d > 1 for d in dilations)))
    st = strides[0] if len(set(strides)) == 1 else strides
    dil = dilations[0] if len(set(dilations)) == 1 else dilations
    if depthwise and padding not in ('"VALID"', '"SAME"'):
        # TensorFlow's grappler fuses a DepthwiseConv2dNative with explicit paddings and the
        # BiasAdd after it, then aborts the process (tensor_format.h "Invalid index from the
        # dimension"): SAME when the pads are SAME's (stride 1), else the input padded first
        begin, end = pads
        totals = [d * (k - 1) for k, d in zip(kernel, dilations)]
        if all(s == 1 for s in strides) and list(begin) == [t // 2 for t in totals] \
                and list(end) == [t - t // 2 for t in totals]:
            padding = '"SAME"'
        else:
            x, padding = pad_input(x, begin, end), '"VALID"'
    if depthwise:
        mult = wshape[3] // group
        wd = c.buffer(np.ascontiguousarray(w_const.reshape(kernel + [group, mult])), c.node.inputs[1])
        args = [x, wd, lit([1, *strides, 1]), padding]
        if any(d != 1 for d in dilations):
            args.append(f"dilations={lit(dilations)}")
        expr = f"tf.nn.depthwise_conv2d({', '.join(args)})"
    else:
        if group > 1 and w_const is None and not cl:
            pass  # tf.nn.conv handles groups by the input/kernel channel ratio
        fn = {1: "tf.nn.conv1d", 2: "tf.nn.conv2d", 3: "tf.nn.conv3d"}[n]
        if n == 3:
            args = [x, w, lit([1, *strides, 1]), padding]
            if any(d != 1 for d in dilations):
                args.append(f"dilations={lit([1, *dilations, 1])}")
        else:
            args = [x, w, lit(st), padding]
            if any(d != 1 for d in dilations):
                args.append(f"dilations={lit(dil)}")
        expr = f"{fn}({', '.join(args)})"
    if c.has(2):
        # grappler's remapper fuses Conv2D + BiasAdd (+ an activation) into _FusedConv2D, which
        # has no grouped form ("Fused conv implementation does not support grouped
        # convolutions" on CPUs without oneDNN): a grouped convolution adds its bias with tf.add
        grouped = group > 1 and not depthwise
        expr = f"tf.add({expr}, {c.x(2)})" if grouped else f"tf.nn.bias_add({expr}, {c.x(2)})"
    return expr


@register("Conv", domain=CHANNELS_LAST)
def conv_cl(c: NodeCtx) -> None:
    c.out(_conv_body(c, c.x(0), cl=True))


@register("Conv")
def conv(c: NodeCtx) -> None:
    r = c.need_rank(0)
    c.out(f"tf.transpose({_conv_body(c, f'tf.transpose({c.x(0)}, {to_last(r)})', cl=False)}, {to_first(r)})")


def _conv_transpose_body(c: NodeCtx, x: str, cl: bool) -> str:
    w_const, n, wrank = _kernel(c, cl, "transposed convolution")
    group = int(c.attr("group", 1))
    wshape = list(w_const.shape) if w_const is not None else None
    kernel, strides, dilations = geometry(c, n, _kernel_shape(c, wshape, n, cl))
    sizes = spatial_sizes(c, cl)
    g = transpose_pads(sizes, kernel, strides, dilations, c.attr("pads"), c.attr("output_padding"),
                       c.attr("output_shape"), c.attr("auto_pad", "NOTSET"))
    if g is None:
        c.fail("output_shape / SAME padding with a dynamic input size")
    begin, end, out_pad = g
    w = _kernel_expr(c, w_const, wrank, cl)
    h = c.helper("conv_transpose_cl")
    bias = c.x(2) if c.has(2) else "None"
    return (f"{h}({x}, {w}, {bias}, {lit(strides)}, {lit(dilations)}, {lit(begin)}, {lit(end)}, {lit(out_pad)}, "
            f"{group})")


@register("ConvTranspose", domain=CHANNELS_LAST)
def conv_transpose_cl(c: NodeCtx) -> None:
    c.out(_conv_transpose_body(c, c.x(0), cl=True))


@register("ConvTranspose")
def conv_transpose(c: NodeCtx) -> None:
    r = c.need_rank(0)
    body = _conv_transpose_body(c, f"tf.transpose({c.x(0)}, {to_last(r)})", cl=False)
    c.out(f"tf.transpose({body}, {to_first(r)})")
