"""Tensors made from sizes: arange, full/zeros/ones (and their _like / new_ forms),
scalar_tensor, tril/triu; constants are folded when small, ``ConstantOfShape`` otherwise."""

from __future__ import annotations

import numpy as np

from . import aten
from ..tensors import np_dtype

INLINE = 64  # a filled tensor up to this many elements is stored as a constant


def _fill(c, value):
    dt = c.out_dtype()
    shape = c.out_shape()
    if hasattr(value, "meta"):  # a tensor or a symbolic number: broadcast it
        return c.out("Expand", [c.x(value, dt), c.shape_tensor(shape)])
    value = bool(value) if dt == "bool" else value
    if c.static(shape) and int(np.prod([int(d) for d in shape])) <= INLINE:
        arr = np.full([int(d) for d in shape], value, dtype=np_dtype(dt))
        name = c.const(arr, "value")
        if c.out_name:
            return c.out("Identity", [name])
        c.t.g.values[name] = c.t.value_type(c.val)
        return name
    return c.out("ConstantOfShape", [c.shape_tensor(shape)], value=np.array([value], dtype=np_dtype(dt)))


@aten("full.default", "new_full.default")
def full(c):
    return _fill(c, c["fill_value"])


@aten("zeros.default", "new_zeros.default", "zeros_like.default", "empty.memory_format", "new_empty.default",
      "empty_like.default", "empty_strided.default", "new_empty_strided.default")
def zeros(c):
    return _fill(c, 0)


@aten("ones.default", "new_ones.default", "ones_like.default")
def ones(c):
    return _fill(c, 1)


@aten("full_like.default", "fill.Scalar", "fill.Tensor")
def full_like(c):
    return _fill(c, c["fill_value"] if "fill_value" in c.args else c["value"])


@aten("scalar_tensor.default")
def scalar_tensor(c):
    return _fill(c, c["s"])


@aten("arange.default", "arange.start", "arange.start_step")
def arange(c):
    dt = c.out_dtype()
    if c.key == "aten.arange.default":
        start, end, step = 0, c["end"], 1
    else:
        start, end, step = c["start"], c["end"], c.get("step", 1)
    values = [c.t.env.get(v, v) if hasattr(v, "meta") else v for v in (start, end, step)]
    if all(isinstance(v, (int, float)) for v in values):
        arr = np.arange(*values, dtype=np_dtype(dt))
        name = c.const(arr, "range")
        if c.out_name:
            return c.out("Identity", [name])
        c.t.g.values[name] = c.t.value_type(c.val)
        return name
    return c.out("Range", [c.x(start, dt), c.x(end, dt), c.x(step, dt)])


@aten("tril.default", "triu.default")
def trilu(c):
    upper = int(c.key == "aten.triu.default")
    return c.out("Trilu", [c.x(c["self"]), c.x(int(c.get("diagonal", 0)), "int64")], upper=upper)
