"""Convolutions: conv1d/2d/3d (explicit or "same"/"valid" padding), convolution, and the
transposed ones."""

from __future__ import annotations

from . import aten, unmapped
from .common import int_list


def _expand(v, n: int) -> list[int]:
    v = int_list(v)
    return [int(x) for x in (v * n if len(v) == 1 else v)]


def _conv(c, x, w, b, stride, padding, dilation, groups, transposed=False, output_padding=None):
    wshape = c.shape(w)
    n = len(wshape) - 2
    if n not in (1, 2, 3):
        unmapped(c, f"{n}-D convolution")
    if not c.static(wshape):
        unmapped(c, "a weight of dynamic shape")
    kernel = [int(k) for k in wshape[2:]]
    strides, dilations = _expand(stride, n), _expand(dilation, n)
    if isinstance(padding, str):
        if padding == "valid":
            pads = [0] * (2 * n)
        else:  # "same" (stride 1): the extra pad goes to the end, as torch does
            total = [d * (k - 1) for d, k in zip(dilations, kernel)]
            pads = [t // 2 for t in total] + [t - t // 2 for t in total]
    else:
        p = _expand(padding, n)
        pads = p + p
    dt = c.out_dtype()
    inputs = [c.x(x, dt), c.x(w, dt)] + ([c.x(b, dt)] if b is not None else [])
    attrs = dict(kernel_shape=kernel, strides=strides, dilations=dilations, pads=pads, group=int(groups))
    if transposed:
        op = _expand(output_padding or [0], n)
        if any(op):
            attrs["output_padding"] = op
        return c.out("ConvTranspose", inputs, **attrs)
    return c.out("Conv", inputs, **attrs)


@aten("conv1d.default", "conv2d.default", "conv3d.default", "conv1d.padding", "conv2d.padding", "conv3d.padding")
def conv(c):
    return _conv(c, c["input"], c["weight"], c.get("bias"), c.get("stride", 1), c.get("padding", 0),
                 c.get("dilation", 1), c.get("groups", 1))


@aten("convolution.default", "_convolution.default")
def convolution(c):
    return _conv(c, c["input"], c["weight"], c.get("bias"), c["stride"], c["padding"], c["dilation"], c["groups"],
                 transposed=bool(c["transposed"]), output_padding=c["output_padding"])


@aten("conv_transpose1d.default", "conv_transpose2d.input", "conv_transpose3d.input")
def conv_transpose(c):
    return _conv(c, c["input"], c["weight"], c.get("bias"), c.get("stride", 1), c.get("padding", 0),
                 c.get("dilation", 1), c.get("groups", 1), transposed=True, output_padding=c.get("output_padding", 0))
