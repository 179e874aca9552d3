"""What several TensorFlow op families share: operands, axes, dtypes, static shapes."""

from __future__ import annotations

from mmconvert.ir import dtypes

from ..dialect import NodeCtx, Val, lit, tf_dtype  # noqa: F401 - re-exported for the op files

INT_TYPES = dtypes.INT_TYPES
FLOAT_TYPES = dtypes.FLOAT_TYPES


def operand(c: NodeCtx, i: int, other: int | None = None) -> str:
    """Input ``i``: a Python number when that keeps the meaning (see ``NodeCtx.number``)."""
    if other is not None:
        n = c.number(i, other)
        if n is not None:
            return n
    return c.x(i)


def is_number(expr: str) -> bool:
    return expr[:1].isdigit() or (expr[:1] == "-" and expr[1:2].isdigit()) or expr.startswith(("math.", "-math."))


def norm_axis(axis: int, rank: int | None) -> int:
    return axis + rank if axis < 0 and rank is not None else axis


def static_shape(c: NodeCtx, i: int) -> list | None:
    """Input ``i``'s shape with None for every dim not known at conversion time."""
    s = c.shape(i)
    return None if s is None else [d if isinstance(d, int) else None for d in s]


def dim(c: NodeCtx, i: int, axis: int, dtype: str = "tf.int64") -> str:
    """Dim ``axis`` of input ``i``: a literal when static, else read at run time."""
    s = static_shape(c, i)
    if s is not None and -len(s) <= axis < len(s) and s[axis] is not None:
        return str(s[axis])
    return f"tf.shape({c.x(i)}, out_type={dtype})[{axis}]"


def const_axes(c: NodeCtx, i: int, attr: str = "axes") -> list[int] | None:
    """Axes from input ``i`` (a constant) or, for older forms, attribute ``attr``."""
    if c.has(i):
        return c.int_list(i)
    a = c.attr(attr)
    return None if a is None else [int(v) for v in a]


def cast_to(expr: str, src: str | None, dst: str) -> str:
    return expr if src == dst else f"tf.cast({expr}, {tf_dtype(dst)})"
