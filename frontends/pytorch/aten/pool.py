"""Pooling: max/avg pooling (1-3 D), adaptive average/max pooling to a divisible size."""

from __future__ import annotations

from . import aten, unmapped
from .common import int_list


def _expand(v, n: int) -> list[int]:
    v = [int(x) for x in int_list(v)]
    return v * n if len(v) == 1 else v


def _spatial(c, x) -> int:
    return len(c.shape(x)) - 2


@aten("max_pool1d.default", "max_pool2d.default", "max_pool3d.default", "max_pool2d_with_indices.default",
      "max_pool3d_with_indices.default", "max_pool1d_with_indices.default")
def max_pool(c):
    x = c["self"]
    n = _spatial(c, x)
    kernel = _expand(c["kernel_size"], n)
    stride = _expand(c.get("stride") or kernel, n)
    pad = _expand(c.get("padding", 0), n)
    dil = _expand(c.get("dilation", 1), n)
    if "with_indices" in c.key and any(u.args[1] == 1 for u in c.fx.users):
        unmapped(c, "pooling indices (torch counts them per plane, ONNX over the whole tensor)")
    y = c.out("MaxPool", [c.x(x)], kernel_shape=kernel, strides=stride, pads=pad + pad, dilations=dil,
              ceil_mode=int(bool(c.get("ceil_mode", False))))
    return [y, None] if "with_indices" in c.key else y


@aten("avg_pool1d.default", "avg_pool2d.default", "avg_pool3d.default")
def avg_pool(c):
    x = c["self"]
    n = _spatial(c, x)
    if c.get("divisor_override") is not None:
        unmapped(c, "divisor_override")
    kernel = _expand(c["kernel_size"], n)
    stride = _expand(c.get("stride") or kernel, n)
    pad = _expand(c.get("padding", 0), n)
    return c.out("AveragePool", [c.x(x)], kernel_shape=kernel, strides=stride, pads=pad + pad,
                 ceil_mode=int(bool(c.get("ceil_mode", False))),
                 count_include_pad=int(bool(c.get("count_include_pad", True))))


def _adaptive(c, op: str, global_op: str):
    x = c["self"]
    n = _spatial(c, x)
    out = [int(v) if v is not None else None for v in int_list(c["output_size"])]
    out = out * n if len(out) == 1 else out
    ins = c.shape(x)[2:]
    if all(o == 1 for o in out):
        return c.out(global_op, [c.x(x)])
    if not c.static(ins):
        unmapped(c, "adaptive pooling of a dynamic size")
    ins = [int(d) for d in ins]
    if any(o is None or i % o for i, o in zip(ins, out)):
        unmapped(c, f"adaptive pooling {ins} -> {out} (not a divisor)")
    k = [i // o for i, o in zip(ins, out)]
    return c.out(op, [c.x(x)], kernel_shape=k, strides=k)


@aten("adaptive_avg_pool1d.default", "adaptive_avg_pool2d.default", "adaptive_avg_pool3d.default",
      "_adaptive_avg_pool2d.default", "_adaptive_avg_pool3d.default")
def adaptive_avg_pool(c):
    return _adaptive(c, "AveragePool", "GlobalAveragePool")


@aten("adaptive_max_pool1d.default", "adaptive_max_pool2d.default", "adaptive_max_pool3d.default")
def adaptive_max_pool(c):
    if any(u.args[1] == 1 for u in c.fx.users):
        unmapped(c, "pooling indices")
    y = _adaptive(c, "MaxPool", "GlobalMaxPool")
    return [y, None]
