"""Tensor creation and type ops: Constant, ConstantOfShape, Range, EyeLike, OneHot, Cast,
CastLike, Dropout."""

from __future__ import annotations

import numpy as np

from mmconvert.ir import dtypes

from mmconvert.backends.codegen.core import constant_value

from ..dialect import NodeCtx, lit, torch_dtype
from ..registry import register


@register("Constant")
def constant(c: NodeCtx) -> None:  # handled by the emitter (a constant, not a statement)
    c.set_const(0, constant_value(c.node))


@register("ConstantOfShape", since=9)
def constant_of_shape(c: NodeCtx) -> None:
    value = c.attr("value")
    value = np.zeros(1, np.float32) if value is None else np.asarray(value)
    dt = torch_dtype(dtypes.of_array(value))
    v = value.reshape(-1)[0].item()
    static = c.int_list(0)
    if static is not None:
        # a constant too large to store: filled once when the model is built (not saved)
        name = c.cg.attr_name(c.base)
        c.cg.init_lines.append(f"self.register_buffer({name!r}, torch.full({tuple(static)!r}, {lit(v)}, dtype={dt}, "
                               f"device='cpu'), persistent=False)")
        c.bind(0, f"self.{name}", local=False)
        return
    shape = c.ints(0)
    if v == 0:
        c.out(f"torch.zeros({shape}, dtype={dt})")
    elif v == 1:
        c.out(f"torch.ones({shape}, dtype={dt})")
    else:
        c.out(f"torch.full({shape}, {lit(v)}, dtype={dt})")


def scalar_expr(c: NodeCtx, i: int) -> str:
    s = c.scalar(i)
    if s is not None:
        return lit(s)
    v = c.val(i)
    if v.kind == "int":
        return v.expr
    return f"{c.x(i)}.item()"


@register("Range", since=11)
def range_(c: NodeCtx) -> None:
    dt = torch_dtype(c.dtype(0) or c.out_dtype())
    c.out(f"torch.arange({scalar_expr(c, 0)}, {scalar_expr(c, 1)}, {scalar_expr(c, 2)}, dtype={dt})")


@register("EyeLike", since=9)
def eye_like(c: NodeCtx) -> None:
    dt = c.attr("dtype")
    tdt = torch_dtype(dtypes.from_onnx(dt)) if dt is not None else f"{c.x(0)}.dtype"
    k = int(c.attr("k", 0))
    c.out(f"torch.ones({c.x(0)}.shape, dtype={tdt}).triu({k}).tril({k})")


@register("OneHot", since=11)
def one_hot(c: NodeCtx) -> None:
    h = c.helper("one_hot_onnx")
    c.out(f"{h}({c.x(0)}, {scalar_expr(c, 1)}, {c.x(2)}, {int(c.attr('axis', -1))})")


@register("Cast")
def cast(c: NodeCtx) -> None:
    to = dtypes.from_onnx(int(c.attr("to")))
    v = c.val(0)
    if v.kind in ("list", "int") and to in ("int64", "int32"):
        c.alias(0, 0)
        return
    src = c.dtype(0)
    if src == to:
        c.alias(0, 0)
        return
    if to == "string" or src == "string":
        c.fail("string casts")
    c.out(f"{c.x(0)}.to({torch_dtype(to)})")


@register("CastLike", since=15)
def cast_like(c: NodeCtx) -> None:
    to = c.dtype(1)
    if to is not None and to == c.dtype(0):
        c.alias(0, 0)
        return
    if to is not None:
        c.out(f"{c.x(0)}.to({torch_dtype(to)})")
    else:
        c.out(f"{c.x(0)}.to({c.x(1)}.dtype)")


