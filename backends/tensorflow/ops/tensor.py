"""Tensor creation and type ops: ConstantOfShape, Range, EyeLike, OneHot, Cast, CastLike,
Dropout (Constant is read by the core as a value, never emitted)."""

from __future__ import annotations

import numpy as np

from mmconvert.backends.codegen.core import constant_value
from mmconvert.ir import dtypes

from mmconvert.backends.codegen.namespace import pystr

from ..dialect import variable_name
from ..registry import register
from .common import NodeCtx, lit, tf_dtype


@register("Constant")
def constant(c: NodeCtx) -> None:
    c.set_const(0, constant_value(c.node))


@register("ConstantOfShape", since=9)
def constant_of_shape(c: NodeCtx) -> None:
    value = c.attr("value")
    value = np.zeros(1, np.float32) if value is None else np.asarray(value)
    name = dtypes.of_array(value)
    v = value.reshape(-1)[0]
    v = v.decode() if isinstance(v, bytes) else v.item() if hasattr(v, "item") else v
    static = c.int_list(0)
    if static is not None and name != "string" and int(np.prod(static, dtype=np.int64)) > 16:
        # a fill too large to inline: built once when the model is made (not stored in the weights)
        attr = c.cg.attr_name(c.base)
        c.cg.init_lines.append(f"self.{attr} = tf.Variable(tf.fill({lit(static)}, tf.constant({lit(v)}, {tf_dtype(name)})), "
                               f"trainable=False, name={pystr(variable_name(c.node.outputs[0]))})")
        c.bind(0, f"self.{attr}", local=False)
        return
    shape = c.ints(0) if static is not None else c.x(0)
    if name != "string" and v == 0:
        c.out(f"tf.zeros({shape}, {tf_dtype(name)})")
    elif name != "string" and v == 1:
        c.out(f"tf.ones({shape}, {tf_dtype(name)})")
    else:
        c.out(f"tf.fill({shape}, tf.constant({lit(v)}, {tf_dtype(name)}))")


def _scalar(c: NodeCtx, i: int) -> str:
    s = c.scalar(i)
    return lit(s) if s is not None else f"tf.reshape({c.x(i)}, [])"


@register("Range", since=11)
def range_(c: NodeCtx) -> None:
    dt = tf_dtype(c.dtype(0) or c.out_dtype())
    c.out(f"tf.range({_scalar(c, 0)}, {_scalar(c, 1)}, {_scalar(c, 2)}, dtype={dt})")


@register("EyeLike", since=9)
def eye_like(c: NodeCtx) -> None:
    dt = c.attr("dtype")
    tdt = tf_dtype(dtypes.from_onnx(int(dt))) if dt is not None else f"{c.x(0)}.dtype"
    c.out(f"{c.helper('eye_like')}({c.x(0)}, {int(c.attr('k', 0))}, {tdt})")


@register("OneHot", since=11)
def one_hot(c: NodeCtx) -> None:
    c.out(f"{c.helper('one_hot_onnx')}({c.x(0)}, {c.x(1)}, {c.x(2)}, {int(c.attr('axis', -1))})")


@register("Cast")
def cast(c: NodeCtx) -> None:
    to = dtypes.from_onnx(int(c.attr("to")))
    src = c.dtype(0)
    if src == to:
        c.alias(0, 0)
    elif to == "string":
        c.out(f"{c.helper('to_string')}({c.x(0)})")
    elif src == "string":
        c.out(f"tf.strings.to_number({c.x(0)}, {tf_dtype(to)})")
    else:
        c.out(f"tf.cast({c.x(0)}, {tf_dtype(to)})")


@register("CastLike", since=15)
def cast_like(c: NodeCtx) -> None:
    to = c.dtype(1)
    if to is not None and to == c.dtype(0):
        c.alias(0, 0)
    elif to is not None and to != "string":
        c.out(f"tf.cast({c.x(0)}, {tf_dtype(to)})")
    else:
        c.out(f"tf.cast({c.x(0)}, {c.x(1)}.dtype)")


