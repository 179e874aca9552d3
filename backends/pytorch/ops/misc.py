"""Losses, quantization, NMS, Unique, BitCast, GridSample, AffineGrid."""

from __future__ import annotations

from mmconvert.ir import dtypes

from ..dialect import NodeCtx, torch_dtype
from ..registry import register


def _nll_args(c: NodeCtx) -> str:
    args = []
    if c.has(2):
        args.append(f"weight={c.x(2)}")
    ignore = c.attr("ignore_index")
    if ignore is not None:
        args.append(f"ignore_index={int(ignore)}")
    args.append(f"reduction={c.attr('reduction', 'mean')!r}")
    return ", ".join(args)


@register("NegativeLogLikelihoodLoss", since=13)
def nll_loss(c: NodeCtx) -> None:
    c.out(f"F.nll_loss({c.x(0)}, {c.x(1)}.long(), {_nll_args(c)})")


@register("SoftmaxCrossEntropyLoss", since=13)
def softmax_ce(c: NodeCtx) -> None:
    used = c.used_outputs()
    x = c.x(0)
    if len(c.node.outputs) > 1 and c.node.outputs[1] in used:
        logp = c.out(f"F.log_softmax({x}, dim=1)", j=1)
        c.out(f"F.nll_loss({logp}, {c.x(1)}.long(), {_nll_args(c)})", j=0)
    else:
        c.out(f"F.nll_loss(F.log_softmax({x}, dim=1), {c.x(1)}.long(), {_nll_args(c)})")


@register("BitCast", since=26)
def bitcast(c: NodeCtx) -> None:
    to = dtypes.from_onnx(int(c.attr("to")))
    c.out(f"{c.x(0)}.view({torch_dtype(to)})")


@register("Unique", since=11)
def unique(c: NodeCtx) -> None:
    h = c.helper("unique_onnx")
    axis = c.attr("axis")
    c.outs(f"{h}({c.x(0)}, {None if axis is None else int(axis)}, {bool(c.attr('sorted', 1))})[:{len(c.node.outputs)}]")


@register("NonMaxSuppression", since=11)
def nms(c: NodeCtx) -> None:
    h = c.helper("nms_onnx")
    args = [c.x(0), c.x(1)] + [c.x(i) if c.has(i) else "None" for i in (2, 3, 4)]
    c.out(f"{h}({', '.join(args)}, {int(c.attr('center_point_box', 0))})")


@register("QuantizeLinear", since=10)
def quantize(c: NodeCtx) -> None:
    h = c.helper("quantize_linear")
    out = c.out_dtype()
    if out is None:
        out = c.dtype(2) if c.has(2) else "uint8"
    zp = c.x(2) if c.has(2) else "None"
    c.out(f"{h}({c.x(0)}, {c.x(1)}, {zp}, {int(c.attr('axis', 1))}, {torch_dtype(out)}, {int(c.attr('block_size', 0))})")


@register("DequantizeLinear", since=10)
def dequantize(c: NodeCtx) -> None:
    h = c.helper("dequantize_linear")
    zp = c.x(2) if c.has(2) else "None"
    c.out(f"{h}({c.x(0)}, {c.x(1)}, {zp}, {int(c.attr('axis', 1))}, {int(c.attr('block_size', 0))})")


@register("DynamicQuantizeLinear", since=11)
def dyn_quantize(c: NodeCtx) -> None:
    h = c.helper("dynamic_quantize_linear")
    c.outs(f"{h}({c.x(0)})")


@register("GridSample", since=16)
def grid_sample(c: NodeCtx) -> None:
    if c.rank(0) not in (4, 5):
        c.fail("GridSample is emitted for 4-D and 5-D inputs")
    modes = {"linear": "bilinear", "cubic": "bicubic", "bilinear": "bilinear", "bicubic": "bicubic", "nearest": "nearest"}
    mode = modes[c.choice("mode", "linear", modes)]
    padding = c.choice("padding_mode", "zeros", ("zeros", "border", "reflection"))
    c.out(f"F.grid_sample({c.x(0)}, {c.x(1)}, mode={mode!r}, padding_mode={padding!r}, "
          f"align_corners={bool(c.attr('align_corners', 0))})")


@register("AffineGrid", since=20)
def affine_grid(c: NodeCtx) -> None:
    c.out(f"F.affine_grid({c.x(0)}, {c.ints(1)}, align_corners={bool(c.attr('align_corners', 0))})")
