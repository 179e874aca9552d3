"""Convolutions: Conv, ConvTranspose (as ``nn.ConvNd`` / ``nn.ConvTransposeNd`` when the
weights are constants), DeformConv, Col2Im."""

from __future__ import annotations

from mmconvert.backends.codegen.geometry import auto_pads, transpose_pads

from ..dialect import NodeCtx
from ..registry import register


def spatial_pads(c: NodeCtx, n: int, kernel: list[int], strides: list[int], dilations: list[int]):
    """(begin pads, end pads) per spatial dim, or None when they depend on a dynamic size."""
    shape = c.shape(0)
    return auto_pads(c.attr("auto_pad", "NOTSET"), c.attr("pads"), None if shape is None else list(shape[2:]),
                     kernel, strides, dilations)


def torch_pad(begin: list[int], end: list[int]) -> list[int]:
    """ONNX begin/end pads -> F.pad's order (last dim first)."""
    out: list[int] = []
    for b, e in zip(reversed(begin), reversed(end)):
        out += [b, e]
    return out


def pad_expr(c: NodeCtx, x: str, n: int, kernel, strides, dilations, value: str | None = None, ceil: bool = False):
    """(input expression, symmetric padding) after resolving auto_pad / asymmetric pads."""
    pads = spatial_pads(c, n, kernel, strides, dilations)
    if pads is None:
        upper = c.attr("auto_pad") == "SAME_UPPER"
        h = c.helper("pad_same")
        v = f", value={value}" if value else ""
        return f"{h}({x}, {kernel}, {strides}, {dilations}, {upper}{v})", [0] * n
    begin, end = pads
    if begin == end:
        return x, begin
    sym = [min(b, e) for b, e in zip(begin, end)]
    extra_b = [b - s for b, s in zip(begin, sym)]
    extra_e = [e - s for e, s in zip(end, sym)]
    v = f", value={value}" if value else ""
    return f"F.pad({x}, {torch_pad(extra_b, extra_e)}{v})", sym


def _conv_attrs(c: NodeCtx, what: str):
    """(weight constant or None, spatial rank, kernel, strides, dilations, group) of Conv/ConvTranspose."""
    w = c.const(1)
    wrank = w.ndim if w is not None else c.rank(1)
    if wrank is None:
        wrank = c.need_rank(0)
    n = wrank - 2
    if n not in (1, 2, 3):
        c.fail(f"{n}-D {what}")
    wshape = w.shape if w is not None else c.shape(1)
    kernel = list(c.attr("kernel_shape", wshape[2:]))
    strides = list(c.attr("strides", [1] * n))
    dilations = list(c.attr("dilations", [1] * n))
    return w, n, kernel, strides, dilations, int(c.attr("group", 1))


@register("Conv")
def conv(c: NodeCtx) -> None:
    w, n, kernel, strides, dilations, group = _conv_attrs(c, "convolution")
    x, padding = pad_expr(c, c.x(0), n, kernel, strides, dilations)
    b = c.const(2) if c.has(2) else None
    if w is not None and (not c.has(2) or b is not None):
        cin = w.shape[1] * group
        args = [f"{cin}", f"{w.shape[0]}", f"kernel_size={tuple(kernel)}"]
        if any(s != 1 for s in strides):
            args.append(f"stride={tuple(strides)}")
        if any(padding):
            args.append(f"padding={tuple(padding)}")
        if any(d != 1 for d in dilations):
            args.append(f"dilation={tuple(dilations)}")
        if group != 1:
            args.append(f"groups={group}")
        if b is None:
            args.append("bias=False")
        dt = c.dtype(1)
        if dt != "float32":
            from ..dialect import torch_dtype
            args.append(f"dtype={torch_dtype(dt)}")
        base = _param_base(c, 1)
        mod = c.module(f"nn.Conv{n}d({', '.join(args)})", {"weight": w, "bias": b}, base=base)
        c.out(f"{mod}({x})")
        return
    bias = c.x(2) if c.has(2) else "None"
    c.out(f"F.conv{n}d({x}, {c.x(1)}, {bias}, {tuple(strides)}, {tuple(padding)}, {tuple(dilations)}, {group})")


def _param_base(c: NodeCtx, i: int) -> str | None:
    """The layer name a weight's source name implies (``layer1.0.conv1.weight`` -> ``layer1.0.conv1``)."""
    name = c.node.inputs[i]
    for suffix in (".weight", "_weight", ".W", "_W"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


@register("ConvTranspose")
def conv_transpose(c: NodeCtx) -> None:
    w, n, kernel, strides, dilations, group = _conv_attrs(c, "transposed convolution")
    out_pad = list(c.attr("output_padding", [0] * n))
    output_shape = c.attr("output_shape")
    auto = c.attr("auto_pad", "NOTSET")
    in_shape = c.shape(0)
    sizes = None if in_shape is None else list(in_shape[2:])
    geometry = transpose_pads(sizes, kernel, strides, dilations, c.attr("pads"), out_pad, output_shape, auto)
    if geometry is None:
        c.fail("output_shape / SAME padding with a dynamic input size")
    begin, end, out_pad = geometry
    sym = [min(b, e) for b, e in zip(begin, end)]
    crop_b = [b - s for b, s in zip(begin, sym)]
    crop_e = [e - s for e, s in zip(end, sym)]
    # torch needs output_padding < max(stride, dilation): move the excess into a crop/pad
    extra = [0] * n
    for i in range(n):
        limit = max(strides[i], dilations[i]) - 1
        if out_pad[i] > limit:
            extra[i] = out_pad[i] - limit
            out_pad[i] = limit
    x = c.x(0)
    b = c.const(2) if c.has(2) else None
    if w is not None and (not c.has(2) or b is not None):
        args = [f"{w.shape[0]}", f"{w.shape[1] * group}", f"kernel_size={tuple(kernel)}"]
        if any(s != 1 for s in strides):
            args.append(f"stride={tuple(strides)}")
        if any(sym):
            args.append(f"padding={tuple(sym)}")
        if any(out_pad):
            args.append(f"output_padding={tuple(out_pad)}")
        if group != 1:
            args.append(f"groups={group}")
        if b is None:
            args.append("bias=False")
        if any(d != 1 for d in dilations):
            args.append(f"dilation={tuple(dilations)}")
        mod = c.module(f"nn.ConvTranspose{n}d({', '.join(args)})", {"weight": w, "bias": b}, base=_param_base(c, 1))
        expr = f"{mod}({x})"
    else:
        bias = c.x(2) if c.has(2) else "None"
        expr = (f"F.conv_transpose{n}d({x}, {c.x(1)}, {bias}, {tuple(strides)}, {tuple(sym)}, {tuple(out_pad)},"
                f" {group}, {tuple(dilations)})")
    if any(extra):
        expr = f"F.pad({expr}, {[v for e in reversed(extra) for v in (0, e)]})"
    if any(crop_b) or any(crop_e):
        idx = ", ".join(f"{b}:{(-e) if e else ''}" for b, e in zip(crop_b, crop_e))
        expr = f"{expr}[..., {idx}]"
    c.out(expr)


@register("DeformConv", since=19)
def deform_conv(c: NodeCtx) -> None:
    if c.rank(0) != 4:
        c.fail("DeformConv is emitted for 2-D images")
    h = c.helper("deform_conv_onnx")
    args = [c.x(i) if c.has(i) else "None" for i in range(5)]
    strides = list(c.attr("strides", [1, 1]))
    pads = list(c.attr("pads", [0, 0, 0, 0]))
    dilations = list(c.attr("dilations", [1, 1]))
    c.out(f"{h}({', '.join(args)}, {strides}, {pads}, {dilations}, {int(c.attr('group', 1))}, "
          f"{int(c.attr('offset_group', 1))})")


@register("Col2Im", since=18)
def col2im(c: NodeCtx) -> None:
    n = len(c.int_list(1) or []) or 2
    dil = list(c.attr("dilations", [1] * n))
    pads = list(c.attr("pads", [0] * 2 * n))
    strides = list(c.attr("strides", [1] * n))
    if n != 2 or pads[:2] != pads[2:]:
        c.fail("Col2Im is emitted for 2-D images with symmetric pads only")
    c.out(f"F.fold({c.x(0)}, {c.ints(1)}, {c.ints(2)}, dilation={tuple(dil)}, padding={tuple(pads[:2])}, "
          f"stride={tuple(strides)})")

